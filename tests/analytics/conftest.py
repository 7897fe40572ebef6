"""Fixtures of the analytics tests: hand-built stores (see analytics_store.py)."""

from __future__ import annotations

import pytest
from analytics_store import StoreBuilder


@pytest.fixture
def builder(db_url):
    b = StoreBuilder(db_url)
    yield b
    b.close()


@pytest.fixture
def sqlite_builder(sqlite_url):
    b = StoreBuilder(sqlite_url)
    yield b
    b.close()
