"""The Maven Analytics "CRM Sales Opportunities" data set (a fictitious B2B seller) mapped to leadflow's import records.

Used to check the pipeline analytics (stage counts, win rate, cycle time, agent / manager / office roll-ups)
against real pipeline data (``tests/analytics/test_analytics_maven.py``, ``leadflow analytics load-maven``).
The outcomes are simulated (random): fit for pipeline mechanics, never for model-accuracy claims.

The four files map as follows:

* ``accounts.csv`` -> one account per company: domain ``<slug of the name>.maven.example`` (the data set has
  no domains), ``industry`` = sector (the typo ``technolgy`` read as ``technology``), ``employee_count`` =
  employees, ``annual_revenue`` = revenue x 1,000,000 (the file gives millions of USD), ``country`` =
  office_location (as written), properties ``year_established`` and ``subsidiary_of``;
* ``products.csv`` -> the product's ``product_series`` and ``list_price`` on each opportunity;
* ``sales_teams.csv`` -> the agent's ``manager`` and ``regional_office`` on each opportunity;
* ``sales_pipeline.csv`` -> **one lead per opportunity**: email ``<opportunity_id>@maven.example``, ``owner``
  = sales_agent, linked to its account (a blank account - 1,425 open rows - leaves the lead on the
  placeholder account ``maven.example`` that leadflow derives from the email, with no name or industry),
  properties ``maven_opportunity_id``, ``product`` (``GTXPro`` read as ``GTX Pro``, the name products.csv
  uses), ``product_series``, ``list_price``, ``manager``, ``regional_office``. ``deal_stage`` is *not* kept as
  a property: it would leak the outcome into every breakdown.

Stages (leadflow's lifecycle, :mod:`leadflow.core.lifecycle`):

* **Engaging, Won, Lost** (an engage_date) -> imported at stage ``opportunity`` at the engage date, which is
  also the lead's ``created_at``: the agent is working a deal, the first stage where leadflow tracks one;
* **Prospecting** (no date at all) -> imported at stage ``sal``: the row sits on an agent's pipeline (sales
  has accepted it) but nothing records a qualification, so claiming ``sql`` or ``opportunity`` would
  overstate it. Created at the data set's as-of date (the latest engage / close date in the file), the
  only date the file supports;
* **Won** -> a ``won`` outcome at close_date with ``amount`` = close_value (the lead moves to customer);
  **Lost** -> a ``lost`` outcome at close_date without an amount (close_value is 0 for every lost row: no
  revenue, not the size of the lost deal; the lead moves to nurture, leadflow's move for a lost deal).
  No currency: the data set does not state one for deal values.

Dates are calendar dates, read as midnight UTC. This module only parses; storing goes through the
product's write path (the facade: ``upsert_accounts``, then ``upsert_leads``, then ``record_outcomes``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["ACCOUNTS_FILE", "PIPELINE_FILE", "PLACEHOLDER_DOMAIN", "PRODUCTS_FILE", "TEAMS_FILE", "MavenRecords",
           "account_domain", "maven_records"]

ACCOUNTS_FILE = "accounts.csv"
PRODUCTS_FILE = "products.csv"
TEAMS_FILE = "sales_teams.csv"
PIPELINE_FILE = "sales_pipeline.csv"
#: the account leadflow derives from the opportunities' email domain when the row names no account
PLACEHOLDER_DOMAIN = "maven.example"

#: known spelling slips of the data set, read as the name the other files use
PRODUCT_FIXES = {"GTXPro": "GTX Pro"}
SECTOR_FIXES = {"technolgy": "technology"}
ENGAGED = ("Engaging", "Won", "Lost")
DEAL_STAGES = ("Prospecting", *ENGAGED)


@dataclass
class MavenRecords:
    """The data set in leadflow's import format (``upsert_accounts`` / ``upsert_leads`` / ``record_outcomes``)."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    as_of: datetime | None = None  # the latest date in the pipeline file (created_at of Prospecting rows)


def _date(text: str) -> datetime | None:
    text = (text or "").strip()
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def _number(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def account_domain(name: str) -> str:
    """The made-up domain of a Maven account: ``Acme Corporation`` -> ``acme-corporation.maven.example``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not slug:
        raise ValueError(f"account name {name!r} gives no domain")
    return f"{slug}.{PLACEHOLDER_DOMAIN}"


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def maven_records(folder: str | Path) -> MavenRecords:
    """Accounts, leads (one per opportunity) and outcomes from the folder holding the four CSV files."""
    root = Path(folder)
    out = MavenRecords()
    domains: dict[str, str] = {}
    for row in _read(root / ACCOUNTS_FILE):
        domain = account_domain(row["account"])
        if domain in domains.values():
            raise ValueError(f"{ACCOUNTS_FILE}: two accounts give the domain {domain}")
        domains[row["account"]] = domain
        employees = _number(row.get("employees", ""))
        revenue = _number(row.get("revenue", ""))
        year = _number(row.get("year_established", ""))
        props = {k: v for k, v in (("year_established", int(year) if year is not None else None),
                                   ("subsidiary_of", row.get("subsidiary_of") or None)) if v is not None}
        sector = row.get("sector") or None
        out.accounts.append({"domain": domain, "name": row["account"],
                             "industry": SECTOR_FIXES.get(sector, sector) if sector else None,
                             "employee_count": int(employees) if employees is not None else None,
                             "annual_revenue": revenue * 1_000_000 if revenue is not None else None,
                             "country": row.get("office_location") or None, "properties": props})
    products = {r["product"]: r for r in _read(root / PRODUCTS_FILE)}
    teams = {r["sales_agent"]: r for r in _read(root / TEAMS_FILE)}
    pipeline = _read(root / PIPELINE_FILE)
    dates = [d for r in pipeline for d in (_date(r["engage_date"]), _date(r["close_date"])) if d is not None]
    out.as_of = max(dates) if dates else None
    for r in pipeline:
        opp, stage = r["opportunity_id"], r["deal_stage"]
        if stage not in DEAL_STAGES:
            raise ValueError(f"{PIPELINE_FILE}: opportunity {opp}: unknown deal_stage {stage!r}")
        engaged, closed = _date(r["engage_date"]), _date(r["close_date"])
        if stage in ENGAGED and engaged is None:
            raise ValueError(f"{PIPELINE_FILE}: opportunity {opp} is {stage} without an engage_date")
        email = f"{opp.lower()}@{PLACEHOLDER_DOMAIN}"
        product = PRODUCT_FIXES.get(r["product"], r["product"]) or None
        team = teams.get(r["sales_agent"], {})
        info = products.get(product or "", {})
        props: dict[str, Any] = {"maven_opportunity_id": opp, "product": product,
                                 "product_series": info.get("series") or None,
                                 "list_price": _number(info.get("sales_price", "")),
                                 "manager": team.get("manager") or None,
                                 "regional_office": team.get("regional_office") or None}
        lead: dict[str, Any] = {"email": email, "owner": r["sales_agent"] or None,
                                "created_at": engaged or out.as_of,
                                "stage": "opportunity" if stage in ENGAGED else "sal",
                                "properties": {k: v for k, v in props.items() if v is not None}}
        if r["account"]:
            if r["account"] not in domains:
                raise ValueError(f"{PIPELINE_FILE}: opportunity {opp}: account {r['account']!r} is not in "
                                 f"{ACCOUNTS_FILE}")
            lead["company_domain"] = domains[r["account"]]
        out.leads.append(lead)
        if stage in ("Won", "Lost"):
            if closed is None:
                raise ValueError(f"{PIPELINE_FILE}: opportunity {opp} is {stage} without a close_date")
            outcome: dict[str, Any] = {"email": email, "result": stage.lower(), "closed_at": closed}
            if stage == "Won":
                outcome["amount"] = _number(r["close_value"])
            out.outcomes.append(outcome)
    return out

