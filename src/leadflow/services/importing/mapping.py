"""Column mapping for imports: which leadflow field each column of a file fills, and value vocabularies.

Column names are matched case-, space- and punctuation-insensitively (``"Number of Employees"``,
``"NumberOfEmployees"`` and ``"number_of_employees"`` are the same name), against leadflow's own field
names, HubSpot export labels and Salesforce export names (API names and report labels). A user mapping
(source column -> target) overrides the automatic recognition.

Targets are the record keys of the kind (``email``, ``employee_count``, ...), ``properties`` (a column
holding a JSON object, merged into the record's properties), ``properties.<name>`` (a custom property) or
``None`` (ignored). Unrecognised columns become ``properties.<slug>`` for leads, accounts and events and
are ignored for outcomes.

Pure: no I/O, no database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

KINDS = ("leads", "accounts", "events", "outcomes")

#: The fields a column can fill, per kind (the keys of the records the readers return, minus
#: ``properties``, which columns fill through ``properties``/``properties.<name>`` targets).
FIELDS: dict[str, tuple[str, ...]] = {
    "leads": (
        "email", "first_name", "last_name", "title", "seniority", "department", "phone", "country",
        "source", "medium", "campaign", "landing_page", "consent", "unsubscribed", "company_domain",
        "company_name", "owner", "stage", "lead_status", "created_at",
    ),
    "accounts": ("domain", "name", "industry", "employee_count", "annual_revenue", "country", "owner"),
    "events": ("type", "occurred_at", "message_id", "email", "anonymous_id"),
    "outcomes": ("email", "result", "amount", "currency", "closed_at", "reason"),
}

#: Kinds whose records carry a ``properties`` dict (custom properties).
HAS_PROPERTIES = frozenset({"leads", "accounts", "events"})

#: Company columns a leads file may carry: they become typed custom properties of the lead
#: (``properties.industry`` ...), since a lead record has no such fields; the ingest can lift them to the account.
LEAD_ACCOUNT_PROPERTIES = ("industry", "employee_count", "annual_revenue")

#: Fields a file must provide a column for (events also need ``email`` or ``anonymous_id``).
REQUIRED: dict[str, tuple[str, ...]] = {
    "leads": ("email",),
    "accounts": ("domain",),
    "events": ("type", "occurred_at"),
    "outcomes": ("email", "result", "closed_at"),
}

_HUBSPOT_SF_LEADS: dict[str, tuple[str, ...]] = {
    "email": ("Email", "E-mail", "Email Address"),
    "first_name": ("First Name", "FirstName", "Given Name"),
    "last_name": ("Last Name", "LastName", "Surname", "Family Name"),
    "title": ("Job Title", "Title"),
    "seniority": ("Seniority", "Job Seniority"),
    "department": ("Department", "Job Function"),
    "phone": ("Phone", "Phone Number", "Telephone"),
    "country": ("Country", "Country/Region"),
    "source": ("Source", "Lead Source", "LeadSource", "Original Source", "Original Traffic Source", "utm_source"),
    "medium": ("Medium", "utm_medium"),
    "campaign": ("Campaign", "Campaign Name", "utm_campaign"),
    "landing_page": ("Landing Page", "Landing Page URL", "First Page Seen"),
    "consent": ("Consent", "Marketing Consent", "Email Consent"),
    "unsubscribed": ("Unsubscribed", "Unsubscribed from all email", "HasOptedOutOfEmail", "Email Opt Out"),
    "company_domain": ("Company Domain", "Company Domain Name", "Domain", "Website", "Website URL",
                       "Company Website"),
    "company_name": ("Company", "Company Name", "Company / Account", "Associated Company", "Account Name",
                     "Organization"),
    "owner": ("Owner", "Contact owner", "Lead Owner", "OwnerId", "HubSpot Owner", "HubSpot Owner ID"),
    "stage": ("Stage", "Lifecycle Stage"),
    "lead_status": ("Lead Status", "Status", "hs_lead_status"),
    "created_at": ("Created At", "Create Date", "Created Date", "CreatedDate", "Date Created"),
    # Company columns of a contact export: kept as typed custom properties of the lead, so the ingest
    # can hand them to the account (the lead record itself has no such fields).
    "properties.industry": ("Industry",),
    "properties.employee_count": ("Number of Employees", "NumberOfEmployees", "Employee Count", "Employees"),
    "properties.annual_revenue": ("Annual Revenue", "AnnualRevenue", "Revenue"),
    "properties": ("Properties",),
}

_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "domain": ("Domain", "Company Domain Name", "Company Domain", "Domain Name", "Website", "Website URL"),
    "name": ("Name", "Company Name", "Company", "Account Name", "Organization"),
    "industry": ("Industry",),
    "employee_count": ("Number of Employees", "NumberOfEmployees", "Employee Count", "Employees"),
    "annual_revenue": ("Annual Revenue", "AnnualRevenue", "Revenue"),
    "country": ("Country", "Country/Region", "BillingCountry", "Billing Country"),
    "owner": ("Owner", "Company owner", "Account Owner", "OwnerId", "HubSpot Owner", "HubSpot Owner ID"),
    "properties": ("Properties",),
}

_EVENTS: dict[str, tuple[str, ...]] = {
    "type": ("Type", "Event", "Event Type", "Event Name"),
    "occurred_at": ("Occurred At", "Timestamp", "Time", "Event Time", "Event Timestamp"),
    "message_id": ("Message ID", "MessageId", "Event ID"),
    "email": ("Email", "Email Address"),
    "anonymous_id": ("Anonymous ID", "AnonymousId", "Visitor ID"),
    "properties": ("Properties",),
}

_OUTCOMES: dict[str, tuple[str, ...]] = {
    "email": ("Email", "Email Address", "Contact Email"),
    "result": ("Result", "Outcome", "Deal Stage", "Stage", "StageName", "Status"),
    "amount": ("Amount", "Deal Amount", "Value"),
    "currency": ("Currency", "Currency Code", "CurrencyIsoCode", "Deal Currency Code"),
    "closed_at": ("Closed At", "Close Date", "CloseDate", "Closed Date", "Date Closed"),
    "reason": ("Reason", "Closed Lost Reason", "Closed Won Reason", "Loss Reason", "Lost Reason", "Win Reason"),
}

_ALIAS_TABLES = {"leads": _HUBSPOT_SF_LEADS, "accounts": _ACCOUNTS, "events": _EVENTS, "outcomes": _OUTCOMES}


class MappingError(ValueError):
    """A user mapping names a target that does not exist for the kind."""


def normalize_name(name: str) -> str:
    """The matching key of a column name: case-folded, without spaces, underscores or punctuation."""
    return re.sub(r"[\W_]+", "", name.casefold())


def property_slug(name: str) -> str:
    """The custom-property name for a column label: ``"Favourite Colour"`` -> ``"favourite_colour"``."""
    return re.sub(r"[^\w]+", "_", name.strip().casefold()).strip("_")


def _build_aliases() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for kind, table in _ALIAS_TABLES.items():
        lookup: dict[str, str] = {}
        for field in FIELDS[kind]:
            lookup[normalize_name(field)] = field
        for target, names in table.items():
            for name in names:
                key = normalize_name(name)
                if lookup.get(key, target) != target:  # pragma: no cover - a table bug
                    raise AssertionError(f"{kind}: {name!r} maps to both {lookup[key]!r} and {target!r}")
                lookup[key] = target
        out[kind] = lookup
    return out


#: kind -> normalised column name -> target.
ALIASES: dict[str, dict[str, str]] = _build_aliases()


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r} (expected one of {', '.join(KINDS)})")
    return kind


def validate_target(kind: str, target: str | None) -> str | None:
    """Check one user-mapping target; return it normalised (``None``/blank means ignore the column)."""
    if target is None:
        return None
    if not isinstance(target, str):
        raise MappingError(f"mapping target {target!r} is not a field name")
    text = target.strip()
    if not text:
        return None
    if text in FIELDS[kind]:
        return text
    if kind == "leads" and text in LEAD_ACCOUNT_PROPERTIES:
        return f"properties.{text}"
    if kind in HAS_PROPERTIES:
        if text == "properties":
            return text
        if text.startswith("properties.") and text[len("properties."):].strip():
            return text
    allowed = ", ".join(FIELDS[kind])
    extra = ", properties, properties.<name>" if kind in HAS_PROPERTIES else ""
    raise MappingError(f"{target!r} is not a {kind} field (expected one of {allowed}{extra}, or None to ignore)")


class ColumnResolver:
    """Resolves source columns to targets, one at a time (a JSON Lines file reveals its keys as it goes).

    ``columns`` records every column seen, in order, with its target (``None`` = ignored).
    ``slug_properties``: unknown columns become ``properties.<slug>`` (CSV labels) instead of
    ``properties.<column>`` unchanged (JSON keys, already machine names).
    """

    def __init__(self, kind: str, mapping: Mapping[str, str | None] | None = None, *, slug_properties: bool = True):
        self.kind = check_kind(kind)
        self.slug_properties = slug_properties
        self.columns: dict[str, str | None] = {}
        self._user: dict[str, str | None] = {}
        self._user_norm: dict[str, str] = {}
        for source, target in (mapping or {}).items():
            self._user[source] = validate_target(kind, target)
            self._user_norm.setdefault(normalize_name(source), source)
        self._used_user: set[str] = set()
        self._props: set[str] = set()

    def resolve(self, column: str) -> str | None:
        if column in self.columns:
            return self.columns[column]
        target = self._target(column)
        if target is not None and target.startswith("properties."):
            self._props.add(target)
        self.columns[column] = target
        return target

    def _target(self, column: str) -> str | None:
        if column in self._user:
            self._used_user.add(column)
            return self._user[column]
        user_key = self._user_norm.get(normalize_name(column))
        if user_key is not None:
            self._used_user.add(user_key)
            return self._user[user_key]
        target = ALIASES[self.kind].get(normalize_name(column))
        if target is not None:
            return target
        if self.kind not in HAS_PROPERTIES:
            return None
        name = property_slug(column) if self.slug_properties else column.strip()
        if not name:
            name = f"column_{len(self.columns) + 1}"
        candidate, n = f"properties.{name}", 1
        while candidate in self._props:
            n += 1
            candidate = f"properties.{name}_{n}"
        return candidate

    def unused_mapping_keys(self) -> list[str]:
        """User-mapping keys that matched no column (probably a typo)."""
        return [key for key in self._user if key not in self._used_user]


def resolve_columns(
    columns: Iterable[str], kind: str, mapping: Mapping[str, str | None] | None = None
) -> dict[str, str | None]:
    """Map each source column name to its target (see the module docstring); header order is kept."""
    resolver = ColumnResolver(kind, mapping)
    for column in columns:
        resolver.resolve(column)
    return resolver.columns


# --- value vocabularies -------------------------------------------------------------------------------

#: Lifecycle stage values (HubSpot internal names and labels, leadflow names) -> leadflow stage.
#: ``None`` means "no stage": the engine classifies the lead.
STAGE_VALUES: dict[str, str | None] = {
    "subscriber": "subscriber",
    "lead": "lead",
    "mql": "mql",
    "marketingqualifiedlead": "mql",
    "sal": "sal",
    "salesacceptedlead": "sal",
    "sql": "sql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "customer",
    "evangelist": "customer",
    "nurture": "nurture",
    "nurturing": "nurture",
    "disqualified": "disqualified",
    "unqualified": "disqualified",
    "other": None,
}

#: Lead status values -> (leadflow lead status, stage implied when the file has no stage column).
#: HubSpot lead statuses imply no stage; the Salesforce lead status picklist does.
LEAD_STATUS_VALUES: dict[str, tuple[str | None, str | None]] = {
    # HubSpot (internal names and labels) and leadflow
    "new": ("new", None),
    "open": ("new", None),
    "attemptedtocontact": ("attempting_to_contact", None),
    "attemptingtocontact": ("attempting_to_contact", None),
    "connected": ("connected", None),
    "inprogress": ("in_progress", None),
    "opendeal": ("open_deal", None),
    "unqualified": ("unqualified", None),
    "badtiming": ("bad_timing", None),
    # Salesforce standard picklist and common custom values
    "opennotcontacted": ("new", "lead"),
    "workingcontacted": ("in_progress", "sal"),
    "working": ("in_progress", "sal"),
    "contacted": ("connected", None),
    "nurturing": ("bad_timing", "nurture"),
    "qualified": (None, "sql"),
    "closedconverted": (None, "sql"),
    "converted": (None, "sql"),
    "closednotconverted": ("unqualified", "disqualified"),
    "disqualified": ("unqualified", "disqualified"),
}

#: Deal outcome values (HubSpot deal stage, Salesforce StageName, plain words) -> won | lost.
RESULT_VALUES: dict[str, str] = {
    "won": "won",
    "win": "won",
    "closedwon": "won",
    "lost": "lost",
    "loss": "lost",
    "closedlost": "lost",
}


@functools.lru_cache(maxsize=1024)
def map_stage(value: str) -> str | None:
    """A lifecycle stage value -> leadflow stage (``None`` for HubSpot "other"); ``ValueError`` if unknown."""
    key = normalize_name(value)
    if key not in STAGE_VALUES:
        raise ValueError(
            f"{value!r} is not a lifecycle stage (expected subscriber, lead, mql/marketingqualifiedlead, sal, "
            "sql/salesqualifiedlead, opportunity, customer, nurture, disqualified or other)"
        )
    return STAGE_VALUES[key]


@functools.lru_cache(maxsize=1024)
def map_lead_status(value: str) -> tuple[str | None, str | None]:
    """A HubSpot or Salesforce lead status -> (lead status, implied stage); ``ValueError`` if unknown."""
    key = normalize_name(value)
    if key not in LEAD_STATUS_VALUES:
        raise ValueError(
            f"{value!r} is not a lead status (expected a HubSpot status such as New, Attempted to contact, "
            "Connected, In progress, Open deal, Unqualified, Bad timing, or a Salesforce one such as "
            "Open - Not Contacted, Working - Contacted, Closed - Converted, Closed - Not Converted)"
        )
    return LEAD_STATUS_VALUES[key]


@functools.lru_cache(maxsize=1024)
def map_result(value: str) -> str:
    """A deal outcome -> ``won``/``lost``; ``ValueError`` for anything else (e.g. an open deal stage)."""
    key = normalize_name(value)
    if key not in RESULT_VALUES:
        raise ValueError(f"{value!r} is not a closed deal result (expected Won/Closed Won or Lost/Closed Lost)")
    return RESULT_VALUES[key]
