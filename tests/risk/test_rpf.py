from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from risk.errors import RPFFormatError
from risk.rpf import (
    CorporateActionParams,
    LiquidityParams,
    RiskParameterFile,
    RPFHeader,
    SPAddonParams,
    StructuredProductParams,
    format_rpf,
    parse_rpf,
    read_rpf,
    write_rpf,
)

HEADER = """Valuation_DT,20/11/2026
HVaR_WGT,0.75
SVaR_WGT,0.25
HVaR_Scen_Count,3
SVaR_Scen_Count,4
STV_Count,200
HVaR_CL,0.994
SVaR_CL,0.98
HVaR_Measure,4
SVaR_Measure,4
Rounding,10000
Holiday_Factor,0
InstrumentID,FieldType,1,2,3,4
"""
# Row numbers: the table header is row 13, so instrument rows start at 14.
GOOD_ROWS = """700,1,0.01,-0.02,0.03
700,2,0.01,-0.02,0.03,-0.04
700,4,0.05,1.1,1000000,350.2
2800,3,0.12
12345,1,0.1,0.2,0.3
12345,2,0.1,0.2,0.3,0.4
12345,5,700,0.5,10,17.5
12345,6,0.01,0.5
1299,7,3,1.2,0.1,0.2
"""


def test_parse_good_file() -> None:
    rpf = parse_rpf(HEADER + GOOD_ROWS)
    assert rpf.header.valuation_date == date(2026, 11, 20)
    assert rpf.header.hvar_scen_count == 3 and rpf.header.svar_scen_count == 4
    assert rpf.var_instruments == ("700", "12345")
    np.testing.assert_array_equal(rpf.hvar_returns[0], [0.01, -0.02, 0.03])
    np.testing.assert_array_equal(rpf.svar_returns[1], [0.1, 0.2, 0.3, 0.4])
    assert rpf.flat_rates == {"2800": 0.12}
    assert rpf.liquidity["700"] == LiquidityParams(0.05, 1.1, 1e6, 350.2)
    assert rpf.structured_products["12345"] == StructuredProductParams("700", 0.5, 10.0, 17.5)
    assert rpf.sp_addon["12345"] == SPAddonParams(0.01, 0.5)
    assert rpf.corporate_actions["1299"] == CorporateActionParams(3, 1.2, 0.1, 0.2)


def test_trailing_empty_cells_are_padding() -> None:
    rows = "700,1,0.01,-0.02,0.03,,\n700,2,0.01,-0.02,0.03,-0.04\n2800,3,0.12,,,\n"
    rpf = parse_rpf(HEADER + rows)
    assert rpf.flat_rates["2800"] == 0.12


def test_round_trip_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hv = rng.standard_t(3, (4, 1000)) * 0.02
    sv = rng.standard_t(3, (4, 1018)) * 0.04
    hv[0, 0] = 1 / 3  # a value without a short decimal form
    rpf = RiskParameterFile(
        RPFHeader(date(2026, 2, 3), holiday_factor=2**0.5 - 1, extra=(("File_ID", "RPF01"),)),
        ("700", "5", "12345", "2800"),
        hv,
        sv,
        {"8001": 0.3},
        {"700": LiquidityParams(0.05, 1.2, 5e6, 350.4), "2800": LiquidityParams(0.02, 1.0, 6e8, 25.1)},
        {"12345": StructuredProductParams("700", 0.47, 10.0, 16.4)},
        {"12345": SPAddonParams(0.01, 0.5)},
        {"1299": CorporateActionParams(3, 1.2, 0.1, 0.25)},
    )
    path = tmp_path / "RPF01.csv"
    write_rpf(rpf, path)
    back = read_rpf(path)
    assert back == rpf
    assert back.hvar_returns[0, 0] == 1 / 3
    assert format_rpf(back) == path.read_text()


def _err(text: str) -> RPFFormatError:
    with pytest.raises(RPFFormatError) as ei:
        parse_rpf(text, source="RPF01.csv")
    return ei.value


def test_wrong_scenario_count() -> None:
    e = _err(HEADER + "700,1,0.01,-0.02\n700,2,0.01,-0.02,0.03,-0.04\n")
    assert (e.row, e.column) == (14, 5)
    assert "3 HVaR scenario values" in e.expected
    assert "RPF01.csv, row 14, column 5" in str(e)


def test_too_many_svar_values() -> None:
    e = _err(HEADER.replace("1,2,3,4\n", "1,2,3,4,5\n") + "700,1,0.01,-0.02,0.03\n700,2,0.01,-0.02,0.03,-0.04,0.05\n")
    assert e.row == 15 and "4 SVaR" in e.expected


def test_non_numeric() -> None:
    e = _err(HEADER + "700,1,0.01,abc,0.03\n")
    assert (e.row, e.column) == (14, 4)
    assert "non-numeric" in str(e)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN", "1e999", "1_0", " 1"])
def test_non_finite_or_odd_numbers(bad: str) -> None:
    e = _err(HEADER + f"700,1,0.01,0.02,{bad}\n")
    assert (e.row, e.column) == (14, 5)


def test_empty_cell_inside_row() -> None:
    e = _err(HEADER + "700,1,0.01,,0.03\n")
    assert (e.row, e.column) == (14, 4)


def test_unknown_field_type() -> None:
    e = _err(HEADER + "700,9,0.01\n")
    assert (e.row, e.column) == (14, 2) and "FieldType 1-7" in e.expected


def test_missing_header() -> None:
    text = HEADER.replace("Rounding,10000\n", "")
    e = _err(text + GOOD_ROWS)
    assert "missing header Rounding" in str(e)
    assert e.row == 12  # the table header row, before which Rounding should appear


def test_no_table_header() -> None:
    e = _err(HEADER.split("InstrumentID")[0])
    assert "table header" in str(e)


def test_negative_flat_rate() -> None:
    e = _err(HEADER + "2800,3,-0.12\n")
    assert (e.row, e.column) == (14, 3) and "negative" in str(e)


def test_negative_bucket_rate_and_threshold() -> None:
    assert _err(HEADER + "700,4,-0.05,1,1,1\n").column == 3
    assert _err(HEADER + "700,4,0.05,1,-1,1\n").column == 5


def test_wrong_fixed_width() -> None:
    e = _err(HEADER + "700,4,0.05,1.1,1000000\n")
    assert e.row == 14 and e.expected == "4 values"


def test_ft1_without_ft2() -> None:
    e = _err(HEADER + "700,1,0.01,-0.02,0.03\n")
    assert e.row == 14 and "FieldType 2" in str(e)


def test_duplicate_row() -> None:
    e = _err(HEADER + GOOD_ROWS + "2800,3,0.3\n")
    assert e.row == 23 and "duplicate" in str(e)


def test_bad_date_and_counts() -> None:
    assert _err(HEADER.replace("20/11/2026", "2026-11-20")).row == 1
    e = _err(HEADER.replace("HVaR_Scen_Count,3", "HVaR_Scen_Count,3.5"))
    assert (e.row, e.column) == (4, 2)
    e = _err(HEADER.replace("HVaR_Measure,4", "HVaR_Measure,2"))
    assert e.row == 9


def test_bad_table_header_numbering() -> None:
    e = _err(HEADER.replace("1,2,3,4", "1,2,4,5") + GOOD_ROWS)
    assert (e.row, e.column) == (13, 5)


def test_table_too_narrow_for_scenarios() -> None:
    e = _err(HEADER.replace("1,2,3,4", "1,2,3") + GOOD_ROWS)
    assert e.row == 13


def test_bad_corporate_action_type() -> None:
    e = _err(HEADER + "1299,7,4,1.2,0.1,0.2\n")
    assert (e.row, e.column) == (14, 3)


def test_scenarios_and_flat_rate_conflict() -> None:
    e = _err(HEADER + "700,1,0.01,-0.02,0.03\n700,2,0.01,-0.02,0.03,-0.04\n700,3,0.12\n")
    assert e.row == 16


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JUNK = st.sampled_from(["", "x", "nan", "-inf", "1e999", "1_0", " ", '"', "1,2", "٣", "-", "9", "0.5", "-0.1", "8"])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzzed_cells_never_crash_the_parser(data: st.DataObject) -> None:
    lines = (HEADER + GOOD_ROWS).splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    cells = lines[i].split(",")
    j = data.draw(st.integers(0, len(cells) - 1))
    cells[j] = data.draw(_JUNK)
    lines[i] = ",".join(cells)
    try:
        rpf = parse_rpf("\n".join(lines) + "\n")
    except RPFFormatError as e:
        assert e.row is None or 1 <= e.row <= len(lines)
        assert e.column is None or e.column >= 1
    else:
        # Whatever parses must be finite and round-trip.
        assert np.isfinite(rpf.hvar_returns).all() and np.isfinite(rpf.svar_returns).all()
        assert parse_rpf(format_rpf(rpf)) == rpf


def test_writer_rejects_unwritable_ids() -> None:
    rpf = RiskParameterFile(RPFHeader(date(2026, 1, 2), hvar_scen_count=1, svar_scen_count=1), flat_rates={"7,00": 0.1})
    with pytest.raises(ValueError, match="7,00"):
        format_rpf(rpf)


def test_crlf_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "win.csv"
    p.write_bytes(("\ufeff" + HEADER + GOOD_ROWS).replace("\n", "\r\n").encode("utf-8"))
    assert read_rpf(p) == parse_rpf(HEADER + GOOD_ROWS)


def test_corporate_action_scenario_moves_are_signed_as_in_the_guides_file() -> None:
    # The Initial Margin Calculation Guide's example file carries FieldType 7 scenario moves
    # such as -0.5 and -1 (columns 3 and 4 of the values); they are price moves, not rates.
    rpf = parse_rpf(HEADER + "1299,7,3,1.2,-0.5,-1\n700,7,1,0,0.25,-0.1\n")
    assert rpf.corporate_actions["1299"] == CorporateActionParams(3, 1.2, -0.5, -1.0)
    assert rpf.corporate_actions["700"] == CorporateActionParams(1, 0.0, 0.25, -0.1)
    assert parse_rpf(format_rpf(rpf)) == rpf


def test_corporate_action_move_beyond_minus_100_percent_is_rejected_where_it_is() -> None:
    e = _err(HEADER + "1299,7,3,1.2,-1.5,0.2\n")
    assert (e.row, e.column) == (14, 5)
    assert ">= -1" in str(e)


def test_negative_entitlement_price_is_still_rejected() -> None:
    e = _err(HEADER + "1299,7,3,-1.2,0.1,0.2\n")
    assert (e.row, e.column) == (14, 4)


@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=8),
       st.floats(-1, 1), st.floats(-1, 1))
def test_signed_moves_give_the_margin_of_their_size(net: list[float], short: float, long_: float) -> None:
    from risk.margin import corporate_action_margin

    mv = np.array(net)
    signed = corporate_action_margin(mv, np.full(len(net), short), np.full(len(net), long_))
    sized = corporate_action_margin(mv, np.full(len(net), abs(short)), np.full(len(net), abs(long_)))
    assert signed == sized
