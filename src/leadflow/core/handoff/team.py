"""The sales team as data: reps, their roles, territories, weights, capacity, hours and absences.

Pure domain code. Everything that routing and the SLA clocks need about a rep is here, validated on
construction so that a bad value (a weight of 0, an unknown time zone, working hours that end before they
start) is refused with the field and the reason, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadflow.core.timeutil import as_utc


class TeamError(ValueError):
    """Invalid team data: names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RepRole(StrEnum):
    SDR = "sdr"  # works MQLs: contact, accept (SAL) or reject, BANT
    AE = "ae"    # works SQLs: accept -> opportunity, won / lost


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: common spellings of the countries leads arrive with -> one canonical name (compared case-insensitively)
COUNTRY_ALIASES: dict[str, str] = {
    "us": "united states", "usa": "united states", "u.s.": "united states", "united states of america": "united states",
    "uk": "united kingdom", "gb": "united kingdom", "great britain": "united kingdom", "england": "united kingdom",
    "de": "germany", "deutschland": "germany", "fr": "france", "ca": "canada", "in": "india", "nl": "netherlands",
    "au": "australia", "es": "spain", "se": "sweden", "br": "brazil", "ie": "ireland", "sg": "singapore",
    "it": "italy", "ch": "switzerland", "at": "austria", "be": "belgium", "dk": "denmark", "no": "norway",
    "fi": "finland", "pl": "poland", "pt": "portugal", "jp": "japan", "mx": "mexico", "nz": "new zealand",
}

#: canonical country name -> ISO 3166 code, for public holidays (``holidays`` package, used by the service)
COUNTRY_CODES: dict[str, str] = {
    "united states": "US", "united kingdom": "GB", "germany": "DE", "france": "FR", "canada": "CA", "india": "IN",
    "netherlands": "NL", "australia": "AU", "spain": "ES", "sweden": "SE", "brazil": "BR", "ireland": "IE",
    "singapore": "SG", "italy": "IT", "switzerland": "CH", "austria": "AT", "belgium": "BE", "denmark": "DK",
    "norway": "NO", "finland": "FI", "poland": "PL", "portugal": "PT", "japan": "JP", "mexico": "MX",
    "new zealand": "NZ",
}


def norm_country(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    v = str(value).strip().casefold()
    return COUNTRY_ALIASES.get(v, v)


def country_code(value: str | None) -> str | None:
    """ISO code for a country name or code ("Germany", "DE", "de" -> "DE"); None when unknown."""
    v = norm_country(value)
    if v is None:
        return None
    if v in COUNTRY_CODES:
        return COUNTRY_CODES[v]
    return v.upper() if len(v) == 2 else None


@dataclass(frozen=True, slots=True)
class Segment:
    """A company-size band, e.g. smb = 1-49 employees. ``max_employees`` is exclusive; None = no upper bound."""

    key: str
    min_employees: int = 0
    max_employees: int | None = None

    def contains(self, employees: int | None) -> bool:
        if employees is None:
            return False
        return employees >= self.min_employees and (self.max_employees is None or employees < self.max_employees)


DEFAULT_SEGMENTS: tuple[Segment, ...] = (
    Segment("smb", 0, 50), Segment("mid_market", 50, 1000), Segment("enterprise", 1000, None))


def segment_of(employees: int | None, segments: Sequence[Segment] = DEFAULT_SEGMENTS) -> str | None:
    for s in segments:
        if s.contains(employees):
            return s.key
    return None


@dataclass(frozen=True, slots=True)
class Territory:
    """A routing rule: which leads it covers. Empty criteria match everything (a catch-all).

    Territories are tried by ``priority`` (lower first, then key), so a specific territory ("DACH
    enterprise", priority 10) wins over a broad one ("EMEA", priority 50) for the leads both cover.
    """

    key: str
    name: str = ""
    countries: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    min_employees: int | None = None
    max_employees: int | None = None  # exclusive
    priority: int = 100

    def __post_init__(self) -> None:
        _check_key("territory.key", self.key)
        if self.min_employees is not None and self.min_employees < 0:
            raise TeamError("territory.min_employees", "must be >= 0")
        if (self.min_employees is not None and self.max_employees is not None
                and self.max_employees <= self.min_employees):
            raise TeamError("territory.max_employees", "must be greater than min_employees")
        object.__setattr__(self, "countries", frozenset(c for c in (norm_country(x) for x in self.countries) if c))
        object.__setattr__(self, "segments", frozenset(s.strip() for s in self.segments if s.strip()))

    def why_not(self, lead: LeadFacts) -> str | None:
        """None when the lead is in this territory, else the reason it is not."""
        if self.countries and lead.country not in self.countries:
            return f"country {lead.country or 'unknown'} not in {', '.join(sorted(self.countries))}"
        if self.segments and lead.segment not in self.segments:
            return f"segment {lead.segment or 'unknown'} not in {', '.join(sorted(self.segments))}"
        if self.min_employees is not None or self.max_employees is not None:
            n = lead.employees
            if n is None:
                return "company size unknown"
            if self.min_employees is not None and n < self.min_employees:
                return f"{n} employees < {self.min_employees}"
            if self.max_employees is not None and n >= self.max_employees:
                return f"{n} employees >= {self.max_employees}"
        return None

    def describe(self) -> str:
        parts = []
        if self.countries:
            parts.append("countries " + "/".join(sorted(self.countries)))
        if self.segments:
            parts.append("segments " + "/".join(sorted(self.segments)))
        if self.min_employees is not None or self.max_employees is not None:
            parts.append(f"{self.min_employees or 0}-{self.max_employees or 'inf'} employees")
        return ", ".join(parts) or "everything (catch-all)"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekly working hours in the rep's time zone: the same window on each working day."""

    tz: str = "UTC"
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    start: time = time(9, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise TeamError("timezone", f"unknown time zone {self.tz!r} (use an IANA name like Europe/Berlin)") from None
        if not self.days or any(d not in range(7) for d in self.days):
            raise TeamError("work_days", "need at least one day, each 0 (Monday) to 6 (Sunday)")
        if self.end <= self.start:
            raise TeamError("work_hours", f"end {self.end:%H:%M} must be after start {self.start:%H:%M}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def describe(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.tz}"


def parse_days(value: str | Iterable[int] | Iterable[str]) -> frozenset[int]:
    """``"mon-fri"``, ``"mon,wed,fri"``, ``"0-4"`` or a list of ints/names -> weekday numbers."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: set[int] = set()

    def one(tok: Any) -> int:
        if isinstance(tok, int):
            return tok
        t = str(tok).strip().lower()[:3]
        if t.isdigit():
            return int(t)
        if t not in WEEKDAYS:
            raise TeamError("work_days", f"unknown day {tok!r} (use mon..sun or 0..6)")
        return WEEKDAYS.index(t)

    for item in items:
        if isinstance(item, str) and "-" in item:
            a, _, b = item.partition("-")
            lo, hi = one(a), one(b)
            if hi < lo:
                raise TeamError("work_days", f"range {item!r} runs backwards")
            out.update(range(lo, hi + 1))
        elif str(item).strip():
            out.add(one(item))
    if any(d not in range(7) for d in out):
        raise TeamError("work_days", "days must be 0 (Monday) to 6 (Sunday)")
    return frozenset(out)


def parse_hhmm(value: str | time, field: str = "work_hours") -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise TeamError(field, f"{value!r} is not a time like 09:00") from None


@dataclass(frozen=True, slots=True)
class Away:
    """An out-of-office period, [starts_at, ends_at) in UTC."""

    starts_at: datetime
    ends_at: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts_at", as_utc(self.starts_at))
        object.__setattr__(self, "ends_at", as_utc(self.ends_at))
        if self.ends_at <= self.starts_at:
            raise TeamError("away.ends_at", "must be after starts_at")

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= as_utc(at) < self.ends_at


@dataclass(frozen=True, slots=True)
class Rep:
    """One sales rep. ``key`` is the handle used everywhere (``leads.owner`` holds it)."""

    key: str
    name: str
    role: RepRole
    weight: int = 1
    capacity: int = 25  # max open leads
    hours: WorkingHours = field(default_factory=WorkingHours)
    country: str | None = None  # for public holidays
    territories: frozenset[str] = frozenset()
    named_accounts: frozenset[str] = frozenset()  # account domains this rep owns
    team_lead: str | None = None  # rep key (or any handle) escalations go to
    email: str | None = None
    active: bool = True
    away: tuple[Away, ...] = ()

    def __post_init__(self) -> None:
        _check_key("rep.key", self.key)
        if not self.name.strip():
            raise TeamError("rep.name", "must not be empty")
        object.__setattr__(self, "role", RepRole(self.role))
        if not isinstance(self.weight, int) or isinstance(self.weight, bool) or not 1 <= self.weight <= 100:
            raise TeamError("rep.weight", f"must be a whole number from 1 to 100, got {self.weight!r}")
        if not isinstance(self.capacity, int) or isinstance(self.capacity, bool) or not 0 <= self.capacity <= 10_000:
            raise TeamError("rep.capacity", f"must be a whole number from 0 to 10000, got {self.capacity!r}")
        object.__setattr__(self, "named_accounts", frozenset(d.strip().lower() for d in self.named_accounts if d.strip()))

    def away_at(self, at: datetime) -> Away | None:
        for a in self.away:
            if a.covers(at):
                return a
        return None


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What routing needs to know about a lead (and its account)."""

    lead_id: str
    country: str | None = None
    employees: int | None = None
    segment: str | None = None
    account_domain: str | None = None
    account_owner: str | None = None  # accounts.owner: a rep key or email

    @classmethod
    def build(cls, lead_id: str, *, country: str | None, employees: int | None, account_domain: str | None,
              account_owner: str | None, segments: Sequence[Segment] = DEFAULT_SEGMENTS) -> LeadFacts:
        return cls(lead_id, norm_country(country), employees, segment_of(employees, segments),
                   account_domain.lower() if account_domain else None, account_owner)


def _check_key(field: str, key: str) -> None:
    if not key or len(key) > 64 or not all(c.isalnum() or c in "-_." for c in key):
        raise TeamError(field, f"{key!r} must be 1-64 letters, digits, '-', '_' or '.'")


def rep_from_mapping(data: Mapping[str, Any]) -> Rep:
    """Build a rep from plain values (CLI / API input), every field validated."""
    hours = WorkingHours(tz=str(data.get("timezone") or "UTC"), days=parse_days(data.get("work_days") or "mon-fri"),
                         start=parse_hhmm(data.get("work_start") or "09:00"),
                         end=parse_hhmm(data.get("work_end") or "17:00"))
    try:
        role = RepRole(str(data.get("role", "sdr")).lower())
    except ValueError:
        raise TeamError("rep.role", f"must be sdr or ae, got {data.get('role')!r}") from None
    return Rep(key=str(data.get("key") or ""), name=str(data.get("name") or data.get("key") or ""), role=role,
               weight=_int(data.get("weight", 1), "rep.weight"), capacity=_int(data.get("capacity", 25), "rep.capacity"),
               hours=hours, country=data.get("country") or None,
               territories=frozenset(data.get("territories") or ()),
               named_accounts=frozenset(data.get("named_accounts") or ()), team_lead=data.get("team_lead") or None,
               email=data.get("email") or None, active=bool(data.get("active", True)),
               away=tuple(data.get("away") or ()))


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise TeamError(field, f"must be a whole number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TeamError(field, f"must be a whole number, got {value!r}") from None
    if f != int(f):
        raise TeamError(field, f"must be a whole number, got {value!r}")
    return int(f)


def holiday_dates(values: Iterable[date]) -> frozenset[date]:
    return frozenset(values)
