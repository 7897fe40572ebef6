"""Events files go through leadflow.core.events.validate_event, row by row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadflow.services.importing import RECORD_KEYS, RowError, parse_file

RECEIVED = datetime(2024, 6, 1, 12, tzinfo=UTC)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_events_validated_with_properties(tmp_path: Path) -> None:
    text = (
        "Event,Timestamp,Email,Anonymous ID,Message ID,URL,Seconds On Page,properties\n"
        'Page View,2024-05-01T10:00:00Z,A@Acme.com,,m1,/pricing,42,"{""title"": ""Pricing"", ""url"": ""ignored""}"\n'
        "demo_requested,2024-06-03T12:00:00Z,,anon-1,m2,,,\n"  # 2 days ahead of received_at: clamped
    )
    parsed = parse_file(write(tmp_path, "e.csv", text), "events", received_at=RECEIVED)
    assert parsed.errors == []
    first, second = parsed.records
    assert tuple(first) == RECORD_KEYS["events"]
    assert first == {
        "type": "page_view",
        "occurred_at": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "received_at": RECEIVED,
        "message_id": "m1",
        "email": "a@acme.com",
        "anonymous_id": None,
        # columns beat the JSON column; seconds_on_page is a number because the page_view schema says so
        "properties": {"title": "Pricing", "url": "/pricing", "seconds_on_page": 42},
        "flags": (),
    }
    assert second["occurred_at"] == RECEIVED and second["flags"] == ("future_clamped",)
    assert second["anonymous_id"] == "anon-1" and second["properties"] == {}


def test_event_row_errors(tmp_path: Path) -> None:
    text = (
        "type,occurred_at,email,seconds_on_page,properties\n"
        "page_view,2024-05-01,a@acme.com,soon,\n"  # 2
        "page_view,yesterday,a@acme.com,,\n"  # 3
        "Bad Type!,2024-05-01,a@acme.com,,\n"  # 4
        "page_view,2024-05-01,,,\n"  # 5
        "page_view,2024-05-01,a@acme.com,,{not json}\n"  # 6
        "my_custom_thing,2024-05-01,a@acme.com,,\n"  # 7
    )
    path = write(tmp_path, "e.csv", text)
    parsed = parse_file(path, "events", received_at=RECEIVED)
    assert [r["type"] for r in parsed.records] == ["my_custom_thing"]
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (2, "seconds_on_page", "soon"),
        (3, "occurred_at", "yesterday"),
        (4, "type", "bad_type!"),
        (5, "email", None),
        (6, "properties", "{not json}"),
    ]
    assert parsed.errors[0].reason == "'soon' is not a number"
    assert parsed.errors[2].reason == "type: 'bad_type!' must be lower_snake_case, at most 64 characters"
    assert parsed.errors[3].reason == "email: an event needs an email or an anonymous_id"

    strict = parse_file(path, "events", received_at=RECEIVED, allow_custom_types=False)
    assert strict.records == []
    assert strict.errors[-1] == RowError(
        7, "type", "my_custom_thing", "type: unknown event type 'my_custom_thing' (custom types are disabled)")


def test_future_policy_reject(tmp_path: Path) -> None:
    ahead = (RECEIVED + timedelta(days=2)).isoformat()
    path = write(tmp_path, "e.csv", f"type,timestamp,email\npage_view,{ahead},a@acme.com\n")
    parsed = parse_file(path, "events", received_at=RECEIVED, future_policy="reject")
    assert parsed.records == [] and parsed.errors[0].column == "timestamp"
    assert "more than 23 h in the future" in parsed.errors[0].reason


def test_jsonl_events(tmp_path: Path) -> None:
    lines = [
        json.dumps({"type": "form_submit", "timestamp": 1714557600, "email": "a@acme.com",
                    "properties": {"form": "contact"}, "messageId": "x1", "context": {"ip": "1.2.3.4"}}),
        json.dumps({"type": "page_view", "occurred_at": "2024-05-01T10:00:00Z", "anonymous_id": "v1",
                    "properties": {"seconds_on_page": "12"}}),
        "{oops",
    ]
    parsed = parse_file(write(tmp_path, "e.jsonl", "\n".join(lines)), "events", received_at=RECEIVED)
    [event] = parsed.records
    assert event["occurred_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert event["message_id"] == "x1"
    assert event["properties"] == {"form": "contact", "context": {"ip": "1.2.3.4"}}
    assert parsed.errors[0] == RowError(2, "properties", "12", "properties.seconds_on_page: must be int or float, got str")
    assert parsed.errors[1].row == 3 and parsed.errors[1].reason.startswith("malformed JSON")


def test_events_header_needs_an_identity(tmp_path: Path) -> None:
    parsed = parse_file(write(tmp_path, "e.csv", "type,timestamp,user\npage_view,2024-05-01,u1\n"), "events")
    assert [e.reason for e in parsed.errors] == ["no column maps to 'email' or 'anonymous_id'; an event needs one of them"]
    ok = parse_file(tmp_path / "e.csv", "events", mapping={"user": "anonymous_id"}, received_at=RECEIVED)
    assert ok.records[0]["anonymous_id"] == "u1"


def test_two_columns_for_one_field_first_non_empty_wins(tmp_path: Path) -> None:
    text = "type,timestamp,Email,Email Address\npage_view,2024-05-01,,b@acme.com\npage_view,2024-05-01,a@acme.com,c@acme.com\n"
    parsed = parse_file(write(tmp_path, "e.csv", text), "events", received_at=RECEIVED)
    assert parsed.columns == {"type": "type", "timestamp": "occurred_at", "Email": "email", "Email Address": "email"}
    assert [r["email"] for r in parsed.records] == ["b@acme.com", "a@acme.com"]
