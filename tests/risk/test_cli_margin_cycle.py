"""`ledgerclear margin cycle`: the daily cycle from CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from risk.rpf import LiquidityParams, write_rpf

from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rpf = tmp_path / "RPF01.csv"
    liq = {k: LiquidityParams(0.0, 1.0, 1e12, 100.0) for k in ("A", "B", "2800")}
    write_rpf(make_rpf(HAND_HVAR, HAND_SVAR, liquidity=liq), rpf)
    ins = tmp_path / "instructions.csv"
    ins.write_text("deliverer,receiver,security_code,quantity,amount_cents,currency,state\n"
                   "H00001,B01234,A,10,99000,HKD,pending\n"
                   "B01234,H00001,B,4,41000,HKD,failed\n"
                   "H00001,B05678,A,10,99000,HKD,settled\n")
    cp = tmp_path / "CP.json"
    cp.write_text(json.dumps({"floor_rate": 0.032, "liquid_capital": 1e12, "liquid_capital_multiplier": 1,
                              "margin_credit": 0, "liquid_capital_cap": None}))
    coll = tmp_path / "collateral.csv"
    coll.write_text("CP,Collateral\nB01234,5000\nB05678,0\n")
    marks = tmp_path / "marks.csv"
    marks.write_text("InstrumentID,Price\nA,100\nB,100\n")
    return {"rpf": rpf, "ins": ins, "cp": cp, "coll": coll, "marks": marks}


def _args(f: dict[str, Path]) -> list[str]:
    return ["margin", "cycle", "--rpf", str(f["rpf"]), "--instructions", str(f["ins"]), "--cp-params", str(f["cp"]),
            "--collateral", str(f["coll"]), "--exclude", "H00001"]


def test_cycle_json(files: dict[str, Path]) -> None:
    for extra in ([], ["--marks", str(files["marks"])]):  # RPF FieldType 4 prices or a marks file: same marks
        res = runner.invoke(app, [*_args(files), *extra, "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        by_cp = {p["cp"]: p for p in out["participants"]}
        assert by_cp["B01234"]["requirement"] == 9980 and by_cp["B01234"]["margin_call"] == 10_000
        assert by_cp["B01234"]["eligible"] is False
        assert by_cp["B05678"]["requirement"] == 0 and by_cp["B05678"]["eligible"] is True
        assert out["totals"]["ineligible"] == 1 and out["valuation_date"] == "2026-11-20"


def test_cycle_table_and_default(files: dict[str, Path]) -> None:
    res = runner.invoke(app, [*_args(files), "--defaulted", "B05678"])
    assert res.exit_code == 0, res.output
    assert "B01234" in res.stdout and "9,980" in res.stdout and "defaulted" in res.stdout


def test_cycle_bad_input_is_named(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("deliverer,receiver,security_code,quantity,amount_cents,currency\nH00001,B01234,A,ten,1,HKD\n")
    res = runner.invoke(app, [*_args({**files, "ins": bad}), "--json"])
    assert res.exit_code == 2 and "bad.csv, row 2, column 4" in res.stderr
    unmarked = tmp_path / "u.csv"
    unmarked.write_text("deliverer,receiver,security_code,quantity,amount_cents,currency\nH00001,B01234,C,1,1,HKD\n")
    res = runner.invoke(app, [*_args({**files, "ins": unmarked}), "--json"])
    assert res.exit_code == 2 and "no mark for instrument C" in res.stderr
