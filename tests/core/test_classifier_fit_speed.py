"""The direction classifier's fit made cheaper without changing a bit: each vectorized helper
against the loop or the scikit-learn routine it replaced (the oracles, written out here)."""

import dataclasses

import numpy as np
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import forecasting as fc
from tests.conftest import REPO

SETTINGS = load_config(REPO / "config").forecasting


def _replay_weights_loop(
    dates: np.ndarray, target: np.ndarray, calls: dict, settings: fc.ForecastSettings
) -> np.ndarray:
    """``replay_weights`` as it was: a dictionary lookup per row, the errors sorted as tuples."""
    weights = np.ones(len(dates))
    errors = []
    for i, (day, outcome) in enumerate(zip(dates, target, strict=True)):
        p = calls.get(day)
        if p is None or np.isnan(outcome) or outcome == 0 or p == 0.5:
            continue
        confidence = max(p, 1.0 - p)
        if (p > 0.5) != (outcome > 0) and confidence >= settings.replay_min_confidence:
            errors.append((confidence, day, i))
    for _, _, i in sorted(errors, reverse=True)[: settings.replay_size]:
        weights[i] = settings.replay_weight
    return weights


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_replay_weights_are_the_loop_to_the_bit(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    dates = np.arange(np.datetime64("2017-01-02"), np.datetime64("2017-01-02") + n)
    target = rng.normal(0.0, 0.01, n)
    target[rng.choice(n, 20, replace=False)] = np.nan  # outcomes not known yet
    target[rng.choice(n, 10, replace=False)] = 0.0  # nothing to judge
    # calls on part of the rows (and on days outside the window), coarse so confidences tie
    called = rng.choice(np.arange(-50, n + 50), 250, replace=False)
    probabilities = np.round(rng.uniform(0.0, 1.0, len(called)), 1)
    calls: dict = {dates[0] + int(d): float(p) for d, p in zip(called, probabilities, strict=True)}
    calls[dates[3]] = 0.5  # no direction
    settings = dataclasses.replace(SETTINGS, replay_size=size, replay_weight=3.0, replay_min_confidence=0.6)
    ours = fc.replay_weights(dates, target, calls, settings)
    assert ours.tobytes() == _replay_weights_loop(dates, target, calls, settings).tobytes()
    if size == 1000:
        assert (ours == 3.0).sum() > 10  # the comparison covers replayed rows


def test_replay_weights_without_calls_or_rows() -> None:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-04"))
    assert fc.replay_weights(dates, np.zeros(3), {}, SETTINGS).tolist() == [1.0, 1.0, 1.0]
    empty = np.array([], dtype="datetime64[D]")
    assert fc.replay_weights(empty, np.array([]), {dates[0]: 0.9}, SETTINGS).tolist() == []


@pytest.mark.parametrize(
    "values",
    [
        np.array([np.nan, np.nan]),
        np.array([], dtype=float),
        np.array([1.0, 1.0, np.nan]),
        np.array([-0.0, 0.0, np.nan]),
        np.array([np.nan, 2.0, 1.0]),
        np.array([-np.inf, np.inf]),
        np.array([5.0]),
    ],
)
def test_two_values_is_the_count_of_distinct_values(values: np.ndarray) -> None:
    assert fc._two_values(values) == (len(np.unique(values[~np.isnan(values)])) >= 2)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("distinct", [3, 200, 255, 256, 2000])
def test_quantile_edges_are_scikit_learns_thresholds(seed: int, distinct: int) -> None:
    """Ties, NaN, signed zeros and replayed weights, on both sides of 255 distinct values."""
    from sklearn.ensemble._hist_gradient_boosting.binning import _find_binning_thresholds

    rng = np.random.default_rng(seed)
    values = rng.choice(np.linspace(-1.0, 1.0, distinct), 600)
    values[rng.choice(600, 30, replace=False)] = np.nan
    values[:4] = [0.0, -0.0, 0.0, -0.0]
    weights = np.where(rng.uniform(size=600) < 0.2, 3.0, 1.0)
    edges = fc.quantile_edges(values, weights)
    expected = _find_binning_thresholds(values[~np.isnan(values)], 255, weights[~np.isnan(values)])
    assert edges.tobytes() == expected.tobytes()


def test_compiled_raw_scores_are_contiguous_and_the_decision_function() -> None:
    """What the sigmoid calibration is fitted on: the compiled trees' scores of raw rows are the
    trees' ``decision_function`` on the bin numbers, to the bit, in a contiguous array."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 4))
    x[rng.uniform(size=x.shape) < 0.05] = np.nan
    y = (x[:, 0] + rng.normal(size=500) > 0).astype(int)
    edges = tuple(fc.quantile_edges(x[:400, j], np.ones(400)) for j in range(4))
    trees = HistGradientBoostingClassifier(max_iter=40, max_depth=3, learning_rate=0.08, early_stopping=False)
    trees.fit(fc.bin_codes(x[:400], edges), y[:400])
    raw = fc.CompiledClassifier.of_trees(trees, edges, 0.0, 0.0).raw(x[400:])
    assert raw.flags.c_contiguous
    assert raw.tobytes() == trees.decision_function(fc.bin_codes(x[400:], edges)).tobytes()
