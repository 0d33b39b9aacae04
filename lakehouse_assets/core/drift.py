"""Drift: what the rest of the pipeline reads from ``drift_reports``.

A report row is one statistic of one day (``as_of``), of one kind (feature, regime,
prediction) and name, for one symbol or for all of them (``symbol`` = ``ALL_SYMBOLS``).
``refit`` marks drift sustained long enough to ask for a model refit; the refit happens
on the next session, so a day's forecasts only ever depend on reports of earlier days.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import special, stats

from lakehouse_assets.core.regimes import REGIMES

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


def drift_evidence(reports: pl.DataFrame, symbols: Iterable[str]) -> dict[tuple[str, dt.date], dict[str, object]]:
    """Per (symbol, as_of) that has feature rows for the symbol or for ALL_SYMBOLS: the calibrated verdicts of that day:
    {"tested": number of features with a verdict (non-null p_value), "drifted": sorted list of drifted feature names,
     "share": len(drifted) / tested (0.0 when nothing was tested)}. A name drifted in the ALL_SYMBOLS rows counts for every symbol.

    A feature is counted once per (symbol, day) even when both the symbol's and the
    ALL_SYMBOLS rows carry it (tested if either has a verdict, drifted if either drifted).

    Examples:
        >>> frame = pl.DataFrame(
        ...     {
        ...         "as_of": [dt.date(2024, 4, 1)] * 3,
        ...         "kind": ["feature"] * 3,
        ...         "name": ["rsi_14", "adx_14", "momentum_20"],
        ...         "symbol": ["AAPL", "AAPL", ALL_SYMBOLS],
        ...         "p_value": [0.5, 0.001, None],
        ...         "drifted": [False, True, False],
        ...     }
        ... )
        >>> drift_evidence(frame, ["AAPL"])
        {('AAPL', datetime.date(2024, 4, 1)): {'tested': 2, 'drifted': ['adx_14'], 'share': 0.5}}
    """
    rows = reports.filter(pl.col("kind") == "feature").select("as_of", "symbol", "name", "p_value", "drifted")
    tested: dict[tuple[str, dt.date], set[str]] = {}
    drifted: dict[tuple[str, dt.date], set[str]] = {}
    days: dict[str, set[dt.date]] = {}
    for as_of, symbol, name, p_value, is_drifted in rows.iter_rows():
        days.setdefault(symbol, set()).add(as_of)
        if p_value is not None and not math.isnan(p_value):
            tested.setdefault((symbol, as_of), set()).add(name)
        if is_drifted:
            drifted.setdefault((symbol, as_of), set()).add(name)
    out: dict[tuple[str, dt.date], dict[str, object]] = {}
    market_days = days.get(ALL_SYMBOLS, set())
    for symbol in symbols:
        for day in sorted(days.get(symbol, set()) | market_days):
            names = tested.get((symbol, day), set()) | tested.get((ALL_SYMBOLS, day), set())
            flagged = drifted.get((symbol, day), set()) | drifted.get((ALL_SYMBOLS, day), set())
            out[(symbol, day)] = {
                "tested": len(names),
                "drifted": sorted(flagged),
                "share": len(flagged) / len(names) if names else 0.0,
            }
    return out


# --- computing the reports ------------------------------------------------------------------
#
# Every feature or prediction report compares the latest window of a series with the window
# just before it. Rolling features are strongly autocorrelated (a 21-day realized volatility
# shares 20 of its 21 returns with yesterday's), so the textbook KS p-value, which assumes
# i.i.d. samples, calls drift on most days. An earlier version scaled the sample sizes by the
# AR(1) factor (1 - r) / (1 + r); with r near 1 that leaves nothing to test (for r >= 0.957
# p >= 0.05 even at D = 1: 0 of 1,749 feature tests flagged on the default run).
#
# ``block_ks_test`` instead takes the null distribution from the series itself: pool the
# reference and the latest window, treat the pooled series as a circle, and compare the KS
# distance of the latest window with that of every other contiguous stretch of the same length
# (about ``blocks`` of them, evenly spaced) against the rest of the pool. If the series is
# stationary, the latest window is just one stretch among them, whatever the persistence: its
# rank is uniform, so P(p <= alpha) is about alpha, for an i.i.d. series and for an AR(1) with
# phi 0.98 alike (the circle's one seam is the only approximation, and it matters only for
# dependence that lasts as long as the pool). The test has power when the latest window is
# more extreme than (nearly) every stretch of the past, which is what a new level of volatility
# or a crash looks like; a persistent indicator wandering as it always has is not flagged.
# Measured on simulated universes by ``bench/drift_eval.py``.


@dataclass(frozen=True)
class DriftRules:
    """Windows and thresholds of the drift monitor (all windows count observations, i.e. sessions).

    Attributes:
        features: the feature columns monitored (``features`` table names).
        window: observations in the latest window (ending on the report day).
        reference: observations in the reference window, which ends just before the latest
            window; a report needs at least half of it (fewer: "warming up").
        gap: observations before the reference that the block-permutation test leaves out of
            each block's comparison after the block (see :func:`block_ks_test`); a report
            needs all of them.
        threshold: the minimum effect size: a KS statistic D at or below it is never drift,
            however significant (the original system's 0.15; with the shipped windows the
            block-permutation critical value is almost always above it).
        alpha: a statistic is drift when its block-permutation p-value is at most this.
        blocks: null stretches of the block-permutation test (p-values are multiples of
            ``1 / (blocks + 1)``; ``alpha * (blocks + 1)`` must be at least 1).
        sustained_days: consecutive drifted sessions that ask for a model refit.
        regime_window, regime_reference: the windows of the regime comparison (labelled
            sessions only).
        regime_alpha: significance of the regime chi-square test.
        prediction_window, prediction_reference: the windows of the prediction comparison.
    """

    features: tuple[str, ...] = (
        "rsi_14",
        "bollinger_position",
        "momentum_20",
        "volatility_ratio",
        "adx_14",
        "realized_vol_21",
        "drawdown_252",
        "variance_ratio_5",
    )
    window: int = 5
    reference: int = 500
    gap: int = 60
    threshold: float = 0.15
    alpha: float = 0.05
    blocks: int = 99
    sustained_days: int = 5
    regime_window: int = 10
    regime_reference: int = 250
    regime_alpha: float = 0.001
    prediction_window: int = 20
    prediction_reference: int = 500


REGIME_SMOOTHING = 0.5  # counts added to every regime of the reference: a never-seen regime is possible
WARMING_UP = "warming up"
TEST_NAME = "circular block-permutation KS"


REPORT_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "kind": pl.String(),
    "name": pl.String(),
    "symbol": pl.String(),
    "statistic": pl.Float64(),
    "p_value": pl.Float64(),
    "threshold": pl.Float64(),
    "drifted": pl.Boolean(),
    "sustained": pl.Int64(),
    "refit": pl.Boolean(),
    "detail": pl.String(),
}
"""The columns of every report row, in order: the ``drift_reports`` table's schema (the
table catalogue takes it from here)."""


def lookback_sessions(rules: DriftRules) -> int:
    """Sessions of history before a range's first day that its feature and regime reports
    need: the longer comparison (latest window, gap and reference) for that day and for the
    ``sustained_days`` sessions before it whose verdicts its ``sustained`` counts, doubled as a
    margin for sessions without a value (a null feature, a label's warm-up)."""
    span = max(rules.window + rules.reference + rules.gap, rules.regime_window + rules.regime_reference)
    return 2 * (span + rules.sustained_days + 1)


def block_starts(pool: int, window: int, blocks: int) -> np.ndarray:
    """Start positions of the circular blocks of a pool of ``pool`` values: first the latest
    window's (``pool - window``), then ``min(blocks, pool - 1)`` others spaced evenly around the
    circle from it (``pool - window + round(k * pool / (B + 1))`` modulo the pool)."""
    count = min(blocks, pool - 1)
    steps = np.round(np.arange(count + 1) * pool / (count + 1)).astype(np.int64)
    return (pool - window + steps) % pool


def block_ks_statistics(pooled: np.ndarray, window: int, starts: np.ndarray, gap: int = 0) -> np.ndarray:
    """The two-sample KS statistic of each circular block against the stretch before it.

    With ``n = len(pooled)`` read as a circle, block ``b`` is the ``window`` values from
    ``starts[b]`` on; it is compared with the ``n - window - gap`` values that precede it (the
    ``gap`` values that follow it are left out). The statistic is ``max_v |F_block(v) -
    F_before(v)|`` over the pooled values ``v`` (empirical CDFs, ties handled as
    ``scipy.stats.ks_2samp`` does).

    All blocks at once, in ``O(blocks * (window + gap))`` after one sort of the pool: between two
    of a block's values ``F_block`` is flat while ``F_before`` does not fall, so the largest gap
    is just after a block value (``F_block`` ahead) or just before one (``F_before`` ahead). With
    ``G`` the pool values strictly below the ``i``-th smallest block value (1-based), ``E`` those
    at or below it, and ``G'``, ``E'`` the same counts among the left-out values, the candidates
    are ``i / w - (E - i - E') / m`` and ``(G - (i - 1) - G') / m - (i - 1) / w`` (``w`` the
    window, ``m`` the compared stretch); tied block values give smaller candidates than the
    first (resp. last) of them, so the maximum is exact.

    Examples:
        >>> block_ks_statistics(np.array([0.0, 1.0, 2.0, 3.0]), 2, np.array([2, 0, 1])).tolist()
        [1.0, 1.0, 0.5]
    """
    statistics: np.ndarray = _block_ks_rows(np.asarray(pooled)[None, :], window, starts, gap)[0]
    return statistics


def _block_ks_rows(pooled: np.ndarray, window: int, starts: np.ndarray, gap: int) -> np.ndarray:
    """:func:`block_ks_statistics` of every row of ``pooled`` (pools of one length), shape
    ``(rows, len(starts))``.

    A day's reports are thousands of small tests (a symbol's feature, a pool of a few hundred
    values); one numpy call per step for all of them costs what one test did as a loop of
    calls. Each row's figures are the same integer counts and the same float operations as
    for that row alone, so the statistics are the same to the last bit. Ranks are int16 when
    the pool allows (a quarter of the memory traffic of int64), and the left-out values at or
    below each block value are counted by comparing every pair (``window x gap`` per block:
    cheaper here than sorting them and searching).
    """
    rows, n = pooled.shape
    m = n - window - gap
    rank: type[np.signedinteger[Any]] = np.int16 if n < np.iinfo(np.int16).max else np.int64
    order = np.argsort(pooled, axis=1, kind="stable")
    ordered = np.take_along_axis(pooled, order, axis=1)
    new_value = np.ones((rows, n), dtype=bool)
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_end = np.ones((rows, n), dtype=bool)
    run_end[:, :-1] = new_value[:, 1:]
    positions = np.arange(n, dtype=rank)
    first = np.maximum.accumulate(np.where(new_value, positions, rank(0)), axis=1)  # start of each run of ties
    last = np.minimum.accumulate(np.where(run_end, positions, rank(n))[:, ::-1], axis=1)[:, ::-1]
    below, through = np.empty((rows, n), dtype=rank), np.empty((rows, n), dtype=rank)
    np.put_along_axis(below, order, first, axis=1)  # pool values < each value
    np.put_along_axis(through, order, last + rank(1), axis=1)  # pool values <= each value
    members = (starts[:, None] + np.arange(window)[None, :]) % n
    g, e = np.sort(below[:, members], axis=2), np.sort(through[:, members], axis=2)
    g_out = e_out = np.zeros(g.shape, dtype=np.int64)
    if gap:
        # a left-out value l is <= the block value x when through[l] <= through[x], and < x
        # when through[l] <= below[x]
        left_out = through[:, (starts[:, None] + window + np.arange(gap)[None, :]) % n][:, :, None, :]
        e_out = np.count_nonzero(left_out <= e[..., None], axis=3)
        g_out = np.count_nonzero(left_out <= g[..., None], axis=3)
    g, e = g.astype(np.int64), e.astype(np.int64)
    i = np.arange(1, window + 1)
    ahead = i / window - (e - i - e_out) / m
    behind = (g - (i - 1) - g_out) / m - (i - 1) / window
    statistics: np.ndarray = np.maximum(ahead.max(axis=2), behind.max(axis=2))
    return statistics


@dataclass(frozen=True)
class BlockKS:
    """A :func:`block_ks_test` result.

    Attributes:
        statistic: the KS statistic D of the latest window against the reference.
        p_value: ``(1 + #{null D >= D}) / (1 + blocks)``.
        critical: the smallest null D that the statistic must exceed for ``p_value <= alpha``
            (the ``floor(alpha (blocks + 1))``-th largest null D).
        blocks: the number of null blocks.
        null_median: the median null D.
    """

    statistic: float
    p_value: float
    critical: float
    blocks: int
    null_median: float


def block_ks_test(
    current: np.ndarray,
    reference: np.ndarray,
    *,
    older: np.ndarray | None = None,
    blocks: int = 99,
    alpha: float = 0.05,
) -> BlockKS:
    """Two-sample KS test of the latest window against the reference by circular block permutation.

    The pool is ``older``, ``reference`` and ``current``, each in time order, read as a circle.
    The statistic is the KS distance of ``current`` (the last block) from ``reference``, as
    ``scipy.stats.ks_2samp(current, reference).statistic``. Its null distribution is the same
    distance for ``min(blocks, pool - 1)`` other blocks of ``len(current)`` consecutive values
    (evenly spaced starts, :func:`block_starts`), each against the ``len(reference)`` values
    that precede it on the circle (:func:`block_ks_statistics`); ``p = (1 + #{null D >= D}) /
    (1 + B)``.

    Why it is calibrated: if the series is stationary, the latest window is just one stretch of
    its own history, however persistent the series, so its rank among the stretches is uniform
    and ``P(p <= alpha)`` is about ``alpha``. Each block is compared only with what precedes it,
    as the latest window (which has no future) is: the ``len(older)`` values after a block are
    left out, so that its comparison does not contain its own next values, which for a
    persistent feature resemble it and would shrink the null distances. ``older`` should cover
    the feature's memory; the circle's seam then lies far from the blocks it could bias. Tests
    that assume independent observations, or correct them with an AR(1) effective size, are
    either far too eager or, for persistent indicators, unable to flag anything. Power comes
    from the latest window being more unusual than (almost) every earlier stretch, e.g. a level
    of volatility the pool has not seen.

    NaNs are dropped first (the order of the remaining values is kept: it defines the blocks).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> calm = block_ks_test(rng.normal(size=20), rng.normal(size=500))
        >>> calm.p_value > 0.05, calm.blocks
        (True, 99)
        >>> block_ks_test(rng.normal(size=20) + 3.0, rng.normal(size=500)).p_value
        0.01

    Raises:
        ValueError: ``current`` or ``reference`` is empty once NaNs are dropped.
    """
    a, b, c = (np.asarray(x, dtype=float) for x in (current, reference, np.empty(0) if older is None else older))
    a, b, c = a[~np.isnan(a)], b[~np.isnan(b)], c[~np.isnan(c)]
    if len(a) == 0 or len(b) == 0:
        raise ValueError("block_ks_test needs non-empty samples (after dropping NaNs)")
    return _block_ks_tests(np.concatenate([c, b, a])[None, :], len(a), len(c), blocks, alpha)[0]


_ROWS_AT_ONCE = 128  # pools per numpy call of the batched test: about 4 MB per array at the shipped windows


def _block_ks_tests(pools: np.ndarray, window: int, gap: int, blocks: int, alpha: float) -> list[BlockKS]:
    """:func:`block_ks_test` of each row of ``pools`` (``older``, ``reference`` and ``current``
    concatenated, no NaN; every row the same lengths), in batches of rows."""
    rows, n = pools.shape
    starts = block_starts(n, window, blocks)
    d = np.concatenate(
        [_block_ks_rows(pools[r : r + _ROWS_AT_ONCE], window, starts, gap) for r in range(0, rows, _ROWS_AT_ONCE)]
    )
    observed, null = d[:, 0], np.sort(d[:, 1:], axis=1)[:, ::-1]
    count = null.shape[1]
    exceed = np.count_nonzero(null >= observed[:, None], axis=1)
    allowed = math.floor(alpha * (count + 1) + 1e-9) - 1  # null values >= D that still leave p <= alpha
    critical = null[:, allowed] if 0 <= allowed < count else np.full(rows, math.inf if allowed < 0 else 0.0)
    medians = np.median(null, axis=1)
    return [
        BlockKS(float(observed[r]), (1 + int(exceed[r])) / (1 + count), float(critical[r]), count, float(medians[r]))
        for r in range(rows)
    ]


@dataclass(frozen=True)
class _Verdict:
    """One comparison on one session: ``statistic`` and ``p_value`` None while warming up."""

    statistic: float | None
    p_value: float | None
    drifted: bool
    detail: dict[str, object]
    threshold: float | None = None  # the row's own threshold when the test has one (else the rule's)


def _num(value: float) -> float:
    """A float for the JSON detail: 6 significant digits."""
    return float(f"{value:.6g}")


def _warming_up(n_current: int, n_reference: int) -> _Verdict:
    return _Verdict(None, None, False, {"status": WARMING_UP, "n_current": n_current, "n_reference": n_reference})


def _windows(k: int, window: int, reference: int, gap: int = 0) -> tuple[int, int] | None:
    """``(start of the reference, start of the latest window)`` in a series whose report day
    ends at position ``k`` (exclusive), or None while either window is short (the ``gap``
    values before the reference must all be there)."""
    n_reference = min(reference, max(k - window - gap, 0))
    if k < window or n_reference < reference / 2:
        return None
    return k - window - n_reference, k - window


_Request = tuple[int, np.datetime64]  # (series index, session): one verdict to compute
_REQUESTS_AT_ONCE = 8192  # report days of the series handled in one pass of :func:`_sustained`


def _sustained(
    sessions: Sequence[np.ndarray],
    days: np.ndarray,
    verdicts_on: Callable[[list[_Request]], list[_Verdict]],
    sustained_days: int,
) -> list[tuple[int, dt.date, _Verdict, int]]:
    """Per series ``s`` and day of ``days`` that is one of its sorted ``sessions[s]``: the series,
    the day, its verdict and the number of consecutive drifted sessions ending there, looking back
    at most ``sustained_days + 1`` sessions (so the count is capped and never depends on where a
    long run started). Earlier sessions are evaluated on demand, so a day's result does not depend
    on which other days are asked for.

    ``verdicts_on`` answers a list of requests at once: the report days of every series first,
    then the session before each that drifted, and so on (at most ``sustained_days + 1`` rounds),
    so that a day's thousands of tests are a few batched calls (:func:`_ks_verdicts`), not one
    call each. Series are taken a slice at a time (about ``_REQUESTS_AT_ONCE`` report days), which
    bounds the memory of a long range.
    """
    positions = [_day_positions(own, days) for own in sessions]
    out: list[tuple[int, dt.date, _Verdict, int]] = []
    first = 0
    while first < len(sessions):
        last, count = first, 0
        while last < len(sessions) and (last == first or count + len(positions[last]) <= _REQUESTS_AT_ONCE):
            count += len(positions[last])
            last += 1
        cache: dict[tuple[int, int], _Verdict] = {}
        chains = [[s, i, i, 0] for s in range(first, last) for i in positions[s]]  # series, day, session, run
        active = list(range(len(chains)))
        while active:
            wanted = sorted({(chains[c][0], chains[c][2]) for c in active} - cache.keys())
            found = verdicts_on([(s, sessions[s][j]) for s, j in wanted])
            cache.update(zip(wanted, found, strict=True))
            still = []
            for c in active:
                s, i, j, run = chains[c]
                if not cache[(s, j)].drifted:
                    continue
                chains[c][3] = run + 1
                if j - 1 >= max(i - sustained_days, 0):
                    chains[c][2] = j - 1
                    still.append(c)
            active = still
        out += [(s, sessions[s][i].astype(dt.date), cache[(s, i)], run) for s, i, _, run in chains]
        first = last
    return out


class _Rows:
    """Report rows collected column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[object]] = {c: [] for c in REPORT_SCHEMA}

    def add(
        self,
        as_of: dt.date,
        kind: str,
        name: str,
        symbol: str,
        threshold: float,
        verdict: _Verdict,
        sustained: int,
        refit: bool,
    ) -> None:
        row = (
            as_of,
            kind,
            name,
            symbol,
            verdict.statistic,
            verdict.p_value,
            threshold if verdict.threshold is None else verdict.threshold,
            verdict.drifted,
            sustained,
            refit,
            json.dumps(verdict.detail),
        )
        for column, value in zip(self.columns.values(), row, strict=True):
            column.append(value)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.columns, schema=REPORT_SCHEMA).sort("as_of", "kind", "name", "symbol")


def _day_positions(sessions: np.ndarray, days: np.ndarray) -> list[int]:
    """Indices into the sorted ``sessions`` of the ``days`` that are sessions."""
    positions = np.searchsorted(sessions, days)
    found = positions < len(sessions)
    found[found] = sessions[positions[found]] == days[found]
    return sorted(set(positions[found].tolist()))


def _as_days(days: Iterable[dt.date]) -> np.ndarray:
    return np.unique(np.array(list(days), dtype="datetime64[D]"))


def _dates(frame: pl.DataFrame, column: str = "date") -> np.ndarray:
    return frame.get_column(column).cast(pl.Date).to_numpy().astype("datetime64[D]")


def _ks_verdicts(
    series: Sequence[tuple[np.ndarray, np.ndarray]],
    requests: list[_Request],
    window: int,
    reference: int,
    rules: DriftRules,
    describe: Callable[[np.ndarray, np.ndarray], list[dict[str, object]]],
) -> list[_Verdict]:
    """Per request ``(s, day)``: :func:`block_ks_test` of the latest ``window`` values of
    ``series[s]`` (dates, values; sorted, no NaN) dated up to ``day`` against the ``reference``
    before them; drifted when D exceeds both the minimum effect ``rules.threshold`` and the
    test's critical value (i.e. p <= ``rules.alpha``). Requests whose pools have one length are
    tested together (:func:`_block_ks_tests`). ``describe(current, past)``: the detail entries of
    each row of two arrays (the latest windows, the references) of one length."""
    out: list[_Verdict | None] = [None] * len(requests)
    by_length: dict[int, list[tuple[int, int, int]]] = {}  # reference length -> (request, series, end)
    for r, (s, day) in enumerate(requests):
        k = int(np.searchsorted(series[s][0], day, side="right"))
        bounds = _windows(k, window, reference, rules.gap)
        if bounds is None:
            out[r] = _warming_up(min(k, window), max(k - window - rules.gap, 0))
        else:
            by_length.setdefault(bounds[1] - bounds[0], []).append((r, s, k))
    for n_reference, group in by_length.items():
        span = rules.gap + n_reference + window  # older, reference and latest window: one contiguous stretch
        pools = np.stack([series[s][1][k - span : k] for _, s, k in group])
        tests = _block_ks_tests(pools, window, rules.gap, rules.blocks, rules.alpha)
        extra = describe(pools[:, span - window :], pools[:, rules.gap : span - window])
        for (r, _, _), ks, more in zip(group, tests, extra, strict=True):
            threshold = max(rules.threshold, ks.critical)
            detail: dict[str, object] = {
                "status": "ok",
                "test": TEST_NAME,
                "n_current": window,
                "n_reference": n_reference,
                "n_gap": rules.gap,
                "blocks": ks.blocks,
                "null_median": _num(ks.null_median),
                "critical": _num(ks.critical),
                "min_effect": rules.threshold,
                **more,
            }
            out[r] = _Verdict(ks.statistic, ks.p_value, ks.statistic > threshold, detail, threshold)
    return [v for v in out if v is not None]


def _medians(current: np.ndarray, past: np.ndarray) -> list[dict[str, object]]:
    """The detail of a feature test: the median of the latest window and of the reference
    (row by row; ``np.median`` along a row is the median of that row alone)."""
    now, before = np.median(current, axis=1), np.median(past, axis=1)
    return [
        {"median_current": _num(float(c)), "median_reference": _num(float(p))}
        for c, p in zip(now.tolist(), before.tolist(), strict=True)
    ]


def feature_drift(features: pl.DataFrame, days: Iterable[dt.date], rules: DriftRules) -> pl.DataFrame:
    """Feature drift reports (``kind`` "feature", one row per symbol, day and monitored feature).

    For each symbol with a row on a day D of ``days`` and each feature of ``rules.features``:
    the latest window is the symbol's last ``rules.window`` non-null values of the feature dated
    up to D (D included), the reference the ``rules.reference`` values before those. ``statistic``
    and ``p_value`` are :func:`block_ks_test` of the two (``rules.blocks`` null blocks);
    ``threshold`` is the larger of the minimum effect ``rules.threshold`` and the test's
    critical value, and ``drifted`` exactly when the statistic exceeds it (so p <= ``rules.alpha``
    and D > ``rules.threshold``). While either window is short (fewer than ``window``, or fewer
    than half of ``reference`` values) the row has null statistic and p-value, the rule's
    threshold, is not drifted, and its detail says "warming up".

    ``sustained`` is the number of consecutive drifted sessions (the symbol's rows in
    ``features``) ending at D, looking back at most ``sustained_days + 1`` sessions; ``refit``
    when it equals ``sustained_days``, i.e. once per drift episode, on its ``sustained_days``-th
    day. Earlier sessions are evaluated from ``features`` as needed, so a day's rows are the
    same whatever else is in ``days``, provided ``features`` holds the windows'
    history (``window + reference + sustained_days`` sessions before the first day).

    Args:
        features: rows (symbol, date, <feature columns>), any number of symbols, one row per
            symbol and date.
        days: the report days (``as_of``).
        rules: windows and thresholds.

    Returns:
        ``drift_reports`` rows sorted by as_of, kind, name, symbol; detail is JSON with the
        test's name, the window sizes, the number of null blocks, the null median and critical
        value of D, the minimum effect, and the medians of both windows.
    """
    missing = [f for f in rules.features if f not in features.columns]
    if missing:
        raise KeyError(f"feature_drift: features frame lacks monitored columns {missing}")
    order, runs = _by_symbol(features)
    dates = _dates(features)[order]
    columns = {
        name: features.get_column(name).cast(pl.Float64).to_numpy()[order] for name in rules.features
    }  # null: NaN
    keys: list[tuple[str, str]] = []  # (symbol, feature) of each series
    sessions: list[np.ndarray] = []
    series: list[tuple[np.ndarray, np.ndarray]] = []
    for symbol, first, last in runs:
        for name in rules.features:
            values = columns[name][first:last]
            present = ~np.isnan(values)
            keys.append((symbol, name))
            sessions.append(dates[first:last])
            series.append((dates[first:last][present], values[present]))

    def verdicts(requests: list[_Request]) -> list[_Verdict]:
        return _ks_verdicts(series, requests, rules.window, rules.reference, rules, _medians)

    out = _Rows()
    for s, day, verdict, run in _sustained(sessions, _as_days(days), verdicts, rules.sustained_days):
        symbol, name = keys[s]
        out.add(day, "feature", name, symbol, rules.threshold, verdict, run, run == rules.sustained_days)
    return out.frame()


def _by_symbol(frame: pl.DataFrame) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """The row order that sorts ``frame`` by symbol and date, and each symbol's ``(symbol, first
    row, end row)`` in that order.

    Numpy slices of the sorted columns then stand for the symbols' frames: filtering a frame
    per symbol and series cost a millisecond each, and sorting the whole frame by a string and
    a date in polars took half a second on 500 symbols x 4 years; symbols as codes of their
    sorted names and one ``np.lexsort`` of integers give the same order.
    """
    symbols = frame.get_column("symbol")
    names = symbols.unique().sort()
    codes = symbols.cast(pl.Enum(names.to_list())).to_physical().to_numpy()
    days = frame.get_column("date").cast(pl.Date).to_physical().to_numpy()
    order = np.lexsort((days, codes))
    ends = np.cumsum(np.bincount(codes, minlength=names.len())).tolist()
    starts = [0, *ends][: len(ends)]
    return order, [(str(n), first, end) for n, first, end in zip(names.to_list(), starts, ends, strict=True)]


def _proportions(counts: np.ndarray) -> dict[str, float]:
    total = counts.sum()
    return {regime: _num(c / total) for regime, c in zip(REGIMES, counts.tolist(), strict=True)}


def regime_test(current: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Chi-square goodness of fit of regime counts against reference proportions.

    Args:
        current: counts per regime (order :data:`REGIMES`) in the latest window.
        reference: counts per regime in the reference window.

    Returns:
        ``(chi2, p, psi)``: ``chi2 = sum (O - E)^2 / E`` with ``E = n p`` and ``p`` the reference
        proportions after adding ``REGIME_SMOOTHING`` counts to every regime (a regime never
        seen in the reference has a small, not zero, expectation); ``p`` its upper tail with
        ``len(REGIMES) - 1`` degrees of freedom; ``psi`` the population stability index
        ``sum (c - r) ln(c / r)`` of the smoothed current and reference proportions.
    """
    observed = np.asarray(current, dtype=float)
    smoothed_ref = np.asarray(reference, dtype=float) + REGIME_SMOOTHING
    expected = observed.sum() * smoothed_ref / smoothed_ref.sum()
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    # scipy.stats.chi2.sf is this function behind 0.1 ms of argument checks per call (chi2 >= 0 here)
    p_value = float(special.chdtrc(len(observed) - 1, chi2))
    cur = (observed + REGIME_SMOOTHING) / (observed + REGIME_SMOOTHING).sum()
    ref = smoothed_ref / smoothed_ref.sum()
    psi = float(np.sum((cur - ref) * np.log(cur / ref)))
    return chi2, p_value, psi


def regime_threshold(rules: DriftRules) -> float:
    """The chi-square critical value at ``rules.regime_alpha`` (``len(REGIMES) - 1`` degrees of freedom)."""
    return float(stats.chi2.isf(rules.regime_alpha, len(REGIMES) - 1))


def _shift(current: np.ndarray, reference: np.ndarray, today: str) -> str | None:
    """ "<reference's most common regime> -> <today's regime>" when they differ, else the regime
    whose share grew most; None when that is the reference's most common regime itself."""
    usual = REGIMES[int(np.argmax(reference))]
    if today != usual:
        return f"{usual} -> {today}"
    growth = current / current.sum() - reference / reference.sum()
    grown = REGIMES[int(np.argmax(growth))]
    return f"{usual} -> {grown}" if grown != usual and growth.max() > 0 else None


def _regime_verdict(series: tuple[np.ndarray, np.ndarray], rules: DriftRules, day: np.datetime64) -> _Verdict:
    label_dates, labels = series
    k = int(np.searchsorted(label_dates, day, side="right"))
    bounds = _windows(k, rules.regime_window, rules.regime_reference)
    if bounds is None:
        return _warming_up(min(k, rules.regime_window), max(k - rules.regime_window, 0))
    ref_start, cur_start = bounds
    current = np.bincount(labels[cur_start:k], minlength=len(REGIMES))
    past = np.bincount(labels[ref_start:cur_start], minlength=len(REGIMES))
    chi2, p_value, psi = regime_test(current, past)
    detail: dict[str, object] = {
        "status": "ok",
        "n_current": int(current.sum()),
        "n_reference": int(past.sum()),
        "current": _proportions(current),
        "reference": _proportions(past),
        "psi": _num(psi),
        "shift": _shift(current, past, REGIMES[labels[k - 1]]),
    }
    return _Verdict(chi2, p_value, p_value < rules.regime_alpha, detail)


def regime_drift(regimes: pl.DataFrame, days: Iterable[dt.date], rules: DriftRules) -> pl.DataFrame:
    """Regime drift reports (``kind`` and ``name`` "regime", one row per symbol and day).

    Per symbol with a row on a day D of ``days``: the counts of each regime over the latest
    ``rules.regime_window`` labelled sessions up to D against the proportions of the
    ``rules.regime_reference`` labelled sessions before them (null labels, the classifier's
    warm-up, are skipped), by :func:`regime_test`. ``statistic`` is the chi-square,
    ``threshold`` its critical value at ``regime_alpha``, ``drifted`` when p < ``regime_alpha``.
    Short windows (as in :func:`feature_drift`) give "warming up" rows. Detail (JSON): both
    distributions (proportions), ``psi`` and ``shift``: "<reference's most common regime> ->
    <regime of D>" (the latest label up to D) when they differ, e.g. "normal -> crash", else the
    regime whose share grew most, or null. ``sustained`` and ``refit`` as in
    :func:`feature_drift`.

    Note that the test treats sessions as independent, and regimes persist for weeks: read a
    regime drift as "the recent mix of regimes is unusual", not as a calibrated error rate (the
    reference proportions are estimated but tested as if known). With windows of 100 against
    500 at 1% it flagged 71% of ^GSPC sessions of 2012-2017, and one never-seen regime among
    100 was not significant (chi-square about 8.3); the shipped 20 against 250 at 0.1% flags
    12.7% of those sessions and a crash on its first day (``bench/drift_eval.py``).

    Args:
        regimes: rows (symbol, date, regime), regime one of :data:`REGIMES` or null.
        days: the report days.
        rules: windows and significance.
    """
    unknown = set(regimes.get_column("regime").drop_nulls().unique().to_list()) - set(REGIMES)
    if unknown:
        raise ValueError(f"regime_drift: unknown regime labels {sorted(unknown)}")
    wanted_days = _as_days(days)
    threshold = regime_threshold(rules)
    codes = pl.Enum(list(REGIMES))
    order, runs = _by_symbol(regimes)
    dates = _dates(regimes)[order]
    labelled = regimes.get_column("regime").is_not_null().to_numpy()[order]
    labels = regimes.get_column("regime").cast(codes).to_physical().fill_null(0).to_numpy()[order]
    symbols: list[str] = []
    sessions: list[np.ndarray] = []
    series: list[tuple[np.ndarray, np.ndarray]] = []
    for symbol, first, last in runs:
        own = labelled[first:last]
        symbols.append(symbol)
        sessions.append(dates[first:last])
        series.append((dates[first:last][own], labels[first:last][own]))

    def verdicts(requests: list[_Request]) -> list[_Verdict]:
        return [_regime_verdict(series[s], rules, day) for s, day in requests]

    out = _Rows()
    for s, day, verdict, run in _sustained(sessions, wanted_days, verdicts, rules.sustained_days):
        out.add(day, "regime", "regime", symbols[s], threshold, verdict, run, run == rules.sustained_days)
    return out.frame()


PREDICTION_QUANTITIES = {"predicted_return": "predicted_return_pct", "confidence": "confidence"}


def _means(quantity: str, current: np.ndarray, past: np.ndarray) -> list[dict[str, object]]:
    """The detail of a prediction test: both means and their change, row by row."""
    out: list[dict[str, object]] = []
    for now, before in zip(current, past, strict=True):
        mean_current, mean_reference = float(now.mean()), float(before.mean())
        out.append(
            {
                "mean_current": _num(mean_current),
                "mean_reference": _num(mean_reference),
                f"avg_{quantity}_change": _num(mean_current - mean_reference),
            }
        )
    return out


def prediction_drift(ledger: pl.DataFrame, days: Iterable[dt.date], rules: DriftRules) -> pl.DataFrame:
    """Prediction drift reports (``kind`` "prediction", ``symbol`` :data:`ALL_SYMBOLS`), per strategy.

    Like is compared with like: one series per strategy type and quantity, named
    ``<strategy_type>.predicted_return`` (from ``predicted_return_pct``) and
    ``<strategy_type>.confidence``. Pooling the strategies would test the mix, not the
    predictions: an iron condor's predicted return is on another scale than a directional
    trade's, so a day with more condors moves the pooled distribution though no strategy
    changed (the pooled test flagged 64% of the default run's days).

    Per name with rows on a day D of ``days``: :func:`block_ks_test` of the latest
    ``rules.prediction_window`` values dated up to D against the ``rules.prediction_reference``
    values before them; threshold and drifted as in :func:`feature_drift`. Several values on
    one date (one per symbol) are ordered by symbol (when the ledger has that column), then by
    value, so the windows are deterministic; ordering by value alone would make a block that
    cuts a date in two hold that date's lowest or highest values, and widen the null. ``sustained`` counts the name's consecutive drifted dates (dates with a
    prediction of that strategy) as in :func:`feature_drift`; ``refit`` is always False:
    prediction drift is informational, and the forecasting asset must not depend on its own
    outputs' reports. Detail (JSON): as for features, with both means and
    ``avg_<quantity>_change`` (latest mean minus reference mean, in the quantity's own units:
    percent for the predicted return, a fraction for confidence).

    Args:
        ledger: ``strategy_predictions`` rows with date, strategy_type, predicted_return_pct,
            confidence and (optional) symbol; null or NaN values are skipped.
        days: the report days.
        rules: windows and thresholds.
    """
    within_date = ["symbol"] if "symbol" in ledger.columns else []
    values = pl.concat(
        [
            ledger.select(
                "date",
                *within_date,
                name=pl.col("strategy_type") + f".{quantity}",
                quantity=pl.lit(quantity),
                value=pl.col(column).cast(pl.Float64),
            )
            for quantity, column in PREDICTION_QUANTITIES.items()
        ]
    )
    wanted_days = _as_days(days)
    out = _Rows()
    ordered = values.sort("name", "date", *within_date, "value", nulls_last=True)
    for (name, quantity), group in ordered.group_by("name", "quantity", maintain_order=True):
        sessions = np.unique(_dates(group))
        present = group.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        series = [(_dates(present), present.get_column("value").to_numpy())]
        describe = functools.partial(_means, str(quantity))
        verdicts = functools.partial(
            _ks_verdicts,
            series,
            window=rules.prediction_window,
            reference=rules.prediction_reference,
            rules=rules,
            describe=describe,
        )
        for _, day, verdict, run in _sustained([sessions], wanted_days, verdicts, rules.sustained_days):
            out.add(day, "prediction", str(name), ALL_SYMBOLS, rules.threshold, verdict, run, False)
    return out.frame()
