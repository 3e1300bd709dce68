"""Storage: SQLAlchemy 2 models, the engine with SQLite/PostgreSQL settings, migrations."""
