"""The operational store: SQLAlchemy tables, Alembic migrations, engine and session helpers."""
