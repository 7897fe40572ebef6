"""Shared fixtures: a store on SQLite (always) and on PostgreSQL (when a server is configured).

PostgreSQL tests use LEADFLOW_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test),
each test in a schema of its own. Without it they are skipped with a message, unless
LEADFLOW_REQUIRE_POSTGRES=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

# A serving process freezes its start-up objects out of the garbage collector (setting gc_freeze, tested on its
# own in tests/api/test_api_gc_tuning.py); a suite that starts hundreds of apps in one process leaves it off.
os.environ.setdefault("LEADFLOW_GC_FREEZE", "false")

PG_URL = os.environ.get("LEADFLOW_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("LEADFLOW_REQUIRE_POSTGRES") == "1"


def _pg_or_skip() -> str:
    if not PG_URL:
        msg = "PostgreSQL tests skipped: set LEADFLOW_TEST_POSTGRES_URL=postgresql+psycopg://user@host:5432/db to run them"
        if REQUIRE_PG:
            pytest.fail(msg.replace("skipped", "are mandatory here"))
        pytest.skip(msg)
    return PG_URL


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = _pg_or_skip()
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {base} is not usable: {exc}")
        pytest.skip(f"PostgreSQL at {base} is not usable: {exc}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'leadflow.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """Run the test on both stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leadflow.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def lf(db_url):
    from leadflow.facade import Leadflow

    app = Leadflow(db_url, "acme")
    yield app
    app.close()


# ------------------------------------------------------------------------------------- browser tests
REQUIRE_BROWSER = os.environ.get("LEADFLOW_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("LEADFLOW_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work here).

    Skipped with a message when Chromium is absent, unless LEADFLOW_REQUIRE_BROWSER=1 (set by .ci/run).
    """
    if not os.path.exists(CHROMIUM):
        msg = f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(msg.replace("skipped", "are mandatory here"))
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def live_server(tmp_path):
    """The whole app (API + web + snippet) served by uvicorn on a free loopback port, on a fresh SQLite store.

    Yields an object with ``url`` (base URL) and ``settings``.
    """
    import socket
    import threading
    import time
    from types import SimpleNamespace

    import uvicorn

    from leadflow.api.app import create_app
    from leadflow.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.db'}", workspace="acme",
                        secret_key="test-secret-key-not-for-production")
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    server.should_exit = True
    thread.join(timeout=10)
