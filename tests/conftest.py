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
