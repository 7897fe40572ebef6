"""CSV export without formula injection; Parquet round trip."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadflow.services.exporting import write_csv, write_parquet


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    rows = [
        {"name": "=HYPERLINK(\"http://evil\",\"click\")", "note": "+1", "score": -5},
        {"name": "-2+3", "note": "@SUM(A1)", "score": 1.5},
        {"name": "\tcmd", "note": "\rx", "score": None},
        {"name": "Ann, \"the\" CEO", "note": "a=b", "score": 0, "extra": "left out"},
    ]
    path = tmp_path / "out.csv"
    assert write_csv(iter(rows), path, ["name", "note", "score"], header={"note": "=Note"}, chunk_size=2) == 4
    assert read_csv(path) == [
        ["name", "'=Note", "score"],
        ["'=HYPERLINK(\"http://evil\",\"click\")", "'+1", "-5"],  # a negative number stays a number
        ["'-2+3", "'@SUM(A1)", "1.5"],
        ["'\tcmd", "'\rx", ""],
        ["Ann, \"the\" CEO", "a=b", "0"],
    ]


def test_csv_values(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    write_csv([{"at": datetime(2024, 5, 1, tzinfo=UTC), "ok": True, "props": {"k": "=1"}, "flags": ("a",)}],
              path, ["at", "ok", "props", "flags", "missing"])
    assert read_csv(path)[1] == ["2024-05-01T00:00:00+00:00", "true", '{"k":"=1"}', '["a"]', ""]


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def rows():
        yield {"a": 1}
        raise RuntimeError("boom")

    path = tmp_path / "x.csv"
    with pytest.raises(RuntimeError):
        write_csv(rows(), path, ["a"], chunk_size=1)
    assert list(tmp_path.iterdir()) == []


def test_parquet_round_trip(tmp_path: Path) -> None:
    rows = [
        {"email": f"u{i}@acme.com", "score": i * 1.5, "count": i, "won": i % 2 == 0,
         "at": datetime(2024, 5, 1, i, tzinfo=UTC), "properties": {"k": i}, "owner": None}
        for i in range(5)
    ]
    path = tmp_path / "out.parquet"
    assert write_parquet(iter(rows), path, chunk_size=2) == 5
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 3
    table = pf.read()
    assert table.schema.field("properties").type == pa.string()
    assert table.schema.field("owner").type == pa.string()  # all-null column in the first chunk -> text
    back = table.to_pylist()
    assert [r["email"] for r in back] == [r["email"] for r in rows]
    assert back[3]["score"] == 4.5 and back[3]["count"] == 3 and back[3]["won"] is False
    assert back[4]["at"] == datetime(2024, 5, 1, 4, tzinfo=UTC)
    assert back[2]["properties"] == '{"k":2}' and back[0]["owner"] is None


def test_parquet_with_schema_and_empty_input(tmp_path: Path) -> None:
    schema = pa.schema([("email", pa.string()), ("n", pa.int32()), ("tags", pa.list_(pa.string()))])
    path = tmp_path / "s.parquet"
    assert write_parquet([{"email": "a@b.co", "n": 1, "tags": ("x", "y"), "drop": 1}], path, schema) == 1
    table = pq.read_table(path)
    assert table.schema == schema
    assert table.to_pylist() == [{"email": "a@b.co", "n": 1, "tags": ["x", "y"]}]

    empty = tmp_path / "e.parquet"
    assert write_parquet([], empty, columns=["a", "b"]) == 0
    assert pq.read_table(empty).column_names == ["a", "b"]

    with pytest.raises(ValueError, match="do not fit the schema"):
        write_parquet([{"email": "a", "n": "lots", "tags": []}], tmp_path / "bad.parquet", schema)
    assert not (tmp_path / "bad.parquet").exists()
