"""Dashboards in Debian's Chromium (Playwright): pick a date range, a funnel breakdown and the cohort view with
the keyboard and the mouse, check the panels change to the right numbers, the URL keeps the selection, the back
button returns to the previous one, a bad date is explained inline, and the phone layout does not overflow.

Screenshots go to var/screenshots/ (dashboards-selection-desktop.png, dashboards-selection-phone.png, ...).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from web_helpers import SCREENSHOTS, PageWatch, add_user, login, seed_demo, shot

PANEL_TIMEOUT = 120_000
FROM, TO = "From", "To"  # the date fields' labels (exact: "To" is also in other names)


def _created_days(state) -> list:
    from sqlalchemy import select

    from leadflow.core.timeutil import as_utc
    from leadflow.store.tables import Lead

    with state.session() as s:
        return [as_utc(t).date() for t in s.scalars(select(Lead.created_at).where(Lead.workspace_id == state.workspace_id))]


def _kpi(page, panel: str, label: str) -> int:
    box = page.locator(f"#panel-{panel} .kpi", has=page.locator(".l", has_text=re.compile(f"^{label}$")))
    return int(box.locator(".v").inner_text().replace(",", ""))


def _all_panels(page) -> None:
    for name in ("funnel", "velocity", "channels", "converts", "sales", "score-health"):
        page.locator(f"#panel-{name} .panel-body").wait_for(timeout=PANEL_TIMEOUT)


def _chart_drawn(page, panel: str) -> None:
    page.wait_for_function("p => { const c = document.querySelector(`#panel-${p} canvas`);"
                           " return c && window.Chart && window.Chart.getChart(c); }", arg=panel, timeout=PANEL_TIMEOUT)


def test_range_breakdown_and_cohorts_change_the_panels(live_server, web_state, desktop):
    add_user(web_state, "mia@example.com", "marketing", "Mia Marketing")
    seed_demo(web_state, leads=60)
    days = _created_days(web_state)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=29)
    last30 = sum(1 for d in days if start <= d <= today)
    assert 0 < last30 < len(days)  # the demo spreads its leads over 90 days: the range must cut some
    page = desktop
    watch = PageWatch(page)
    login(page, live_server.url, "mia@example.com")
    page.goto(f"{live_server.url}/dashboards")
    _all_panels(page)
    assert _kpi(page, "funnel", "subscriber") == len(days)
    expect(page.locator("#panel-funnel .scope")).to_have_text("All leads.")

    # a preset with the mouse: the panels reload for the last 30 days, the URL says so
    page.get_by_label("Period").select_option("30d")
    page.wait_for_url(re.compile(r"/dashboards\?range=30d$"))
    expect(page.locator("#panel-funnel .scope")).to_have_text(
        f"Leads created {start.isoformat()} to {today.isoformat()} (UTC).", timeout=PANEL_TIMEOUT)
    assert _kpi(page, "funnel", "subscriber") == last30
    assert page.get_by_label(FROM, exact=True).input_value() == start.isoformat()
    assert page.get_by_label(TO, exact=True).input_value() == today.isoformat()
    expect(page.locator("#dash-summary")).to_contain_text("Last 30 days")

    # a breakdown with the keyboard: focus the select, choose with the arrow keys; focus stays after the swap
    page.get_by_label("Funnel breakdown").focus()
    page.keyboard.press("ArrowDown")  # None -> Source (Chromium changes a closed select with the arrows)
    page.wait_for_url(re.compile(r"range=30d&by=source$"))
    caption = page.locator("#panel-funnel .table-title").first
    expect(caption).to_have_text("Leads that reached each stage, by source", timeout=PANEL_TIMEOUT)
    assert page.evaluate("document.activeElement && document.activeElement.id") == "dash-by"
    sources = page.locator("#panel-funnel table").first.locator("tbody tr td:first-child").all_inner_texts()
    assert len(sources) >= 2 and all(s.strip() for s in sources)
    total = sum(int(x) for x in page.locator("#panel-funnel table").first.locator("tbody tr td:nth-child(2)")
                .all_inner_texts())
    assert total == last30  # the groups add up to the range's leads
    _chart_drawn(page, "funnel")
    _all_panels(page)
    page.wait_for_timeout(300)  # charts drawn
    # caret="initial": hiding the caret leaves style="" on the inputs, which htmx would copy on the next swap
    # (an inline style, rightly refused by the CSP)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboards-selection-desktop.png"), full_page=True, caret="initial")

    # monthly cohorts: one row per source and month, a line chart of conversion per cohort
    page.get_by_label("Funnel view").select_option("month")
    page.wait_for_url(re.compile(r"by=source&cohort=month$"))
    expect(caption).to_have_text("Leads that reached each stage, by source and by monthly cohort",
                                 timeout=PANEL_TIMEOUT)
    months = set(page.locator("#panel-funnel table").first.locator("tbody tr td:nth-child(2)").all_inner_texts())
    assert months and all(re.fullmatch(r"\d{4}-\d{2}", m) for m in months)
    assert months <= {start.strftime("%Y-%m"), today.strftime("%Y-%m"),
                      (start + timedelta(days=15)).strftime("%Y-%m")}  # 30 days span at most two months
    _chart_drawn(page, "funnel")
    assert page.evaluate("window.Chart.getChart(document.querySelector('#panel-funnel canvas')).config.type") == "line"

    # custom dates typed with the keyboard: the period switches to custom by itself, Enter applies
    page.get_by_label("Funnel view").select_option("")
    page.wait_for_url(re.compile(r"range=30d&by=source$"))
    expect(caption).to_have_text("Leads that reached each stage, by source", timeout=PANEL_TIMEOUT)
    day = today - timedelta(days=9)
    page.get_by_label(FROM, exact=True).fill(day.isoformat())
    page.get_by_label(FROM, exact=True).dispatch_event("input")
    assert page.get_by_label("Period").input_value() == "custom"
    page.get_by_label(FROM, exact=True).press("Enter")
    page.wait_for_url(re.compile(rf"\?from={day.isoformat()}&to={today.isoformat()}&by=source$"))
    expect(page.locator("#panel-funnel .scope")).to_have_text(
        f"Leads created {day.isoformat()} to {today.isoformat()} (UTC).", timeout=PANEL_TIMEOUT)
    last10 = sum(1 for d in days if day <= d <= today)
    assert sum(int(x) for x in page.locator("#panel-funnel table").first.locator("tbody tr td:nth-child(2)")
               .all_inner_texts()) == last10

    # back: the previous selection (last 30 days by source), its numbers, its chart
    page.go_back()
    page.wait_for_url(re.compile(r"\?range=30d&by=source$"))
    expect(page.locator("#panel-funnel .scope")).to_have_text(
        f"Leads created {start.isoformat()} to {today.isoformat()} (UTC).", timeout=PANEL_TIMEOUT)
    assert page.get_by_label("Period").input_value() == "30d"
    assert page.get_by_label("Funnel breakdown").input_value() == "source"
    _chart_drawn(page, "funnel")

    # a shared link opens on the same view
    page.goto(f"{live_server.url}/dashboards?range=all&by=source")
    expect(page.locator("#panel-funnel .scope")).to_have_text("All leads.", timeout=PANEL_TIMEOUT)
    assert page.get_by_label("Funnel breakdown").input_value() == "source"

    # a bad date from a link: explained next to the field, nothing computed
    resp = page.goto(f"{live_server.url}/dashboards?from=2025-13-01&by=source")
    assert resp.status == 400
    err = page.locator("#dash-from-error")
    expect(err).to_contain_text("is not a date")
    assert page.get_by_label(FROM, exact=True).get_attribute("aria-invalid") == "true"
    assert page.locator(".panel-body").count() == 0
    shot(page, "dashboards-bad-date-desktop")
    watch.errors = [e for e in watch.errors if "status of 400" not in e]  # the refused link above
    watch.assert_clean()


def test_dashboards_selection_on_a_phone(live_server, web_state, phone):
    add_user(web_state, "mia@example.com", "marketing")
    seed_demo(web_state, leads=40)
    watch = PageWatch(phone)
    login(phone, live_server.url, "mia@example.com")
    phone.goto(f"{live_server.url}/dashboards?range=90d&by=source&cohort=month")
    _all_panels(phone)
    _chart_drawn(phone, "funnel")
    for label in ("Period", FROM, TO, "Funnel breakdown", "Funnel view"):
        box = phone.get_by_label(label, exact=True).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, label  # every field on screen
        assert box["height"] >= 30, label  # big enough to tap
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling of the page
    phone.get_by_label("Period").select_option("year")
    phone.wait_for_url(re.compile(r"\?range=year&by=source&cohort=month$"))
    expect(phone.locator("#panel-funnel .scope")).to_contain_text(f"Leads created {datetime.now(UTC).year}-01-01",
                                                                  timeout=PANEL_TIMEOUT)
    _chart_drawn(phone, "funnel")
    phone.wait_for_timeout(300)
    shot(phone, "dashboards-selection-phone")
    watch.assert_clean()
