"""The schema is the standard: each content the issue found refused (or wrongly accepted)."""

from __future__ import annotations

import pytest
from iso15022_golden import golden_text

from api.iso15022 import decode, parse, validate


def _codes(text: str) -> list[str]:
    return [e.code for e in validate(text)]


def _with(name: str, anchor: str, extra: str) -> str:
    text = golden_text(name)
    assert anchor in text
    return text.replace(anchor, anchor + extra.replace("\n", "\r\n"), 1)


@pytest.mark.parametrize(
    ("name", "anchor", "extra"),
    [
        ("mt541_newm", ":23G:NEWM\r\n", ":16R:LINK\n:22F::LINK//WITH\n:20C::POOL//POOL1\n:16S:LINK\n"),
        ("mt541_newm", ":16S:AMT\r\n", ":16R:AMT\n:19A::ACRU//HKD10,\n:16S:AMT\n:16R:AMT\n:19A::OCMT//HKD10,\n:16S:AMT\n"),
        ("mt541_newm", ":23G:NEWM\r\n", ":99B::TOSE//002\n"),
        ("mt541_newm", ":16R:SETPRTY\r\n:95P::PSET//XHKCHKH1\r\n", ":98A::PROC//20250108\n"),
        ("mt541_newm", ":16S:SETDET\r\n", ":16R:OTHRPRTY\n:95P::MEOR//XHKCHKH1\n:16S:OTHRPRTY\n"),
        ("mt541_newm", ":16S:FIAC\r\n", ":16R:REPO\n:98A::TERM//20250110\n:92A::REPO//1,5\n:16S:REPO\n"),
        ("mt541_newm", ":16S:AMT\r\n", ":16R:CSHPRTY\n:95P::ACCW//XHKCHKH1\n:97A::CASH//C-1\n:16S:CSHPRTY\n"),
        ("mt541_newm", "AIA GROUP LTD\r\n", ":16R:FIA\n:12C::CLAS//ESVUFR\n:16S:FIA\n"),
        ("mt541_newm", ":22F::STCO//PART\r\n", ":22F::STCO//EXER\n"),
        ("mt535_holdings", ":28E:1/ONLY\r\n", ":13A::STAT//001\n"),
        ("mt535_holdings", ":93B::AVAI//UNIT/4000,\r\n", ":16R:SUBBAL\n:93B::BLOK//UNIT/1000,\n:16S:SUBBAL\n"),
        ("mt535_holdings", "AIA GROUP LTD\r\n", ":16R:FIA\n:92A::CUFC//0,5\n:16S:FIA\n"),
    ],
)
def test_standard_content_is_accepted(name: str, anchor: str, extra: str) -> None:
    assert _codes(_with(name, anchor, extra)) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (":98C::PREP//20250106093000", ":98E::PREP//20250106093000,123/N05"),
        (":90B::DEAL//ACTU/HKD76,8", ":90A::DEAL//PRCT/101,5"),
        (":97A::SAFE//B01234-001", ":97B::SAFE//IORT/B01234-001"),
        (":22F::SETR//TRAD", ":22F::SETR//BSBK"),
    ],
)
def test_standard_options_and_codes_are_accepted(old: str, new: str) -> None:
    text = golden_text("mt541_newm")
    assert old in text
    assert _codes(text.replace(old, new)) == []  # and no spurious "97a missing" after 97B


def test_a_wrong_option_says_which_options_the_qualifier_takes() -> None:
    text = golden_text("mt541_newm").replace(":98A::SETT//20250108", ":98E::SETT//20250108093000")
    (err,) = validate(text)
    assert err.code == "L15" and "expected A/B/C" in err.message


def test_quantity_repeats_only_as_famt_and_amor() -> None:
    base = golden_text("mt541_newm")
    pair = base.replace(":36B::SETT//UNIT/5000,", ":36B::SETT//FAMT/5000,\r\n:36B::SETT//AMOR/4000,")
    assert _codes(pair) == []
    units = base.replace(":36B::SETT//UNIT/5000,", ":36B::SETT//UNIT/5000,\r\n:36B::SETT//UNIT/4000,")
    assert _codes(units) == ["L16"]


def test_mt535_genl_requires_statement_type_basis_and_audit_flag() -> None:
    text = golden_text("mt535_holdings")
    for line in (":22F::STTY//CUST\r\n", ":22F::STBA//SETT\r\n", ":17B::AUDT//N\r\n"):
        assert _codes(text.replace(line, "")) == ["L07"]


def test_mt535_aggregate_balance_may_repeat_as_a_pair() -> None:
    text = golden_text("mt535_holdings").replace(":93B::AGGR//UNIT/800,", ":93B::AGGR//FAMT/800,\r\n:93B::AGGR//AMOR/700,")
    assert _codes(text) == []


def test_mt535_additional_information_sequence() -> None:
    text = golden_text("mt535_holdings").replace(":16S:SUBSAFE\r\n", ":16S:SUBSAFE\r\n:16R:ADDINFO\r\n:19A::HOLS//HKD1,\r\n:16S:ADDINFO\r\n")
    assert _codes(text) == []


def test_trailing_system_block_is_accepted_and_kept() -> None:
    text = golden_text("mt541_newm") + "{S:{SAC:}{COP:P}}"
    assert _codes(text) == []
    assert parse(text).system == [("SAC", ""), ("COP", "P")]


def test_a_bad_character_in_35b_is_one_error_not_also_a_missing_35b() -> None:
    text = golden_text("mt541_newm").replace("AIA GROUP LTD", "AIA GROUP LTD #1")
    assert _codes(text) == ["M60"]


def test_a_security_without_local_code_has_no_market() -> None:
    text = golden_text("mt541_newm").replace("ISIN HK0000069689\r\n/HK/1299\r\n", "ISIN GB0002634946\r\n")
    model = decode(parse(text))
    assert model.security.market == ""  # type: ignore[union-attr]
    assert model.security.isin == "GB0002634946"  # type: ignore[union-attr]


def test_schema_doc_is_generated_from_the_schema() -> None:
    import importlib.util
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("schema_doc", root / "scripts" / "iso15022_schema_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (root / "docs" / "iso15022-schema.md").read_text() == module.render()
