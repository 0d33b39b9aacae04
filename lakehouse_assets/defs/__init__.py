"""Thin Dagster shells over ``core`` and ``lake``."""
