"""Validation: every golden message is valid; every invalid golden case fails with exactly the
stored errors (code, line, field, text); a few rules checked directly."""

from __future__ import annotations

import pathlib

import pytest
from iso15022_golden import GOLDEN, golden, golden_text  # noqa: F401 - golden is a fixture

from api.iso15022 import CODES, Iso15022Error, validate
from api.iso15022.fields import isin_check_digit_ok

INVALID = GOLDEN / "invalid"


def _expected() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (INVALID / "expected.txt").read_text().splitlines():
        name, _, err = line.partition(": ")
        out.setdefault(name, []).append(err)
    return out


EXPECTED = _expected()


def test_golden_messages_are_valid(golden: tuple[str, str]) -> None:
    name, text = golden
    assert validate(text, warnings=True) == [], name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_case_reports_exact_errors(name: str) -> None:
    text = (INVALID / f"{name}.fin").read_bytes().decode("ascii")
    errors = validate(text, warnings=True)
    assert [str(e) for e in errors] == EXPECTED[name]
    assert all(isinstance(e, Iso15022Error) and e.code in CODES for e in errors)


def test_every_rule_in_the_brief_has_a_failing_case() -> None:
    codes = {err.split()[0] for errs in EXPECTED.values() for err in errs}
    required = {
        "T26", "T50", "C03", "T40", "T43", "T52", "T14", "T89", "K22", "K23", "K24", "K25", "L11",
        "M60", "E92", "E84", "E83", "L06", "L07", "L08", "L09", "L05", "L03", "L02", "L04", "L01",
    }
    assert required <= codes, required - codes
    assert all(p.stem in EXPECTED for p in INVALID.glob("*.fin"))


def test_error_string_format_matches_the_gateway_contract() -> None:
    text = golden_text("mt541_newm").replace("SEME//B01234REF000001", "SEME//B01234//REF01")
    (err,) = validate(text)
    assert str(err) == "T26 line 3 :20C::SEME// reference must not contain //"
    assert (err.code, err.line, err.field) == ("T26", 3, ":20C::SEME//")
    assert err.as_dict()["line"] == 3


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("HKD1,23", None),
        ("HKD1,", None),
        ("CNY0,5", None),
        ("USD12345678901,", None),
        ("USD1,234", "C03"),
        ("JPY1,5", "C03"),
        ("KWD1,234", None),
        ("NHKD0,", "T14"),
        ("NHKD0,01", None),
        ("HKD1", "T40"),
        ("HKD1,2,3", "T40"),
        ("HKD,1", "T43"),
        ("HKD123456789012345,", "T43"),
        ("CNH1,", "T52"),
    ],
)
def test_amount_rules(amount: str, code: str | None) -> None:
    text = golden_text("mt541_newm").replace("SETT//HKD384000,", f"SETT//{amount}")
    codes = [e.code for e in validate(text)]
    assert codes == ([code] if code else [])


@pytest.mark.parametrize(
    "isin", ["HK0000069689", "HK0388045442", "HK0941009539", "HK0016000132", "US0378331005"]
)
def test_isin_check_digits(isin: str) -> None:
    assert isin_check_digit_ok(isin)
    wrong = isin[:11] + str((int(isin[11]) + 1) % 10)
    assert not isin_check_digit_ok(wrong)


def test_multiple_errors_are_all_reported_in_line_order() -> None:
    text = (
        golden_text("mt543_newm")
        .replace("SETT//20250108", "SETT//20251308")
        .replace("UNIT/1000,", "UNIT/1000")
        .replace("REAG/HKEX", "XXXX/HKEX")
    )
    errors = validate(text)
    assert [e.code for e in errors] == ["T50", "T40", "L07", "L07", "T89"]
    assert [e.line for e in errors] == sorted(e.line for e in errors)


def test_oversize_is_reported_with_other_errors() -> None:
    text = golden_text("mt548_pack").replace("IPRC//PACK", "IPRC//PACK" + "\r\n:70D::REAS//X" * 2000)
    codes = {e.code for e in validate(text)}
    assert "L04" in codes and "L09" not in codes  # 25D not repeated; 70D is just out of place
    assert "L08" in codes


def test_mt541_free_and_against_payment_rules_differ() -> None:
    # The same message without AMT is valid as a 540 (free) but not as a 541.
    text = golden_text("mt541_canc")
    cut = text.replace(":16R:AMT\r\n:19A::SETT//HKD384000,\r\n:16S:AMT\r\n", "")
    assert [e.code for e in validate(cut)] == ["E92"]
    assert validate(cut.replace("{2:I541", "{2:I540")) == []


def test_validate_never_raises_on_non_text() -> None:
    errors = validate(b"{1:" if False else "\x00\xff{1:")  # noqa: SIM222 - type stays str
    assert errors and all(isinstance(e, Iso15022Error) for e in errors)


def test_code_table_documents_every_code() -> None:
    assert all(len(c) == 3 and text for c, text in CODES.items())
    assert pathlib.Path(INVALID / "expected.txt").exists()


def test_size_limit_counts_crlf_even_for_lf_input() -> None:
    text = golden_text("mt548_pack")
    filler = "\r\n:16R:STAT\r\n:25D::MTCH//MACH\r\n:16S:STAT"
    big = text.replace("\r\n:16S:GENL", filler * 250 + "\r\n:16S:GENL")
    assert 10_000 < len(big)
    lf = big.replace("\r\n", "\n")
    assert len(lf) < 10_000  # bare LF input is shorter, but it is the same message on the wire
    assert [e.code for e in validate(big)] == ["L04"]
    assert [e.code for e in validate(lf)] == ["L04"]
