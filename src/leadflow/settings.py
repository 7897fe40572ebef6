"""All of leadflow's settings, declared once with their defaults and help text.

Every setting can be given as an environment variable with the ``LEADFLOW_`` prefix (for example
``LEADFLOW_DATABASE_URL``) or in a ``.env`` file. ``leadflow settings`` prints them all with their help.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///var/leadflow.db",
        description="SQLAlchemy URL of the store. Embedded default: a SQLite file (WAL mode, created on first use). "
        "Production: postgresql+psycopg://user:password@host:5432/dbname.",
    )
    workspace: str = Field(
        "default", description="Slug of the workspace the CLI works in (created on first use)."
    )
    allow_custom_event_types: bool = Field(
        True, description="Accept event types outside the built-in taxonomy (lower_snake_case names)."
    )
    future_timestamps: Literal["clamp", "reject"] = Field(
        "clamp",
        description="Events stamped more than 23 h in the future: 'clamp' stores them at the receive time "
        "and flags them 'future_clamped'; 'reject' refuses them.",
    )
    batch_size: int = Field(
        5000, ge=1, description="Rows per write batch for imports and bulk ingestion (one transaction each)."
    )
    batch_engine: Literal["duckdb"] = Field(
        "duckdb", description="Engine for history-wide batch work (rescore, backtests, analytics)."
    )
    echo_sql: bool = Field(False, description="Log every SQL statement (debugging).")
    secret_key: str = Field(
        "",
        description="Secret for signed login cookies, CSRF tokens and webhook signatures' key derivation. "
        "Empty: a random key is generated and kept in var/secret_key (fine for one machine; set it in production).",
    )
    public_url: str = Field(
        "", description="The URL users reach the app at (e.g. https://leads.example.com). When it starts with "
        "https, session cookies are marked Secure.")
    host: str = Field("127.0.0.1", description="Address `leadflow serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `leadflow serve` listens on.")
    rate_limit_per_second: float = Field(
        2000.0, ge=0, description="API requests per second allowed per API key (token bucket; 0 = no limit). "
        "Over it the API answers 429 with Retry-After. Per server process.")
    rate_limit_burst: int = Field(4000, ge=1, description="Requests an API key may make at once above the rate.")
    ingest_group_commit: bool = Field(
        True, description="Coalesce concurrent ingest requests into one store transaction (one writer thread "
        "per database). Off: each request writes in its own transaction.")
    ingest_scoring: Literal["deferred", "inline"] = Field(
        "deferred", description="How the HTTP ingest path scores events: 'deferred' answers once the events are "
        "stored in the log and queued, and the ingest writer folds them into scores and stages when it is "
        "not storing (usually within ~50 ms, see scoring_delay_ms; the backlog is on /metrics); 'inline' scores them in the "
        "request's transaction (slower, the response waits). The Python API, imports and the CLI always score "
        "inline.")
    qualify_batch: int = Field(
        1000, ge=1, le=100000, description="At most this many queued events are scored per transaction by the "
        "ingest writer (each step is also sized to ~15 ms while requests wait, ~50 ms otherwise).")
    scoring_delay_ms: int = Field(
        50, ge=0, le=10000, description="With deferred scoring, the ingest writer lets stored events wait up to "
        "this long (or until a full step has gathered) before it scores them, so that each scoring step, whose "
        "fixed cost is a few database round trips, folds many events rather than a few: less CPU per event and "
        "a shorter request tail under load. 0 scores after every write.")
    scoring_process: bool = Field(
        False, description="With deferred scoring: score queued events in a second process that `leadflow "
        "serve` starts (a second core), not in the serving process's ingest writer.")
    gc_freeze: bool = Field(
        True, description="After start-up, freeze the loaded app's objects out of Python's garbage collector "
        "(gc.freeze) and collect young objects less often: full collections otherwise pause every request for "
        "100-200 ms about once a second under load. Undone when the app stops.")
    opentelemetry: bool = Field(
        False, description="FastAPI's native OpenTelemetry spans and metrics per request, through the global "
        "OpenTelemetry providers (configure an SDK, e.g. with `opentelemetry-instrument`). Off by default: "
        "leadflow has its own /metrics and JSON logs, and the check for configured providers costs every request.")
    background: bool = Field(
        False, description="Run the background loops (webhook delivery, SLA checks) inside the app process. "
        "`leadflow serve` turns it on; embedded uses of the app (tests, scripts) leave it off.")
    sla_check_seconds: float = Field(
        60.0, ge=0, description="How often the serving process checks SLA clocks for breaches (0: never; run "
        "`leadflow handoff sla check` from a scheduler instead).")
    webhook_worker: bool = Field(
        True, description="Run the webhook delivery worker inside `leadflow serve` (off: run "
        "`leadflow webhooks worker` separately; several workers may run on PostgreSQL, one on SQLite).")
    webhook_max_attempts: int = Field(10, ge=1, le=100, description="Webhook delivery attempts before it is "
                                      "marked failed (retried with exponential backoff and full jitter).")
    webhook_max_age_hours: float = Field(72.0, gt=0, description="Hours after which a webhook delivery still "
                                         "failing is marked failed, whatever its attempts.")
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Timeout of one webhook HTTP attempt.")
    webhook_allow_private_urls: bool = Field(
        False, description="Allow webhook URLs on loopback, private or link-local addresses (off by default "
        "against server-side request forgery; turn on for receivers on your own network).")
    snippet_demo_key: str = Field(
        "", description="Ingest (write-only) key the tracking snippet's demo page /t/demo uses when the page "
        "URL gives none (?key=...).")
    models_dir: str = Field(
        "var/models", description="Directory of predictive model artifacts (one folder per workspace and "
        "model version, never overwritten).")


@lru_cache
def get_settings() -> Settings:
    return Settings()
