"""Trade capture: row-level validation, all-or-nothing booking, CSV round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clearing_testkit import assert_books_equal, brokers, csv_bytes, good_row, hkd_security, row

from ledger.refdata import Market
from ledger.trade_capture import (
    COLUMNS,
    TradeBook,
    TradeFileError,
    duplicate_ids,
    format_trades_csv,
    parse_trades_csv,
    read_trades_csv,
    value_cents,
    write_trades_csv,
)
from ledger.trade_generator import generate_trades


def _errors(market: Market, lines: list[str]) -> list[tuple[int, str, str, str]]:
    with pytest.raises(TradeFileError) as exc:
        parse_trades_csv(csv_bytes(lines), market)
    return [(e.row, e.column, e.value, e.expected) for e in exc.value.errors]


def test_good_row_parses(market: Market) -> None:
    g = good_row(market)
    book = parse_trades_csv(csv_bytes([row(**g)]), market)
    s = hkd_security(market)
    assert len(book) == 1
    assert book.trade_id[0] == b"T1"
    assert book.security[0] == market.security_index[s.stock_code]
    assert book.buyer[0] == market.participant_index[g["buyer"]]
    assert book.price_milli[0] == 1230
    assert book.value_cents[0] == s.board_lot * 123
    assert str(book.trade_date[0]) == "2026-11-20" and str(book.settle_date[0]) == "2026-11-24"


def _cny_security_code(market: Market) -> str:
    return next(s.stock_code for s in market.securities if s.currency == "CNY")


# (field overrides, expected column, substring of `expected`)
CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("unknown buyer", {"buyer": "B99999x"}, "buyer", "known participant"),
    ("unknown seller", {"seller": "Z00001"}, "seller", "known participant"),
    ("ccp as buyer", {"buyer": "H00001"}, "buyer", "broker or custodian"),
    ("unknown security", {"stock_code": "99998"}, "stock_code", "listed stock code"),
    ("non-numeric code", {"stock_code": "7O0"}, "stock_code", "listed stock code"),
    ("settle before trade", {"settlement_date": "2026-11-19"}, "settlement_date", "on or after"),
    ("bad trade date", {"trade_date": "2026-13-01"}, "trade_date", "valid date"),
    ("feb 30", {"trade_date": "2026-02-30"}, "trade_date", "valid date"),
    ("bad settle date", {"settlement_date": "24/11/2026"}, "settlement_date", "valid date"),
    ("zero quantity", {"quantity": "0"}, "quantity", "positive"),
    ("negative quantity", {"quantity": "-100"}, "quantity", "positive"),
    ("malformed quantity", {"quantity": "1e3"}, "quantity", "whole number"),
    ("decimal quantity", {"quantity": "100.0"}, "quantity", "whole number"),
    ("empty quantity", {"quantity": ""}, "quantity", "whole number"),
    ("zero price", {"price": "0.000"}, "price", "positive"),
    ("negative price", {"price": "-1.5"}, "price", "positive"),
    ("4 decimals", {"price": "1.2345"}, "price", "at most 3 decimals"),
    ("two dots", {"price": "1.2.3"}, "price", "decimal"),
    ("letters in price", {"price": "abc"}, "price", "decimal"),
    ("empty price", {"price": ""}, "price", "decimal"),
    ("unknown currency", {"currency": "EUR"}, "currency", "one of"),
    ("wrong currency", {"currency": "USD"}, "currency", "security's currency"),
    ("empty trade id", {"trade_id": ""}, "trade_id", "printable"),
    ("space in trade id", {"trade_id": "T 1"}, "trade_id", "printable"),
    ("trade id too long", {"trade_id": "T" * 33}, "trade_id", "printable"),
]


@pytest.mark.parametrize("name,override,column,expected", CASES, ids=[c[0] for c in CASES])
def test_each_validation_error_is_row_level(
    market: Market, name: str, override: dict[str, str], column: str, expected: str
) -> None:
    g = good_row(market, "T0")
    bad = {**good_row(market, "T1"), **override}
    errs = _errors(market, [row(**g), row(**bad), row(**good_row(market, "T2"))])
    assert len(errs) == 1, errs
    line, col, value, exp = errs[0]
    assert (line, col) == (3, column)  # header is line 1, the bad row is line 3
    assert value == bad[column]
    assert expected in exp


def test_buyer_equals_seller(market: Market) -> None:
    g = good_row(market)
    g["seller"] = g["buyer"]
    assert _errors(market, [row(**g)]) == [(2, "seller", g["buyer"], "a seller different "
                                                                     "from the buyer")]


def test_board_lot_multiple(market: Market) -> None:
    s = hkd_security(market)
    g = {**good_row(market), "quantity": str(s.board_lot + 1)}
    (err,) = _errors(market, [row(**g)])
    assert err[:3] == (2, "quantity", str(s.board_lot + 1))
    assert str(s.board_lot) in err[3]


def test_duplicate_trade_id_points_at_first_use(market: Market) -> None:
    lines = [row(**good_row(market, "A")), row(**good_row(market, "B")),
             row(**good_row(market, "A"))]
    assert _errors(market, lines) == [(4, "trade_id", "A",
                                       "a unique trade id (first used on line 2)")]


def test_wrong_field_count(market: Market) -> None:
    errs = _errors(market, [row(**good_row(market)), "T9,2026-11-20,oops"])
    assert errs == [(3, "*", "T9,2026-11-20,oops", "9 comma-separated fields, got 3")]


def test_cny_security_requires_cny(market: Market) -> None:
    code = _cny_security_code(market)
    sec = market.security(code)
    g = {**good_row(market), "stock_code": code, "quantity": str(sec.board_lot)}
    assert len(parse_trades_csv(csv_bytes([row(**{**g, "currency": "CNY"})]), market)) == 1
    (err,) = _errors(market, [row(**g)])  # HKD default
    assert err[1] == "currency" and "CNY" in err[3]


def test_bad_file_books_nothing_and_reports_everything(market: Market, tmp_path: Path) -> None:
    lines = [row(**good_row(market, f"T{i}")) for i in range(50)]
    lines[10] = row(**{**good_row(market, "T10"), "price": "x"})
    lines[30] = row(**{**good_row(market, "T30"), "buyer": "B00000", "quantity": "7"})
    path = tmp_path / "trades.csv"
    path.write_bytes(csv_bytes(lines))
    result: TradeBook | None = None
    with pytest.raises(TradeFileError) as exc:
        result = read_trades_csv(path, market)
    assert result is None
    got = [(e.row, e.column) for e in exc.value.errors]
    assert got == [(12, "price"), (32, "buyer"), (32, "quantity")]
    assert str(path) in str(exc.value)


def test_bad_header(market: Market) -> None:
    data = b"trade_id,date\n" + csv_bytes([row(**good_row(market))]).split(b"\n", 1)[1]
    with pytest.raises(TradeFileError) as exc:
        parse_trades_csv(data, market)
    assert exc.value.errors[0].row == 1


def test_tolerated_variants(market: Market) -> None:
    """Leading-zero codes, CRLF, BOM, quoting, column order, blank lines, short decimals."""
    g = good_row(market)
    base = parse_trades_csv(csv_bytes([row(**g)]), market)
    padded = {**g, "stock_code": g["stock_code"].zfill(5), "price": "1.23"}
    variants = [
        csv_bytes([row(**padded)]),
        csv_bytes([row(**g)]).replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + csv_bytes([row(**g)]),
        csv_bytes(['"' + '","'.join(row(**g).split(",")) + '"']),
        csv_bytes([row(**g), "", ""]),
        csv_bytes([row(**g)]).rstrip(b"\n"),
    ]
    rev = list(reversed(COLUMNS))
    vals = dict(zip(COLUMNS, row(**g).split(",")))
    variants.append((",".join(rev) + "\n" + ",".join(vals[c] for c in rev) + "\n").encode())
    for data in variants:
        assert_books_equal(parse_trades_csv(data, market), base)


def test_round_trip(market: Market, tmp_path: Path) -> None:
    book = generate_trades(market, 5_000, "2026-11-20", seed=4)
    path = tmp_path / "t.csv"
    write_trades_csv(book, market, path)
    assert path.read_bytes().split(b"\n", 1)[0].decode() == ",".join(COLUMNS)
    back = read_trades_csv(path, market)
    assert_books_equal(back, book)
    assert format_trades_csv(back, market) == path.read_bytes()


def test_round_trip_mixed_widths(market: Market) -> None:
    s = [x for x in market.securities if x.currency == "HKD"][:3]
    b = brokers(market)
    book = TradeBook.from_arrays(
        trade_id=np.array([b"x", b"LONG-TRADE-ID-0000000000000001", b"7"]),
        trade_date=np.array(["2026-11-20", "2026-12-31", "2027-01-04"], dtype="datetime64[D]"),
        settle_date=np.array(["2026-11-24", "2027-01-04", "2027-01-06"], dtype="datetime64[D]"),
        security=[market.security_index[x.stock_code] for x in s],
        buyer=[market.participant_index[b[0]]] * 3,
        seller=[market.participant_index[b[1]]] * 3,
        quantity=[x.board_lot * k for x, k in zip(s, (1, 1000, 37))],
        price_milli=[1, 99_999_999, 1000],
        currency=[0, 0, 0],
    )
    assert_books_equal(parse_trades_csv(format_trades_csv(book, market), market), book)


def test_value_cents_round_half_up() -> None:
    # 1 share at 0.005 = 0.5 cent -> 1 cent; 1 at 0.004 -> 0; 3 at 0.335 = 100.5 -> 101.
    assert value_cents([1, 1, 3, 100], [5, 4, 335, 412_600]).tolist() == [1, 0, 101, 4_126_000]


def test_book_is_read_only(market: Market) -> None:
    book = generate_trades(market, 10, seed=1)
    with pytest.raises(ValueError):
        book.quantity[0] = 1


def test_duplicate_ids_and_concat(market: Market) -> None:
    assert duplicate_ids(np.array([b"a", b"b", b"c"])) == set()
    assert duplicate_ids(np.array([b"a", b"b", b"a", b"b", b"c"])) == {b"a", b"b"}
    book = generate_trades(market, 10, seed=1)
    with pytest.raises(ValueError):
        TradeBook.concat([book, book])
    other = generate_trades(market, 10, "2026-11-23", seed=1)
    assert len(TradeBook.concat([book, other])) == 20


def test_header_only_file_is_an_empty_book(market: Market) -> None:
    assert len(parse_trades_csv(csv_bytes([]), market)) == 0


def test_duplicates_found_across_chunks_of_different_width(market: Market,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.trade_capture as tc

    monkeypatch.setattr(tc, "_CHUNK_BYTES", 256)  # force many chunks
    lines = [row(**good_row(market, f"ID{i}")) for i in range(40)]
    lines.append(row(**good_row(market, "A-MUCH-LONGER-TRADE-IDENTIFIER")))
    lines.append(row(**good_row(market, "ID3")))
    errs = _errors(market, lines)
    assert errs == [(43, "trade_id", "ID3", "a unique trade id (first used on line 5)")]
    ok = parse_trades_csv(csv_bytes(lines[:-1]), market)
    assert len(ok) == 41 and ok.trade_id[-1] == b"A-MUCH-LONGER-TRADE-IDENTIFIER"


def test_book_checks_dtypes_and_leaves_caller_arrays_writable(market: Market) -> None:
    book = generate_trades(market, 5, seed=1)
    cols = {n: np.array(getattr(book, n)) for n in (
        "trade_id", "trade_date", "settle_date", "security", "buyer", "seller", "quantity",
        "price_milli", "currency", "value_cents")}
    again = TradeBook(**cols)
    cols["quantity"][0] = 123  # the caller's array is still writable ...
    with pytest.raises(ValueError):
        again.quantity[0] = 1  # ... the book's view is not
    with pytest.raises(TypeError):
        TradeBook(**{**cols, "security": cols["security"].astype(np.int64)})
    with pytest.raises(ValueError):
        TradeBook(**{**cols, "buyer": cols["buyer"][:3]})
