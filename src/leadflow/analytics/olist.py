"""The Olist marketing funnel (Kaggle "Marketing Funnel by Olist") mapped to leadflow's import records.

Used to check the funnel analytics against real data (``tests/analytics/test_analytics_olist.py``,
``leadflow analytics load-olist``). The two files map as follows:

* ``olist_marketing_qualified_leads_dataset.csv`` (mql_id, first_contact_date, landing_page_id, origin) ->
  one lead per MQL: email ``<mql_id>@olist.example`` (the data set has no contact data), ``created_at`` =
  first contact (midnight UTC), ``source`` = origin (empty stays empty), ``landing_page`` = landing page id,
  ``stage`` = ``mql`` (recorded as an imported stage at the first contact);
* ``olist_closed_deals_dataset.csv`` (mql_id, won_date, ...) -> a ``won`` outcome per deal, closed at
  ``won_date`` (UTC). The deal-side fields (segment, lead type, SDR, SR ...) exist only for won leads, so they
  are kept off the leads: they would leak the outcome into any breakdown.

This module only parses; storing goes through the product's write path (the facade or the importer).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["MQL_FILE", "DEALS_FILE", "olist_records"]

MQL_FILE = "olist_marketing_qualified_leads_dataset.csv"
DEALS_FILE = "olist_closed_deals_dataset.csv"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)


def olist_records(folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(leads, outcomes)`` in leadflow's import format, from the folder holding the two CSV files."""
    root = Path(folder)
    leads: list[dict[str, Any]] = []
    with open(root / MQL_FILE, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            leads.append({"email": f"{row['mql_id']}@olist.example", "created_at": _ts(row["first_contact_date"]),
                          "source": row["origin"] or None, "landing_page": row["landing_page_id"] or None,
                          "stage": "mql", "properties": {"olist_mql_id": row["mql_id"]}})
    known = {r["properties"]["olist_mql_id"] for r in leads}
    outcomes: list[dict[str, Any]] = []
    with open(root / DEALS_FILE, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["mql_id"] in known and row["won_date"]:
                outcomes.append({"email": f"{row['mql_id']}@olist.example", "result": "won",
                                 "closed_at": _ts(row["won_date"])})
    return leads, outcomes
