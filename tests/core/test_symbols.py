"""Symbols are names, not paths."""

import pytest

from lakehouse_assets.core.symbols import check_symbol, is_symbol


@pytest.mark.parametrize("good", ["MSFT", "BRK.B", "BRK-B", "^GSPC", "EURUSD=X", "CL=F", "SIM0001", "a1"])
def test_tickers_are_symbols(good: str) -> None:
    assert is_symbol(good)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "..",
        "../good/MSFT",
        "/etc/passwd",
        "MS FT",
        "MSFT/",
        "a\\b",
        "A..B",
        ".hidden",
        "-x",
        "x" * 22,
        "ms\nft",
        "^",
        "^^GSPC",
        "M\x00",
    ],
)
def test_paths_and_junk_are_not(bad: str) -> None:
    assert not is_symbol(bad)
    with pytest.raises(ValueError, match="not a symbol"):
        check_symbol(bad, "--symbols")
