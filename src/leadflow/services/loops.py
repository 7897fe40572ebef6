"""A background loop in a daemon thread: the shape shared by the webhook worker and the SLA checker."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("leadflow.loops")


class Loop:
    """Calls :meth:`tick` until :meth:`stop`; waits ``interval`` seconds after a round unless it asks to go on.

    A failing round is logged and waited out: a database hiccup must not stop the loop for good.
    """

    thread_name = "leadflow-loop"
    interval: float = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """One round; True to start the next one at once."""
        raise NotImplementedError

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                again = self.tick()
            except Exception:  # noqa: BLE001
                log.exception("%s: round failed", self.thread_name)
                again = False
            if not again:
                self._stop.wait(self.interval)

    def start(self) -> Loop:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
