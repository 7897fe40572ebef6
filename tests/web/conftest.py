"""Fixtures for the web app's tests (helpers in web_helpers.py)."""

from __future__ import annotations

import pytest
from web_helpers import DESKTOP, PHONE


@pytest.fixture
def web_state(live_server):
    return live_server.app.state.web


@pytest.fixture
def desktop(browser):
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    yield page
    ctx.close()


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    yield page
    ctx.close()
