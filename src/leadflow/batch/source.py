"""Open the store's data in DuckDB through Ibis, normalised for :mod:`leadflow.batch.expressions`.

Sources (``open_store(source, workspace_id)``):

* a SQLite database: ``sqlite:///path/to/leadflow.db`` (any SQLAlchemy ``sqlite+driver`` URL) or a path
  ending in ``.db`` / ``.sqlite`` / ``.sqlite3`` - attached read-only with DuckDB's sqlite scanner;
* PostgreSQL: ``postgresql://`` or ``postgresql+psycopg://user:pw@host:5432/db`` (SQLAlchemy URL) -
  attached read-only with DuckDB's postgres scanner (``schema=`` or ``?options=-csearch_path=...``
  picks a schema other than ``public``);
* a DuckDB database file: ``duckdb:///path.duckdb`` or a path ending in ``.duckdb``;
* Parquet: a directory holding ``leads``, ``accounts`` and ``events`` as ``<name>.parquet`` files or
  ``<name>/`` directories of Parquet files;
* Arrow: :func:`from_arrow` with ``pyarrow`` tables (or anything ``ibis.memtable`` accepts).

The tables are read in the store's layout (:mod:`leadflow.store.tables`) and normalised to:

* ``events(id, lead_id, type, t, properties)``: ``t`` epoch seconds as float64 (from ``occurred_at``, or
  a ``t`` column when the source already has one), ``properties`` JSON;
* ``leads(id, account_id, <lead fields>, properties)`` and ``accounts(id, <account fields>, properties)``,
  with booleans as booleans (SQLite stores them as integers) and missing columns as NULL.

Rows are filtered on ``workspace_id`` when the source has that column.

Other store tables are read on demand (lazily, from the source, not materialised) by the store's methods:
:meth:`Store.lead_times` ``(id, created_t)``, :meth:`Store.stage_changes` ``(lead_id, from_stage,
to_stage, t)`` (superseded rows dropped) and :meth:`Store.outcomes` ``(lead_id, result, t)`` (``t`` the
close time); :func:`attach` attaches a database for readers that normalise tables of their own.

Offline extensions: DuckDB cannot download extensions here, so the sqlite and postgres scanners are
loaded from the files the PyPI packages ``duckdb-extension-sqlite-scanner`` and
``duckdb-extension-postgres-scanner`` ship (``<package>/extensions/v<duckdb version>/<name>.duckdb_extension``)
with ``LOAD '<path>'``, on a connection that has ``autoinstall_known_extensions`` off. Ibis's own
``attach_sqlite`` / ``read_postgres`` are not used: they run ``INSTALL``, which needs the network.

This is the only module of the batch engine with raw SQL (``LOAD`` and ``ATTACH``).
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from leadflow.batch.expressions import ACCOUNT_COLUMNS, LEAD_COLUMNS

__all__ = [
    "Attached",
    "Store",
    "attach",
    "connect",
    "epoch_seconds",
    "extension_path",
    "from_arrow",
    "load_extension",
    "normalise_accounts",
    "normalise_events",
    "normalise_leads",
    "normalise_outcomes",
    "normalise_stage_changes",
    "open_store",
]

#: scanner name -> (PyPI package module that ships it, extension file stem)
EXTENSIONS = {
    "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
    "sqlite_scanner": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    "postgres_scanner": ("duckdb_extension_postgres_scanner", "postgres_scanner"),
}

_BOOL_LEAD_COLUMNS = frozenset({"consent", "unsubscribed"})
_INT_ACCOUNT_COLUMNS = frozenset({"employee_count"})
_FLOAT_ACCOUNT_COLUMNS = frozenset({"annual_revenue"})
_attach_seq = itertools.count(1)


# ------------------------------------------------------------------------------------ connection


def connect(**config: Any) -> DuckDBBackend:
    """A fresh in-memory DuckDB connection through Ibis that never tries to download extensions."""
    config.setdefault("autoinstall_known_extensions", False)
    return ibis.duckdb.connect(**config)


def extension_path(name: str) -> Path:
    """The ``.duckdb_extension`` file the PyPI package for scanner ``name`` ships for this DuckDB."""
    try:
        module_name, stem = EXTENSIONS[name]
    except KeyError:
        raise ValueError(f"unknown extension {name!r}; known: {', '.join(sorted(EXTENSIONS))}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        package = module_name.replace("_", "-")
        raise RuntimeError(
            f"the DuckDB {stem} extension is not installed: pip install {package}=={duckdb.__version__}"
        ) from None
    root = Path(module.__file__).parent / "extensions"
    path = root / f"v{duckdb.__version__}" / f"{stem}.duckdb_extension"
    if not path.is_file():
        found = sorted(p.name for p in root.glob("v*")) if root.is_dir() else []
        raise RuntimeError(
            f"{module_name} ships {stem} for DuckDB {', '.join(found) or '(none)'}, not for the installed "
            f"DuckDB v{duckdb.__version__}: install the matching versions of both"
        )
    return path


def load_extension(con: DuckDBBackend | duckdb.DuckDBPyConnection, name: str) -> None:
    """Load scanner ``name`` (``sqlite`` / ``postgres``) offline, from its PyPI package's file."""
    raw = con.con if isinstance(con, DuckDBBackend) else con
    _, stem = EXTENSIONS.get(name, (None, name))
    loaded = raw.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = ? OR list_contains(aliases, ?)",
        [stem, stem],
    ).fetchone()
    if loaded and loaded[0]:
        return
    raw.execute(f"LOAD {_sql_string(str(extension_path(name)))}")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _attach(con: DuckDBBackend, target: str, options: str) -> str:
    alias = f"lf_src_{next(_attach_seq)}"
    con.con.execute(f"ATTACH {_sql_string(target)} AS {alias} ({options})")
    return alias


@dataclass(frozen=True)
class Attached:
    """A database attached read-only to a DuckDB connection by :func:`attach`."""

    con: DuckDBBackend
    kind: str  # sqlite | postgres | duckdb
    alias: str
    schema: str

    def table(self, name: str) -> ir.Table:
        """Table ``name`` of the attached database, as stored (not normalised, not filtered)."""
        return self.con.table(name, database=(self.alias, self.schema))

    def list_tables(self) -> list[str]:
        return self.con.list_tables(database=(self.alias, self.schema))

    def detach(self) -> None:
        _detach(self.con, self.alias)


def attach(con: DuckDBBackend, source: str | Path, *, schema: str | None = None) -> Attached:
    """Attach the database ``source`` read-only to ``con``: SQLite, PostgreSQL or DuckDB (see the module
    docstring), loading the scanner extension offline. ``schema`` picks a PostgreSQL or DuckDB schema other
    than the URL's (default ``public`` / ``main``). A Parquet directory or another source is a ValueError."""
    kind, target, url_schema = _classify(source)
    if kind == "parquet":
        raise ValueError(f"{str(source)!r} is a Parquet directory, not a database (sqlite://, postgresql://, "
                         "duckdb://)")
    return _attach_database(con, kind, target, schema or url_schema)


def _attach_database(con: DuckDBBackend, kind: str, target: str, schema: str | None) -> Attached:
    if kind == "sqlite":
        load_extension(con, "sqlite")
        options, db_schema = "TYPE sqlite, READ_ONLY", "main"
    elif kind == "postgres":
        load_extension(con, "postgres")
        db_schema = schema or "public"
        options = f"TYPE postgres, READ_ONLY, SCHEMA {_sql_string(db_schema)}"
    else:
        options, db_schema = "READ_ONLY", schema or "main"
    return Attached(con, kind, _attach(con, target, options), db_schema)


# ------------------------------------------------------------------------------------- the store


@dataclass
class Store:
    """The normalised tables of one workspace, on a DuckDB connection (Ibis backend)."""

    con: DuckDBBackend
    leads: ir.Table
    accounts: ir.Table
    events: ir.Table
    workspace_id: str | None = None
    _close: list[Callable[[], None]] = field(default_factory=list, repr=False)
    #: the source's other tables by store name (``stage_history``, ``outcomes`` ...), None when absent
    _raw: Callable[[str], ir.Table | None] | None = field(default=None, repr=False)

    def _source_table(self, name: str) -> ir.Table:
        raw = self._raw(name) if self._raw is not None else None
        if raw is None:
            raise LookupError(f"the batch source has no {name!r} table")
        return raw

    def lead_times(self) -> ir.Table:
        """``(id, created_t)``: each lead of the workspace and when it was created (epoch seconds)."""
        ld = _in_workspace(self._source_table("leads"), self.workspace_id)
        created = ld.created_t.cast("float64") if "created_t" in ld.columns else epoch_seconds(ld.created_at)
        return ld.select(id=ld.id.cast("string"), created_t=created)

    def stage_changes(self) -> ir.Table:
        """``(lead_id, from_stage, to_stage, t)``: the stage history (:func:`normalise_stage_changes`)."""
        return normalise_stage_changes(self._source_table("stage_history"), self.workspace_id)

    def outcomes(self) -> ir.Table:
        """``(lead_id, result, t)``: the closed outcomes (:func:`normalise_outcomes`)."""
        return normalise_outcomes(self._source_table("outcomes"), self.workspace_id)

    def materialize(self) -> None:
        """Copy the normalised tables into DuckDB temporary tables (read the source once, now)."""
        con = self.con
        n = next(_attach_seq)
        for attr in ("leads", "accounts", "events"):
            name = f"lf_{attr}_{n}"
            setattr(self, attr, con.create_table(name, getattr(self, attr), temp=True))
            self._close.append(lambda name=name: con.drop_table(name, force=True))

    def close(self) -> None:
        while self._close:
            self._close.pop()()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    source: str | Path,
    workspace_id: str | None,
    *,
    con: DuckDBBackend | None = None,
    schema: str | None = None,
    materialize: bool | None = None,
) -> Store:
    """Open ``source`` (see the module docstring) for ``workspace_id`` and normalise its tables.

    ``materialize`` copies the normalised tables into DuckDB temporary tables (default: for SQLite and
    PostgreSQL, so the database is read once, in one go); otherwise they stay lazy views of the source.
    ``con`` reuses a connection (it is then not closed by :meth:`Store.close`).
    """
    own = con is None
    con = con or connect()
    closers: list[Callable[[], None]] = [con.disconnect] if own else []  # run last-in, first-out
    kind, target, url_schema = _classify(source)
    try:
        names = ("leads", "accounts", "events")
        source_table: Callable[[str], ir.Table | None]
        if kind == "parquet":
            raw = {name: _read_parquet(con, Path(target), name) for name in names}

            def source_table(name: str) -> ir.Table | None:
                try:
                    return _read_parquet(con, Path(target), name)
                except FileNotFoundError:
                    return None
        else:
            db = _attach_database(con, kind, target, schema or url_schema)
            closers.append(db.detach)
            raw = {name: db.table(name) for name in names}
            present: list[set[str]] = []  # listed on first use: most callers never ask

            def source_table(name: str) -> ir.Table | None:
                if not present:
                    present.append(set(db.list_tables()))
                return db.table(name) if name in present[0] else None
        store = Store(
            con=con,
            leads=normalise_leads(raw["leads"], workspace_id),
            accounts=normalise_accounts(raw["accounts"], workspace_id),
            events=normalise_events(raw["events"], workspace_id),
            workspace_id=workspace_id,
            _close=closers,
            _raw=source_table,
        )
        if materialize if materialize is not None else kind in ("sqlite", "postgres"):
            store.materialize()
        return store
    except BaseException:
        while closers:
            closers.pop()()
        raise


def _detach(con: DuckDBBackend, alias: str) -> None:
    con.con.execute(f"DETACH DATABASE IF EXISTS {alias}")


def from_arrow(
    leads: Any,
    accounts: Any,
    events: Any,
    workspace_id: str | None = None,
    *,
    con: DuckDBBackend | None = None,
    tables: dict[str, Any] | None = None,
) -> Store:
    """A store over in-memory tables (``pyarrow.Table``, pandas frames, dicts of columns ...).

    ``tables``: other store tables by name, in the store's layout (``stage_history``, ``outcomes``; the
    ``leads`` given are used for :meth:`Store.lead_times`).
    """
    own = con is None
    con = con or connect()

    def table(data: Any) -> ir.Table:
        return ibis.memtable(pa.table(data) if isinstance(data, dict) else data)

    others = {"leads": leads, **(tables or {})}

    def source_table(name: str) -> ir.Table | None:
        return table(others[name]) if name in others else None

    return Store(
        con=con,
        leads=normalise_leads(table(leads), workspace_id),
        accounts=normalise_accounts(table(accounts), workspace_id),
        events=normalise_events(table(events), workspace_id),
        workspace_id=workspace_id,
        _close=[con.disconnect] if own else [],
        _raw=source_table,
    )


def _read_parquet(con: DuckDBBackend, root: Path, name: str) -> ir.Table:
    if (root / f"{name}.parquet").is_file():
        return con.read_parquet(root / f"{name}.parquet")
    if (root / name).is_dir():
        return con.read_parquet(str(root / name / "*.parquet"))
    raise FileNotFoundError(f"{root} has no {name}.parquet nor {name}/ directory of Parquet files")


def _classify(source: str | Path) -> tuple[str, str, str | None]:
    """(kind, target for ATTACH / read, schema from the URL) of a source string."""
    text = str(source)
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(text).database
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot be read by the batch engine")
        return "sqlite", database, None
    if scheme.startswith("postgres"):
        return ("postgres", *_libpq(text))
    if scheme.startswith("duckdb"):
        rest = text.split("://", 1)[1]
        return "duckdb", rest[1:] if rest.startswith("/") else rest, None  # SQLAlchemy style: 3 or 4 slashes
    if scheme:
        raise ValueError(f"unsupported source {text!r}: expected sqlite://, postgresql://, duckdb:// or a path")
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "sqlite", str(path), None
    if suffix == ".duckdb":
        return "duckdb", str(path), None
    if path.is_dir():
        return "parquet", str(path), None
    raise ValueError(f"cannot tell what {text!r} is: a .db/.sqlite file, a .duckdb file or a Parquet directory")


def _libpq(url: str) -> tuple[str, str | None]:
    """A libpq connection URI for DuckDB's postgres scanner, and the schema named in ``search_path``."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    query = dict(u.query)
    schema = None
    options = query.get("options")
    if isinstance(options, str):
        m = re.search(r"(?:-c\s*|--)search_path\s*=\s*([^\s,]+)", unquote(options))
        if m:
            schema = m.group(1).strip('"')
    u = u.set(drivername="postgresql")
    return u.render_as_string(hide_password=False), schema


# ------------------------------------------------------------------------------------- normalising


def _in_workspace(table: ir.Table, workspace_id: str | None) -> ir.Table:
    if workspace_id is not None and "workspace_id" in table.columns:
        return table.filter(table.workspace_id == workspace_id)
    return table


def _json(table: ir.Table, name: str) -> ir.Value:
    if name not in table.columns:
        return ibis.null("json")
    col = table[name]
    if col.type().is_json():
        return col
    return col.cast("string").cast("json")


def _typed(table: ir.Table, name: str, dtype: str) -> ir.Value:
    if name not in table.columns:
        return ibis.null(dtype)
    col = table[name]
    if dtype == "boolean" and not col.type().is_boolean():
        return col.cast("int64") != 0 if not col.type().is_string() else col.cast("boolean")
    return col if col.type() == ibis.dtype(dtype) else col.cast(dtype)


def epoch_seconds(ts: ir.Value) -> ir.FloatingValue:
    """Epoch seconds (float64) of a timestamp column (naive: UTC), or of its text (SQLite stores text).

    Exact microseconds since the epoch / 1e6: the same float as ``datetime.timestamp()`` (and the core's
    ``epoch``).
    """
    if ts.type().is_string():
        ts = ts.cast("timestamp")
    if ts.type().timezone is not None:
        origin = ibis.literal(datetime(1970, 1, 1, tzinfo=UTC))
    else:
        origin = ibis.literal(datetime(1970, 1, 1), "timestamp")
    return ts.delta(origin, unit="microsecond").cast("float64") / 1_000_000.0


def normalise_events(events: ir.Table, workspace_id: str | None = None) -> ir.Table:
    """``events(id, lead_id, type, t, properties)`` of one workspace, anonymous events (no lead) dropped."""
    ev = _in_workspace(events, workspace_id)
    ev = ev.filter(ev.lead_id.notnull())
    t = ev.t.cast("float64") if "t" in ev.columns else epoch_seconds(ev.occurred_at)
    return ev.select(
        id=ev.id.cast("string"),
        lead_id=ev.lead_id.cast("string"),
        type=ev.type.cast("string"),
        t=t,
        properties=_json(ev, "properties"),
    )


def normalise_leads(leads: ir.Table, workspace_id: str | None = None) -> ir.Table:
    """``leads(id, account_id, <lead fields>, properties)`` of one workspace."""
    ld = _in_workspace(leads, workspace_id)
    cols: dict[str, ir.Value] = {"id": ld.id.cast("string"), "account_id": _typed(ld, "account_id", "string")}
    for name in LEAD_COLUMNS:
        cols[name] = _typed(ld, name, "boolean" if name in _BOOL_LEAD_COLUMNS else "string")
    cols["properties"] = _json(ld, "properties")
    return ld.select(**cols)


def normalise_accounts(accounts: ir.Table, workspace_id: str | None = None) -> ir.Table:
    """``accounts(id, <account fields>, properties)`` of one workspace."""
    ac = _in_workspace(accounts, workspace_id)
    cols: dict[str, ir.Value] = {"id": ac.id.cast("string")}
    for name in ACCOUNT_COLUMNS:
        if name in _INT_ACCOUNT_COLUMNS:
            dtype = "int64"
        elif name in _FLOAT_ACCOUNT_COLUMNS:
            dtype = "float64"
        else:
            dtype = "string"
        cols[name] = _typed(ac, name, dtype)
    cols["properties"] = _json(ac, "properties")
    return ac.select(**cols)


def normalise_stage_changes(history: ir.Table, workspace_id: str | None = None) -> ir.Table:
    """``stage_changes(lead_id, from_stage, to_stage, t)`` of one workspace from the store's
    ``stage_history`` (``t`` from ``at``, or a ``t`` column), superseded rows dropped."""
    h = _in_workspace(history, workspace_id)
    if "superseded_at" in h.columns:
        h = h.filter(h.superseded_at.isnull())
    return h.select(
        lead_id=h.lead_id.cast("string"),
        from_stage=_typed(h, "from_stage", "string"),
        to_stage=h.to_stage.cast("string"),
        t=h.t.cast("float64") if "t" in h.columns else epoch_seconds(h.at),
    )


def normalise_outcomes(outcomes: ir.Table, workspace_id: str | None = None) -> ir.Table:
    """``outcomes(lead_id, result, t)`` of one workspace from the store's ``outcomes`` (``t`` from
    ``closed_at``, or a ``t`` column)."""
    o = _in_workspace(outcomes, workspace_id)
    return o.select(
        lead_id=o.lead_id.cast("string"),
        result=o.result.cast("string"),
        t=o.t.cast("float64") if "t" in o.columns else epoch_seconds(o.closed_at),
    )
