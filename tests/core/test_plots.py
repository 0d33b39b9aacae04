"""Every plot is a valid PNG of the documented size, draws what its input holds (colors
that only its data can put there), and an empty input gives the small placeholder."""

import base64
import datetime as dt
import io

import numpy as np
import polars as pl
import pytest
from PIL import Image

from lakehouse_assets import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FULL = (800, 320)  # 8 x 3.2 in at 100 dpi
PLACEHOLDER = (800, 160)
RED = (0xD6, 0x27, 0x28)  # actuals and drifted days
DAYS = [dt.date(2018, 1, 2) + dt.timedelta(days=i) for i in range(60)]


def image(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.format == "PNG"
    return picture


def pixels_near(png: bytes, color: tuple[int, int, int], tolerance: int = 40) -> int:
    rgb = np.asarray(image(png).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.array(color)).sum(axis=2) <= tolerance).sum())


def forecasts(n: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    point = rng.normal(0, 0.001, n)
    return pl.DataFrame(
        {
            "symbol": ["^GSPC"] * n,
            "model": ["auto_arima"] * (n // 2) + ["naive"] * (n - n // 2),
            "target_date": DAYS[:n],
            "point": point,
            "lower_80": point - 0.012,
            "upper_80": point + 0.012,
            "lower_95": point - 0.02,
            "upper_95": point + 0.02,
        }
    )


def bars(n: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(4)
    returns = rng.normal(0, 0.01, n)
    return pl.DataFrame(
        {"symbol": ["^GSPC"] * n, "date": DAYS[:n], "log_return": returns, "close": 2700 * np.exp(np.cumsum(returns))}
    )


def weights() -> pl.DataFrame:
    rows = [
        (day, strategy, regime, 1.0 - 0.005 * i * (strategy == "iron_condor") * (1 if regime == "normal" else 0.5))
        for i, day in enumerate(DAYS)
        for strategy in ("iron_condor", "swing_momentum")
        for regime in ("normal", "crash")
    ]
    return pl.DataFrame(rows, schema=["as_of", "strategy_type", "regime", "weight"], orient="row")


def drift(drifted_days: int) -> pl.DataFrame:
    rows = []
    for i, day in enumerate(DAYS):
        for name, statistic in (("rsi_14", 0.05 + i / 400), ("adx_14", 0.08)):
            drifted = i >= len(DAYS) - drifted_days and name == "rsi_14"
            rows.append((day, "feature", name, "^GSPC", statistic, 0.15, drifted))
    columns = ["as_of", "kind", "name", "symbol", "statistic", "threshold", "drifted"]
    return pl.DataFrame(rows, schema=columns, orient="row")


def metrics() -> pl.DataFrame:
    """``backtest_metrics`` rows: realised P&L and the open positions' marks, by day."""
    rng = np.random.default_rng(5)
    rows = []
    for strategy in ("all", "iron_condor", "swing_momentum", "mean_reversion"):
        realised = np.cumsum(rng.normal(10, 100, 60))
        for day, pnl, open_pnl in zip(DAYS[:60], realised, rng.normal(0, 50, 60), strict=True):
            rows.append((day, strategy, float(pnl), float(open_pnl)))
    rows.append((DAYS[0] - dt.timedelta(days=1), "forecast_follow", None, None))  # no position yet
    return pl.DataFrame(
        rows,
        schema={"as_of": pl.Date, "strategy_type": pl.String, "total_pnl": pl.Float64, "unrealized_pnl": pl.Float64},
        orient="row",
    )


def regimes(crash: bool) -> pl.DataFrame:
    labels = [None] * 10 + ["normal"] * 30 + (["crash"] * 10 if crash else ["normal"] * 10) + ["recovery"] * 10
    return pl.DataFrame(
        {"symbol": ["^GSPC"] * 60, "date": DAYS, "regime": labels},
        schema={"symbol": pl.String, "date": pl.Date, "regime": pl.String},
    )


def test_forecast_vs_actual_draws_the_actuals_only_where_they_exist() -> None:
    drawn = plots.forecast_vs_actual(forecasts(), bars(), "^GSPC")
    assert image(drawn).size == FULL
    without = plots.forecast_vs_actual(forecasts(), bars().clear(), "^GSPC")
    assert image(without).size == FULL
    assert pixels_near(drawn, RED, 10) > 20 * pixels_near(without, RED, 10) + 50  # the red dots are the actuals


def test_forecast_vs_actual_of_another_symbol_is_the_placeholder() -> None:
    assert image(plots.forecast_vs_actual(forecasts(), bars(), "MSFT")).size == PLACEHOLDER


def test_strategy_weights_falls_back_to_the_mean_over_regimes() -> None:
    assert image(plots.strategy_weights(weights())).size == FULL
    only_crash = weights().filter(pl.col("regime") == "crash")
    assert image(plots.strategy_weights(only_crash)).size == FULL
    assert plots.strategy_weights(only_crash) != plots.strategy_weights(weights())


def test_drift_marks_drifted_days_in_red() -> None:
    quiet = plots.drift_statistics(drift(0))
    alarmed = plots.drift_statistics(drift(5))
    assert image(quiet).size == image(alarmed).size == FULL
    assert pixels_near(quiet, RED) == 0
    assert pixels_near(alarmed, RED) > 20
    assert image(plots.drift_statistics(drift(5), kind="prediction")).size == PLACEHOLDER  # no rows of that kind


def test_equity_curves_are_marked_to_market() -> None:
    frame = metrics()
    drawn = plots.equity_curves(frame)
    assert image(drawn).size == FULL
    assert plots.equity_curves(frame.filter(pl.col("total_pnl").is_not_null())) == drawn  # days before any position
    flat = frame.with_columns(unrealized_pnl=pl.lit(0.0))
    assert plots.equity_curves(flat) != drawn  # the open positions' marks are drawn
    assert image(plots.equity_curves(frame.filter(pl.col("total_pnl").is_null()))).size == PLACEHOLDER


def test_regime_timeline_colors_each_labelled_regime() -> None:
    with_crash = plots.regime_timeline(regimes(crash=True), bars(), "^GSPC")
    calm = plots.regime_timeline(regimes(crash=False), bars(), "^GSPC")
    assert image(with_crash).size == image(calm).size == FULL
    crash = tuple(int(plots.REGIME_COLORS["crash"][i : i + 2], 16) for i in (1, 3, 5))
    assert pixels_near(with_crash, crash, 0) > 2000  # a band of ten days of 60, full height
    assert pixels_near(calm, crash, 0) == 0
    assert image(plots.regime_timeline(regimes(crash=True), bars().clear(), "^GSPC")).size == FULL  # no closes


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.forecast_vs_actual(forecasts().clear(), bars().clear(), "^GSPC"),
        lambda: plots.strategy_weights(weights().clear()),
        lambda: plots.drift_statistics(drift(0).clear()),
        lambda: plots.equity_curves(metrics().clear()),
        lambda: plots.regime_timeline(regimes(True).clear(), bars().clear(), "^GSPC"),
    ],
    ids=["forecast", "weights", "drift", "equity", "regimes"],
)
def test_empty_input_gives_the_placeholder(draw) -> None:  # type: ignore[no-untyped-def]
    png = draw()
    assert image(png).size == PLACEHOLDER
    assert len(png) < 20_000


def test_data_uri_and_markdown_image_embed_the_png() -> None:
    png = plots.placeholder("t")
    uri = plots.data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png
    assert plots.markdown_image("a title", png) == f"![a title]({uri})"
