"""Shared fixtures: a temporary lake, the NYSE calendar, and a pipeline runner."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.lake.delta import Lake

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def calendar() -> TradingCalendar:
    return TradingCalendar("XNYS", dt.date(1986, 1, 1))


def lakehouse_cli(*args: str, cwd: Path = REPO, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``lakehouse ARGS`` as a user runs it (a new process), outside any lake or configuration
    the environment names; ``home`` is its DAGSTER_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEHOUSE_LAKE", "LAKEHOUSE_CONFIG")}
    if home is not None:
        env["DAGSTER_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "lakehouse_assets.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
    )


def bundled_bars(dataset: str, symbol: str) -> pl.DataFrame:
    """A bundled real series as ``ohlcv_daily``-shaped bars, read straight from its package.

    Independent of the pipeline's own loaders, so the oracles in the tests do not share
    code with what they check.
    """
    if dataset == "arch.sp500":
        import arch.data.sp500 as module
    elif dataset == "arch.nasdaq":
        import arch.data.nasdaq as module
    else:
        raise ValueError(dataset)
    frame = pl.from_pandas(module.load().reset_index())
    return frame.select(
        symbol=pl.lit(symbol),
        date=pl.col("Date").cast(pl.Date),
        open=pl.col("Open"),
        high=pl.col("High"),
        low=pl.col("Low"),
        close=pl.col("Close"),
        volume=pl.col("Volume").cast(pl.Float64),
    ).with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log())


@pytest.fixture(scope="session")
def sp500() -> pl.DataFrame:
    """The bundled S&P 500 (1999-01-04..2018-12-31) as bars of symbol ``^GSPC``."""
    return bundled_bars("arch.sp500", "^GSPC")


def edit(path: Path, *pairs: tuple[str, str]) -> None:
    """Replace text in a copied configuration file (each old text must be there)."""
    text = path.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


@pytest.fixture(scope="session")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped configuration with shorter forecasting windows, so that a 9-month range
    has forecasts (from mid-June 2016), scores and champions; models, cadence and pool as shipped."""
    import shutil

    folder = Path(shutil.copytree(REPO / "config", tmp_path_factory.mktemp("cfg") / "config"))
    edit(
        folder / "forecasting.yaml",
        ("fit_window: 750", "fit_window: 250"),
        ("min_observations: 250", "min_observations: 120"),
        ("window: 60 ", "window: 40 "),
        ("window: 126 ", "window: 30 "),
    )
    # nine months are too short for the gate to find skill: naive, whose forecast is 0, would be
    # every champion and forecast_follow would never trade; a manual champion with a drift (GARCH's
    # constant mean) keeps it exercised
    edit(
        folder / "registry.yaml",
        ("min_scored: 40", "min_scored: 20"),
        ("overrides: []", "overrides: [{symbol: ^GSPC, horizon: 5, model: garch}]"),
    )
    return str(folder)


SMALL_RANGE = ("2016-01-04", "2016-09-30")


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory, small_config: str) -> Lake:
    """Every asset over ``SMALL_RANGE`` with ``small_config``, in one run. Shared: tests
    that change it work on a copy."""
    lake = Lake(tmp_path_factory.mktemp("small") / "lake")
    result = run_pipeline(lake.root, *SMALL_RANGE, config_dir=small_config)
    assert result.success, step_errors(result)
    return lake


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")


def run_pipeline(
    lake_root: str,
    start: str,
    end: str,
    ohlcv_dir: str | None = None,
    sentiment_dir: str | None = None,
    symbols: list[str] | None = None,
    config_dir: str | None = None,
    groups: tuple[str, ...] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize every asset (or those of ``groups``) for ``start..end`` as one run on an
    ephemeral instance, with the configuration of ``config_dir`` (default: ``config/``)."""
    from lakehouse_assets.build import build_definitions
    from lakehouse_assets.config import load_config
    from lakehouse_assets.defs.resources import SourcesResource

    defs = build_definitions(
        load_config(config_dir),
        lake_uri=lake_root,
        sources=SourcesResource(ohlcv_dir=ohlcv_dir, sentiment_dir=sentiment_dir, symbols=symbols),
    )
    job = defs.resolve_job_def("daily_job")
    if groups:
        graph = defs.resolve_asset_graph()
        known = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
        assert set(groups) <= known, f"no such group: {sorted(set(groups) - known)}; groups: {sorted(known)}"
        keys = dg.AssetSelection.groups(*groups).resolve(graph)
        job = job.get_subset(asset_selection=keys)
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium through Playwright (tests/browser.py); per module, so Playwright's
    event loop is gone before other modules run."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def pipeline() -> Callable[..., dg.ExecuteInProcessResult]:
    return run_pipeline


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Step key -> the user-facing message of its failure."""
    out = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            out[event.step_key] = (error.cause or error).message
    return out


def snapshot(lake: Lake, name: str) -> pl.DataFrame:
    """Every row of a table, sorted by all columns, for content comparisons."""
    frame = lake.read(name)
    return frame.sort(frame.columns, nulls_last=True)


def terminal_signals() -> None:
    """A child's signals as a terminal or a process manager starts it (``preexec_fn``):
    SIGINT and SIGTERM at their defaults. A suite started as a background job inherits them
    ignored, and a Python or a make started so never stops on them."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
