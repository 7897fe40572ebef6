"""The HTTP service (FastAPI): REST API under /v1, Segment-compatible ingestion, tracking snippet, ops."""
