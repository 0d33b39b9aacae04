"""The weight formula at its boundaries, the fallbacks and the regime adjustments."""

import datetime as dt

import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import variance
from tests.conftest import REPO

D = dt.date
RULES = load_config(REPO / "config").variance
AS_OF = D(2024, 3, 28)


@pytest.mark.parametrize(("mae", "adjustment"), [(0.0, 1.0), (0.1, 0.75), (0.2, 0.5), (0.4, 0.5), (1.5, 0.5)])
def test_weight_adjustment_boundaries(mae: float, adjustment: float) -> None:
    assert variance.weight_adjustment(mae, RULES) == pytest.approx(adjustment)
    original = max(0.5, 1.0 - min(abs(mae) / 0.40, 0.5))  # the original system's formula
    assert variance.weight_adjustment(mae, RULES) == pytest.approx(original)


def completed(strategy: str, regime: str, errors: list[float], exit_date: dt.date = AS_OF) -> pl.DataFrame:
    n = len(errors)
    return pl.DataFrame(
        {
            "strategy_type": [strategy] * n,
            "regime_at_entry": [regime] * n,
            "prediction_error": errors,
            "exit_date": [exit_date] * n,
        }
    )


def test_groups_with_enough_predictions_get_their_own_adjustment_and_regimes_scale_it() -> None:
    frame = pl.concat(
        [
            completed("iron_condor", "normal", [0.2] * 10),  # MAE 0.2 -> 0.5
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
    assert rows[("iron_condor", "normal")]["weight_adjustment"] == pytest.approx(0.5)
    assert rows[("bull_put_spread", "all")]["sufficient"] is False
    assert "9 completed" in rows[("bull_put_spread", "all")]["reason"]
    assert rows[("mean_reversion", "all")]["predictions"] == 0  # outside the 30-day lookback

    weights = variance.weights(analysis, AS_OF, strategies, ["normal", "crash", "high_volatility"], RULES)
    w = {(r["strategy_type"], r["regime"]): r for r in weights.to_dicts()}
    assert w[("iron_condor", "normal")]["weight"] == pytest.approx(0.5)
    assert w[("iron_condor", "normal")]["basis"] == "strategy_regime"
    strategy_level = 1.0 - 2.0 / 14 / 0.40
    assert w[("iron_condor", "crash")]["weight"] == pytest.approx(strategy_level * 0.5)  # crash x 0.5
    assert w[("iron_condor", "crash")]["basis"] == "strategy"
    assert w[("bull_put_spread", "normal")]["weight"] == 1.0 and w[("bull_put_spread", "normal")]["basis"] == "base"
    assert "base weight" in w[("bull_put_spread", "normal")]["reason"]
    assert w[("bull_put_spread", "high_volatility")]["weight"] == pytest.approx(0.8)  # base x high_volatility 0.8


def test_disabled_analysis_keeps_base_weights_with_regime_adjustments() -> None:
    import dataclasses

    off = dataclasses.replace(RULES, enabled=False, strategy_weights={"iron_condor": 2.0})
    analysis = variance.analyze(completed("iron_condor", "normal", [0.3] * 20), AS_OF, ["iron_condor"], off)
    weights = variance.weights(analysis, AS_OF, ["iron_condor"], ["normal", "crash"], off)
    assert weights.select("regime", "weight").rows() == [("normal", 2.0), ("crash", 1.0)]
    assert set(weights["reason"]) == {"variance analysis disabled"}
