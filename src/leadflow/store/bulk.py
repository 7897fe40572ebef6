"""Driver-level bulk writes for the hot ingest path on SQLite: the same stored values as a Core insert.

A Core ``executemany`` runs SQLAlchemy's parameter processing per row and per column (``construct_params``, the
DATETIME and JSON bind processors): on the ingest path that cost more than SQLite's own work. Here the rows are
converted once per column kind, as those types store them - datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` wall
time, booleans as 0 / 1, JSON with ``json.dumps`` (``None`` as JSON ``null``, as the JSON type's default
``none_as_null=False`` does) - and executed with one DBAPI ``executemany``. Every row must carry every column
of the first row (a Core insert would fill a missing key from the column default; here that is an error).
tests/services/test_bulk_sqlite.py compares the stored values with a Core insert's, column type by column type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Table


def sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DATETIME type stores it: ``YYYY-MM-DD HH:MM:SS.ffffff``, wall time
    (the values written here are aware UTC, so UTC)."""
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _bool(value: Any) -> int | None:
    return None if value is None else int(value)


def _converter(table: Table, column: str) -> Callable[[Any], Any] | None:
    kind = table.c[column].type
    if isinstance(kind, DateTime):
        return _dt
    if isinstance(kind, Boolean):
        return _bool
    if isinstance(kind, JSON):
        return json.dumps
    return None  # strings, numbers: stored as given


def _names(table: Table, columns: Sequence[str]) -> list[str]:
    """The columns as quoted identifiers; a name that is not a column of ``table`` is an error (the SQL below is
    built from names, never from values)."""
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(map(repr, unknown))}")
    return [f'"{c}"' for c in columns]


@cache
def _plan(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...] | None,
          update: tuple[str, ...] | None) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    cols = _names(table, columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})'  # noqa: S608
    if conflict is not None:
        sql += f" ON CONFLICT ({', '.join(_names(table, conflict))})"
        sets = [f"{c} = excluded.{c}" for c in _names(table, update or ())]
        sql += " DO UPDATE SET " + ", ".join(sets) if sets else " DO NOTHING"
    return sql, tuple(_converter(table, c) for c in columns)


def sqlite_params(table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as DBAPI parameter tuples in ``columns`` order, each value stored as its column type stores it."""
    _, convs = _plan(table, tuple(columns), None, None)
    pairs = list(zip(columns, convs, strict=True))
    return [tuple(r[c] if f is None else f(r[c]) for c, f in pairs) for r in rows]


def sqlite_insert(conn: Any, table: Table, rows: Sequence[Mapping[str, Any]], *,
                  conflict: Sequence[str] | None = None, update: Sequence[str] | None = None) -> int:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one executemany on ``conn`` (a
    SQLAlchemy Connection on SQLite); ``conflict``: the unique columns of an ``ON CONFLICT`` clause, which
    updates ``update`` from the new row or, without ``update``, skips the row. Returns the change count."""
    if not rows:
        return 0
    columns = tuple(rows[0])
    for r in rows:
        if len(r) != len(columns):
            raise ValueError(f"{table.name}: every row needs the same columns {columns}, got {tuple(r)}")
    sql, _ = _plan(table, columns, tuple(conflict) if conflict is not None else None,
                   tuple(update) if update else None)
    return conn.exec_driver_sql(sql, sqlite_params(table, columns, rows)).rowcount


def sqlite_update_by_id(conn: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """``UPDATE table SET ... WHERE id = ?`` for each row (dicts with ``id`` and the same other keys)."""
    if not rows:
        return 0
    columns = tuple(c for c in rows[0] if c != "id")
    sets = ", ".join(f"{c} = ?" for c in _names(table, columns))
    sql = f'UPDATE "{table.name}" SET {sets} WHERE "id" = ?'  # noqa: S608 - names checked against the table
    params = sqlite_params(table, (*columns, "id"), rows)
    return conn.exec_driver_sql(sql, params).rowcount
