"""The database layer: engine and pool, column types, statements, conflicts, commit hooks."""
