"""The weight formula at its boundaries, skill measured whatever the units, the fallbacks and
the regime adjustments."""

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import variance
from tests.conftest import REPO

D = dt.date
RULES = load_config(REPO / "config").variance
AS_OF = D(2024, 3, 28)


@pytest.mark.parametrize(
    ("relative", "adjustment"), [(0.0, 1.0), (0.5, 0.75), (1.0, 0.5), (1.5, 0.5), (float("inf"), 0.5)]
)
def test_weight_adjustment_boundaries(relative: float, adjustment: float) -> None:
    """1 - min(relative MAE / 2.0, 0.5): exact -> 1, no better than predicting 0 -> the floor."""
    assert RULES.relative_mae_scale == 2.0 and RULES.weight_adjustment_factor == 0.5
    assert variance.weight_adjustment(relative, RULES) == pytest.approx(adjustment)
    assert variance.weight_adjustment(relative, RULES) == pytest.approx(max(0.5, 1.0 - min(relative / 2.0, 0.5)))


def test_relative_mae_is_the_mae_over_the_mae_of_predicting_zero() -> None:
    assert variance.relative_mae(0.15, 0.30) == 0.5
    assert variance.relative_mae(0.0, 0.0) == 0.0 and variance.relative_mae(0.1, 0.0) == float("inf")


def completed(
    strategy: str, regime: str, errors: list[float], exit_date: dt.date = AS_OF, actuals: list[float] | None = None
) -> pl.DataFrame:
    n = len(errors)
    return pl.DataFrame(
        {
            "strategy_type": [strategy] * n,
            "regime_at_entry": [regime] * n,
            "prediction_error": errors,
            "actual_pnl_pct": actuals if actuals is not None else [0.4] * n,
            "exit_date": [exit_date] * n,
        }
    )


def ledger(strategy: str, predicted: np.ndarray, actual: np.ndarray) -> pl.DataFrame:
    return completed(strategy, "normal", list(predicted - actual), actuals=list(actual))


@pytest.mark.parametrize("seed", range(5))
def test_exact_predictions_weigh_one_and_noise_less_whatever_the_units(seed: int) -> None:
    """Spread-sized returns (sd 0.3 of max loss) predicted exactly: weight 1.0; directional-sized
    returns (sd 0.01 of notional) predicted by pure noise: below 1.0 (the floor). The raw-MAE
    rule had it the other way round (MAE 0 vs ~0.015 -> 1.0 vs 0.96; a noisy spread: 0.5)."""
    rng = np.random.default_rng(seed)
    spread_actual = rng.normal(0.02, 0.3, 40)
    directional_actual = rng.normal(0.001, 0.01, 40)
    frame = pl.concat(
        [
            ledger("iron_condor", spread_actual, spread_actual),  # exact
            ledger("swing_momentum", rng.normal(0.001, 0.01, 40), directional_actual),  # pure noise
        ]
    )
    names = ["iron_condor", "swing_momentum"]
    weights = variance.weights(variance.analyze(frame, AS_OF, names, RULES), AS_OF, names, ["normal"], RULES)
    w = dict(weights.select("strategy_type", "weight").iter_rows())
    assert w["iron_condor"] == 1.0
    assert w["swing_momentum"] < 1.0 and w["swing_momentum"] == pytest.approx(0.5)
    # the units do not matter: the same ledgers in other units give the same weights
    scaled = frame.with_columns(pl.col("prediction_error", "actual_pnl_pct") * 37.0)
    again = variance.weights(variance.analyze(scaled, AS_OF, names, RULES), AS_OF, names, ["normal"], RULES)
    assert again["weight"].to_list() == pytest.approx(weights["weight"].to_list(), rel=1e-12)


def test_partial_skill_lands_between() -> None:
    """Predictions that carry half the signal (actual = prediction + noise of similar size)
    land strictly between the floor and 1."""
    rng = np.random.default_rng(7)
    signal = rng.normal(0.0, 0.01, 200)
    actual = signal + rng.normal(0.0, 0.004, 200)
    analysis = variance.analyze(ledger("mean_reversion", signal, actual), AS_OF, ["mean_reversion"], RULES)
    row = analysis.filter(pl.col("regime") == "all").row(0, named=True)
    assert 0.0 < row["relative_mae"] < 1.0 and 0.5 < row["weight_adjustment"] < 1.0
    assert row["relative_mae"] == pytest.approx(row["mae"] / row["mean_abs_actual"])


def test_groups_with_enough_predictions_get_their_own_adjustment_and_regimes_scale_it() -> None:
    frame = pl.concat(
        [
            completed("iron_condor", "normal", [0.2] * 10),  # MAE 0.2 / mean|actual| 0.4 = 0.5 -> 0.75
            completed("iron_condor", "crash", [0.0] * 4),  # too few of its own: the strategy's
            completed("bull_put_spread", "normal", [0.1] * 9),  # 9 < 10: base weight
            completed("mean_reversion", "normal", [0.0] * 30, exit_date=AS_OF - dt.timedelta(days=30)),  # too old
        ]
    )
    strategies = ["iron_condor", "bull_put_spread", "mean_reversion"]
    analysis = variance.analyze(frame, AS_OF, strategies, RULES)
    rows = {(r["strategy_type"], r["regime"]): r for r in analysis.to_dicts()}
    assert rows[("iron_condor", "all")]["predictions"] == 14
    assert rows[("iron_condor", "all")]["mae"] == pytest.approx(2.0 / 14)
    assert rows[("iron_condor", "normal")]["relative_mae"] == pytest.approx(0.5)
    assert rows[("iron_condor", "normal")]["weight_adjustment"] == pytest.approx(0.75)
    assert rows[("bull_put_spread", "all")]["sufficient"] is False
    assert "9 completed" in rows[("bull_put_spread", "all")]["reason"]
    assert rows[("mean_reversion", "all")]["predictions"] == 0  # outside the 30-day lookback

    weights = variance.weights(analysis, AS_OF, strategies, ["normal", "crash", "high_volatility"], RULES)
    w = {(r["strategy_type"], r["regime"]): r for r in weights.to_dicts()}
    assert w[("iron_condor", "normal")]["weight"] == pytest.approx(0.75)
    assert w[("iron_condor", "normal")]["basis"] == "strategy_regime"
    strategy_level = 1.0 - 2.0 / 14 / 0.4 / 2.0  # relative MAE (2/14) / 0.4, over the scale 2.0
    assert w[("iron_condor", "crash")]["weight"] == pytest.approx(strategy_level * 0.5)  # crash x 0.5
    assert w[("iron_condor", "crash")]["basis"] == "strategy"
    assert w[("bull_put_spread", "normal")]["weight"] == 1.0 and w[("bull_put_spread", "normal")]["basis"] == "base"
    assert "base weight" in w[("bull_put_spread", "normal")]["reason"]
    assert w[("bull_put_spread", "high_volatility")]["weight"] == pytest.approx(0.8)  # base x high_volatility 0.8


def test_disabled_analysis_keeps_base_weights_with_regime_adjustments() -> None:
    off = dataclasses.replace(RULES, enabled=False, strategy_weights={"iron_condor": 2.0})
    analysis = variance.analyze(completed("iron_condor", "normal", [0.3] * 20), AS_OF, ["iron_condor"], off)
    weights = variance.weights(analysis, AS_OF, ["iron_condor"], ["normal", "crash"], off)
    assert weights.select("regime", "weight").rows() == [("normal", 2.0), ("crash", 1.0)]
    assert set(weights["reason"]) == {"variance analysis disabled"}


def test_the_renamed_scale_is_validated_and_the_old_key_rejected(tmp_path: Path) -> None:
    import shutil

    from lakehouse_assets.config import ConfigError

    folder = shutil.copytree(REPO / "config", tmp_path / "config")
    path = folder / "trading_config.yaml"
    text = path.read_text()
    path.write_text(text.replace("relative_mae_scale: 2.0", "mae_scale: 0.40"))
    with pytest.raises(ConfigError, match="mae_scale: renamed relative_mae_scale"):
        load_config(folder)
    path.write_text(text.replace("relative_mae_scale: 2.0", "relative_mae_scale: 0"))
    with pytest.raises(ConfigError, match="relative_mae_scale: must be > 0"):
        load_config(folder)
