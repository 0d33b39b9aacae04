"""The Dagster UI in a real browser: ``dagster dev`` for our workspace on loopback, driven by
headless Chromium (Debian's ``chromium``) through Playwright.

Screenshots go to ``build/screenshots/`` (not committed); the ``browser`` fixture is in conftest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse_assets.lake.delta import Lake
from tests.browser import SCREENSHOTS, render_report
from tests.conftest import REPO, lakehouse_cli
from tests.servers import free_port, stop_group, wait_for_dagster

pytestmark = pytest.mark.slow

GROUPS = ("bronze", "silver", "drift", "gold", "strategy")  # the order the data flows in
PARTITION = "2018-12-31"
COPIED = ("2018-01-02", "2018-01-12")  # the sessions of the lake opened with a new Dagster home
AUTOMATIONS = ("after_close_schedule", "alerts_sensor", "freshness_schedule", "weekly_maintenance_schedule")


def new_home(home: Path) -> Path:
    """A new, empty Dagster home (telemetry off)."""
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


@contextlib.contextmanager
def dagster_dev(home: Path, lake: Lake, log: Path) -> Iterator[str]:
    """``dagster dev`` (webserver + daemon) on a free loopback port, with the Dagster home
    ``home`` over ``lake``; yields its URL. Its log goes to ``build/screenshots/``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LAKEHOUSE_"))}
    env.update(DAGSTER_HOME=str(home), LAKEHOUSE_LAKE=lake.root, LAKEHOUSE_EXECUTOR="in_process")
    dagster = Path(sys.executable).with_name("dagster")
    args = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_dagster(url, proc, "dagster dev", log)
        yield url
    finally:
        stop_group(proc)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, SCREENSHOTS / log.name)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Lake]]:
    """The UI of the tests that materialize from it: its own instance and lake."""
    base = tmp_path_factory.mktemp("ui")
    lake = Lake(base / "lake")
    with dagster_dev(new_home(base / "home"), lake, base / "dagster_dev.log") as url:
        yield url, lake


def new_page(browser, url: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    # Dagster's "join the community" dialog may cover the page at any moment: dismiss it when it does
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda button: button.click())
    page.goto(url, wait_until="networkidle", timeout=120_000)
    return page


def test_asset_graph_shows_every_group(browser, dagster_ui) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    url, _ = dagster_ui
    page = new_page(browser, f"{url}/asset-groups")
    for group in GROUPS:
        expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Materialize all…")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "asset_graph.png"))


def test_an_asset_page_shows_its_table_schema(browser, dagster_ui) -> None:  # type: ignore[no-untyped-def]
    """The column schema comes from the catalogue (``dagster/column_schema``): every column of
    ``features`` is listed on its asset page, with the catalogue's notes as descriptions."""
    from playwright.sync_api import expect

    from lakehouse_assets.lake.catalog import TABLES

    url, _ = dagster_ui
    page = new_page(browser, f"{url}/assets/features")
    expect(page.get_by_text("Columns", exact=True).first).to_be_visible(timeout=60_000)
    for column in TABLES["features"].schema:
        expect(page.get_by_text(column, exact=True).first).to_be_attached()
    page.screenshot(path=str(SCREENSHOTS / "asset_columns.png"), full_page=True)


def test_a_partition_materialized_from_the_ui_succeeds(browser, dagster_ui) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    url, lake = dagster_ui
    page = new_page(browser, f"{url}/assets/ohlcv_bronze")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.locator("[role=dialog]")
    dialog.get_by_role("button", name="Show all partitions").click()
    selection = dialog.locator("input[type=text]").first
    selection.fill(PARTITION)
    selection.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "materialize_dialog.png"))
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(dialog).to_be_hidden(timeout=30_000)

    page.goto(f"{url}/runs", wait_until="networkidle")
    # the instance has this one run: its row shows the partition, then its status turns to Success
    expect(page.get_by_text(f"partition: {PARTITION}").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=240_000)
    page.screenshot(path=str(SCREENSHOTS / "run_succeeded.png"))

    # what the UI reports is what the lake holds: the session's bars, written by that run
    bars = lake.read("ohlcv_bronze", dt.date(2018, 12, 31), dt.date(2018, 12, 31))
    assert sorted(bars.get_column("symbol").unique()) == ["^GSPC", "^IXIC"]  # MSFT's data ends in 2017


def test_automation_is_stopped_on_a_fresh_instance(browser, dagster_ui) -> None:  # type: ignore[no-untyped-def]
    """A new ``make ui`` runs nothing by itself: every schedule and the sensor is listed with
    its switch off (the bundled data ends in 2018; a 16:30 tick would run today's session)."""
    from playwright.sync_api import expect

    url, _ = dagster_ui
    page = new_page(browser, f"{url}/automation")
    for name in AUTOMATIONS:
        # a row of the list: the automation's name, its checkbox for bulk actions, its on/off switch
        row = page.locator("div[class^=ListItem_listItem__]").filter(has=page.get_by_text(name, exact=True))
        expect(row).to_have_count(1, timeout=60_000)
        switch = row.locator("label[class*=formatSwitch] input[type=checkbox]")
        expect(switch).to_have_count(1)
        expect(switch).not_to_be_checked()
    page.screenshot(path=str(SCREENSHOTS / "automation.png"))


def test_the_collapsed_group_lineage_reads_left_to_right(browser, dagster_ui) -> None:  # type: ignore[no-untyped-def]
    """The global lineage opens with every group collapsed to one node; the nodes lie left to
    right in the order the data flows (no group both before and after another)."""
    from playwright.sync_api import expect

    url, _ = dagster_ui
    page = new_page(browser, f"{url}/asset-groups")
    lefts = []
    for group in GROUPS:
        node = page.locator("svg foreignObject [class*=CollapsedGroupNode_collapsedGroupNodeBox]").filter(
            has=page.get_by_text(group, exact=True)
        )
        expect(node).to_have_count(1, timeout=60_000)
        expect(node).to_be_visible()
        box = node.bounding_box()
        assert box is not None, group
        lefts.append(box["x"])
    assert lefts == sorted(lefts) and len(set(lefts)) == len(GROUPS), dict(zip(GROUPS, lefts, strict=True))
    page.screenshot(path=str(SCREENSHOTS / "groups_collapsed.png"))


def test_a_historical_partition_materialized_from_the_ui_raises_no_freshness_alarm(  # type: ignore[no-untyped-def]
    browser, dagster_ui
) -> None:
    """ohlcv_daily with its upstream, one 2017 session, through "Materialize all" (which
    selects every check of the two assets, ``fresh`` included): the run succeeds and ``fresh``
    is skipped, not failed, though the lake is thousands of sessions behind today."""
    from playwright.sync_api import expect

    url, lake = dagster_ui
    session = "2017-11-10"
    page = new_page(browser, f'{url}/asset-groups~+key:"ohlcv_daily"/')  # the lineage filtered to the two
    page.get_by_role("button", name="Materialize all…").click()
    dialog = page.locator("[role=dialog]")
    expect(dialog.get_by_text("Launch runs to materialize 2 assets")).to_be_visible(timeout=60_000)
    dialog.get_by_role("button", name="Show all partitions").click()
    selection = dialog.locator("input[type=text]").first
    selection.fill(session)
    selection.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(dialog).to_be_hidden(timeout=30_000)

    page.get_by_role("link", name="View", exact=True).click()  # the "Launched run ..." toast's link to the run
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=240_000)

    page.goto(f"{url}/assets/ohlcv_daily?view=checks", wait_until="networkidle")
    page.get_by_text("fresh", exact=True).first.click(timeout=60_000)
    expect(page.get_by_text("Skipped", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()  # quality, judged in the same run
    expect(page.get_by_text("Failed", exact=True)).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "no_false_alarm.png"))

    assert lake.read("ohlcv_daily").get_column("date").max() == dt.date(2017, 11, 10)


def test_the_report_renders_in_chromium(browser, small_lake, small_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``lakehouse report`` on a materialized lake, opened in the browser (the default run's
    report is checked the same way by tests/cli/test_cli.py)."""
    page_file = tmp_path / "report.html"
    command = ["report", "--lake", small_lake.root, "--config", small_config, "--as-of", "2016-09-30"]
    done = lakehouse_cli(*command, "--out", str(page_file))
    assert done.returncode == 0, done.stderr
    render_report(browser, page_file, "report.png")


def test_a_lake_copied_to_a_new_home_shows_its_partitions_after_sync_ui(  # type: ignore[no-untyped-def]
    browser, calendar, tmp_path
) -> None:
    """Issue 19, item 5: a lake written by ``lakehouse run`` under one Dagster home, copied,
    and opened with a new home reads "Never materialized", 0 partitions materialized; after the
    documented ``lakehouse sync-ui`` a reload shows every session the lake holds as materialized.

    A lake of its own, bronze and silver over two weeks (one short run), rather than the
    session's ``small_lake``: the sync reports one event per partition, tens of ms each in
    SQLite, and that lake's thousands would take minutes."""
    from playwright.sync_api import expect

    start, end = COPIED
    written = Lake(tmp_path / "written")
    run = lakehouse_cli("run", "--lake", written.root, "--start", start, "--end", end, "--select", "bronze,silver",
                        "--quiet", home=new_home(tmp_path / "their_home"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    lake = Lake(shutil.copytree(written.root, tmp_path / "copied"))
    sessions = len(calendar.sessions(dt.date.fromisoformat(start), dt.date.fromisoformat(end)))
    home = new_home(tmp_path / "home")
    with dagster_dev(home, lake, tmp_path / "dagster_dev_synced.log") as url:
        page = new_page(browser, f"{url}/assets/ohlcv_daily")
        expect(page.get_by_text("Never materialized", exact=True)).to_be_visible(timeout=60_000)
        page.get_by_role("tab", name="Partitions").click()
        expect(page.get_by_role("checkbox", name="Materialized (0)")).to_be_checked(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "sync_ui_before.png"))

        # as README and docs/operations.md have it: the same DAGSTER_HOME, the lake, then reload
        done = lakehouse_cli("sync-ui", "--lake", lake.root, home=home)
        assert done.returncode == 0, done.stderr
        assert f"ohlcv_daily: {sessions} partitions in the lake, 0 known, {sessions} reported" in done.stderr

        page.reload(wait_until="networkidle")
        expect(page.get_by_role("checkbox", name=f"Materialized ({sessions})")).to_be_checked(timeout=60_000)
        page.get_by_text(re.compile(r"^Missing \(\d+\)$")).click()  # list only what the lake holds
        latest = page.get_by_text(end, exact=True).first
        expect(latest).to_be_visible()
        latest.click()  # its materialization: reported by the sync, not by a run
        expect(page.get_by_text("lakehouse/synced_from", exact=True)).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "sync_ui_after.png"))

        page.get_by_role("tab", name="Overview").click()  # the latest materialization: that session
        expect(page.get_by_text("Latest materialization", exact=True)).to_be_visible()
        expect(page.get_by_text(end, exact=True)).to_be_visible()
        expect(page.get_by_text("Never materialized", exact=True)).to_have_count(0)
