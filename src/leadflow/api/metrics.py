"""Prometheus metrics, on prometheus_client's default registry.

Other modules (the webhook delivery worker, for instance) add their own metrics by declaring them at module
level with ``prometheus_client.Counter(...)`` (default registry): ``/metrics`` exposes everything registered.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "leadflow_http_request_duration_seconds", "HTTP request latency by route template and status class",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
INGEST_EVENTS = Counter("leadflow_ingest_events_total", "Events received on /v1/track|identify|page|batch by result",
                        ["result"])
INGEST_BATCH_SIZE = Histogram("leadflow_ingest_write_batch_events", "Events per store transaction on the ingest "
                              "path (group commit coalesces concurrent requests)",
                              buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000))
JOB_QUEUE_DEPTH = Gauge("leadflow_job_queue_depth", "Background jobs queued or running in this process")
INGEST_QUEUE_DEPTH = Gauge("leadflow_ingest_queue_depth", "Ingest requests waiting for the writer")
QUALIFY_BACKLOG = Gauge("leadflow_qualify_backlog", "Stored events waiting to be scored (deferred scoring; "
                        "updated when the writer catches up)")
QUALIFY_EVENTS = Counter("leadflow_qualify_events_total", "Queued events folded into scores by the ingest writer")
QUALIFY_FAILED = Gauge("leadflow_qualify_failed", "Queued events set aside after repeated scoring failures "
                       "(see `leadflow scorer --failed`; `--retry-failed` puts them back)")
RATE_LIMITED = Counter("leadflow_rate_limited_total", "Requests refused with 429")

__all__ = ["REGISTRY", "REQUEST_LATENCY", "INGEST_EVENTS", "INGEST_BATCH_SIZE", "JOB_QUEUE_DEPTH",
           "INGEST_QUEUE_DEPTH", "QUALIFY_BACKLOG", "QUALIFY_EVENTS", "QUALIFY_FAILED", "RATE_LIMITED"]
