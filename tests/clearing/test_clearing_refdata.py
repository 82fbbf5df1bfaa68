"""Reference data: ids, stock codes, ISINs, and the seeded market generator."""

from __future__ import annotations

import numpy as np
import pytest

from ledger.refdata import (
    CURRENCIES,
    HK_BOARD_LOTS,
    Market,
    Participant,
    Security,
    canonical_stock_code,
    generate_market,
    hk_isin_for_code,
    is_valid_isin,
    isin_check_digit,
    tick_size_milli,
)


@pytest.mark.parametrize("isin", ["US0378331005", "HK0002007356", "KYG875721634", "GB0005405286"])
def test_real_isins_validate(isin: str) -> None:
    assert is_valid_isin(isin)
    assert isin_check_digit(isin[:11]) == int(isin[11])


def test_corrupted_isin_fails() -> None:
    assert not is_valid_isin("US0378331006")
    assert not is_valid_isin("HK000200735")


@pytest.mark.parametrize("code,canon", [("00700", "700"), ("5", "5"), ("9988", "9988"),
                                        ("80737", "80737")])
def test_canonical_code_and_isin(code: str, canon: str) -> None:
    assert canonical_stock_code(code) == canon
    isin = hk_isin_for_code(code)
    assert isin.startswith("HK") and len(isin) == 12 and is_valid_isin(isin)
    assert isin == hk_isin_for_code(canon)


@pytest.mark.parametrize("bad", ["0", "00000", "abc", "123456", ""])
def test_bad_stock_codes(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_stock_code(bad)


def test_participant_and_security_validation() -> None:
    with pytest.raises(ValueError):
        Participant("B1234", "broker", "x")
    with pytest.raises(ValueError):
        Security("00700", hk_isin_for_code("700"), "x", 100, "HKD", 1000)
    with pytest.raises(ValueError):
        Security("700", "HK0007000001", "x", 100, "HKD", 1000)  # wrong check digit
    with pytest.raises(ValueError):
        Security("700", hk_isin_for_code("700"), "x", 0, "HKD", 1000)


def test_market_requires_one_ccp() -> None:
    with pytest.raises(ValueError):
        Market((Participant("B00001", "broker", "a"),), ())


def test_tick_table() -> None:
    ticks = tick_size_milli([100, 250, 499, 500, 9_990, 10_000, 150_000, 600_000])
    assert ticks.tolist() == [1, 5, 5, 10, 10, 20, 100, 500]


def test_generate_market_shape() -> None:
    m = generate_market(500, 2_600, seed=3)
    kinds = [p.kind for p in m.participants]
    assert kinds.count("ccp") == 1 and m.participants[m.ccp_index].id == "H00001"
    assert kinds.count("settlement_bank") == 1 and kinds.count("csd_operator") == 1
    assert kinds.count("broker") + kinds.count("custodian") == 500
    for p in m.participants:
        assert p.id[0] == {"broker": "B", "custodian": "C", "ccp": "H", "settlement_bank": "S",
                           "csd_operator": "D"}[p.kind]
    assert len(m.securities) == 2_600
    cur = np.bincount(m.currency_idx, minlength=3)
    assert cur[0] > 0.9 * 2_600 and cur[1] > 0 and cur[2] > 0
    assert set(m.board_lot.tolist()) <= set(HK_BOARD_LOTS)
    price_hkd = m.ref_price_milli[m.currency_idx == 0]
    assert price_hkd.min() >= 1 and price_hkd.max() <= 600_000
    assert np.all(m.ref_price_milli % tick_size_milli(m.ref_price_milli) == 0)
    assert all(is_valid_isin(s.isin) for s in m.securities)
    assert all(s.currency in CURRENCIES for s in m.securities)
    assert m.trading_participants.size == 500


def test_generate_market_deterministic() -> None:
    a, b = generate_market(50, 100, seed=9), generate_market(50, 100, seed=9)
    assert a.participants == b.participants and a.securities == b.securities
    assert generate_market(50, 100, seed=10).securities != a.securities


def test_lookups(market: Market) -> None:
    s = market.securities[5]
    assert market.security(s.stock_code.zfill(5)) is s
    p = market.participants[7]
    assert market.participant(p.id) is p
