"""The first forecasting run on a lake with history but no stored fits, starting on a day that
is both a refit day and an order-search day (the first session of a month, a Monday)."""

from __future__ import annotations

import pytest

from lakehouse_assets.lake.delta import Lake
from tests.conftest import run_pipeline, step_errors

pytestmark = pytest.mark.slow


def test_forecasting_starts_on_a_month_and_week_boundary_without_stored_fits(tmp_path, small_config) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path / "lake")
    history = run_pipeline(
        lake.root, "2015-06-01", "2016-07-29", symbols=["^GSPC"], config_dir=small_config,
        groups=("bronze", "silver", "drift"),
    )  # fmt: skip
    assert history.success, step_errors(history)
    assert not lake.exists("model_fits")

    # 2016-08-01: the month's order search and the week's refit; the classifier's rollback
    # rule also fits the refit before it (2016-07-25), whose window must be in the bars read
    first = run_pipeline(lake.root, "2016-08-01", "2016-08-01", symbols=["^GSPC"], config_dir=small_config)
    assert first.success, step_errors(first)
    forecasts = lake.read("forecasts")
    assert forecasts.height > 0 and set(forecasts.get_column("date").cast(str)) == {"2016-08-01"}
