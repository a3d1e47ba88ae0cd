"""Use cases: the only way state changes. Each runs in one database transaction."""
