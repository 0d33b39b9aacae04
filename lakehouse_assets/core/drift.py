"""Drift: what the rest of the pipeline reads from ``drift_reports``.

A report row is one statistic of one day (``as_of``), of one kind (feature, regime,
prediction) and name, for one symbol or for all of them (``symbol`` = ``ALL_SYMBOLS``).
``refit`` marks drift sustained long enough to ask for a model refit; the refit happens
on the next session, so a day's forecasts only ever depend on reports of earlier days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import polars as pl

ALL_SYMBOLS = "*"


def refit_triggers(
    reports: pl.DataFrame, symbols: Iterable[str], next_session: Callable[[dt.date], dt.date]
) -> dict[str, tuple[dt.date, ...]]:
    """Per symbol, the sorted sessions on which a refit was asked for: the session after each
    report day with a ``refit`` row for the symbol or for all symbols."""
    flagged = reports.filter(pl.col("refit")).select("as_of", "symbol").unique()
    market = {d for d, s in flagged.iter_rows() if s == ALL_SYMBOLS}
    out = {}
    for symbol in symbols:
        days = market | {d for d, s in flagged.iter_rows() if s == symbol}
        out[symbol] = tuple(sorted({next_session(d) for d in days}))
    return out


def drift_scores(reports: pl.DataFrame, symbols: Iterable[str]) -> dict[tuple[str, dt.date], float]:
    """The gate's drift score of a symbol on a day: the largest feature statistic reported that
    day for the symbol or for all symbols."""
    per_day = (
        reports.filter((pl.col("kind") == "feature") & pl.col("statistic").is_not_null())
        .group_by("symbol", "as_of")
        .agg(pl.col("statistic").max())
    )
    found = {(s, d): float(v) for s, d, v in per_day.iter_rows()}
    days = {d for _, d in found}
    out = {}
    for symbol in symbols:
        for day in days:
            values = [v for v in (found.get((symbol, day)), found.get((ALL_SYMBOLS, day))) if v is not None]
            if values:
                out[(symbol, day)] = max(values)
    return out
