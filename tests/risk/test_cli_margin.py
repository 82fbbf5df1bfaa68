from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from risk.margin import COMPONENT_KEYS
from risk.rpf import write_rpf

from risk_testkit import HAND_HVAR, HAND_SVAR, make_rpf

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rpf = tmp_path / "RPF01.csv"
    write_rpf(make_rpf(HAND_HVAR, HAND_SVAR), rpf)
    pos = tmp_path / "POSITIONS.csv"
    pos.write_text("InstrumentID,Quantity,ContractValue,MarketValue\nA,10,990,1000\nB,-4,-410,-400\n")
    cp = tmp_path / "CP.json"
    cp.write_text(json.dumps({"floor_rate": 0.032, "liquid_capital": 1e12, "liquid_capital_multiplier": 1,
                              "margin_credit": 0, "liquid_capital_cap": None}))
    return {"rpf": rpf, "pos": pos, "cp": cp}


def _args(f: dict[str, Path], **over: Path) -> list[str]:
    g = {**f, **over}
    return ["margin", "--rpf", str(g["rpf"]), "--positions", str(g["pos"]), "--cp-params", str(g["cp"])]


def test_json_output(files: dict[str, Path]) -> None:
    res = runner.invoke(app, [*_args(files), "--json"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert set(COMPONENT_KEYS) <= set(out) and "detail" in out
    # Same hand case as test_margin_hand: PM 50, rounded 10000, favourable MTM 20.
    assert out["portfolio_margin"] == 50
    assert out["rounded_margin"] == 10000
    assert out["total_requirement"] == 9980


def test_table_output(files: dict[str, Path]) -> None:
    res = runner.invoke(app, _args(files))
    assert res.exit_code == 0
    assert "portfolio margin" in res.stdout and "9,980" in res.stdout


def test_bad_rpf_reports_row_and_column(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    text = files["rpf"].read_text().replace("0.0105", "x", 1)
    bad.write_text(text)
    res = runner.invoke(app, [*_args(files, rpf=bad), "--json"])
    assert res.exit_code == 2
    assert "bad.csv, row 14, column 3" in res.stderr
    assert "Traceback" not in res.output
    assert res.stdout == ""


def test_unknown_cp_key(files: dict[str, Path], tmp_path: Path) -> None:
    cp = tmp_path / "cp2.json"
    cp.write_text(json.dumps({"floor_rate": 0.032, "liquid_capital": 1, "liquid_capital_multiplier": 1,
                              "florr_rate": 1}))
    res = runner.invoke(app, [*_args(files, cp=cp), "--json"])
    assert res.exit_code == 2 and "florr_rate" in res.stderr


def test_bad_positions_and_unknown_instrument(files: dict[str, Path], tmp_path: Path) -> None:
    pos = tmp_path / "p.csv"
    pos.write_text("InstrumentID,Quantity,ContractValue,MarketValue\nA,10,990,nan\n")
    res = runner.invoke(app, _args(files, pos=pos))
    assert res.exit_code == 2 and "p.csv, row 2, column 4" in res.stderr
    pos.write_text("InstrumentID,Quantity,ContractValue,MarketValue\nZZZ,10,990,1000\n")
    res = runner.invoke(app, _args(files, pos=pos))
    assert res.exit_code == 2 and "ZZZ" in res.stderr
    assert "p.csv, row 2, column 1" in res.stderr


def test_missing_file_and_option(files: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(app, _args(files, rpf=tmp_path / "nope.csv"))
    assert res.exit_code == 2 and "nope.csv" in res.stderr
    res = runner.invoke(app, ["margin", "--rpf", str(files["rpf"])])
    assert res.exit_code == 2 and "--positions" in res.stderr


def test_generate_market_then_rpf_then_margin(tmp_path: Path) -> None:
    prices, rpf = tmp_path / "prices.csv", tmp_path / "RPF01.csv"
    res = runner.invoke(app, ["margin", "generate-market", "--out", str(prices), "--instruments", "6",
                              "--days", "400", "--seed", "9"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["margin", "generate-rpf", "--prices", str(prices), "--out", str(rpf),
                              "--hvar-count", "200", "--svar-count", "100", "--flat", "5"])
    assert res.exit_code == 0, res.output
    pos = tmp_path / "pos.csv"
    pos.write_text("InstrumentID,Quantity,ContractValue,MarketValue\n2800,1000,25000,25500\n5,100,900,1000\n")
    cp = tmp_path / "cp.json"
    cp.write_text('{"floor_rate": 0.032, "custodian": true}')
    res = runner.invoke(app, ["margin", "--rpf", str(rpf), "--positions", str(pos), "--cp-params", str(cp), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["portfolio_margin"] > 0 and out["flat_rate_margin"] > 0
    assert out["detail"]["hvar_k"] == 2  # ceil(0.006 * 200) = 2


def test_generate_rpf_bad_prices(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("Date,2800\n01/01/2026,25\n02/01/2026,abc\n")
    res = runner.invoke(app, ["margin", "generate-rpf", "--prices", str(prices), "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "p.csv, row 3, column 2" in res.stderr


def test_whatif_cli(files: dict[str, Path]) -> None:
    res = runner.invoke(app, ["margin", "whatif", "--rpf", str(files["rpf"]), "--positions", str(files["pos"]),
                              "--cp-params", str(files["cp"]), "--trade", "B,4,410,400", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # Closing B leaves A alone: H P&L [11,-21,2,-30,50] -> ES -25.5; S [-100,20,-51,0] -> -75.5
    # 0.75 * 25.5 + 0.25 * 75.5 = 38 -> portfolio margin 38 (floor 32).
    assert out["base"]["portfolio_margin"] == 50
    assert out["new"]["portfolio_margin"] == 38 and out["change"]["portfolio_margin"] == -12
    res = runner.invoke(app, ["margin", "whatif", "--rpf", str(files["rpf"]), "--positions", str(files["pos"]),
                              "--cp-params", str(files["cp"]), "--trade", "B,4"])
    assert res.exit_code == 2 and "--trade #1" in res.stderr


def test_stress_and_backtest_cli(tmp_path: Path) -> None:
    prices, rpf = tmp_path / "prices.csv", tmp_path / "RPF01.csv"
    assert runner.invoke(app, ["margin", "generate-market", "--out", str(prices), "--instruments", "5",
                               "--days", "330", "--seed", "2"]).exit_code == 0
    assert runner.invoke(app, ["margin", "generate-rpf", "--prices", str(prices), "--out", str(rpf),
                               "--hvar-count", "200", "--svar-count", "100"]).exit_code == 0
    d = tmp_path / "pos"
    d.mkdir()
    (d / "B1.csv").write_text("InstrumentID,Quantity,ContractValue,MarketValue\n2800,100000,2500000,2500000\n")
    (d / "B2.csv").write_text("InstrumentID,Quantity,ContractValue,MarketValue\n1,-5000,-50000,-50000\n")
    cp = tmp_path / "cp.json"
    cp.write_text('{"floor_rate": 0.032, "custodian": true, "margin_credit": 0}')
    res = runner.invoke(app, ["margin", "stress", "--prices", str(prices), "--rpf", str(rpf),
                              "--positions-dir", str(d), "--cp-params", str(cp), "--count", "20"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["fund_size"] >= 0 and set(out["contributions"]) == {"B1", "B2"}
    res = runner.invoke(app, ["margin", "backtest", "--prices", str(prices), "--positions-dir", str(d),
                              "--cp-params", str(cp), "--days", "20", "--hvar-count", "200", "--svar-count", "100",
                              "--csv", str(tmp_path / "bt.csv")])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["market"]["observations"] == 20 and len(rep["per_cp"]) == 2
    assert (tmp_path / "bt.csv").read_text().count("\n") == 4


def test_generate_rpf_with_holiday_calendar(tmp_path: Path) -> None:
    from risk.rpf import read_rpf

    prices, rpf = tmp_path / "prices.csv", tmp_path / "RPF01.csv"
    assert runner.invoke(app, ["margin", "generate-market", "--out", str(prices), "--instruments", "3",
                               "--days", "300", "--seed", "4"]).exit_code == 0
    from risk.synthetic_market import read_prices

    last = read_prices(prices).dates[-1]  # 20/11/2026, a Friday
    cal = tmp_path / "hk.txt"
    # Mon and Tue after the valuation date are holidays: H = 2 -> sqrt(2) - 1.
    cal.write_text("23/11/2026\n24/11/2026\n")
    res = runner.invoke(app, ["margin", "generate-rpf", "--prices", str(prices), "--out", str(rpf),
                              "--hvar-count", "100", "--svar-count", "50", "--holidays", str(cal)])
    assert res.exit_code == 0, res.output
    assert last.weekday() == 4
    assert read_rpf(rpf).header.holiday_factor == pytest.approx(2**0.5 - 1)


def test_batch_cli(files: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "pos"
    d.mkdir()
    (d / "B1.csv").write_text(files["pos"].read_text())
    (d / "B2.csv").write_text("InstrumentID,Quantity,ContractValue,MarketValue\nB,4,410,400\n")
    res = runner.invoke(app, ["margin", "batch", "--rpf", str(files["rpf"]), "--positions-dir", str(d),
                              "--cp-params", str(files["cp"])])
    assert res.exit_code == 0, res.output
    rows = res.stdout.strip().splitlines()
    assert rows[0].startswith("CP,portfolio_margin,") and len(rows) == 3
    assert rows[1].split(",")[0:2] == ["B1", "50"]  # the hand case
    res = runner.invoke(app, ["margin", "batch", "--rpf", str(files["rpf"]), "--positions-dir", str(d),
                              "--cp-params", str(d), "--json"])
    assert res.exit_code == 2 and "B1.json" in res.stderr
