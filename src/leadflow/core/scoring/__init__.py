"""Scoring: the declarative model (``spec``), rule matching (``rules``), the engine (``engine``)."""
