"""The SDR workflow as data: lead-status moves, rejection reasons and where each sends a lead.

Lead status (HubSpot's values) tracks the work on a lead inside a stage: new -> attempting to contact ->
connected -> in progress; the rep then accepts it (SAL) or rejects it with a reason code. A rejection goes
back to marketing as nurture (with a re-engage date) or as disqualified, by the reason's default or the
rep's choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from leadflow.core.lifecycle import LeadStatus, Stage

L = LeadStatus

#: allowed lead-status moves made by reps (accept / reject / opportunity set the rest)
STATUS_MOVES: dict[LeadStatus, frozenset[LeadStatus]] = {
    L.NEW: frozenset({L.ATTEMPTING_TO_CONTACT, L.CONNECTED}),
    L.ATTEMPTING_TO_CONTACT: frozenset({L.CONNECTED}),
    L.CONNECTED: frozenset({L.IN_PROGRESS, L.ATTEMPTING_TO_CONTACT}),
    L.IN_PROGRESS: frozenset({L.CONNECTED}),
    L.OPEN_DEAL: frozenset(),
    L.UNQUALIFIED: frozenset({L.NEW}),
    L.BAD_TIMING: frozenset({L.NEW}),
}

#: statuses a lead is worked from (an accept or reject is allowed from these)
WORKABLE = frozenset({L.NEW, L.ATTEMPTING_TO_CONTACT, L.CONNECTED, L.IN_PROGRESS})


class IllegalStatus(ValueError):
    def __init__(self, from_status: str, to_status: str) -> None:
        allowed = ", ".join(sorted(STATUS_MOVES.get(LeadStatus(from_status), ()))) if from_status in set(
            LeadStatus) else "?"
        super().__init__(f"lead status cannot move from {from_status} to {to_status} "
                         f"(allowed from {from_status}: {allowed or 'none'})")
        self.from_status = from_status
        self.to_status = to_status


def check_status(from_status: str, to_status: LeadStatus) -> None:
    try:
        cur = LeadStatus(from_status)
    except ValueError:
        cur = L.NEW  # unknown imported values are treated as new
    if to_status not in STATUS_MOVES[cur]:
        raise IllegalStatus(from_status, to_status)


class Disposition(StrEnum):
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    label: str
    disposition: Disposition
    reengage_days: int | None  # default delay before marketing re-engages (nurture only)


class RejectReason(StrEnum):
    BAD_FIT = "bad_fit"
    NO_INTEREST_NOW = "no_interest_now"
    WRONG_PERSON = "wrong_person"
    DUPLICATE = "duplicate"
    COMPETITOR = "competitor"
    STUDENT = "student"
    NO_BUDGET = "no_budget"
    BAD_TIMING = "bad_timing"
    UNRESPONSIVE = "unresponsive"
    INVALID_CONTACT = "invalid_contact"
    OTHER = "other"


REASONS: dict[RejectReason, ReasonInfo] = {
    RejectReason.BAD_FIT: ReasonInfo("Bad fit (not our ICP)", Disposition.DISQUALIFIED, None),
    RejectReason.NO_INTEREST_NOW: ReasonInfo("No interest now", Disposition.NURTURE, 90),
    RejectReason.WRONG_PERSON: ReasonInfo("Wrong person (not involved in buying)", Disposition.NURTURE, 30),
    RejectReason.DUPLICATE: ReasonInfo("Duplicate of another lead", Disposition.DISQUALIFIED, None),
    RejectReason.COMPETITOR: ReasonInfo("Competitor", Disposition.DISQUALIFIED, None),
    RejectReason.STUDENT: ReasonInfo("Student or researcher", Disposition.DISQUALIFIED, None),
    RejectReason.NO_BUDGET: ReasonInfo("No budget", Disposition.NURTURE, 180),
    RejectReason.BAD_TIMING: ReasonInfo("Bad timing", Disposition.NURTURE, 90),
    RejectReason.UNRESPONSIVE: ReasonInfo("Unresponsive after attempts", Disposition.NURTURE, 60),
    RejectReason.INVALID_CONTACT: ReasonInfo("Invalid contact details", Disposition.DISQUALIFIED, None),
    RejectReason.OTHER: ReasonInfo("Other (see note)", Disposition.NURTURE, 90),
}


def parse_reason(value: str) -> RejectReason:
    try:
        return RejectReason(str(value).strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise ValueError(f"reason: unknown code {value!r} (known: {', '.join(r.value for r in RejectReason)})") from None


@dataclass(frozen=True, slots=True)
class RejectPlan:
    reason: RejectReason
    disposition: Disposition
    to_stage: Stage
    to_status: LeadStatus
    reengage_at: datetime | None


def plan_rejection(reason: RejectReason, at: datetime, *, disposition: Disposition | None = None,
                   reengage_at: datetime | None = None) -> RejectPlan:
    """Where a rejected lead goes: nurture (with a re-engage date) or disqualified."""
    info = REASONS[reason]
    disp = disposition or info.disposition
    if disp == Disposition.NURTURE:
        if reengage_at is None:
            reengage_at = at + timedelta(days=info.reengage_days or 90)
        elif reengage_at <= at:
            raise ValueError("reengage_at: must be in the future")
        status = L.BAD_TIMING if reason in (RejectReason.BAD_TIMING, RejectReason.NO_INTEREST_NOW,
                                            RejectReason.NO_BUDGET) else L.UNQUALIFIED
        return RejectPlan(reason, disp, Stage.NURTURE, status, reengage_at)
    if reengage_at is not None:
        raise ValueError("reengage_at: only a nurture disposition has a re-engage date")
    return RejectPlan(reason, disp, Stage.DISQUALIFIED, L.UNQUALIFIED, None)


class TouchKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    LINKEDIN = "linkedin"
    SMS = "sms"
    MEETING = "meeting"


class TouchOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    SENT = "sent"
    BOUNCED = "bounced"
    CONNECTED = "connected"
    REPLIED = "replied"
    MEETING_BOOKED = "meeting_booked"


CONNECTING_OUTCOMES = frozenset({TouchOutcome.CONNECTED, TouchOutcome.REPLIED, TouchOutcome.MEETING_BOOKED})
