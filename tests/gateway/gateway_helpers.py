"""Shared helpers for the gateway tests: messages, free ports, a running gateway."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from api.iso15022 import build_model
from api.iso15022.models import Envelope, Party, ProcessingCommand, ProcessingRequest, SecurityId, SettlementInstruction

if TYPE_CHECKING:
    from api.gateway.server import GatewayConfig

T = TypeVar("T")
A, B = "B01234", "B05678"
LT = {A: "BROKHKHHAXXX", B: "CUSTHKHHAXXX"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def instruction(mt: int, sender: str, counterparty: str, ref: str, *, quantity: int = 1000,
                amount: str | None = "384000", currency: str | None = "HKD", isin: str | None = "HK0000069689",
                stock_code: str | None = None, account: str | None = None, settle: dt.date | None = None,
                function: str = "NEWM", previous: str | None = None, partial: str | None = None,
                counterparty_bic: str | None = None) -> str:
    day = settle or dt.datetime.now(dt.UTC).date()
    role = "DEAG" if mt in (540, 541) else "REAG"
    cp = Party(role, bic=counterparty_bic) if counterparty_bic else Party(role, participant_id=counterparty, scheme="HKEX")
    payment = mt in (541, 543)
    return build_model(SettlementInstruction(
        mt=mt, sender_reference=ref, function=function,  # type: ignore[arg-type]
        settlement_date=day, trade_date=day - dt.timedelta(days=0),
        security=SecurityId(isin=isin, stock_code=stock_code), quantity=Decimal(quantity),
        safekeeping_account=account or sender, counterparty=cp, place_of_settlement=Party("PSET", bic="XHKCHKH1"),
        settlement_amount=Decimal(amount) if payment and amount is not None else None,
        currency=currency if payment else None, previous_reference=previous, partial_settlement=partial,
        envelope=Envelope(sender=LT.get(sender, "BROKHKHHAXXX"), receiver="XHKCHKH1XXXX", session="0001",
                          sequence="000001"),
    ))


def command(sender: str, ref: str, related: str, hold: bool | None = None, partial: str | None = None) -> str:
    return build_model(ProcessingCommand(
        sender_reference=ref, requests=(ProcessingRequest(related, hold=hold, partial_settlement=partial),),
        envelope=Envelope(sender=LT.get(sender, "BROKHKHHAXXX"), receiver="XHKCHKH1XXXX")))


def statement_request(ref: str, kind: int, account: str) -> str:
    return ("{1:F01BROKHKHHAXXX0001000001}{2:I549XHKCHKH1XXXXN}{4:\r\n:16R:GENL\r\n"
            f":20C::SEME//{ref}\r\n:23G:NEWM\r\n:13A::REQU//{kind}\r\n:97A::SAFE//{account}\r\n:16S:GENL\r\n-}}")


class RunningGateway:
    """A gateway on its own event loop in a background thread (as if another process)."""

    def __init__(self, certs: "Path", participants: list[str], config: "GatewayConfig | None" = None,
                 **ledger: "Any") -> None:
        import asyncio
        import threading

        from api.gateway.server import Gateway

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-loop", daemon=True)
        self._thread.start()
        self.gw: Gateway = self.run(Gateway.create(certs, config, participants=participants, **ledger))
        self.host, self.port = self.run(self.gw.start("127.0.0.1", free_port()))

    def run(self, coro: "Coroutine[Any, Any, T]", timeout: float = 120.0) -> "T":
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def ledger(self, name: str, *args: "Any") -> "Any":
        """Call Settler.<name>(*args) in the gateway's ledger worker (where the store and chain live)."""
        return self.gw.ledger.call_sync(name, *args)

    def close(self) -> None:
        self.run(self.gw.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
