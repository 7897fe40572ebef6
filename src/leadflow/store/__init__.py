"""Persistence: SQLAlchemy 2 tables, engine set-up (SQLite WAL / PostgreSQL) and Alembic migrations."""
