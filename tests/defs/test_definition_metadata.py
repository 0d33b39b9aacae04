"""What the UI's catalogue shows of each asset: the columns of its table (from the table
catalogue), where the table is, who owns it, and the version of its code."""

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import load_config
from lakehouse_assets.defs.common import code_version
from lakehouse_assets.lake.catalog import TABLES
from tests.conftest import REPO

WRITES_ANOTHER_TABLE = {"prediction_drift": "drift_reports"}  # its rows of kind "prediction"


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.Definitions, Path]:
    lake = tmp_path_factory.mktemp("metadata") / "lake"
    return build_definitions(load_config(REPO / "config"), lake_uri=str(lake)), lake


def test_every_asset_shows_the_columns_of_its_catalogued_table(graph: tuple[dg.Definitions, Path]) -> None:
    defs, lake = graph
    assets = defs.resolve_asset_graph()
    for key in assets.get_all_asset_keys():
        name, node = key.to_user_string(), assets.get(key)
        table = WRITES_ANOTHER_TABLE.get(name, name)
        assert node.metadata.get("dagster/table_name") == table, name
        schema = node.metadata["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [(c, str(t)) for c, t in TABLES[table].schema.items()]
        not_null = {c.name for c in schema.columns if not c.constraints.nullable}
        assert not_null == set(TABLES[table].keys), name
        described = {c.name: c.description for c in schema.columns if c.description}
        assert described == TABLES[table].notes, name
        assert node.metadata["dagster/uri"] == f"{lake}/{table}"
        assert node.owners == ["team:research"]


def test_the_code_version_is_the_asset_functions_source(graph: tuple[dg.Definitions, Path]) -> None:
    from lakehouse_assets.defs import forecasting, ingest

    assets = graph[0].resolve_asset_graph()
    versions = {key.to_user_string(): assets.get(key).code_version for key in assets.get_all_asset_keys()}
    assert versions["ohlcv_daily"] == code_version(ingest.ohlcv_daily.fn)
    assert versions["forecasts"] == versions["model_fits"] == code_version(forecasting.forecasting.fn)  # one step
    assert len({versions["ohlcv_bronze"], versions["ohlcv_daily"], versions["forecasts"]}) == 3

    def body(x: int) -> int:
        return x

    def edited(x: int) -> int:
        return x + 1

    assert code_version(body) != code_version(edited) and code_version(body) == code_version(body)
