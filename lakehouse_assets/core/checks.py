"""Data-quality predicates behind the asset checks: pure functions over polars frames.

Each returns an :class:`Outcome`: whether the data passes, one line saying why (or why
not), and figures for the Dagster UI and the alert's context (counts, and under ``sample``
the first few offending rows as a polars frame). The Dagster shells in ``defs/checks.py``
turn outcomes into ``AssetCheckResult``s.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class Outcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckRules:
    """``config/monitoring.yaml`` ``checks``."""

    max_quarantine_share: float = 0.05
    min_quarantined_rows: int = 10
    freshness_sessions: int = 1


def _sample(frame: pl.DataFrame) -> pl.DataFrame:
    """A few offending rows, kept as a frame: the Dagster shell shows them as a table and the
    alert's context stores them as records, where a text printout would be unreadable."""
    return frame.head(SAMPLE_ROWS)


def _fail_or_pass(bad: pl.DataFrame, what: str, ok: str, **figures: object) -> Outcome:
    if bad.is_empty():
        return Outcome(True, ok, {"failing_rows": 0, **figures})
    return Outcome(False, f"{bad.height} {what}", {"failing_rows": bad.height, "sample": _sample(bad), **figures})


def schema_and_nulls(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], required: Iterable[str]) -> Outcome:
    """Every catalogued column present with its type; no nulls in the ``required`` columns."""
    problems = [f"{c} missing" for c in schema if c not in frame.columns]
    problems += [
        f"{c} is {frame.schema[c]}, expected {t}"
        for c, t in schema.items()
        if c in frame.columns and frame.schema[c] != t
    ]
    if problems:
        return Outcome(False, "schema: " + "; ".join(problems), {"problems": problems})
    nulls = {c: int(frame.get_column(c).null_count()) for c in required}
    bad = {c: n for c, n in nulls.items() if n}
    if bad:
        return Outcome(False, "nulls in " + ", ".join(f"{c} ({n})" for c, n in bad.items()), {"nulls": bad})
    return Outcome(True, f"{frame.height} rows, schema as catalogued, no nulls in {len(nulls)} required columns")


def unique_keys(frame: pl.DataFrame, keys: Iterable[str]) -> Outcome:
    """No two rows share a key."""
    keys = list(keys)
    # the usual case (no duplicate) in one pass over a struct of the keys: 3x cheaper than group_by
    repeated = (
        frame.select(pl.struct(keys).is_duplicated()).to_series() if frame.height else pl.Series([], dtype=pl.Boolean)
    )
    dupes = frame.filter(repeated).group_by(keys).len() if repeated.any() else frame.head(0).select(keys)
    return _fail_or_pass(dupes, f"duplicate keys on ({', '.join(keys)})", f"{frame.height} rows, keys unique")


def ohlc_bounds(frame: pl.DataFrame) -> Outcome:
    """``high >= max(open, close)``, ``low <= min(open, close)``, ``low > 0``, ``volume >= 0``."""
    o, h, low, c, v = (pl.col(n) for n in ("open", "high", "low", "close", "volume"))
    bad = frame.filter((h < pl.max_horizontal(o, c)) | (low > pl.min_horizontal(o, c)) | (low <= 0) | (v < 0)).select(
        "symbol", "date", "open", "high", "low", "close", "volume"
    )
    return _fail_or_pass(bad, "bars outside OHLC bounds", f"{frame.height} bars within OHLC bounds")


def within(frame: pl.DataFrame, bounds: Mapping[str, tuple[float | None, float | None]], keys: list[str]) -> Outcome:
    """Non-null values finite and inside ``[low, high]`` (None: unbounded) for each column."""
    conditions = []
    for column, (low, high) in bounds.items():
        value = pl.col(column)
        cond = value.is_not_null() & (value.is_nan() | value.is_infinite())
        if low is not None:
            cond = cond | (value < low)
        if high is not None:
            cond = cond | (value > high)
        conditions.append(cond.fill_null(False))
    bad = frame.filter(pl.any_horizontal(conditions)) if conditions else frame.clear()
    bad = bad.select(*keys, *bounds)
    ranges = ", ".join(f"{c} in [{lo}, {hi}]" for c, (lo, hi) in bounds.items())
    return _fail_or_pass(bad, f"rows outside bounds ({ranges})", f"{frame.height} rows: {ranges}")


def labels_known(frame: pl.DataFrame, column: str, known: Iterable[str], keys: list[str]) -> Outcome:
    """Non-null labels of ``column`` are among ``known``."""
    bad = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(list(known))).select(*keys, column)
    return _fail_or_pass(bad, f"unknown {column} labels", f"{frame.height} rows, every {column} label known")


def symbols_present(frame: pl.DataFrame, expected: Iterable[str], sessions: Iterable[dt.date]) -> Outcome:
    """Every expected symbol has a row on every trading session."""
    grid = pl.DataFrame({"symbol": sorted(set(expected))}).join(
        pl.DataFrame({"date": list(sessions)}, schema={"date": pl.Date}), how="cross"
    )
    missing = grid.join(frame.select("symbol", "date").unique(), on=["symbol", "date"], how="anti")
    if missing.is_empty():
        return Outcome(True, f"{grid.height} symbol-sessions, none missing", {"missing": 0})
    per_symbol = missing.group_by("symbol").agg(pl.len(), pl.col("date").min().alias("first")).sort("symbol")
    said = "; ".join(f"{s}: {n} sessions from {d}" for s, n, d in per_symbol.iter_rows())
    return Outcome(False, f"missing bars: {said}", {"missing": missing.height, "sample": _sample(missing)})


def fresh(
    latest: dt.date | None, expected: dt.date, allowed_lag: int, sessions_behind: Callable[[dt.date], int]
) -> Outcome:
    """The latest partition is at most ``allowed_lag`` sessions older than ``expected`` (the
    last session whose close has passed)."""
    if latest is None:
        return Outcome(False, f"no data at all; expected {expected}", {"expected": str(expected)})
    behind = sessions_behind(latest)
    figures = {"latest": str(latest), "expected": str(expected), "sessions_behind": behind}
    if behind > allowed_lag:
        return Outcome(False, f"latest session {latest} is {behind} sessions behind {expected}", figures)
    return Outcome(True, f"latest session {latest} (expected {expected})", figures)


def ordered_intervals(frame: pl.DataFrame) -> Outcome:
    """Forecasts finite, with ``lower_95 <= lower_80 <= point <= upper_80 <= upper_95`` where present."""
    cols = ["lower_95", "lower_80", "point", "upper_80", "upper_95"]
    finite = pl.col("point").is_null() | pl.col("point").is_finite()
    order = pl.lit(True)
    for low, high in itertools.pairwise(cols):
        order = order & (pl.col(low).is_null() | pl.col(high).is_null() | (pl.col(low) <= pl.col(high) + 1e-12))
    bad = frame.filter(~(finite & order)).select("symbol", "date", "model", "horizon", *cols)
    return _fail_or_pass(bad, "forecasts not finite or with unordered intervals", f"{frame.height} forecasts ordered")


def fits_within_bounds(frame: pl.DataFrame, models: Iterable[str], max_p: int, max_q: int, fit_window: int) -> Outcome:
    """Stored fits (``model_fits``) that later runs may reuse: ``model`` one of ``models``;
    ``n_obs``, the bars of the fit's window, in ``[1, fit_window]``; an ARIMA order (the
    ``order`` of an auto_arima or sarimax summary) ``(p, 0, q)`` within the order search's
    bounds ``p <= max_p``, ``q <= max_q``; every fitted parameter (the summary's ``params``)
    a finite number. A fit outside them was made under another configuration, or broke.

    Examples
    --------
    >>> row = {"symbol": "A", "model": "auto_arima", "fit_date": dt.date(2024, 1, 2), "n_obs": 750}
    >>> fits = pl.DataFrame([row | {"summary": '{"order": [3, 0, 1], "params": [0.1, NaN]}'}])
    >>> fits_within_bounds(fits, ["auto_arima"], 2, 2, 750).description
    '1 fits out of bounds'
    """
    known = set(models)
    problems = []
    for symbol, model, fit_date, n_obs, summary in frame.select(
        "symbol", "model", "fit_date", "n_obs", "summary"
    ).iter_rows():
        state = json.loads(summary) if summary is not None else {}
        said = [] if model in known else [f"unknown model {model}"]
        if n_obs is None or not 1 <= n_obs <= fit_window:
            said.append(f"n_obs {n_obs} outside [1, {fit_window}]")
        order = state.get("order") if model in ("auto_arima", "sarimax") else None
        if order is not None and not (
            len(order) == 3 and 0 <= order[0] <= max_p and order[1] == 0 and 0 <= order[2] <= max_q
        ):
            said.append(f"order {tuple(order)} outside p <= {max_p}, d = 0, q <= {max_q}")
        params = state.get("params", [])
        values = params.values() if isinstance(params, dict) else params
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            said.append("parameters not finite")
        if said:
            problems.append((symbol, model, fit_date, "; ".join(said)))
    bad = pl.DataFrame(
        problems,
        schema={"symbol": pl.String, "model": pl.String, "fit_date": pl.Date, "problem": pl.String},
        orient="row",
    )
    return _fail_or_pass(bad, "fits out of bounds", f"{frame.height} fits within bounds")


def one_per_group(frame: pl.DataFrame, flag: str, groups: list[str]) -> Outcome:
    """Exactly one row flagged ``flag`` in every group (e.g. one champion per symbol, horizon, day)."""
    counts = frame.group_by(groups).agg(pl.col(flag).sum().alias("flagged")).filter(pl.col("flagged") != 1)
    return _fail_or_pass(counts, f"groups without exactly one {flag}", f"one {flag} in each group")


def quarantine_growth(rejected: int | Mapping[str, int], delivered: int, rules: CheckRules) -> Outcome:
    """Fails when more than ``max_quarantine_share`` of a delivery's rows, and at least
    ``min_quarantined_rows`` of them, went to quarantine (the floor keeps one bad row of a
    one-day run from blocking the day).

    ``rejected`` counts every row of the delivery that will not reach the validated table,
    whatever the reason; given as a mapping (kind -> rows, e.g. ``parse``, ``rules``,
    ``duplicates``, ``outside calendar``) the kinds are summed and shown.

    Examples
    --------
    >>> quarantine_growth({"parse": 0, "duplicates": 990}, 1000, CheckRules()).description
    '990 of 1000 rows quarantined (99.0% > 5.0%): duplicates 990'
    """
    kinds = dict(rejected) if isinstance(rejected, Mapping) else {}
    total = sum(kinds.values()) if isinstance(rejected, Mapping) else rejected
    max_share, min_rows = rules.max_quarantine_share, rules.min_quarantined_rows
    share = total / delivered if delivered else 0.0
    figures: dict[str, object] = {
        "rejected": total,
        "delivered": delivered,
        "share": round(share, 6),
        "max_share": max_share,
        **{f"rejected_{kind.replace(' ', '_')}": n for kind, n in kinds.items()},
    }
    said = ", ".join(f"{kind} {n}" for kind, n in kinds.items() if n)
    said = f": {said}" if said else ""
    if share > max_share and total >= min_rows:
        return Outcome(False, f"{total} of {delivered} rows quarantined ({share:.1%} > {max_share:.1%}){said}", figures)
    return Outcome(True, f"{total} of {delivered} rows quarantined ({share:.1%}){said}", figures)


def files_read(unread: Iterable[tuple[str, str]]) -> Outcome:
    """Every file and folder of a landing directory was read: ``unread`` lists the
    ``(path, reason)`` of those no run will read (misnamed, not a symbol, outside the
    calendar)."""
    unread = list(unread)
    if not unread:
        return Outcome(True, "every landed file read", {"unread": 0})
    said = "; ".join(f"{path}: {reason}" for path, reason in unread[:SAMPLE_ROWS])
    more = f" (and {len(unread) - SAMPLE_ROWS} more)" if len(unread) > SAMPLE_ROWS else ""
    return Outcome(False, f"{len(unread)} landed files not read: {said}{more}", {"unread": len(unread)})


def warmed_up(frame: pl.DataFrame, warm_up: Mapping[str, int], keys: list[str], bar: str = "bar") -> Outcome:
    """No feature null once its warm-up is over: ``frame[bar]`` numbers each symbol's bars
    from 0 at its first bar, and a column of ``warm_up`` must be non-null from bar
    ``warm_up[column]`` on. A null there means an input that should never have been
    validated (a missing or non-finite close); a null in the warm-up is expected."""
    late = [pl.col(c).is_null() & (pl.col(bar) >= n) for c, n in warm_up.items()]
    bad = frame.filter(pl.any_horizontal(late)).select(*keys, bar, *warm_up) if late else frame.clear()
    return _fail_or_pass(bad, "rows with a feature null after its warm-up", f"{frame.height} rows warmed up where due")


def no_drift(reports: pl.DataFrame, kind: str, sustained_days: int) -> Outcome:
    """No sustained ``kind`` drift on the latest day of the reports: no row drifted on at least
    ``sustained_days`` consecutive sessions (the state in which the monitor asks for a refit).

    A single drifted day is not an alert: the calibrated test flags a stationary series on
    about alpha (5%) of its sessions, so with eight features per symbol one of them is
    flagged on a quarter of a symbol's days; a run of ``sustained_days`` is rare under no drift.
    """
    rows = reports.filter(pl.col("kind") == kind)
    if rows.is_empty():
        return Outcome(True, f"no {kind} drift reports", {"drifted": 0})
    latest = rows.get_column("as_of").max()
    today = rows.filter(pl.col("as_of") == latest)
    drifted = today.filter(pl.col("drifted") & (pl.col("sustained") >= sustained_days))
    days = rows.filter(pl.col("drifted")).get_column("as_of").n_unique()
    figures = {
        "as_of": str(latest),
        "drifted": today.filter(pl.col("drifted")).height,
        "sustained": drifted.height,
        "sustained_days": sustained_days,
        "days_with_drift": days,
        "days": rows["as_of"].n_unique(),
    }
    if drifted.is_empty():
        return Outcome(True, f"no sustained {kind} drift on {latest!s}", figures)
    names = ", ".join(f"{s}:{n} ({v:.3g})" for s, n, v in drifted.select("symbol", "name", "statistic").iter_rows())
    return Outcome(
        False,
        f"{kind} drift sustained {sustained_days}+ sessions on {latest!s}: {names}",
        {**figures, "sample": _sample(drifted)},
    )
