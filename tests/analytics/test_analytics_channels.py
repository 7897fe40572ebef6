"""Channel economics and spend import, against hand-computed costs (store: analytics_store.small_funnel)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from analytics_store import small_funnel

from leadflow.analytics.channels import channel_economics
from leadflow.analytics.spend import SpendRejected, list_spend, parse_spend, read_spend_csv, store_spend


def _by_channel(rep):
    return {r["channel"]: r for r in rep.rows("channels")}


def test_costs_and_lead_value(builder):
    small_funnel(builder)
    b = builder
    b.spend("ads", date(2026, 1, 1), date(2026, 1, 31), 600.0)  # l1 (won 1000), l2
    b.spend("seo", date(2026, 2, 1), date(2026, 2, 28), 900.0)  # l3, l5 (an SQL, no customer)
    b.spend("seo", date(2026, 3, 1), date(2026, 3, 31), 100.0)  # no lead
    b.spend("email", date(2026, 1, 1), date(2026, 1, 31), 50.0)
    b.commit()
    with b.open() as data:
        rep = channel_economics(data)
    ch = _by_channel(rep)
    ads = ch["ads"]
    assert (ads["amount"], ads["leads"], ads["mqls"], ads["sqls"], ads["customers"]) == (600.0, 2, 2, 1, 1)
    assert ads["cost_per_lead"] == pytest.approx(300.0)
    assert ads["cost_per_mql"] == pytest.approx(300.0)
    assert ads["cost_per_sql"] == pytest.approx(600.0)
    assert ads["cost_per_customer"] == pytest.approx(600.0)
    # lead value: average won 1000 x lead->customer 1/2 = 500 > 300: not flagged
    assert ads["lead_value"] == pytest.approx(500.0) and ads["flagged"] is False
    seo = ch["seo"]
    assert (seo["periods"], seo["amount"], seo["leads"], seo["mqls"], seo["sqls"]) == (2, 1000.0, 2, 1, 1)
    assert seo["cost_per_lead"] == pytest.approx(500.0)
    assert seo["cost_per_customer"] is None  # no customer: no cost per customer
    assert seo["lead_value"] == 0.0 and seo["flagged"] is True
    assert ch["email"]["leads"] == 0 and ch["email"]["cost_per_lead"] is None
    periods = {(r["channel"], r["period_start"]): r for r in rep.rows("periods")}
    assert periods[("seo", "2026-02-01")]["cost_per_lead"] == pytest.approx(450.0)
    assert periods[("seo", "2026-03-01")]["leads"] == 0
    assert any("seo" in n for n in rep.notes)


def test_source_medium_key_and_period_filter(sqlite_builder):
    b = small_funnel(sqlite_builder)
    b.spend("ads/cpc", date(2026, 1, 1), date(2026, 1, 14), 100.0)  # l1 only (l2 is created on Jan 15)
    b.spend("ads/cpc", date(2026, 1, 15), date(2026, 1, 31), 100.0)
    b.commit()
    with b.open() as data:
        rep = channel_economics(data, key="source/medium")
        late = channel_economics(data, key="source/medium", since=date(2026, 1, 15))
    ch = _by_channel(rep)["ads/cpc"]
    assert (ch["leads"], ch["customers"], ch["cost_per_lead"]) == (2, 1, 100.0)
    p = {r["period_start"]: r for r in rep.rows("periods")}
    assert p["2026-01-01"]["leads"] == 1 and p["2026-01-01"]["lead_value"] == pytest.approx(1000.0)
    assert p["2026-01-15"]["lead_value"] == 0.0 and p["2026-01-15"]["flagged"] is True
    assert _by_channel(late)["ads/cpc"]["periods"] == 1


def test_parse_spend_reports_every_error():
    with pytest.raises(SpendRejected) as exc:
        parse_spend([
            {"channel": "ads", "period_start": "2026-01-01", "period_end": "2026-01-31", "amount": "10", "currency": "EUR"},
            {"channel": "", "period_start": "2026-01-01", "period_end": "2026-01-31", "amount": "10", "currency": "EUR"},
            {"channel": "ads", "period_start": "2026-02-30", "period_end": "2026-03-01", "amount": "1", "currency": "EUR"},
            {"channel": "ads", "period_start": "2026-03-05", "period_end": "2026-03-01", "amount": "-1", "currency": "eu"},
            {"channel": "ads", "period": "2026-01", "amount": "nan", "currency": "EUR"},
            {"channel": "ads", "period": "2026-01", "amount": "5", "currency": "EUR"},
        ])
    found = {(e.row, e.field) for e in exc.value.errors}
    assert found == {(2, "channel"), (3, "period_start"), (4, "period_end"), (4, "amount"), (4, "currency"),
                     (5, "amount"), (6, "period")}
    assert "nothing stored" in str(exc.value)


def test_csv_month_column_and_default_currency():
    text = "Channel,Period,Amount\nads,2026-02,\"1,250.50\"\nseo,2024-02,0\n"
    rows = read_spend_csv(io.StringIO(text), default_currency="usd")
    assert rows[0].period_start == date(2026, 2, 1) and rows[0].period_end == date(2026, 2, 28)
    assert rows[0].amount == 1250.5 and rows[0].currency == "USD"
    assert rows[1].period_end == date(2024, 2, 29)
    with pytest.raises(SpendRejected, match="missing column"):
        read_spend_csv(io.StringIO("channel,amount\nads,1\n"))


def test_store_spend_replaces_same_channel_and_period(builder):
    rows = parse_spend([{"channel": "ads", "period": "2026-01", "amount": 10, "currency": "EUR"},
                        {"channel": "seo", "period": "2026-01", "amount": 5, "currency": "EUR"}])
    with builder.db.session() as s:
        first = store_spend(s, builder.ws, rows, origin="csv")
    again = parse_spend([{"channel": "ads", "period": "2026-01", "amount": 12, "currency": "EUR"}])
    with builder.db.session() as s:
        second = store_spend(s, builder.ws, again)
    assert (first.inserted, first.updated, second.inserted, second.updated) == (2, 0, 0, 1)
    with builder.db.session() as s:
        stored = list_spend(s, builder.ws)
    assert [(r["channel"], r["amount"], r["origin"]) for r in stored] == [("ads", 12.0, "api"), ("seo", 5.0, "csv")]
    with builder.open() as data:
        assert _by_channel(channel_economics(data))["ads"]["amount"] == 12.0
