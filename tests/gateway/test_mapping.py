"""Mapping of decoded MT540-543/530 to SI legs, cancellations and commands; each rejection reason."""

from __future__ import annotations

from api.gateway.accounts import account_owner
from api.gateway.mapping import CancelLeg, Commands, NewLeg, Rejection, map_command, map_instruction
from api.gateway.refdata import RefData, SecurityRef
from api.iso15022 import read
from api.iso15022.models import ProcessingCommand, SettlementInstruction
from ledger import si_matching as si

from .gateway_helpers import A, B, command, instruction

C = "B00777"


def _refdata() -> RefData:
    rd = RefData(participants={A: "active", B: "active", C: "active"}, currencies=("HKD", "CNY", "USD"))
    rd.add_security(SecurityRef("1299", 1299, "HK0000069689", "AIA GROUP LTD", 200, "HKD"))
    rd.add_security(SecurityRef("700", 700, "HK0070000002", "TENCENT", 100, "HKD"))
    return rd


def _map(text: str, sender: str = A) -> NewLeg | CancelLeg | Rejection:
    m = read(text)
    assert isinstance(m, SettlementInstruction)
    return map_instruction(m, sender, _refdata())


def test_541_is_receive_against_payment_leg() -> None:
    out = _map(instruction(541, A, B, "R1", amount="384000.5"))
    assert isinstance(out, NewLeg)
    leg = out.leg
    assert (leg.sender, leg.counterparty, leg.direction, leg.payment) == (A, B, si.Direction.RECEIVE, si.Payment.AGAINST)
    assert (leg.security_code, leg.quantity, leg.amount_cents, leg.currency) == ("1299", 1000, 38_400_050, "HKD")


def test_543_is_deliver_against_payment_and_542_free_of_payment() -> None:
    out = _map(instruction(543, A, B, "R1"))
    assert isinstance(out, NewLeg) and out.leg.direction == si.Direction.DELIVER and out.leg.payment == si.Payment.AGAINST
    fop = _map(instruction(542, A, B, "R2"))
    assert isinstance(fop, NewLeg) and fop.leg.payment == si.Payment.FREE and fop.leg.amount_cents == 0
    rfop = _map(instruction(540, A, B, "R3"))
    assert isinstance(rfop, NewLeg) and rfop.leg.direction == si.Direction.RECEIVE and rfop.leg.payment == si.Payment.FREE


def test_stock_code_alone_finds_the_security_and_partial_indicator_is_kept() -> None:
    out = _map(instruction(543, A, B, "R1", isin=None, stock_code="00700", partial="PART"))
    assert isinstance(out, NewLeg) and out.leg.security_code == "700" and out.partial is True


def test_cancel_maps_to_previous_reference() -> None:
    out = _map(instruction(541, A, B, "R9", function="CANC", previous="R1"))
    assert isinstance(out, CancelLeg) and out.reference == "R1"


def test_unknown_isin_is_rejected_dsec() -> None:
    out = _map(instruction(541, A, B, "R1", isin="HK0888800007"))
    assert isinstance(out, Rejection) and out.reason == "DSEC" and "HK0888800007" in out.narrative


def test_unknown_stock_code_and_disagreeing_codes_are_rejected_dsec() -> None:
    out = _map(instruction(541, A, B, "R1", isin=None, stock_code="9999"))
    assert isinstance(out, Rejection) and out.reason == "DSEC" and "/HK/9999" in out.narrative
    both = _map(instruction(541, A, B, "R1", isin="HK0000069689", stock_code="700"))
    assert isinstance(both, Rejection) and both.reason == "DSEC"


def test_unknown_safekeeping_account_is_rejected_safe() -> None:
    for acct in ("XYZ123", "B99999", "B01234-TOOLONGSUFFIX"):
        out = _map(instruction(541, A, B, "R1", account=acct))
        assert isinstance(out, Rejection) and out.reason == "SAFE" and "UNKNOWN" in out.narrative, acct
        assert out.field == ":97A::SAFE//"


def test_own_sub_account_is_accepted() -> None:
    assert account_owner("B01234-01") == A
    assert isinstance(_map(instruction(541, A, B, "R1", account="B01234-01")), NewLeg)


def test_foreign_account_is_rejected_safe() -> None:
    out = _map(instruction(541, A, B, "R1", account="B05678-01"))
    assert isinstance(out, Rejection) and out.reason == "SAFE" and "NOT AN ACCOUNT OF B01234" in out.narrative


def test_counterparty_not_a_participant_is_rejected_icag() -> None:
    out = _map(instruction(541, A, "B99999", "R1"))
    assert isinstance(out, Rejection) and out.reason == "ICAG" and "B99999" in out.narrative
    bic = _map(instruction(541, A, B, "R1", counterparty_bic="CUSTHKHHXXX"))
    assert isinstance(bic, Rejection) and bic.reason == "ICAG"
    itself = _map(instruction(541, A, A, "R1"))
    assert isinstance(itself, Rejection) and itself.reason == "ICAG"


def test_currency_not_settled_is_rejected_ncrr() -> None:
    out = _map(instruction(541, A, B, "R1", currency="EUR"))
    assert isinstance(out, Rejection) and out.reason == "NCRR" and "EUR" in out.narrative


def test_530_maps_to_requests_and_checks_its_account() -> None:
    m = read(command(A, "C1", "R1", hold=True))
    assert isinstance(m, ProcessingCommand)
    out = map_command(m, A, _refdata())
    assert isinstance(out, Commands) and out.requests[0].reference == "R1" and out.requests[0].hold is True
    p = read(command(A, "C2", "R1", partial="NPAR"))
    assert isinstance(p, ProcessingCommand)
    out2 = map_command(p, A, _refdata())
    assert isinstance(out2, Commands) and out2.requests[0].partial is False


def test_isin_failing_its_check_digit_passes_validation_but_is_rejected_dsec() -> None:
    # The check digit is only a warning for the validator (SWIFT checks the format); the host
    # still refuses a security it does not list, with the ISIN in the reason.
    text = instruction(541, A, B, "R1", isin="HK0000069688")
    out = _map(text)
    assert isinstance(out, Rejection) and out.reason == "DSEC" and "HK0000069688" in out.narrative
