"""Run a coroutine to completion from a test, in a thread of its own with its own event loop.

``asyncio.run`` refuses to start when the calling thread already runs a loop, and the session-wide Playwright
fixture (sync API) leaves one running in the main thread once a browser test has used it: a test calling
``asyncio.run`` then passes or fails by the order the tests ran in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = exc

    t = threading.Thread(target=target, name="test-async-run")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
