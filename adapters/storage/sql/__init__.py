"""SQL storage (SQLite by default; PostgreSQL later) with SQLAlchemy 2 async."""
