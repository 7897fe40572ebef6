"""The demo generator: deterministic, valid, streamable, and with patterns a scoring model can learn."""

from __future__ import annotations

import itertools
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.core.events import KNOWN_TYPES, PROPERTY_SCHEMAS, validate_event
from leadflow.demo import (
    DemoConfig,
    DemoData,
    generate,
    iter_accounts,
    iter_events,
    iter_leads,
    iter_outcomes,
)

CONFIG = DemoConfig(seed=7, accounts=150, leads=1500)
START = CONFIG.start
END = CONFIG.start + timedelta(days=CONFIG.days)

ACCOUNT_KEYS = {"domain", "name", "industry", "employee_count", "annual_revenue", "country"}
LEAD_KEYS = {"email", "first_name", "last_name", "title", "seniority", "department", "phone", "country", "source",
             "medium", "campaign", "landing_page", "consent", "unsubscribed", "company_domain", "created_at"}
OUTCOME_KEYS = {"email", "result", "amount", "closed_at", "reason"}
SENIORITIES = {"c-level", "vp", "director", "head", "manager", "individual contributor", "student", "owner",
               "founder"}
DEPARTMENTS = {"marketing", "sales", "revenue operations", "operations", "it", "finance", "hr", "engineering",
               "other"}
SOURCES = {"organic_search", "paid_search", "social", "email", "referral", "direct_traffic", "events"}
FREE_MAIL = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com"}
LOST_REASONS = {"no budget", "bad timing", "competitor", "no decision", "bad fit"}
EMAIL_TYPES = {"email_open", "email_click", "email_unsubscribe", "email_bounce"}
HIGH_INTENT = {"demo_requested", "demo_attended", "quote_requested", "proposal_requested", "trial_started"}


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(CONFIG)


def lead_email(event: dict) -> str:
    return event.get("email") or event["_lead_email"]


@pytest.fixture(scope="module")
def by_lead(data: DemoData) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for ev in data.events:
        out[lead_email(ev)].append(ev)
    return out


@pytest.fixture(scope="module")
def outcomes(data: DemoData) -> dict[str, dict]:
    return {o["email"]: o for o in data.outcomes}


# ------------------------------------------------------------------------------------------ determinism


def test_same_config_same_output(data: DemoData) -> None:
    again = generate(DemoConfig(seed=7, accounts=150, leads=1500))
    assert again == data
    assert [e["message_id"] for e in again.events] == [e["message_id"] for e in data.events]


def test_iterators_agree_with_generate(data: DemoData) -> None:
    assert list(iter_accounts(CONFIG)) == data.accounts
    assert list(iter_leads(CONFIG)) == data.leads
    assert list(iter_events(CONFIG)) == data.events
    assert list(iter_outcomes(CONFIG)) == data.outcomes


def test_other_seed_other_output(data: DemoData) -> None:
    other = generate(DemoConfig(seed=8, accounts=150, leads=200))
    assert [lead["email"] for lead in other.leads] != [lead["email"] for lead in data.leads[:200]]
    assert other.accounts != data.accounts


def test_streaming_is_lazy() -> None:
    huge = DemoConfig(leads=10_000_000, accounts=300)
    t0 = time.perf_counter()
    first = list(itertools.islice(iter_events(huge), 50))
    leads = list(itertools.islice(iter_leads(huge), 50))
    assert time.perf_counter() - t0 < 2.0
    assert len(first) == 50 and len(leads) == 50
    assert first[0]["message_id"] == "demo-42-0-0"


# ------------------------------------------------------------------------------------------ records


def test_accounts(data: DemoData) -> None:
    assert len(data.accounts) == CONFIG.accounts
    domains = [a["domain"] for a in data.accounts]
    assert len(set(domains)) == len(domains)
    assert "hubspot.com" in domains
    for a in data.accounts:
        assert set(a) == ACCOUNT_KEYS
        assert isinstance(a["employee_count"], int) and a["employee_count"] > 0
        assert isinstance(a["annual_revenue"], float) and a["annual_revenue"] > 0
        assert a["name"] and a["industry"] and a["country"]


def test_leads(data: DemoData) -> None:
    assert len(data.leads) == CONFIG.leads
    emails = [lead["email"] for lead in data.leads]
    assert len(set(emails)) == len(emails)
    domains = {a["domain"] for a in data.accounts}
    for lead in data.leads:
        assert set(lead) == LEAD_KEYS
        email = lead["email"]
        assert email == email.lower() and email.count("@") == 1
        assert lead["seniority"] in SENIORITIES
        assert lead["department"] in DEPARTMENTS
        assert lead["source"] in SOURCES
        assert lead["landing_page"].startswith("/")
        assert isinstance(lead["consent"], bool) and isinstance(lead["unsubscribed"], bool)
        created = lead["created_at"]
        assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
        assert START <= created < END
        domain = email.rpartition("@")[2]
        if lead["company_domain"] is None:
            assert domain in FREE_MAIL
        else:
            assert lead["company_domain"] == domain and domain in domains
    n = len(data.leads)
    free = sum(lead["company_domain"] is None for lead in data.leads) / n
    assert 0.10 <= free <= 0.20
    assert sum(lead["seniority"] == "student" for lead in data.leads) >= 10
    assert any(lead["company_domain"] == "hubspot.com" for lead in data.leads)
    assert sum(lead["unsubscribed"] for lead in data.leads) > 0


# ------------------------------------------------------------------------------------------ events


def test_message_ids_unique_and_deterministic(data: DemoData) -> None:
    ids = [e["message_id"] for e in data.events]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(f"demo-{CONFIG.seed}-") for i in ids)


def test_events_are_valid(data: DemoData) -> None:
    received_at = END
    sample = data.events[::7] + [e for e in data.events if e["type"] != "page_view"][::3]
    seen = set()
    for raw in sample:
        ev = validate_event(raw, received_at=received_at, allow_custom_types=False, future_policy="reject")
        assert ev.flags == ()
        assert set(raw["properties"]) <= set(PROPERTY_SCHEMAS[raw["type"]]), raw
        seen.add(ev.type)
    assert seen >= {"page_view", "email_open", "email_click", "form_submit", "content_download",
                    "newsletter_signup", "demo_requested", "demo_attended", "trial_started", "quote_requested",
                    "email_unsubscribe", "email_bounce", "webinar_registered"}
    assert {e["type"] for e in data.events} <= KNOWN_TYPES


def test_events_mean_and_heavy_tail(data: DemoData, by_lead: dict[str, list[dict]]) -> None:
    counts = [len(by_lead[lead["email"]]) for lead in data.leads]
    mean = statistics.mean(counts)
    assert 0.8 * CONFIG.events_per_lead <= mean <= 1.2 * CONFIG.events_per_lead
    assert statistics.median(counts) < mean  # skewed
    assert max(counts) > 5 * mean
    assert min(counts) >= 1


def test_events_grouped_sorted_and_in_period(data: DemoData) -> None:
    created = {lead["email"]: lead["created_at"] for lead in data.leads}
    order = [lead["email"] for lead in data.leads]
    # grouped by lead, in lead order
    groups = [k for k, _ in itertools.groupby(data.events, key=lead_email)]
    assert groups == [e for e in order if e in set(groups)]
    for _, group in itertools.groupby(data.events, key=lead_email):
        times = [e["occurred_at"] for e in group]
        assert times == sorted(times)
    for ev in data.events:
        t = ev["occurred_at"]
        assert t.tzinfo is not None and START <= t < END
        if "email" in ev:
            assert t >= created[ev["email"]]  # a lead exists from its first identified event on
        else:
            assert t < created[ev["_lead_email"]]


def test_anonymous_browsing_is_identified_by_a_form(data: DemoData, by_lead: dict[str, list[dict]]) -> None:
    anon = [e for e in data.events if "email" not in e]
    assert anon and all(e["type"] == "page_view" and e["anonymous_id"] for e in anon)
    anon_leads = {e["_lead_email"] for e in anon}
    assert 0.05 <= len(anon_leads) / len(data.leads) <= 0.15
    for email in anon_leads:
        events = by_lead[email]
        ids = {e["anonymous_id"] for e in events if "email" not in e}
        assert len(ids) == 1
        (anon_id,) = ids
        stitch = [e for e in events if "email" in e and e.get("anonymous_id") == anon_id]
        assert len(stitch) == 1
        form = stitch[0]
        assert form["type"] == "form_submit" and form["email"] == email
        assert all(e["occurred_at"] < form["occurred_at"] for e in events if "email" not in e)
        assert events[0]["properties"]["url"] == next(x for x in data.leads if x["email"] == email)["landing_page"]
    all_ids = [e["anonymous_id"] for e in anon]
    assert len({(i, e["_lead_email"]) for i, e in zip(all_ids, anon, strict=True)}) == len(set(all_ids))


def test_email_events_respect_consent_and_unsubscribes(data: DemoData, by_lead: dict[str, list[dict]]) -> None:
    for lead in data.leads:
        events = by_lead[lead["email"]]
        types = [e["type"] for e in events]
        if not lead["consent"]:
            assert not EMAIL_TYPES & set(types)
        assert lead["unsubscribed"] == ("email_unsubscribe" in types)
        for stop in ("email_unsubscribe", "email_bounce"):
            if stop in types:
                at = events[types.index(stop)]["occurred_at"]
                assert not [e for e in events if e["type"] in EMAIL_TYPES - {stop} and e["occurred_at"] > at]


# ------------------------------------------------------------------------------------------ outcomes


def test_outcomes(data: DemoData, by_lead: dict[str, list[dict]], outcomes: dict[str, dict]) -> None:
    created = {lead["email"]: lead["created_at"] for lead in data.leads}
    assert len(outcomes) == len(data.outcomes)  # at most one per lead
    share = len(outcomes) / len(data.leads)
    assert 0.18 <= share <= 0.32
    won = sum(o["result"] == "won" for o in data.outcomes) / len(data.outcomes)
    assert 0.30 <= won <= 0.50
    for o in data.outcomes:
        assert set(o) == OUTCOME_KEYS
        closed = o["closed_at"]
        assert closed.tzinfo is not None
        assert closed > created[o["email"]]
        assert closed > max(e["occurred_at"] for e in by_lead[o["email"]])
        assert closed < END + timedelta(days=31)
        if o["result"] == "won":
            assert isinstance(o["amount"], float) and o["amount"] > 0 and o["reason"] is None
        else:
            assert o["result"] == "lost" and o["amount"] is None and o["reason"] in LOST_REASONS
    reasons = {o["reason"] for o in data.outcomes if o["result"] == "lost"}
    assert reasons == LOST_REASONS


def _signals(events: list[dict]) -> int:
    return sum(1 for e in events
               if e["type"] in HIGH_INTENT
               or (e["type"] == "page_view" and "/pricing" in e["properties"]["url"])
               or (e["type"] == "content_download" and e["properties"]["asset_type"] == "brochure"))


def test_won_leads_show_clearly_more_buying_signals(
    data: DemoData, by_lead: dict[str, list[dict]], outcomes: dict[str, dict]
) -> None:
    groups: dict[str, list[int]] = {"won": [], "lost": [], "none": []}
    pricing: dict[str, list[int]] = {"won": [], "lost": [], "none": []}
    for lead in data.leads:
        events = by_lead[lead["email"]]
        group = outcomes[lead["email"]]["result"] if lead["email"] in outcomes else "none"
        groups[group].append(_signals(events))
        pricing[group].append(sum(1 for e in events if e["type"] == "page_view" and "/pricing" in e["properties"]["url"]))
    won, lost, none = (statistics.mean(groups[g]) for g in ("won", "lost", "none"))
    assert won > 1.4 * lost and won > 3 * none, (won, lost, none)
    assert statistics.mean(pricing["won"]) > 1.3 * statistics.mean(pricing["lost"])
    assert statistics.mean(pricing["won"]) > 1.8 * statistics.mean(pricing["none"])
    # ... but not perfectly: some won leads have few signals, some no-outcome leads have many
    assert min(groups["won"]) <= 2 and max(groups["none"]) >= won


def _late_share(events: list[dict], created: datetime) -> float | None:
    """The share of a lead's page views in the second half of its active time."""
    views = [e["occurred_at"] for e in events if e["type"] == "page_view" and "email" in e]
    if len(views) < 6:
        return None
    mid = created + (views[-1] - created) / 2
    return sum(t > mid for t in views) / len(views)


def test_engagement_rises_for_buyers_and_fades_before_unsubscribes(
    data: DemoData, by_lead: dict[str, list[dict]], outcomes: dict[str, dict]
) -> None:
    rising, fading = [], []
    for lead in data.leads:
        share = _late_share(by_lead[lead["email"]], lead["created_at"])
        if share is None:
            continue
        if outcomes.get(lead["email"], {}).get("result") == "won":
            rising.append(share)
        elif lead["unsubscribed"]:
            fading.append(share)
    assert len(rising) > 50 and len(fading) > 10
    assert statistics.mean(rising) > 0.6
    assert statistics.mean(fading) < 0.4


# ------------------------------------------------------------------------------------------ edge cases


def test_small_and_odd_configs() -> None:
    assert generate(DemoConfig(leads=0)) == DemoData(accounts=list(iter_accounts(DemoConfig(leads=0))))
    no_accounts = generate(DemoConfig(accounts=0, leads=50, days=1, events_per_lead=3))
    assert no_accounts.accounts == []
    assert all(lead["company_domain"] is None for lead in no_accounts.leads)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for ev in no_accounts.events:
        assert start <= ev["occurred_at"] < start + timedelta(days=1)
        validate_event(ev, received_at=start + timedelta(days=1), allow_custom_types=False, future_policy="reject")
    with pytest.raises(ValueError):
        DemoConfig(leads=-1)
    with pytest.raises(ValueError):
        DemoConfig(days=0)
