import shutil
from pathlib import Path

import pytest

from lakehouse_assets.config import ConfigError, load_config

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO_CONFIG, tmp_path / "config"))


def test_the_shipped_configuration_loads() -> None:
    config = load_config(REPO_CONFIG)
    assert config.exchange.calendar == "XNYS" and config.exchange.schedule_time.isoformat() == "16:30:00"
    assert config.universe.bundled_symbols == ("^GSPC", "^IXIC", "MSFT")
    assert config.sources.provider_weights["newsapi"] == 0.6
    assert config.regimes.crash_drawdown == -0.2 and config.regimes.vol_percentile_window == 1260


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "exchange.yaml",
            'schedule_time: "16:30"',
            'schedule_time: "25:00"',
            "schedule_time: expected HH:MM, got '25:00'",
        ),
        ("exchange.yaml", "calendar: XNYS", "calendar: NOPE", "calendar: unknown exchange calendar 'NOPE'"),
        ("universe.yaml", "dataset: arch.nasdaq", "dataset: yahoo", "bundled[1].dataset: unknown dataset 'yahoo'"),
        ("universe.yaml", "end: 2018-12-31", "end: 2015-01-01", "default_run.end: 2015-01-01 is before start"),
        ("sources.yaml", "twitter: 0.4", "twitter: -1", "sentiment.provider_weights.twitter: must be >= 0.0"),
        (
            "sources.yaml",
            "lookback_sessions: 5",
            "lookback_sessions: five",
            "ohlcv.lookback_sessions: expected int or float",
        ),
        ("regimes.yaml", "min_sessions: 252", "min_sessions: 2000", "volatility_percentile.min_sessions: 2000"),
        ("monitoring.yaml", "blocks: 99", "blocks: 10", "drift.blocks: p-values are multiples of 1 / (blocks + 1)"),
        ("regimes.yaml", "drawdown: -0.20", "drawdown: 0.2", "crash.drawdown: must be between -1.0 and 0.0"),
        ("regimes.yaml", "vol_percentile: 0.80", "vol_percentile: 80", "high_volatility.vol_percentile: must be"),
        # a gate key whose meaning changed fails loudly instead of being ignored
        (
            "registry.yaml",
            "max_drifted_share: 0.50",
            "max_drift: 0.20",
            "max_drift: no longer used; see max_drifted_share",
        ),
        ("registry.yaml", "coverage_alpha: 0.01", "coverage_alpha: 1.5", "coverage_alpha: must be between 0.0 and 1.0"),
        # a misspelt or unknown key is an error, never a default silently left in force (issue 16)
        (
            "monitoring.yaml",
            "min_severity: warning",
            "min_severty: error",
            "alerts.min_severty: unknown key; did you mean 'min_severity'?",
        ),
        ("exchange.yaml", "calendar: XNYS", "calendar: XNYS\ncalender: XLON", "calender: unknown key; did you mean"),
        ("strategies.yaml", "rules:", "rules:\n  iron_condr: {max_adx: 1}", "rules.iron_condr: unknown key"),
        ("forecasting.yaml", "seed: 0", "seed: 0\nsead: 1", "sead: unknown key; did you mean 'seed'?"),
        # symbols are names, not paths
        ("universe.yaml", "symbol: MSFT", "symbol: ../good/MSFT", "bundled[2].symbol: '../good/MSFT' is not a symbol"),
        ("universe.yaml", "index_symbol: ^GSPC", "index_symbol: /etc/passwd", "index_symbol: '/etc/passwd' is not"),
        (
            "registry.yaml",
            "overrides: []",
            "overrides: [{symbol: ../x, horizon: 5, model: naive}]",
            "overrides[0].symbol",
        ),
    ],
)
def test_a_bad_value_names_the_file_and_key(config_dir: Path, file: str, old: str, new: str, message: str) -> None:
    path = config_dir / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(config_dir)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_missing_file_is_named(config_dir: Path) -> None:
    (config_dir / "sources.yaml").unlink()
    with pytest.raises(ConfigError, match=r"sources\.yaml: configuration file not found"):
        load_config(config_dir)


def test_strike_width_mode_accepts_the_unused_short_delta(config_dir: Path) -> None:
    path = config_dir / "strategies.yaml"
    path.write_text(path.read_text().replace("strikes: delta", "strikes: width"))
    assert load_config(config_dir).strategies.short_delta is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/T0/SECRET", "not an http:// or https:// URL"),
        ("https://user:SECRET@hooks.example.com/x", "credentials in the URL"),
        ("https://hooks.example.com/T0/SECRET path", "whitespace or control characters"),
    ],
)
def test_a_bad_webhook_url_is_refused_without_echoing_its_secret(config_dir: Path, url: str, problem: str) -> None:
    path = config_dir / "monitoring.yaml"
    path.write_text(path.read_text().replace("webhooks: []", f"webhooks: [{{url: '{url}'}}]"))
    with pytest.raises(ConfigError, match=problem) as info:
        load_config(config_dir)
    assert "SECRET" not in str(info.value)


def test_a_bad_webhook_url_in_the_environment_is_refused_without_its_secret(
    monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ALERT_WEBHOOK", "ftp://hooks.example.com/SECRET")
    with pytest.raises(ConfigError, match=r"\$LAKEHOUSE_ALERT_WEBHOOK: not an http") as info:
        load_config(config_dir)
    assert "SECRET" not in str(info.value)
