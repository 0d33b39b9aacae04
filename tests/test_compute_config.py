"""The pool of the per-symbol fits: ``pool``, ``n_workers`` and ``dask_scheduler`` in
``config/forecasting.yaml``, and ``$LAKEHOUSE_DASK_SCHEDULER``."""

import shutil
from pathlib import Path

import pytest

from lakehouse_assets.compute import SCHEDULER_ENV, PoolSettings
from lakehouse_assets.config import ConfigError, load_config
from tests.conftest import REPO, edit

REPO_CONFIG = REPO / "config"
DASK = ("pool: local", "pool: dask")


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    return Path(shutil.copytree(REPO_CONFIG, tmp_path / "config"))


def scheduler(address: str) -> tuple[str, str]:
    return ("dask_scheduler: ", f"dask_scheduler: {address} ")


def test_the_shipped_pool_is_local_with_two_processes(config_dir: Path) -> None:
    config = load_config(config_dir)
    assert config.forecast_pool == PoolSettings(kind="local", workers=2, scheduler=None)


def test_a_configuration_without_pool_keys_keeps_the_local_pool(config_dir: Path) -> None:
    path = config_dir / "forecasting.yaml"
    kept = [line for line in path.read_text().splitlines() if not line.startswith(("pool:", "dask_scheduler:"))]
    path.write_text("\n".join(kept) + "\n")
    assert load_config(config_dir).forecast_pool == PoolSettings(kind="local", workers=2)


def test_the_dask_pool_takes_the_scheduler_address(config_dir: Path) -> None:
    edit(config_dir / "forecasting.yaml", DASK, scheduler("tcp://10.1.2.3:8786"))
    pool = load_config(config_dir).forecast_pool
    assert (pool.kind, pool.scheduler) == ("dask", "tcp://10.1.2.3:8786")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((("pool: local", "pool: ray"),), "pool: unknown 'ray'; one of local, dask"),
        ((DASK,), "dask_scheduler: required when pool is dask (or set $LAKEHOUSE_DASK_SCHEDULER)"),
        (
            (DASK, scheduler("10.1.2.3")),
            "dask_scheduler: expected a scheduler address like tcp://127.0.0.1:8786, got '10.1.2.3'",
        ),
        ((DASK, scheduler("http://10.1.2.3:8786")), "dask_scheduler: expected a scheduler address"),
        ((DASK, scheduler("8786")), "dask_scheduler: expected a scheduler address like tcp://127.0.0.1:8786, got 8786"),
        ((("n_workers: 2", "n_workers: 0"),), "n_workers: must be >= 1, got 0"),
    ],
)
def test_a_bad_pool_names_the_file_and_key(config_dir: Path, pairs: tuple[tuple[str, str], ...], message: str) -> None:
    path = config_dir / "forecasting.yaml"
    edit(path, *pairs)
    with pytest.raises(ConfigError) as info:
        load_config(config_dir)
    assert f"{path}: {message}" in str(info.value)


def test_the_environment_overrides_the_address(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit(config_dir / "forecasting.yaml", DASK, scheduler("tcp://10.1.2.3:8786"))
    monkeypatch.setenv(SCHEDULER_ENV, "tls://scheduler.internal:8786")
    assert load_config(config_dir).forecast_pool.scheduler == "tls://scheduler.internal:8786"


def test_the_environment_alone_points_the_dask_pool_at_its_cluster(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(config_dir / "forecasting.yaml", DASK)
    monkeypatch.setenv(SCHEDULER_ENV, "[::1]:8786")
    pool = load_config(config_dir).forecast_pool
    assert (pool.kind, pool.scheduler) == ("dask", "[::1]:8786")


def test_the_environment_does_not_switch_the_pool(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://10.1.2.3:8786")
    assert load_config(config_dir).forecast_pool.kind == "local"


def test_a_bad_address_in_the_environment_is_named(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://no port")
    with pytest.raises(
        ConfigError, match=r"^\$LAKEHOUSE_DASK_SCHEDULER: expected a scheduler address .*'tcp://no port'"
    ):
        load_config(config_dir)
