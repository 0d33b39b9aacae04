"""Where an asset's check result is recorded, as the UI reads it (its GraphQL over a real
instance): on its partition for a run of one partition (the schedule's, the Materialize
dialog's), without one for a range run (a backfill in one run), whose planned partitions
end as skipped, never left in progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pytest
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_graphql.test.utils import execute_dagster_graphql

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import load_config
from lakehouse_assets.core.checks import Outcome
from lakehouse_assets.defs import checks as asset_checks
from tests.conftest import REPO

DAY = "2017-11-06"
RANGE = ("2017-11-07", "2017-11-09")
QUALITY = dg.AssetCheckKey(dg.AssetKey("ohlcv_bronze"), asset_checks.QUALITY)

CHECK = """
query Check($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 50) {
    runId status partition
    evaluation { partition metadataEntries { label ... on TextMetadataEntry { text } } }
  }
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetCheckOrError(checkName: $name) {
        ... on AssetCheck {
          partitionStatuses { ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } }
        }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mapping[str, Any], str, str]]:
    """The bronze assets run for ``DAY`` (tagged with its partition, as the schedule and the
    UI launch it) and then for ``RANGE`` (as a backfill or ``lakehouse run`` does) on one
    instance; what the UI's query answers about ``ohlcv_bronze``'s check; both run ids."""
    tmp = tmp_path_factory.mktemp("check_partitions")
    with dg.instance_for_test(temp_dir=str(tmp)) as instance:
        defs = build_definitions(load_config(REPO / "config"), lake_uri=str(tmp / "lake"))
        bronze = dg.AssetSelection.groups("bronze").resolve(defs.resolve_asset_graph())
        job = defs.resolve_job_def("daily_job").get_subset(asset_selection=bronze)
        one = job.execute_in_process(instance=instance, tags={"dagster/partition": DAY})
        span = job.execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": RANGE[0], "dagster/asset_partition_range_end": RANGE[1]},
        )
        # the code location `make ui` serves (its lake is not read: the answers come from the instance)
        origin = LoadableTargetOrigin(module_name="lakehouse_assets.definitions", attribute="defs")
        with in_process_test_workspace(instance, origin) as context:
            result = execute_dagster_graphql(
                context, CHECK, {"key": {"path": QUALITY.asset_key.path}, "name": QUALITY.name}
            )
        assert not result.errors, result.errors
        yield result.data, one.run_id, span.run_id


def test_a_run_of_one_partition_records_its_result_on_that_partition(
    shown: tuple[Mapping[str, Any], str, str],
) -> None:
    data, one, _ = shown
    rows = [(e["partition"], e["status"]) for e in data["assetCheckExecutions"] if e["runId"] == one]
    # one row: Dagster's planned row for the day, evaluated (unpartitioned specs left it
    # beside a second row whose partition showed "-")
    assert rows == [(DAY, "SUCCEEDED")]
    (evaluated,) = [e["evaluation"] for e in data["assetCheckExecutions"] if e["runId"] == one]
    assert evaluated["partition"] == DAY


def test_a_range_run_records_one_result_and_leaves_no_partition_in_progress(
    shown: tuple[Mapping[str, Any], str, str],
) -> None:
    data, _, span = shown
    rows = sorted(
        ((e["partition"] or "", e["status"]) for e in data["assetCheckExecutions"] if e["runId"] == span),
    )
    # Dagster plans a row per partition of the range and records the range's one result
    # without a partition; the planned rows end as skipped once the run has ended
    assert rows == [("", "SUCCEEDED"), ("2017-11-07", "SKIPPED"), ("2017-11-08", "SKIPPED"), ("2017-11-09", "SKIPPED")]
    statuses = data["assetNodeOrError"]["assetCheckOrError"]["partitionStatuses"]["ranges"]
    assert [(r["startKey"], r["endKey"], r["status"]) for r in statuses] == [
        (DAY, DAY, "SUCCEEDED"),
        (RANGE[0], RANGE[1], "SKIPPED"),
    ]
    (result,) = [e["evaluation"] for e in data["assetCheckExecutions"] if e["runId"] == span and e["evaluation"]]
    assert {"label": "checked_range", "text": "2017-11-07..2017-11-09"} in [
        {k: entry.get(k) for k in ("label", "text")} for entry in result["metadataEntries"]
    ]


def test_every_asset_check_is_on_its_assets_partitions_and_fresh_is_on_none() -> None:
    defs = build_definitions(load_config(REPO / "config"))
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        expected = None if key.name == asset_checks.FRESH.name else graph.get(key.asset_key).partitions_def
        assert graph.get(key).partitions_def == expected, key


def test_a_result_names_the_range_it_judged() -> None:
    """What a range run's result, recorded without a partition, says of its partitions."""
    start, end = (dt.date.fromisoformat(d) for d in RANGE)
    outcomes = {c.name: Outcome(True, "ok") for c in asset_checks.CHECKS["forecast_scores"]}
    (result,) = asset_checks.results("forecast_scores", outcomes, checked=(start, end))
    assert result.metadata["checked_range"] == dg.MetadataValue.text("2017-11-07..2017-11-09")
