"""Black–Scholes against textbook values and put–call parity; spreads priced from it."""

import math

import pytest

from lakehouse_assets.core import options


def test_hull_example_prices() -> None:
    # Hull, Options, Futures and Other Derivatives, Example 15.6: S 42, K 40, r 10%, sigma 20%, 6 months
    assert options.black_scholes("call", 42, 40, 0.5, 0.10, 0.20) == pytest.approx(4.76, abs=0.005)
    assert options.black_scholes("put", 42, 40, 0.5, 0.10, 0.20) == pytest.approx(0.81, abs=0.005)


@pytest.mark.parametrize(("s", "k", "t", "r", "sigma"), [(100, 90, 0.25, 0.02, 0.3), (2500, 2600, 45 / 365, 0.0, 0.12)])
def test_put_call_parity(s: float, k: float, t: float, r: float, sigma: float) -> None:
    call, put = options.black_scholes("call", s, k, t, r, sigma), options.black_scholes("put", s, k, t, r, sigma)
    assert call - put == pytest.approx(s - k * math.exp(-r * t), rel=1e-12, abs=1e-9)


def test_expiry_is_intrinsic_value_and_the_delta_strike_inverts_delta() -> None:
    assert options.black_scholes("put", 95, 100, 0.0, 0.02, 0.2) == 5.0
    assert options.black_scholes("call", 95, 100, 0.0, 0.02, 0.2) == 0.0
    for kind in ("put", "call"):
        k = options.strike_for_delta(kind, 0.16, 2500, 45 / 365, 0.02, 0.15)
        assert abs(options.delta(kind, 2500, k, 45 / 365, 0.02, 0.15)) == pytest.approx(0.16, abs=1e-12)
    assert options.strike_for_delta("put", 0.16, 2500, 45 / 365, 0.02, 0.15) < 2500


def test_credit_spreads_have_positive_credit_and_a_loss_capped_by_the_width() -> None:
    s, t, r, sigma, width = 2500.0, 45 / 365, 0.02, 0.15, 62.5
    for name in ("bull_put_spread", "bear_call_spread", "iron_condor"):
        spread = options.credit_spread(name, s, t, r, sigma, width, 0.16)
        assert 0 < spread.credit < width and spread.max_loss == pytest.approx(width - spread.credit)
        worst = max(options.payoff(spread.legs, x) for x in range(1500, 3500, 5))
        assert worst == pytest.approx(width)  # the most closing can cost is one wing
        assert options.payoff(spread.legs, s) == 0.0  # at the money at expiry: every leg expires worthless
    condor = options.credit_spread("iron_condor", s, t, r, sigma, width, 0.16)
    put = options.credit_spread("bull_put_spread", s, t, r, sigma, width, 0.16)
    call = options.credit_spread("bear_call_spread", s, t, r, sigma, width, 0.16)
    assert condor.credit == pytest.approx(put.credit + call.credit)
    by_width = options.credit_spread("bull_put_spread", s, t, r, sigma, width, None)
    assert by_width.legs[0][1] == s - width and by_width.legs[1][1] == s - 2 * width
