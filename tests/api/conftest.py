"""Fixtures of the API tests; the helpers live in ``api_helpers`` (a unique module name, so that test
folders' conftest modules never shadow each other when several folders are collected together)."""

from api_helpers import api, as_role  # noqa: F401 - fixtures re-exported for pytest
