"""Who may do what: the one permission matrix, enforced in one place by every face (API, web app).

Users have a role (admin, marketing, sales). API keys carry scopes, which are the same action names;
an ingest key (the public, write-only kind a website snippet uses) can only ``events:write``.
Pure data and one function, so the matrix is readable and tested on its own.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    SALES = "sales"


class Action(StrEnum):
    EVENTS_WRITE = "events:write"          # track / identify / batch, CSV import of events
    LEADS_READ = "leads:read"              # list, search, detail, explanation, timeline
    LEADS_WRITE = "leads:write"            # create / update lead and account attributes
    LEADS_STAGE = "leads:stage"            # manual stage and status changes (with a reason)
    LEADS_EXPORT = "leads:export"          # CSV / Parquet exports
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    IMPORTS_WRITE = "imports:write"        # upload lead / account / outcome files
    OUTCOMES_WRITE = "outcomes:write"      # won / lost
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"          # upload a new scoring model version
    MODELS_ACTIVATE = "models:activate"    # activate a version (triggers a rescore)
    HANDOFF_WORK = "handoff:work"          # SDR / AE work: log attempts, accept / reject, BANT
    TEAM_MANAGE = "team:manage"            # reps, territories, capacity, SLA policies, reassignments
    ANALYTICS_READ = "analytics:read"      # funnel, channels, what converts, sales, score health
    SPEND_WRITE = "spend:write"            # channel spend for channel economics
    PREDICT_READ = "predict:read"          # predictive scores and their factors
    PREDICT_TRAIN = "predict:train"        # train / evaluate / activate predictive models, backtests
    WEBHOOKS_MANAGE = "webhooks:manage"    # subscriptions, delivery log, replay
    KEYS_MANAGE = "keys:manage"            # create / revoke API keys
    USERS_MANAGE = "users:manage"          # create users, set roles


_ALL = frozenset(Action)

MATRIX: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _ALL,
    Role.MARKETING: frozenset({
        Action.EVENTS_WRITE, Action.LEADS_READ, Action.LEADS_WRITE, Action.LEADS_STAGE, Action.LEADS_EXPORT,
        Action.ACCOUNTS_READ, Action.ACCOUNTS_WRITE, Action.IMPORTS_WRITE, Action.MODELS_READ,
        Action.MODELS_WRITE, Action.MODELS_ACTIVATE, Action.ANALYTICS_READ, Action.SPEND_WRITE,
        Action.PREDICT_READ, Action.PREDICT_TRAIN,
    }),
    Role.SALES: frozenset({
        Action.LEADS_READ, Action.LEADS_WRITE, Action.LEADS_STAGE, Action.ACCOUNTS_READ, Action.OUTCOMES_WRITE,
        Action.HANDOFF_WORK, Action.MODELS_READ, Action.ANALYTICS_READ, Action.PREDICT_READ,
    }),
}

#: the only scope an ingest (public, write-only) key may hold
INGEST_SCOPES: frozenset[Action] = frozenset({Action.EVENTS_WRITE})


class PermissionDenied(Exception):
    def __init__(self, action: Action, who: str) -> None:
        super().__init__(f"{who} may not {action.value}")
        self.action = action
        self.who = who


def role_allows(role: Role | str, action: Action | str) -> bool:
    return Action(action) in MATRIX[Role(role)]


def scopes_allow(scopes: frozenset[str] | set[str] | list[str], action: Action | str) -> bool:
    return Action(action).value in set(scopes)


def parse_scopes(values: list[str] | str) -> frozenset[Action]:
    """``"leads:read,events:write"`` or a list -> actions; ``*`` means every action. Unknown names raise."""
    items = values.split(",") if isinstance(values, str) else list(values)
    out: set[Action] = set()
    for raw in (v.strip() for v in items):
        if not raw:
            continue
        if raw == "*":
            out |= _ALL
            continue
        try:
            out.add(Action(raw))
        except ValueError:
            raise ValueError(f"unknown scope {raw!r}; known: {', '.join(sorted(a.value for a in Action))}") from None
    return frozenset(out)
