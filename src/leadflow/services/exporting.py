"""Exports: CSV that is safe to open in a spreadsheet, and Parquet. Both stream their input in chunks.

CSV cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading apostrophe
(OWASP "CSV Injection"), so a spreadsheet shows them as text instead of running them as formulas; that
covers the header and JSON-encoded cells too. Only text is rewritten: numbers (``-5``) are data and are
written as they are. Files are written to a temporary name next to ``path`` and renamed when complete, so
a failed export never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: Any) -> str | int | float:
    """One value as a CSV cell: ``None`` -> empty, datetimes ISO 8601, bools true/false, dicts and lists as
    JSON, text neutralised; ints and floats unchanged."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return neutralize(json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")))
    return neutralize(str(value))


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    if size < 1:
        raise ValueError("chunk_size must be at least 1")
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s directory, renamed to ``path`` on success and removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv(
    rows: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    header: Mapping[str, str] | None = None,
    chunk_size: int = 5000,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> int:
    """Write ``rows`` (mappings; keys not in ``columns`` are left out, missing ones are empty) to ``path``
    with a header row (``header`` relabels columns). Returns the number of data rows written.

    ``encoding='utf-8-sig'`` adds the BOM some versions of Excel need to read UTF-8."""
    target = Path(path)
    labels = [neutralize(header.get(c, c) if header else c) for c in columns]
    count = 0
    with _atomic(target) as tmp, open(tmp, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(labels)
        for batch in _batches(rows, chunk_size):
            writer.writerows([csv_cell(row.get(c)) for c in columns] for row in batch)
            count += len(batch)
    return count


def _json_text(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return value


def _column_names(batch: list[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in batch:
        names.update(dict.fromkeys(row))
    return list(names)


def _infer_schema(columns: list[str], batch: list[dict[str, Any]]) -> pa.Schema:
    fields = []
    for name in columns:
        values = [row[name] for row in batch]
        try:
            dtype = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"column {name!r} mixes value types ({exc}); pass a schema") from None
        fields.append(pa.field(name, pa.string() if pa.types.is_null(dtype) else dtype))
    return pa.schema(fields)


def write_parquet(
    rows: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    schema: pa.Schema | None = None,
    *,
    columns: Sequence[str] | None = None,
    chunk_size: int = 50_000,
    compression: str = "zstd",
) -> int:
    """Write ``rows`` to a Parquet file, one row group per chunk. Returns the number of rows written.

    The columns are ``columns``, else the schema's, else the keys seen in the first chunk; keys outside
    them are left out. Without a ``schema`` the types are inferred from the first chunk (a column that is
    empty there becomes text), and dicts, lists and tuples are stored as JSON text: custom properties differ
    from row to row, and a struct column would silently drop keys it did not see first. With a ``schema``,
    values are converted by pyarrow (dicts and lists only become JSON text in string columns).
    """
    target = Path(path)
    names = list(columns) if columns is not None else (schema.names if schema is not None else None)
    count = 0
    writer: pq.ParquetWriter | None = None
    with _atomic(target) as tmp:
        try:
            for batch in _batches(rows, chunk_size):
                if names is None:
                    names = _column_names(batch)
                if schema is None:
                    prepared = [{c: _json_text(row.get(c)) for c in names} for row in batch]
                    schema = _infer_schema(names, prepared)
                else:
                    text_columns = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
                    prepared = [{c: (_json_text(v) if c in text_columns else v) for c in names
                                 for v in (row.get(c),)} for row in batch]
                try:
                    table = pa.Table.from_pylist(prepared, schema=schema)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise ValueError(f"rows {count + 1}-{count + len(batch)} do not fit the schema ({exc}); "
                                     "pass a schema that allows them") from None
                if writer is None:
                    writer = pq.ParquetWriter(tmp, schema, compression=compression)
                writer.write_table(table)
                count += len(batch)
            if writer is None:
                empty = schema or pa.schema([(c, pa.string()) for c in names or []])
                pq.write_table(empty.empty_table(), tmp, compression=compression)
        finally:
            if writer is not None:
                writer.close()
    return count
