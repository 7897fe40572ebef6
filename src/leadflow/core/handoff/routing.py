"""Routing: who gets a lead, and why - deterministic, explainable, fair under change.

Order of decision for a lead that needs a rep of a role:

1. **Named account.** A rep of that role who owns the lead's account (the account's ``owner`` names the
   rep, or the rep lists the domain in ``named_accounts``) gets it when available.
2. **Territories.** Territories the lead falls in are tried by priority; the first with at least one
   *available* rep of the role (active, not out of office, open leads below capacity) is used.
3. **Weighted rotation** among those reps: *smooth weighted round-robin* kept as a per-rep **lag** (leads
   the rep is owed). For each lead, every available rep's lag grows by their share of it
   (``weight / total weight of the available reps``); the rep with the largest lag gets the lead and their
   lag drops by one. With a fixed set of available reps each rep's count stays within one lead of
   ``n * weight / total weight`` at every point (not only at the end of a cycle). Reps who are away, at
   capacity or who have left are simply not candidates: their lag is frozen, the rotation never waits for
   them and never resets. A rep who joins starts at lag 0, and a returning rep's lag is clamped to
   [-1, 1]: nobody is flooded with catch-up leads or sent to the back of the queue.
4. **Nobody** eligible and available: the lead goes to the unassigned queue, with the reasons.

All of this is pure: the caller passes the rotation state and open counts in and stores the new state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from leadflow.core.handoff.team import LeadFacts, Rep, RepRole, Territory

LAG_DIGITS = 9  # lags are compared rounded, so float steps of 1/3 tie where they should


class NotAssignable(ValueError):
    """A rep cannot take a lead now (out of office, at capacity, inactive, wrong role)."""

    def __init__(self, rep: str, reason: str) -> None:
        super().__init__(f"cannot assign to {rep}: {reason}")
        self.rep = rep
        self.reason = reason


@dataclass(slots=True)
class RotationState:
    """One pool's rotation: each rep's lag (leads owed, clamped to [-1, 1] when read) and count."""

    lags: dict[str, float] = field(default_factory=dict)
    assigned: dict[str, int] = field(default_factory=dict)

    def lag(self, rep: str) -> float:
        return min(1.0, max(-1.0, self.lags.get(rep, 0.0)))

    def copy(self) -> RotationState:
        return RotationState(dict(self.lags), dict(self.assigned))


@dataclass(frozen=True, slots=True)
class Skip:
    rep: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    rep: str | None
    method: str  # named_account | rotation | unassigned | manual
    explanation: str
    territory: str | None = None
    pool: str | None = None
    skipped: tuple[Skip, ...] = ()
    rotation: RotationState | None = None  # the pool's new state (rotation only)
    details: dict[str, Any] = field(default_factory=dict)


def pool_key(role: RepRole, territory: str) -> str:
    return f"{role.value}:{territory}"


def unavailable_reason(rep: Rep, open_count: int, at: datetime) -> str | None:
    """None when the rep can take one more lead now, else why not."""
    if not rep.active:
        return "inactive"
    away = rep.away_at(at)
    if away is not None:
        why = f" ({away.reason})" if away.reason else ""
        return f"out of office until {away.ends_at:%Y-%m-%d %H:%M} UTC{why}"
    if open_count >= rep.capacity:
        return f"at capacity ({open_count} of {rep.capacity} open)"
    return None


def check_assignable(rep: Rep, open_count: int, at: datetime, role: RepRole | None = None) -> None:
    """For manual assignment: raise :class:`NotAssignable` with the reason, or return."""
    if role is not None and rep.role != role:
        raise NotAssignable(rep.key, f"is an {rep.role.value.upper()}, this lead needs an {role.value.upper()}")
    why = unavailable_reason(rep, open_count, at)
    if why:
        raise NotAssignable(rep.key, why)


def _owner_reps(lead: LeadFacts, reps: Sequence[Rep], roles: Collection[RepRole]) -> list[Rep]:
    out = []
    for r in reps:
        if r.role not in roles:
            continue
        owner = (lead.account_owner or "").strip().lower()
        if (owner and owner in {r.key.lower(), (r.email or "").lower()}) or (
                lead.account_domain and lead.account_domain in r.named_accounts):
            out.append(r)
    return sorted(out, key=lambda r: r.key)


def decide(lead: LeadFacts, role: RepRole, reps: Sequence[Rep], territories: Sequence[Territory],
           open_counts: Mapping[str, int], rotations: Mapping[str, RotationState], at: datetime, *,
           exclude: Collection[str] = (), owner_roles: Collection[RepRole] | None = None) -> Decision:
    """Choose a rep of ``role`` for ``lead`` (see the module doc). Deterministic for the same inputs."""
    skipped: list[Skip] = []
    notes: list[str] = []

    def why_unavailable(r: Rep) -> str | None:
        if r.key in exclude:
            return "excluded (the lead is being reassigned away from this rep)"
        return unavailable_reason(r, open_counts.get(r.key, 0), at)

    # 1. named account
    for r in _owner_reps(lead, reps, owner_roles or (role,)):
        why = why_unavailable(r)
        if why is None:
            n = open_counts.get(r.key, 0)
            expl = (f"assigned to {r.key} because they own the account {lead.account_domain or lead.account_owner} "
                    f"(named account); {n} of {r.capacity} open")
            return Decision(r.key, "named_account", expl, skipped=tuple(skipped),
                            details={"open": n, "capacity": r.capacity, "weight": r.weight})
        skipped.append(Skip(r.key, f"account owner but {why}"))
        notes.append(f"account owner {r.key} is {why}")

    # 2. territories by priority
    matched: list[Territory] = []
    for t in sorted(territories, key=lambda t: (t.priority, t.key)):
        if t.why_not(lead) is None:
            matched.append(t)
    for t in matched:
        members = sorted((r for r in reps if r.role == role and t.key in r.territories), key=lambda r: r.key)
        available = []
        for r in members:
            why = why_unavailable(r)
            if why is None:
                available.append(r)
            else:
                skipped.append(Skip(r.key, why))
        if not members:
            notes.append(f"territory {t.key} has no {role.value.upper()}")
            continue
        if not available:
            notes.append(f"territory {t.key}: nobody available")
            continue
        pool = pool_key(role, t.key)
        state = rotations.get(pool, RotationState()).copy()
        total_w = sum(r.weight for r in available)
        lag = {r.key: state.lag(r.key) + r.weight / total_w for r in available}
        winner = min(available, key=lambda r: (-round(lag[r.key], LAG_DIGITS), -r.weight, r.key))
        for r in available:
            state.lags[r.key] = lag[r.key] - (1.0 if r is winner else 0.0)
        state.assigned[winner.key] = state.assigned.get(winner.key, 0) + 1
        n = open_counts.get(winner.key, 0)
        others = [f"{r.key} (weight {r.weight}, owed {lag[r.key]:.2f})" for r in available if r is not winner]
        expl = (f"assigned to {winner.key} because territory {t.name or t.key} ({t.describe()}), weight "
                f"{winner.weight} of {total_w} available, {n} of {winner.capacity} open; most owed in the weighted "
                f"rotation ({lag[winner.key]:.2f} leads)" + (f" ahead of {', '.join(others)}" if others
                                                             else " (only available rep)"))
        if notes:
            expl += "; " + "; ".join(notes)
        if skipped:
            expl += "; skipped " + ", ".join(f"{s.rep}: {s.reason}" for s in skipped)
        return Decision(winner.key, "rotation", expl, territory=t.key, pool=pool, skipped=tuple(skipped),
                        rotation=state, details={"open": n, "capacity": winner.capacity, "weight": winner.weight,
                                                 "owed": lag[winner.key], "candidates": sorted(lag)})
    # 3. nobody
    if not matched:
        notes.append(f"the lead (country {lead.country or 'unknown'}, segment {lead.segment or 'unknown'}) "
                     "is in no territory")
    expl = f"unassigned: no available {role.value.upper()}; " + "; ".join(notes)
    if skipped:
        expl += "; skipped " + ", ".join(f"{s.rep}: {s.reason}" for s in skipped)
    return Decision(None, "unassigned", expl, skipped=tuple(skipped))


def manual(rep: Rep, open_count: int, at: datetime, role: RepRole, by: str | None) -> Decision:
    """A manager assigns a lead by hand (validated: role, availability, capacity)."""
    check_assignable(rep, open_count, at, role)
    return Decision(rep.key, "manual", f"assigned to {rep.key} by {by or 'a manager'} (manual); "
                    f"{open_count} of {rep.capacity} open", details={"open": open_count, "capacity": rep.capacity})


def with_away(rep: Rep, away: Sequence[Any]) -> Rep:
    return replace(rep, away=tuple(away))
