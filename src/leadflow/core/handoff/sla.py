"""SLA clocks in a rep's business hours: weekends, public holidays and time zones (DST included).

A rep's business time is the union of their daily working windows, each built in the rep's own time zone
on a working day that is not a holiday and converted to UTC instants with :mod:`zoneinfo`. Arithmetic is
done on those instants, so a window on the day clocks change is as long as the wall clock says (a 09:00-17:00
day is 8 business hours whatever the UTC offset), and a lead assigned on Friday evening is due on Monday.

Holidays are passed in as dates (the service looks them up for the rep's country).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from leadflow.core.handoff.team import TeamError, WorkingHours
from leadflow.core.timeutil import as_utc

MAX_DAYS = 3 * 366  # a calendar without a working day in three years is an error, not an endless loop


class NoBusinessTime(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    hours: WorkingHours
    holidays: frozenset[date] = frozenset()

    def is_working_day(self, d: date) -> bool:
        return d.weekday() in self.hours.days and d not in self.holidays

    def window(self, d: date) -> tuple[datetime, datetime] | None:
        """The working window of local date ``d`` as UTC instants, or None on a day off."""
        if not self.is_working_day(d):
            return None
        z = self.hours.zone
        start = datetime.combine(d, self.hours.start, tzinfo=z).astimezone(UTC)
        end = datetime.combine(d, self.hours.end, tzinfo=z).astimezone(UTC)
        return (start, end) if end > start else None

    def windows_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) that end after ``at``, in order."""
        at = as_utc(at)
        d = at.astimezone(self.hours.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            w = self.window(d)
            d += timedelta(days=1)
            if w is not None and w[1] > at:
                yield w
        raise NoBusinessTime(f"no working time within {MAX_DAYS} days after {at:%Y-%m-%d} "
                             f"({self.hours.describe()}, {len(self.holidays)} holidays)")

    def add(self, start: datetime, hours: float) -> datetime:
        """The instant ``hours`` business hours after ``start`` (0 hours: the next business moment)."""
        if hours < 0:
            raise TeamError("sla.hours", "must be >= 0")
        remaining = timedelta(hours=hours)
        start = as_utc(start)
        for ws, we in self.windows_from(start):
            s = max(ws, start)
            avail = we - s
            if remaining <= avail:
                return s + remaining
            remaining -= avail
        raise AssertionError("unreachable")  # pragma: no cover - windows_from raises first

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b) (zero when b <= a)."""
        a, b = as_utc(a), as_utc(b)
        total = timedelta(0)
        if b <= a:
            return total
        for ws, we in self.windows_from(a):
            if ws >= b:
                break
            total += min(we, b) - max(ws, a)
        return total

    def is_open(self, at: datetime) -> bool:
        at = as_utc(at)
        w = self.window(at.astimezone(self.hours.zone).date())
        return w is not None and w[0] <= at < w[1]


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Per segment: first touch within N business hours of assignment, a decision within M."""

    first_touch_hours: float = 4.0
    decision_hours: float = 16.0
    reassign_on_breach: bool = False  # a first-touch breach hands the lead to the next rep

    def __post_init__(self) -> None:
        for name in ("first_touch_hours", "decision_hours"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v <= 24 * 365:
                raise TeamError(f"sla.{name}", f"must be a positive number of business hours, got {v!r}")
        if self.decision_hours < self.first_touch_hours:
            raise TeamError("sla.decision_hours", "must be at least first_touch_hours")


@dataclass(frozen=True, slots=True)
class SlaConfig:
    default: SlaPolicy = field(default_factory=SlaPolicy)
    by_segment: Mapping[str, SlaPolicy] = field(default_factory=dict)

    def policy(self, segment: str | None) -> SlaPolicy:
        return self.by_segment.get(segment or "", self.default)

    def to_dict(self) -> dict:
        def one(p: SlaPolicy) -> dict:
            return {"first_touch_hours": p.first_touch_hours, "decision_hours": p.decision_hours,
                    "reassign_on_breach": p.reassign_on_breach}
        return {"default": one(self.default), "by_segment": {k: one(v) for k, v in sorted(self.by_segment.items())}}

    @classmethod
    def from_dict(cls, data: Mapping | None) -> SlaConfig:
        if not data:
            return cls()

        def one(d: Mapping) -> SlaPolicy:
            return SlaPolicy(float(d.get("first_touch_hours", 4)), float(d.get("decision_hours", 16)),
                             bool(d.get("reassign_on_breach", False)))
        return cls(one(data.get("default") or {}), {k: one(v) for k, v in (data.get("by_segment") or {}).items()})


@dataclass(frozen=True, slots=True)
class Clock:
    first_touch_due: datetime
    decision_due: datetime


def start_clock(cal: BusinessCalendar, policy: SlaPolicy, assigned_at: datetime) -> Clock:
    return Clock(cal.add(assigned_at, policy.first_touch_hours), cal.add(assigned_at, policy.decision_hours))
