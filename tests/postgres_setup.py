"""PostgreSQL test-database setup (placeholder until written: SQLite uses pytest-django's default)."""
