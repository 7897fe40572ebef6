"""The marketing-to-sales handoff services (issue 4).

Subscriber (add to ``leadflow.services.signals.SUBSCRIBERS``, first): ``"leadflow.services.handoff:on_signals"``.
"""

from leadflow.services.handoff.common import HandoffError, NotFound
from leadflow.services.handoff.routing import RouteResult, assign, on_signals, route
from leadflow.services.handoff.sla import SlaReport, check_sla

__all__ = ["HandoffError", "NotFound", "RouteResult", "SlaReport", "assign", "check_sla", "on_signals", "route"]
