"""store: SQLAlchemy 2 (async) models and sessions; Alembic revisions live in migrations/."""
