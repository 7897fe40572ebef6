"""Time helpers shared by the core: everything is UTC, scoring maths runs on epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY = 86400.0
MAX_FUTURE = timedelta(hours=23)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive datetimes are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_ts(value: object) -> datetime:
    """Parse an ISO 8601 string, epoch seconds/milliseconds or datetime into aware UTC.

    Raises ``ValueError`` with a readable message when the value is missing or malformed.
    """
    if value is None or value == "":
        raise ValueError("timestamp is missing")
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, bool):
        raise ValueError(f"timestamp {value!r} is not a date")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
            if seconds > 1e11:  # milliseconds since the epoch
                seconds /= 1000.0
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):  # inf, NaN, out of the platform's range
            raise ValueError(f"timestamp {value!r} is not a valid epoch time") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            return as_utc(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO 8601 (e.g. 2024-05-01T12:00:00Z)") from None
    raise ValueError(f"timestamp {value!r} is not a date")


def epoch(value: datetime) -> float:
    return as_utc(value).timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
