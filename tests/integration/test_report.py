"""The report page and the plots in asset metadata, on the shared small lake: five embedded
PNGs, the tables of the latest day on or before DATE (checked against the lake), every value
escaped, missing tables named; the CLI verb; a plot that fails never fails its asset."""

import base64
import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from PIL import Image

from lakehouse_assets import report
from lakehouse_assets.config import load_config
from lakehouse_assets.defs.common import markdown_table, plot_metadata
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import query
from tests.conftest import REPO, SMALL_RANGE, lakehouse_cli, run_pipeline, step_errors

END = dt.date.fromisoformat(SMALL_RANGE[1])
HEADINGS = {
    "weights": "Latest strategy weights",
    "variance": "Variance by strategy and regime",
    "backtest": "Backtest summary",
    "champions": "Champion models",
    "alerts": "Open alerts",
}
IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def pngs(text: str) -> list[Image.Image]:
    images = []
    for encoded in IMAGE.findall(text):
        png = base64.b64decode(encoded)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        picture = Image.open(io.BytesIO(png))
        picture.load()
        images.append(picture)
    return images


def markdown_png(text: str) -> Image.Image:
    """The one PNG embedded in a markdown image."""
    found = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert found, text[:80]
    return pngs(f'src="data:image/png;base64,{found.group(1)}"')[0]


def section(page: str, key: str) -> str:
    """The page from the heading of ``key`` to the next heading."""
    start = page.index(f'<h2 id="{key}">')
    following = page.find("<h2", start + 1)
    return page[start : following if following >= 0 else len(page)]


def header(html_table: str) -> list[str]:
    return re.findall(r"<th>(.*?)</th>", html_table)


def body_rows(html_table: str) -> list[list[str]]:
    """The cells of each body row."""
    body = html_table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


@pytest.mark.slow
def test_the_page_holds_five_plots_and_the_tables_of_the_day(small_lake: Lake, small_config: str) -> None:
    page = report.build(small_lake, load_config(small_config), END)
    images = pngs(page)
    assert len(images) == 5 and all(i.format == "PNG" and i.width == 800 for i in images)
    assert sum(i.size == (800, 320) for i in images) >= 3  # weights, equity and forecasts are drawn in full
    for key, heading in HEADINGS.items():
        assert f'<h2 id="{key}">{heading}</h2>' in page
    # nothing outside the page: every link is an anchor or embedded data
    assert all(v.startswith(("#", "data:")) for v in re.findall(r'(?:src|href)="([^"]*)"', page))
    assert "<script" not in page and "http://" not in page and "https://" not in page

    backtest = small_lake.read("backtest_metrics", END, END)
    rows = body_rows(section(page, "backtest"))
    assert len(rows) == backtest.height == 7  # every strategy and 'all', first
    assert rows[0][1] == "all" and int(rows[0][2]) == backtest.filter(pl.col("strategy_type") == "all")["trades"][0]

    registry = small_lake.read("model_registry", None, END)
    decided = registry.filter(pl.col("as_of") == registry["as_of"].max())
    champions = decided.filter(pl.col("champion")).sort("symbol", "horizon")
    shown = [tuple(r[1:4]) for r in body_rows(section(page, "champions"))]
    assert shown == [(s, str(h), m) for s, h, m in champions.select("symbol", "horizon", "model").iter_rows()]
    assert champions.height > 0

    weights = body_rows(section(page, "weights"))
    strategies = small_lake.read("strategy_weights", END, END)["strategy_type"].unique().sort().to_list()
    assert [r[1] for r in weights] == strategies and all(r[0] == str(END) for r in weights)
    assert header(section(page, "weights"))[:2] == ["as_of", "strategy_type"]  # then one column per regime
    variance = small_lake.read("variance_analysis", END, END)
    assert len(body_rows(section(page, "variance"))) == variance.height

    # the tables are the named queries' answers, column for column and row for row
    for key, name, params in (
        ("variance", "variance_by_strategy_regime", {}),
        ("backtest", "backtest_summary", {}),
        ("champions", "champion_models", {"as_of": str(END)}),
    ):
        columns, answer = query(small_lake, (REPO / "sql" / f"{name}.sql").read_text(), params)
        assert header(section(page, key)) == columns, key
        assert [r[:3] for r in body_rows(section(page, key))] == [[str(v) for v in row[:3]] for row in answer], key


@pytest.mark.slow
def test_an_earlier_day_shows_that_days_tables(small_lake: Lake, small_config: str) -> None:
    page = report.build(small_lake, load_config(small_config), dt.date(2016, 7, 4))  # a holiday: the day before
    for key in ("weights", "variance", "backtest"):
        part = section(page, key)
        assert "as of 2016-07-01" in part and str(END) not in part, key
    earlier = small_lake.read("backtest_metrics", dt.date(2016, 7, 1), dt.date(2016, 7, 1))
    rows = body_rows(section(page, "backtest"))
    assert int(rows[0][2]) == earlier.filter(pl.col("strategy_type") == "all")["trades"][0]
    assert len(pngs(page)) == 5
    before = report.build(small_lake, load_config(small_config), dt.date(2015, 12, 31))  # before the lake's first day
    assert "no rows on or before 2015-12-31" in section(before, "weights")


def test_missing_tables_are_named_and_every_value_is_escaped(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    alert = {c: None for c in TABLES["alerts"].schema} | {
        "alert_id": "abc123",
        "as_of": dt.date(2026, 11, 29),  # the day it fired: a backfill's alert is about earlier days
        "fired_at": dt.datetime(2018, 6, 29, 21, tzinfo=dt.UTC),
        "severity": "warning",
        "rule": "check:<b>bold</b>",
        "asset": "ohlcv_daily",
        "partition": "2018-06-29",
        "message": '<script>alert("x")</script> & more',
        "acknowledged": False,
    }
    lake.merge("alerts", pl.DataFrame([alert], schema=TABLES["alerts"].schema))
    page = report.build(lake, load_config(REPO / "config"), dt.date(2018, 6, 29))
    for key in ("weights", "variance", "backtest", "champions"):
        assert "not materialized yet" in section(page, key), key
    alerts = section(page, "alerts")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in alerts
    assert "check:&lt;b&gt;bold&lt;/b&gt;" in alerts and "<script" not in page and "<b>" not in page
    assert [i.size for i in pngs(page)] == [(800, 160)] * 5  # placeholders, no exception
    # alerts about later days are not shown; acknowledged ones neither, until the acknowledgement expires
    assert "abc123" not in section(report.build(lake, load_config(REPO / "config"), dt.date(2018, 6, 28)), "alerts")
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    acked = pl.DataFrame([alert | {"acknowledged": True, "ack_until": now + dt.timedelta(hours=1)}])
    lake.merge("alerts", acked.cast(TABLES["alerts"].schema))  # type: ignore[arg-type]
    assert report.open_alerts(lake, dt.date(2018, 6, 29), now).is_empty()  # type: ignore[union-attr]
    assert report.open_alerts(lake, dt.date(2018, 6, 29), now + dt.timedelta(hours=2)).height == 1  # type: ignore[union-attr]


def lakehouse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return lakehouse_cli(*args, cwd=cwd)


@pytest.mark.slow
def test_the_cli_writes_the_page_and_an_empty_lake_exits_1(small_lake: Lake, small_config: str, tmp_path: Path) -> None:
    done = lakehouse("report", "--lake", small_lake.root, "--config", small_config, "--out", "out.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "out.html"
    assert done.stdout.startswith("out.html (") and "KiB" in done.stdout
    page = written.read_text()
    assert f"Lakehouse report as of {END}" in page  # the default day: the lake's latest bar
    assert len(pngs(page)) == 5

    (tmp_path / "nothing").mkdir()  # a lake directory with no table yet
    empty = lakehouse("report", "--lake", str(tmp_path / "nothing"), "--config", small_config, cwd=tmp_path)
    assert empty.returncode == 1
    assert len(empty.stderr.strip().splitlines()) == 1 and "empty" in empty.stderr
    assert not (tmp_path / "report.html").exists()
    missing = lakehouse("report", "--lake", str(tmp_path / "nowhere"), "--config", small_config, cwd=tmp_path)
    assert missing.returncode == 2 and "no lake at" in missing.stderr  # a typo is not an empty lake

    bad = lakehouse("report", "--lake", small_lake.root, "--as-of", "2016-13-01", cwd=tmp_path)
    assert bad.returncode == 2 and "--as-of" in bad.stderr


@pytest.mark.slow
def test_materializations_carry_the_plot_and_a_preview(small_lake: Lake, small_config: str, tmp_path: Path) -> None:
    lake = Lake(shutil.copytree(small_lake.root, tmp_path / "lake"))
    result = run_pipeline(lake.root, str(END), str(END), config_dir=small_config, groups=("drift", "strategy"))
    assert result.success, step_errors(result)
    metadata = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    for name in ("strategy_weights", "backtest_metrics", "drift_reports", "prediction_drift"):
        assert markdown_png(metadata[name]["plot"].value).size[0] == 800
        assert metadata[name]["preview"].value.startswith("| ")
        assert {"dagster/row_count", "date_range", "symbols"} <= set(metadata[name])  # what was there stays
    weights = small_lake.read("strategy_weights", END, END)
    assert metadata["strategy_weights"]["dagster/row_count"].value == weights.height
    header = metadata["strategy_weights"]["preview"].value.splitlines()[0]
    assert header == "| " + " | ".join(weights.columns) + " |"
    assert "plot" not in metadata["variance_analysis"]


def test_a_plot_that_fails_is_a_warning_not_a_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(*args: object) -> tuple[str, bytes]:
        raise ValueError("no fonts today")

    monkeypatch.setattr(report, "plot", broken)
    context = dg.build_asset_context()
    warnings: list[str] = []
    monkeypatch.setattr(context.log, "warning", warnings.append)
    config = load_config(REPO / "config")
    assert plot_metadata(context, Lake(tmp_path / "lake"), config, "strategy_weights", END) == {}  # type: ignore[arg-type]
    assert warnings == ["plot strategy_weights skipped: ValueError: no fonts today"]

    monkeypatch.undo()
    drawn = plot_metadata(dg.build_asset_context(), Lake(tmp_path / "lake"), config, "strategy_weights", END)  # type: ignore[arg-type]
    assert drawn["plot"].value.startswith("![Strategy weights over time](data:image/png;base64,")  # type: ignore[attr-defined]


def test_markdown_table_escapes_and_cuts_cells() -> None:
    frame = pl.DataFrame(
        {"a|b": ["x|y", "line\nbreak", None], "n": [1.23456789, 2.0, None], "long": ["z" * 60, "", ""]}
    )
    lines = markdown_table(frame).splitlines()
    assert lines[0] == "| a\\|b | n | long |" and lines[1] == "|---|---|---|"
    assert lines[2] == f"| x\\|y | 1.23457 | {'z' * 39}… |"
    assert lines[3] == "| line break | 2 |  |" and lines[4] == "|  |  |  |"
    assert markdown_table(frame.clear()).endswith("(no rows)")
