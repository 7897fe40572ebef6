"""Parsing lead, account and outcome files: recognition, per-row errors, encodings, dedup, streaming."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leadflow.services.importing import (
    RECORD_KEYS,
    ImportFileError,
    RowError,
    iter_parsed,
    normalize_domain,
    parse_file,
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HUBSPOT_CSV = (
    "Record ID,Email,First Name,Last Name,Job Title,Phone Number,Country/Region,Lifecycle Stage,Lead Status,"
    "Original Source,Company Name,Company Domain Name,Industry,Number of Employees,Annual Revenue,"
    "Contact owner,Create Date,Favourite Colour\n"
    '101, Ada.Lovelace@Analytical.IO ,Ada,Lovelace,CTO,+44 20 1234,United Kingdom,marketingqualifiedlead,'
    'Attempted to contact,Organic Search,Analytical Engines,,Software,"1,200","1,200,000",Jane Roe,'
    "2024-05-01 10:30,teal\n"
)


def test_hubspot_contacts_export(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "contacts.csv", HUBSPOT_CSV), "leads")
    assert parsed.errors == []
    assert parsed.rows_read == 1 and parsed.rows_rejected == 0 and parsed.fmt == "csv"
    [lead] = parsed.records
    assert tuple(lead) == RECORD_KEYS["leads"]
    assert lead == {
        "email": "ada.lovelace@analytical.io",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "title": "CTO",
        "seniority": None,
        "department": None,
        "phone": "+44 20 1234",
        "country": "United Kingdom",
        "source": "Organic Search",
        "medium": None,
        "campaign": None,
        "landing_page": None,
        "consent": None,
        "unsubscribed": None,
        "company_domain": "analytical.io",  # derived from the (company) email
        "company_name": "Analytical Engines",
        "owner": "Jane Roe",
        "stage": "mql",
        "lead_status": "attempting_to_contact",
        "created_at": datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
        "properties": {"record_id": "101", "industry": "Software", "employee_count": 1200,
                       "annual_revenue": 1_200_000.0, "favourite_colour": "teal"},
    }
    assert parsed.columns["Favourite Colour"] == "properties.favourite_colour"
    assert parsed.columns["Lifecycle Stage"] == "stage"


def test_salesforce_leads_export(tmp_path: Path) -> None:
    text = (
        "Id,FirstName,LastName,Email,Title,Phone,Country,LeadSource,Status,Company,Website,OwnerId,CreatedDate,"
        "HasOptedOutOfEmail\n"
        "00Q1,Grace,Hopper,grace@navy.mil,Admiral,555,US,Web,Working - Contacted,US Navy,"
        "https://www.Navy.mil/about?x=1,005XX,2024-05-01T09:00:00.000+0000,true\n"
        "00Q2,Alan,Turing,alan@gmail.com,,,,Partner,Closed - Not Converted,Bletchley,,005YY,"
        "2024-05-02T09:00:00Z,0\n"
    )
    parsed = parse_file(write(tmp_path, "sf.csv", text), "leads")
    assert parsed.errors == []
    grace, alan = parsed.records
    assert grace["company_domain"] == "navy.mil"  # Website -> domain (scheme, www., path stripped)
    assert grace["lead_status"] == "in_progress" and grace["stage"] == "sal"
    assert grace["unsubscribed"] is True
    assert grace["created_at"] == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert grace["source"] == "Web" and grace["owner"] == "005XX" and grace["company_name"] == "US Navy"
    assert alan["stage"] == "disqualified" and alan["lead_status"] == "unqualified"
    assert alan["company_domain"] is None  # free mail is never a company domain
    assert alan["unsubscribed"] is False


def test_per_row_errors_name_row_column_value_and_reason(tmp_path: Path) -> None:
    text = (
        "Email,Number of Employees,Annual Revenue,Lifecycle Stage,Create Date\n"  # line 1
        "ok@acme.com,10,$5M,lead,2024-01-01\n"  # 2
        "bad@acme.com,abc,1.2.3,partner,01/02/2024\n"  # 3: four bad cells, one rejected row
        "not-an-email,5,,,\n"  # 4
        ",5,,,\n"  # 5: email missing
    )
    parsed = parse_file(write(tmp_path, "leads.csv", text), "leads")
    assert [r["email"] for r in parsed.records] == ["ok@acme.com"]
    assert parsed.records[0]["properties"] == {"employee_count": 10, "annual_revenue": 5_000_000.0}
    assert parsed.rows_read == 4 and parsed.rows_rejected == 3
    assert parsed.errors == [
        RowError(3, "Number of Employees", "abc", "'abc' is not a whole number"),
        RowError(3, "Annual Revenue", "1.2.3", "'1.2.3' is not an amount (e.g. 1200000, 1,200,000 or $1.2M)"),
        RowError(3, "Lifecycle Stage", "partner", parsed.errors[2].reason),
        RowError(3, "Create Date", "01/02/2024",
                 "'01/02/2024' is not an ISO 8601 date or time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)"),
        RowError(4, "Email", "not-an-email", "'not-an-email' is not an email address"),
        RowError(5, "Email", None, "email is required"),
    ]
    assert parsed.errors[2].reason.startswith("'partner' is not a lifecycle stage")
    assert str(parsed.errors[0]) == "row 3, column 'Number of Employees': 'abc' is not a whole number"


def test_row_numbers_are_file_lines_with_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    text = 'Email,Notes\n\na@acme.com,"two\nlines"\nb@acme.com,x,extra\n\n\nc@acme.com,ok\n'
    parsed = parse_file(write(tmp_path, "leads.csv", text), "leads")
    assert [r["email"] for r in parsed.records] == ["a@acme.com", "c@acme.com"]
    assert parsed.records[0]["properties"] == {"notes": "two\nlines"}
    assert parsed.errors == [
        RowError(5, None, None, "the row has 3 fields but the header has 2 (ragged row: check quoting and delimiters)")
    ]
    assert parsed.rows_read == 3


def test_ragged_short_row_rejected_but_trailing_empty_fields_tolerated(tmp_path: Path) -> None:
    text = "Email,First Name,Last Name\na@acme.com,Ann\nb@acme.com,Bob,B,,\n"
    parsed = parse_file(write(tmp_path, "leads.csv", text), "leads")
    assert [r["email"] for r in parsed.records] == ["b@acme.com"]
    assert [(e.row, e.reason.split(" (")[0]) for e in parsed.errors] == [
        (2, "the row has 2 fields but the header has 3")]


def test_bom_and_semicolon_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfEmail;First Name\r\nzoe@acme.com;Zo\xc3\xab\r\n")
    parsed = parse_file(path, "leads")
    assert parsed.columns == {"Email": "email", "First Name": "first_name"}  # no '\ufeffEmail'
    assert parsed.records[0]["email"] == "zoe@acme.com"
    assert parsed.records[0]["first_name"] == "Zoë"


def test_utf16_bom(tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes("Email\tFirst Name\nzoe@acme.com\tZoë\n".encode("utf-16"))
    assert parse_file(path, "leads").records[0]["first_name"] == "Zoë"


def test_undecodable_bytes_reject_the_row_only(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"Email,First Name\na@acme.com,Ren\xe9\nb@acme.com,Bob\n")
    parsed = parse_file(path, "leads")
    assert [r["email"] for r in parsed.records] == ["b@acme.com"]
    assert parsed.errors[0].row == 2 and "not valid UTF-8" in parsed.errors[0].reason
    assert parse_file(path, "leads", encoding="cp1252").records[0]["first_name"] == "René"


def test_missing_required_column_is_a_header_error(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "x.csv", "Name,Phone\nAda,1\n"), "leads")
    assert parsed.records == [] and parsed.rows_read == 0
    assert parsed.errors == [RowError(1, None, None, "no column maps to 'email', which is required; "
                                                     "map one with mapping={'<column>': 'email'}")]
    fixed = parse_file(tmp_path / "x.csv", "leads", mapping={"Name": "email"})
    assert fixed.errors[0].reason == "'Ada' is not an email address"


def test_empty_file(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "empty.csv", ""), "leads")
    assert parsed.errors == [RowError(0, None, None, "the file is empty (no header row)")]
    assert str(parsed.errors[0]) == "file: the file is empty (no header row)"
    assert parse_file(write(tmp_path, "header.csv", "Email\n"), "leads").errors == []


def test_email_normalisation_and_domains(tmp_path: Path) -> None:
    text = ("Email,Website\n"
            "  MiXeD@Example.COM ,\n"
            "x@sub.corp.example,http://user@WWW.Other.Example:8080/path\n"
            "y@hotmail.com,\n"
            "z@yahoo.co.uk,yahoo-partner.co.uk/\n")
    records = parse_file(write(tmp_path, "l.csv", text), "leads").records
    assert [(r["email"], r["company_domain"]) for r in records] == [
        ("mixed@example.com", "example.com"),
        ("x@sub.corp.example", "other.example"),
        ("y@hotmail.com", None),
        ("z@yahoo.co.uk", "yahoo-partner.co.uk"),
    ]
    assert normalize_domain("https://www.bücher.de/") == "xn--bcher-kva.de"
    with pytest.raises(ValueError, match="is not a domain"):
        normalize_domain("not a website")


def test_duplicate_emails_merged_with_warning(tmp_path: Path) -> None:
    text = ("Email,First Name,Last Name,Job Title,Unsubscribed,Colour\n"
            "ann@acme.com,Ann,,CEO,,red\n"
            "bob@acme.com,Bob,B,,,\n"
            "ANN@acme.com ,,Smith,Founder,yes,\n"
            "ann@acme.com,Anne,,,,blue\n")
    parsed = parse_file(write(tmp_path, "d.csv", text), "leads")
    assert parsed.rows_read == 4 and len(parsed.records) == 2
    ann = parsed.records[0]
    assert (ann["first_name"], ann["last_name"], ann["title"], ann["unsubscribed"]) == ("Anne", "Smith", "Founder", True)
    assert ann["properties"] == {"colour": "blue"}
    assert parsed.warnings == ["2 rows repeated an email seen earlier in the file and were merged into the "
                               "earlier record (later non-empty values win)"]


def test_streaming_chunks_and_cross_chunk_duplicates(tmp_path: Path) -> None:
    rows = [f"u{i}@acme.com,{i}" for i in range(7)] + ["u0@acme.com,again", "bad,x"]
    path = write(tmp_path, "s.csv", "Email,Note\n" + "\n".join(rows) + "\n")
    stream = iter_parsed(path, "leads", chunk_size=3)
    chunks = list(stream)
    assert [len(c.records) for c in chunks] == [3, 3, 2]
    assert [c.rows_read for c in chunks] == [3, 3, 3]
    records, errors = chunks[-1]  # unpacks like a pair
    assert [r["email"] for r in records] == ["u6@acme.com", "u0@acme.com"]
    assert errors == [RowError(10, "Email", "bad", "'bad' is not an email address")]
    assert stream.rows_read == 9 and stream.rows_rejected == 1
    assert chunks[-1].warnings == stream.warnings == [
        "1 rows repeated an email from an earlier chunk and were passed on again; store them as upserts "
        "(later non-empty values win)"]
    with pytest.raises(RuntimeError):
        list(stream)


def test_streaming_large_file_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("Email\n")
        for i in range(20_000):
            handle.write(f"user{i}@acme.com\n")
    stream = iter_parsed(path, "leads", chunk_size=5000)
    first = next(iter(stream))
    assert len(first.records) == 5000 and stream.rows_read <= 5001  # the rest is not read yet
    assert parse_file(path, "leads", limit=10).rows_read == 10


def test_max_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "Email\n" + "bad\n" * 5)
    parsed = parse_file(path, "leads", max_errors=2)
    assert len(parsed.errors) == 2 and parsed.rows_rejected == 5
    assert parsed.warnings == ["3 more errors were not listed (max_errors=2)"]


def test_accounts(tmp_path: Path) -> None:
    text = ("Name,Website,Industry,Number of Employees,Annual Revenue,Country/Region,Company owner,Tier\n"
            'Acme,https://www.acme.com/,Software,"1,200",$5M,FR,Jane,A\n'
            "Globex,globex.io,,12.0,\"2,500,000.50\",,,\n"
            "NoSite,,,,,,,\n"
            "Acme Inc,ACME.com,,-3,,,,\n")
    parsed = parse_file(write(tmp_path, "a.csv", text), "accounts")
    assert parsed.records == [
        {"domain": "acme.com", "name": "Acme", "industry": "Software", "employee_count": 1200,
         "annual_revenue": 5_000_000.0, "country": "FR", "owner": "Jane", "properties": {"tier": "A"}},
        {"domain": "globex.io", "name": "Globex", "industry": None, "employee_count": 12,
         "annual_revenue": 2_500_000.5, "country": None, "owner": None, "properties": {}},
    ]
    assert parsed.errors == [RowError(4, "Website", None, "domain is required"),
                             RowError(5, "Number of Employees", "-3", "'-3' is negative")]


def test_outcomes(tmp_path: Path) -> None:
    text = ("Email,Deal Stage,Amount,Currency,Close Date,Closed Lost Reason,Pipeline\n"
            "a@acme.com,Closed Won,\"12,000\",eur,2024-06-30,,Sales\n"
            "b@acme.com,Lost,,,2024-07-01T12:00:00+02:00,Price,\n"
            "c@acme.com,Prospecting,,,2024-07-01,,\n"
            "d@acme.com,won,,EURO,,,\n")
    parsed = parse_file(write(tmp_path, "o.csv", text), "outcomes")
    assert parsed.columns["Pipeline"] is None
    assert parsed.records == [
        {"email": "a@acme.com", "result": "won", "amount": 12000.0, "currency": "EUR",
         "closed_at": datetime(2024, 6, 30, tzinfo=UTC), "reason": None},
        {"email": "b@acme.com", "result": "lost", "amount": None, "currency": None,
         "closed_at": datetime(2024, 7, 1, 10, tzinfo=UTC), "reason": "Price"},
    ]
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (4, "Deal Stage", "Prospecting"), (5, "Currency", "EURO"), (5, "Close Date", None)]
    assert parsed.errors[-1].reason == "closed_at is required"


def test_naive_times_in_assumed_zone(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "Email,Create Date\na@acme.com,2024-01-15 09:00\n")
    parsed = parse_file(path, "leads", assume_tz=ZoneInfo("Europe/Paris"))
    assert parsed.records[0]["created_at"] == datetime(2024, 1, 15, 8, tzinfo=UTC)


def test_jsonl_leads_and_malformed_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"email": "A@acme.com", "consent": True, "employee_count": 5, "plan": {"tier": "pro"}}),
        "",
        '{"email": "b@acme.com", "first_name": "B"',  # line 3: truncated
        "[1, 2]",
        json.dumps({"email": "c@acme.com", "consent": "maybe"}),
        "NaN",
    ]
    parsed = parse_file(write(tmp_path, "l.jsonl", "\n".join(lines) + "\n"), "leads")
    assert parsed.fmt == "jsonl" and parsed.rows_read == 5
    [lead] = parsed.records
    assert lead["email"] == "a@acme.com" and lead["consent"] is True
    assert lead["properties"] == {"employee_count": 5, "plan": {"tier": "pro"}}  # JSON keys kept as they are
    assert [(e.row, e.column) for e in parsed.errors] == [(3, None), (4, None), (5, "consent"), (6, None)]
    assert parsed.errors[0].reason == "malformed JSON: Expecting ',' delimiter (column 42)"
    assert parsed.errors[0].value == lines[2]
    assert parsed.errors[1].reason == "the line is a JSON list, not an object"
    assert parsed.errors[2].reason == "'maybe' is not true or false (expected true/false, yes/no or 1/0)"
    assert parsed.errors[3].reason == "malformed JSON: NaN is not valid JSON"


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="export the sheet as CSV"):
        parse_file(write(tmp_path, "x.xlsx", ""), "leads")
    with pytest.raises(ImportFileError, match="pass fmt="):
        parse_file(write(tmp_path, "x.dat", ""), "leads")
    with pytest.raises(ImportFileError, match="JSON array"):
        parse_file(write(tmp_path, "x.json", '[{"email": "a@b.co"}]'), "leads")
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / "missing.csv", "leads")
    with pytest.raises(ValueError, match="unknown import kind"):
        parse_file(write(tmp_path, "y.csv", "Email\n"), "contacts")  # type: ignore[arg-type]
    assert parse_file(write(tmp_path, "z.dat", "Email\na@b.co\n"), "leads", fmt="csv").records[0]["email"] == "a@b.co"


def test_unused_mapping_key_warns(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "l.csv", "Email\na@acme.com\n"), "leads", mapping={"Emial": "email"})
    assert parsed.warnings == ["the mapping names column 'Emial', which is not in the file"]


def test_two_columns_for_one_field_first_non_empty_wins(tmp_path: Path) -> None:
    text = ("Email,Company Domain Name,Website\n"
            "a@gmail.com,,https://www.acme.com\n"
            "b@gmail.com,globex.io,https://www.acme.com\n"
            "c@initech.com,,\n")
    records = parse_file(write(tmp_path, "l.csv", text), "leads").records
    assert [r["company_domain"] for r in records] == ["acme.com", "globex.io", "initech.com"]
