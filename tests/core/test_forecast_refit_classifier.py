"""The direction classifier's refit without ``CalibratedClassifierCV``: the same state to the
bit as the path it replaced (kept here as the oracle), on several windows, series and seeds."""

import dataclasses
import datetime as dt
import math
import pickle
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import features as F
from lakehouse_assets.core import forecasting as fc
from tests.conftest import REPO, bundled_bars

SETTINGS = load_config(REPO / "config").forecasting


def _calibrated_direction_fit(
    window: fc.Window,
    settings: fc.ForecastSettings,
    calls: Mapping[int, Mapping[np.datetime64, float]] | None = None,
    horizons: Sequence[int] | None = None,
) -> fc.State:
    """``direction_fit`` as it was: the sigmoid fitted by ``CalibratedClassifierCV`` on the frozen
    trees (one "fold" holding every calibration row), compiled from that object."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    columns = {n: window.features[n] for n in settings.classifier_features}
    features: dict[str, list[str]] = {}
    models: dict[str, object] = {}
    report: dict[str, dict[str, object]] = {}
    for h in settings.horizons if horizons is None else horizons:
        target = fc.forward_returns(window.returns, h)
        rows = np.flatnonzero(~np.isnan(target))
        train, calibrate, valid = fc.purged_blocks(rows, settings.classifier_validation_fraction, h - 1)
        block = len(valid)
        labels = (target > 0).astype(int)
        usable = [n for n, v in columns.items() if len(train) and len(np.unique(v[train][~np.isnan(v[train])])) >= 2]
        if block < 20 or len(train) < 100 or not usable:
            report[str(h)] = {"accepted": False, "reason": f"{len(rows)} labelled rows, {len(usable)} usable features"}
            continue
        if len(np.unique(labels[train])) < 2 or len(np.unique(labels[calibrate])) < 2:
            report[str(h)] = {"accepted": False, "reason": "one class only"}
            continue
        x = np.column_stack([columns[n] for n in usable])
        features[str(h)] = usable
        base = HistGradientBoostingClassifier(
            max_iter=40, max_depth=3, learning_rate=0.08, early_stopping=False, random_state=settings.seed
        )
        weights = fc.replay_weights(window.dates, target, (calls or {}).get(h, {}), settings)
        edges = tuple(fc.quantile_edges(x[train, j], weights[train]) for j in range(x.shape[1]))
        codes = fc.bin_codes(x, edges)
        with fc._Silenced():
            base.fit(codes[train], labels[train], sample_weight=weights[train])
            whole = [(np.arange(0), np.arange(len(calibrate)))]
            calibrated = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid", cv=whole)
            calibrated.fit(codes[calibrate], labels[calibrate])
        classifier = _compiled_as_before(fc.BinnedClassifier(edges, calibrated))
        p = classifier.predict_proba(x[valid])[:, 1]
        position = np.where(p > 0.5, 1.0, -1.0)
        pnl = position * target[valid]
        sd = pnl.std(ddof=1)
        sharpe = float(pnl.mean() / sd * math.sqrt(252.0 / h)) if sd > 0 else 0.0
        win_rate = float((pnl > 0).mean())
        accepted = sharpe >= settings.classifier_min_sharpe and win_rate >= settings.classifier_min_win_rate
        report[str(h)] = {
            "accepted": accepted,
            "validation_sharpe": sharpe,
            "validation_win_rate": win_rate,
            "train_rows": len(train),
            "replayed_rows": int((weights[train] != 1.0).sum()),
            "validation_rows": len(valid),
            "mean_abs_return": float(np.abs(target[train]).mean()),
            "return_std": float(target[train].std(ddof=1)),
        }
        models[str(h)] = classifier
    return {"features": features, "report": report, "models": models}


def _compiled_as_before(fitted: fc.BinnedClassifier) -> fc.CompiledClassifier:
    """``CompiledClassifier.of`` as it was: read from the calibrated object, splits moved node by node."""
    (one,) = fitted.model.calibrated_classifiers_  # type: ignore[attr-defined]
    (sigmoid,) = one.calibrators
    trees = one.estimator.estimator
    assert one.method == "sigmoid" and trees.n_trees_per_iteration_ == 1
    nodes = [predictor.nodes for (predictor,) in trees._predictors]
    offsets = np.cumsum([0] + [len(n) for n in nodes])
    every = np.concatenate(nodes)
    leaf = every["is_leaf"].astype(bool)
    feature = np.where(leaf, 0, every["feature_idx"]).astype(np.uint8)
    split = every["value"].astype(np.float64)
    for i in np.flatnonzero(~leaf):
        edges, threshold = fitted.edges[feature[i]], float(every["num_threshold"][i])
        k = math.floor(threshold) if threshold < len(edges) else len(edges)
        split[i] = edges[k] if k < len(edges) else np.inf
    shift = np.repeat(offsets[:-1], [len(n) for n in nodes])
    return fc.CompiledClassifier(
        roots=offsets[:-1].astype(np.int16),
        feature=feature,
        split=split,
        leaf=leaf,
        left=np.where(leaf, 0, every["left"] + shift).astype(np.int16),
        right=np.where(leaf, 0, every["right"] + shift).astype(np.int16),
        missing_left=every["missing_go_to_left"].astype(bool),
        baseline=float(trees._baseline_prediction[0, 0]),
        a=float(sigmoid.a_),
        b=float(sigmoid.b_),
    )


@pytest.fixture(scope="module")
def series() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """Two bundled real series as the columns a ``Window`` slices (dates, returns, log close, features)."""
    out = {}
    for dataset, symbol in (("arch.sp500", "^GSPC"), ("arch.nasdaq", "^IXIC")):
        bars = bundled_bars(dataset, symbol)
        joined = bars.join(F.compute_features(bars), on=["symbol", "date"], how="left")
        out[symbol] = (
            joined["date"].to_numpy().astype("datetime64[D]"),
            joined["log_return"].fill_null(np.nan).to_numpy(),
            np.log(joined["close"].to_numpy()),
            {n: joined[n].cast(pl.Float64).fill_null(np.nan).to_numpy() for n in SETTINGS.feature_columns},
        )
    return out


def _window(columns: tuple, day: dt.date, size: int) -> fc.Window:
    dates, returns, log_close, features = columns
    hi = int(np.searchsorted(dates, np.datetime64(day), side="right"))
    lo = max(hi - size, 0)
    return fc.Window(dates[lo:hi], returns[lo:hi], log_close[lo:hi], {n: v[lo:hi] for n, v in features.items()})


def _assert_same_state(new: fc.State, old: fc.State) -> None:
    assert new["features"] == old["features"]
    assert new["report"] == old["report"]  # floats compared exactly
    assert new["models"].keys() == old["models"].keys()
    for h, model in new["models"].items():
        expected = old["models"][h]
        for f in dataclasses.fields(fc.CompiledClassifier):
            ours, theirs = getattr(model, f.name), getattr(expected, f.name)
            if isinstance(ours, np.ndarray):
                assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (h, f.name)
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{h} {f.name}")
            else:
                assert type(ours) is type(theirs) and ours == theirs, (h, f.name, ours, theirs)
    assert pickle.dumps(new, protocol=5) == pickle.dumps(old, protocol=5)


CASES = [
    # symbol, refit day, fit window, seed, replayed calls
    ("^GSPC", dt.date(2012, 6, 11), 750, 0, False),
    ("^GSPC", dt.date(2008, 10, 6), 750, 1, True),
    ("^GSPC", dt.date(2003, 3, 3), 300, 7, False),
    ("^IXIC", dt.date(2015, 9, 14), 750, 0, True),
    ("^IXIC", dt.date(2018, 12, 3), 500, 3, False),
]


@pytest.mark.parametrize(("symbol", "day", "size", "seed", "replay"), CASES)
def test_direction_fit_is_the_calibrated_classifier_path_bit_for_bit(
    series: dict, symbol: str, day: dt.date, size: int, seed: int, replay: bool
) -> None:
    settings = dataclasses.replace(SETTINGS, fit_window=size, seed=seed)
    window = _window(series[symbol], day, size)
    calls = None
    if replay:
        rng = np.random.default_rng(seed)
        calls = {h: {d: float(rng.uniform(0.0, 1.0)) for d in window.dates} for h in settings.horizons}
    new = fc.direction_fit(window, settings, calls)
    old = _calibrated_direction_fit(window, settings, calls)
    assert len(new["models"]) >= 2  # the comparison covers fitted models, not only rejections
    if replay:
        assert any(r.get("replayed_rows", 0) > 0 for r in new["report"].values())
    _assert_same_state(new, old)
    # the subset of horizons the rollback rule refits alone, too
    _assert_same_state(
        fc.direction_fit(window, settings, calls, [5]), _calibrated_direction_fit(window, settings, calls, [5])
    )


def test_the_sigmoid_is_the_calibrated_classifier_cv_sigmoid_on_the_decision_function(series: dict) -> None:
    """The private routine ``direction_fit`` calls is the one ``CalibratedClassifierCV`` ends in,
    for the installed scikit-learn: the same ``a`` and ``b`` for frozen binary trees."""
    from sklearn.calibration import CalibratedClassifierCV, _sigmoid_calibration
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    rng = np.random.default_rng(11)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + rng.normal(size=400) > 0).astype(int)
    trees = HistGradientBoostingClassifier(max_iter=40, max_depth=3, early_stopping=False).fit(x[:300], y[:300])
    calibrated = CalibratedClassifierCV(FrozenEstimator(trees), method="sigmoid").fit(x[300:], y[300:])
    ((sigmoid,),) = [c.calibrators for c in calibrated.calibrated_classifiers_]
    a, b = _sigmoid_calibration(trees.decision_function(x[300:]), y[300:])
    assert (float(a), float(b)) == (float(sigmoid.a_), float(sigmoid.b_))
