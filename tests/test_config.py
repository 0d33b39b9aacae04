"""``lakehouse_assets/config.py``: the shipped configuration, and every kind of bad file
named by its file and key path, one line per problem, never echoing a secret."""

import shutil
from pathlib import Path

import pytest

from lakehouse_assets.config import FILES, ConfigError, load_config
from lakehouse_assets.core.alerts import Webhook
from tests.conftest import edit

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LAKEHOUSE_ALERT_WEBHOOK", "LAKEHOUSE_DASK_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    return Path(shutil.copytree(REPO_CONFIG, tmp_path / "config"))


def problems(config_dir: Path) -> list[str]:
    """The lines of the ConfigError of ``config_dir``, its path left out."""
    with pytest.raises(ConfigError) as info:
        load_config(config_dir)
    return [line.replace(f"{config_dir.resolve()}/", "") for line in str(info.value).splitlines()]


def test_the_shipped_configuration_loads() -> None:
    config = load_config(REPO_CONFIG)
    assert config.directory == REPO_CONFIG.resolve()
    assert config.exchange.calendar == "XNYS" and config.exchange.schedule_time.isoformat() == "16:30:00"
    assert config.universe.bundled_symbols == ("^GSPC", "^IXIC", "MSFT")
    assert config.sources.provider_weights["newsapi"] == 0.6
    assert config.regimes.crash_drawdown == -0.2 and config.regimes.vol_percentile_window == 1260
    assert config.forecasting.horizons == (1, 5, 21) and config.score_window == 126
    assert config.strategies.params["iron_condor"] == {"max_adx": 25.0, "min_iv_rank": 30.0}
    assert config.alerts.dedupe_for("run_failure").total_seconds() == 900 and config.alerts.webhooks == ()


def test_every_file_of_the_directory_has_a_model() -> None:
    assert set(FILES) == {path.name for path in REPO_CONFIG.glob("*.yaml")}


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        # unknown keys, at the top and nested, with the key probably meant
        ("exchange.yaml", "calendar: XNYS", "calendar: XNYS\ncalender: XLON", "calender: unknown key; did you mean"),
        ("forecasting.yaml", "seed: 0", "seed: 0\nsead: 1", "sead: unknown key; did you mean 'seed'?"),
        (
            "monitoring.yaml",
            "min_severity: warning",
            "min_severty: error",
            "alerts.min_severty: unknown key; did you mean 'min_severity'?",
        ),
        ("strategies.yaml", "rules:", "rules:\n  iron_condr: {max_adx: 1}", "rules.iron_condr: unknown key"),
        (
            "strategies.yaml",
            "mean_reversion: {oversold: 30, overbought: 70}",
            "mean_reversion: {oversold: 30, overbought: 70, overbougth: 80}",
            "rules.mean_reversion.overbougth: unknown key; did you mean 'overbought'?",
        ),
        (
            "forecasting.yaml",
            "size: 1000 ",
            "size: 1000\n    sizes: 5 ",
            "direction_classifier.replay.sizes: unknown key; did you mean 'size'?",
        ),
        ("sources.yaml", "ohlcv:", "ohlcv:\n  frequency: daily", "ohlcv.frequency: unknown key; known keys: lookback"),
        # a key whose meaning changed fails loudly instead of being ignored
        ("registry.yaml", "max_drifted_share: 0.50", "max_drift: 0.20", "max_drift: no longer used; see max_drifted"),
        ("trading_config.yaml", "relative_mae_scale: 2.0", "mae_scale: 0.40", "mae_scale: renamed relative_mae_scale"),
        # out of range
        ("sources.yaml", "twitter: 0.4", "twitter: -1", "sentiment.provider_weights.twitter: must be >= 0.0, got -1"),
        ("regimes.yaml", "drawdown: -0.20", "drawdown: 0.2", "crash.drawdown: must be <= 0.0, got 0.2"),
        ("regimes.yaml", "vol_percentile: 0.80", "vol_percentile: 80", "high_volatility.vol_percentile: must be <="),
        ("registry.yaml", "coverage_alpha: 0.01", "coverage_alpha: 1.5", "coverage_alpha: must be <= 1.0, got 1.5"),
        ("forecasting.yaml", "horizons: [1, 5, 21]", "horizons: [1, 0, 21]", "horizons[1]: must be >= 1, got 0"),
        ("forecasting.yaml", "horizons: [1, 5, 21]", "horizons: []", "horizons: expected at least 1 item"),
        ("trading_config.yaml", "relative_mae_scale: 2.0", "relative_mae_scale: 0", "relative_mae_scale: must be > 0"),
        ("monitoring.yaml", "retention_days: 7", "retention_days: 0.5", "maintenance.retention_days: must be >= 1.0"),
        # wrong types: a YAML value of another kind is no value of this one
        ("exchange.yaml", "calendar: XNYS", "calendar: 5", "calendar: expected text, got 5"),
        ("exchange.yaml", 'schedule_time: "16:30"', "schedule_time: 16:30", "schedule_time: expected HH:MM, got 990"),
        (
            "sources.yaml",
            "lookback_sessions: 5",
            "lookback_sessions: five",
            "ohlcv.lookback_sessions: expected a whole",
        ),
        ("forecasting.yaml", "n_workers: 2", "n_workers: 2.0", "n_workers: expected a whole number, got 2.0"),
        ("forecasting.yaml", "n_workers: 2", "n_workers: true", "n_workers: expected a whole number, got True"),
        ("forecasting.yaml", "min_sharpe: 0.3", "min_sharpe: .nan", "classifier.min_sharpe: expected a finite number"),
        ("forecasting.yaml", "horizons: [1, 5, 21]", "horizons: 5", "horizons: expected a list, got 5"),
        ("trading_config.yaml", "enabled: true", "enabled: 'yes'", "enabled: expected true or false, got 'yes'"),
        ("regimes.yaml", "recovery:\n  drawdown:", "recovery: -0.1  #", "recovery: expected a mapping, got -0.1"),
        # values, and checks across keys
        ("exchange.yaml", 'schedule_time: "16:30"', 'schedule_time: "25:00"', "schedule_time: expected HH:MM, got"),
        ("exchange.yaml", "calendar: XNYS", "calendar: NOPE", "calendar: unknown exchange calendar 'NOPE'"),
        ("exchange.yaml", "timezone: America/New_York", "timezone: Mars/Olympus", "timezone: unknown time zone"),
        ("universe.yaml", "dataset: arch.nasdaq", "dataset: yahoo", "bundled[1].dataset: unknown dataset 'yahoo'"),
        ("universe.yaml", "end: 2018-12-31", "end: 2015-01-01", "default_run.end: 2015-01-01 is before start"),
        ("regimes.yaml", "min_sessions: 252", "min_sessions: 2000", "volatility_percentile.min_sessions: 2000"),
        ("monitoring.yaml", "blocks: 99", "blocks: 10", "drift.blocks: p-values are multiples of 1 / (blocks + 1)"),
        ("forecasting.yaml", "exog: [rsi_14", "exog: [rsi_15", "sarimax.exog[0]: unknown feature 'rsi_15'"),
        ("forecasting.yaml", "window: 60 ", "window: 400 ", "ssa.window: 400 must be below half of fit_window"),
        ("strategies.yaml", "max_hold: 10 ", "max_hold: 1 ", "directional.max_hold: 1 is below min_hold 2"),
        ("strategies.yaml", "  short_delta: 0.16", "", "options.short_delta: required key is missing (strikes is"),
        ("sectors.yaml", "Energy: [", "Energy: [AAPL, ", "sectors.Information Technology: AAPL is also listed under"),
        (
            "trading_config.yaml",
            "forecast_follow: 1.0",
            "forecast_folow: 1.0",
            "variance_analysis.strategy_weights.forecast_folow: unknown strategy 'forecast_folow'",
        ),
        (
            "registry.yaml",
            "overrides: []",
            "overrides: [{symbol: ^GSPC, horizon: 5, model: prophet}]",
            "overrides[0].model: 'prophet' is not one of the configured models: naive, auto_arima",
        ),
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
    edit(config_dir / file, (old, new))
    (line,) = problems(config_dir)
    assert line.startswith(f"{file}: ") and message in line


def test_a_misspelt_required_key_is_one_problem_not_two(config_dir: Path) -> None:
    edit(config_dir / "registry.yaml", ("min_scored: 40", "min_scord: 40"))
    assert problems(config_dir) == ["registry.yaml: min_scord: unknown key; did you mean 'min_scored'?"]


def test_every_problem_of_every_file_is_a_line(config_dir: Path) -> None:
    edit(config_dir / "exchange.yaml", ("calendar: XNYS", "calendar: NOPE"), ('"16:30"', '"25:00"'))
    edit(config_dir / "monitoring.yaml", ("min_severity: warning", "min_severity: loud"))
    assert problems(config_dir) == [
        "exchange.yaml: calendar: unknown exchange calendar 'NOPE'",
        "exchange.yaml: schedule_time: expected HH:MM, got '25:00'",
        "monitoring.yaml: alerts.min_severity: unknown 'loud'; one of info, warning, error, critical",
    ]


def test_a_missing_file_is_named(config_dir: Path) -> None:
    (config_dir / "sources.yaml").unlink()
    with pytest.raises(ConfigError, match=r"sources\.yaml: configuration file not found"):
        load_config(config_dir)


def test_a_file_that_is_no_mapping_is_named(config_dir: Path) -> None:
    (config_dir / "regimes.yaml").write_text("- crash\n")
    assert problems(config_dir) == ["regimes.yaml: expected a mapping of keys, got list"]


def test_strike_width_mode_accepts_the_unused_short_delta(config_dir: Path) -> None:
    edit(config_dir / "strategies.yaml", ("strikes: delta", "strikes: width"))
    assert load_config(config_dir).strategies.short_delta is None


def with_webhook(config_dir: Path, entry: str) -> None:
    edit(config_dir / "monitoring.yaml", ("webhooks: []", f"webhooks: [{entry}]"))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/T0/SECRET", "not an http:// or https:// URL"),
        ("https://user:SECRET@hooks.example.com/x", "credentials in the URL"),
        ("https://hooks.example.com/T0/SECRET path", "whitespace or control characters"),
        ("https://hooks.slack.com/services/T0000/B0000/SECRETxxxxxx1234", "a token-like path segment"),
        ("https://relay.example.com/alert?token=SECRET", "a credential query parameter 'token'"),
    ],
)
def test_a_webhook_url_that_is_unsafe_or_carries_a_credential_is_refused_without_echoing_it(
    config_dir: Path, url: str, problem: str
) -> None:
    with_webhook(config_dir, f"{{url: '{url}'}}")
    (line,) = problems(config_dir)
    assert line.startswith(f"monitoring.yaml: alerts.webhooks[0].url: {problem}") and "SECRET" not in line


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("smtp: {host: h, to: [q@example.com], password: SECRET}", "alerts.smtp.password"),
        ("webhooks: [{url: 'http://127.0.0.1:9/hook', headers: {Authorization: SECRET}}]", "headers.Authorization"),
        ("webhooks: [{url: 'http://127.0.0.1:9/hook', headers: {X-Auth: 'Bearer SECRET'}}]", "headers.X-Auth"),
        ("webhooks: [{url: 'http://127.0.0.1:9/hook', api_token: SECRET}]", "alerts.webhooks[0].api_token"),
    ],
)
def test_a_secret_in_a_file_is_an_error_naming_the_key_not_the_secret(config_dir: Path, text: str, where: str) -> None:
    edit(config_dir / "monitoring.yaml", ("webhooks: []", text))
    (line,) = problems(config_dir)
    assert line.startswith("monitoring.yaml: alerts.") and f"{where}: looks like a secret" in line
    assert "SECRET" not in line


def test_a_secret_pasted_as_a_variable_name_is_refused_unshown(config_dir: Path) -> None:
    edit(config_dir / "monitoring.yaml", ("webhooks: []", "smtp: {host: h, to: [q@x.org], password_env: 'S3CRET!'}"))
    (line,) = problems(config_dir)
    assert "alerts.smtp.password_env: expected the name of an environment variable" in line and "S3CRET" not in line


def test_webhook_secrets_come_from_the_variables_the_file_names(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://hooks.slack.com/services/T0000/B0000/SECRETxxxxxx1234"
    with_webhook(config_dir, "{url_env: TEAM_HOOK, format: slack, headers_env: {Authorization: TEAM_HOOK_AUTH}}")
    assert problems(config_dir) == ["monitoring.yaml: alerts.webhooks[0].url_env: $TEAM_HOOK is not set"]
    monkeypatch.setenv("TEAM_HOOK", url)
    monkeypatch.setenv("TEAM_HOOK_AUTH", "Bearer SECRET")
    (hook,) = load_config(config_dir).alerts.webhooks
    assert hook == Webhook(url=url, format="slack", headers={"Authorization": "Bearer SECRET"})
    monkeypatch.setenv("TEAM_HOOK", "ftp://hooks.example.com/SECRET")
    (line,) = problems(config_dir)
    assert "url_env: $TEAM_HOOK: not an http:// or https:// URL" in line and "SECRET" not in line


def test_a_webhook_needs_exactly_one_target(config_dir: Path) -> None:
    with_webhook(config_dir, "{format: json}")
    assert problems(config_dir) == [
        "monitoring.yaml: alerts.webhooks[0].url: give url, or url_env: the environment variable holding the URL"
    ]


def test_a_bad_webhook_url_in_the_environment_is_refused_without_its_secret(
    monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ALERT_WEBHOOK", "ftp://hooks.example.com/SECRET")
    with pytest.raises(ConfigError, match=r"^\$LAKEHOUSE_ALERT_WEBHOOK: not an http") as info:
        load_config(config_dir)
    assert "SECRET" not in str(info.value)


def test_the_environment_given_is_the_one_read(config_dir: Path) -> None:
    environ = {"LAKEHOUSE_ALERT_WEBHOOK": "https://relay.example.com/alerts"}
    (hook,) = load_config(config_dir, environ=environ).alerts.webhooks
    assert hook.url == "https://relay.example.com/alerts" and load_config(config_dir, environ={}).alerts.webhooks == ()
