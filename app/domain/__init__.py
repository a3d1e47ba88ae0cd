"""Pure business rules: no Flask, no SQL."""
