"""`ledgerclear iso15022 validate|parse`: exit codes, one error per line, JSON, no tracebacks."""

from __future__ import annotations

import json
import pathlib

import pytest
import typer
from iso15022_golden import GOLDEN, golden_text
from typer.testing import CliRunner

from api.cli import iso15022 as cli_module


@pytest.fixture()
def app() -> typer.Typer:
    # Only our command group, so these tests do not depend on the other groups' imports.
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """test root"""

    cli_module.register(app)
    return app


def _write(tmp_path: pathlib.Path, text: str, name: str = "in.fin") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_validate_valid_file_exits_0(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["iso15022", "validate", str(GOLDEN / "mt541_newm.fin")])
    assert result.exit_code == 0
    assert result.stdout == ""


def test_validate_invalid_file_prints_errors_and_exits_1(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["iso15022", "validate", str(GOLDEN / "invalid" / "t26_double_slash.fin")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["T26 line 3 :20C::SEME// reference must not contain //"]


def test_validate_several_messages_with_file_line_numbers(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    good = golden_text("mt548_pack")
    bad = golden_text("mt541_newm").replace("SETT//20250108", "SETT//20250132")
    path = _write(tmp_path, good + "\r\n$\r\n" + bad + "\r\n\r\n" + good)
    result = CliRunner().invoke(app, ["iso15022", "validate", str(path)])
    assert result.exit_code == 1
    first_line_of_bad = good.count("\r\n") + 3  # after the "-}" line and the "$" line
    assert result.stdout.splitlines() == [  # 98A::SETT is line 8 of the message
        f"message 2: T50 line {first_line_of_bad + 7} :98A::SETT// date '20250132' does not exist"
    ]


def test_validate_garbage_never_tracebacks(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "garbage.fin"
    path.write_bytes(b"\xff\xfe{1:\x00garbage{{{}}}")
    result = CliRunner().invoke(app, ["iso15022", "validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stdout.splitlines()
    assert lines and all(ln.startswith("message ") and " L0" in ln for ln in lines)


def test_validate_missing_file_exits_2(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(app, ["iso15022", "validate", str(tmp_path / "nope.fin")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_validate_empty_file(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    result = CliRunner().invoke(app, ["iso15022", "validate", str(_write(tmp_path, "\n\n"))])
    assert result.exit_code == 1 and result.stdout.startswith("L02")


def test_parse_json_has_tree_and_model(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["iso15022", "parse", str(GOLDEN / "mt543_newm.fin"), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    (msg,) = doc["messages"]
    assert msg["errors"] == []
    assert msg["message"]["mt"] == "543"
    genl = msg["message"]["text"][0]
    assert genl["sequence"] == "GENL"
    assert genl["items"][0] == {"tag": "20C", "line": 3, "qualifier": "SEME", "issuer": "", "data": "B05678DLV0042"}
    model = msg["model"]
    assert model["type"] == "SettlementInstruction"
    assert model["settlement_amount"] == "384000.5" and model["currency"] == "HKD"
    assert model["security"]["stock_code"] == "700"
    assert (model["direction"], model["payment"]) == ("DELI", "APMT")
    assert model["settlement_date"] == "2025-01-08"


def test_parse_json_of_invalid_message_lists_errors(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["iso15022", "parse", str(GOLDEN / "invalid" / "l03_truncated.fin"), "--json"])
    assert result.exit_code == 1
    (msg,) = json.loads(result.stdout)["messages"]
    assert "message" not in msg and msg["errors"][0]["code"] == "L03"


def test_parse_text_output(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["iso15022", "parse", str(GOLDEN / "mt548_rejt.fin")])
    assert result.exit_code == 0
    assert "      :24B::REJT//'DSEC'" in result.stdout
    assert "model: StatusAdvice" in result.stdout


def test_registered_in_the_main_cli() -> None:
    from api import cli

    assert cli_module in cli.COMMAND_GROUPS
    assert "iso15022" in {group.name for group in cli.app.registered_groups}


def test_internal_error_is_one_line_not_a_traceback(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(text: str) -> list[tuple[int, str]]:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli_module, "split_messages", boom)
    result = CliRunner().invoke(app, ["iso15022", "validate", str(GOLDEN / "mt548_pack.fin")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "internal error (RuntimeError: simulated bug)" in result.output


def test_isin_check_digit_is_a_warning_and_strict_makes_it_an_error(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    text = golden_text("mt541_newm").replace("ISIN HK0000069689", "ISIN HK0000069688")
    path = _write(tmp_path, text)
    lenient = CliRunner().invoke(app, ["iso15022", "validate", str(path)])
    assert lenient.exit_code == 0
    assert lenient.stdout.startswith("warning: W11 line ")
    assert "HK0000069688" in lenient.stdout
    strict = CliRunner().invoke(app, ["iso15022", "validate", "--strict", str(path)])
    assert strict.exit_code == 1
    assert strict.stdout.startswith("W11 line ")


def test_an_error_beside_a_warning_still_fails(app: typer.Typer, tmp_path: pathlib.Path) -> None:
    text = golden_text("mt541_newm").replace("ISIN HK0000069689", "ISIN HK0000069688")
    text = text.replace(":98A::SETT//20250108", ":98A::SETT//20250230")
    result = CliRunner().invoke(app, ["iso15022", "validate", str(_write(tmp_path, text))])
    assert result.exit_code == 1
    codes = [line.split()[0] for line in result.stdout.splitlines()]
    assert codes == ["warning:", "T50"] or codes == ["T50", "warning:"]
