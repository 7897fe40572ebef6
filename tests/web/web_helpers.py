"""Helpers for the web app's tests: users, a small demo funnel, signing in, screenshots, page watching."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "correct-horse-battery"
XSS = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def add_user(state, email: str, role: str, name: str = "") -> None:
    from leadflow.services import users

    with state.session() as s:
        users.create_user(s, state.workspace_id, email, PASSWORD, role, name=name)


def seed_demo(state, leads: int = 60) -> None:
    from leadflow.demo.generator import DemoConfig
    from leadflow.services.demo import load_demo

    start = (datetime.now(UTC) - timedelta(days=90)).replace(hour=0, minute=0, second=0, microsecond=0)
    load_demo(state.db, state.workspace_id, DemoConfig(seed=7, accounts=15, leads=leads, start=start, days=90,
                                                       events_per_lead=12))


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def shot(page, name: str) -> None:
    """Desktop: the whole page; phone: the first two screens (a whole phone page is too tall to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if page.viewport_size["width"] < 600:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": page.viewport_size["width"], "height": 2 * page.viewport_size["height"]})
    else:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


class PageWatch:
    """Collects console errors (CSP violations show up there) and fails on any JS dialog."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_dialog(d) -> None:  # noqa: ANN001
            if d.type == "confirm":  # our own "Activate ...?" confirmations
                d.accept()
                return
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)

    def assert_clean(self) -> None:
        csp = [e for e in self.errors if re.search(r"Content Security Policy|Refused to", e)]
        assert not csp, csp
        # 401 / 403 / 422 answers are intended (wrong password, forbidden screen, invalid form)
        real = [e for e in self.errors if not re.search(r"status of (401|403|404|422)", e)]
        assert not real, real
