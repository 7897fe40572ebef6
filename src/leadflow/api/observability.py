"""Request ids, structured JSON logs and request metrics, as one small pure-ASGI middleware."""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.api.metrics import REQUEST_LATENCY

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("leadflow_request_id", default=None)
access_log = logging.getLogger("leadflow.access")
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any ``extra={"data": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                               "level": record.levelname.lower(), "logger": record.name,
                               "msg": record.getMessage()}
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            out.update(data)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr for leadflow's loggers and uvicorn's (called by ``leadflow serve``)."""
    import time as _time

    handler = logging.StreamHandler()
    fmt = JsonFormatter()
    fmt.converter = _time.gmtime  # type: ignore[assignment]
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # leadflow.access replaces it


_LATENCY_CHILDREN: dict[tuple[str, str, int], Any] = {}


def _latency(method: str, route: str, status_class: int) -> Any:
    """The latency histogram's child for these labels (looked up once: ``labels()`` takes a lock and
    builds a key each time)."""
    key = (method, route, status_class)
    child = _LATENCY_CHILDREN.get(key)
    if child is None:
        if len(_LATENCY_CHILDREN) > 10_000:  # bounded: route templates, not raw paths, so this is rare
            _LATENCY_CHILDREN.clear()
        child = _LATENCY_CHILDREN[key] = REQUEST_LATENCY.labels(method, route, f"{status_class}xx")
    return child


class RequestContext:
    """X-Request-ID in (kept when well-formed) and out; one access log line and a latency sample per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                rid = v.decode("latin-1")
                break
        if not rid or not _RID_OK.match(rid):
            # 128 random bits as 32 hex characters; the module's generator (seeded from os.urandom, re-seeded
            # in forked children) needs no system call per request, unlike uuid4
            rid = f"{random.getrandbits(128):032x}"
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = [500]
        rid_header = (b"x-request-id", rid.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", None) or "(unmatched)"
            _latency(scope["method"], path, status[0] // 100).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %s", scope["method"], scope["path"], status[0], extra={"data": {
                    "method": scope["method"], "path": scope["path"], "route": path, "status": status[0],
                    "ms": round(elapsed * 1000, 3), "client": (scope.get("client") or ("", 0))[0]}})
            request_id_var.reset(token)
