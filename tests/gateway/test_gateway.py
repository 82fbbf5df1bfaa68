"""The gateway over TLS on loopback: end to end DvP, authentication, rejections, bad input,
idempotency, slow consumers, cancel, hold/release, pending reasons, statements, day end.

One gateway (fresh embedded chain, demo market) serves the whole module; each test uses its own
references so tests do not see each other's instructions.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from api.gateway.certs import make_certs
from api.gateway.client import PssClient
from api.gateway.framing import MAX_FRAME
from api.gateway.market import DEMO_STOCK
from api.gateway.replies import summarise
from api.gateway.server import GatewayConfig, client_context

from .gateway_helpers import A, B, RunningGateway, command, instruction, statement_request

C = "B00777"  # a third participant (owner of the "foreign" account)
SLOW = "B00999"  # a participant that never reads
STRANGER = "B77777"  # has a certificate from our CA but is not a participant
T = TypeVar("T")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    make_certs(d, [A, B, C, SLOW, STRANGER])
    return d


@pytest.fixture(scope="module")
def gw(certs: Path) -> Iterator[RunningGateway]:
    rg = RunningGateway(certs, [A, B, C, SLOW],
                        GatewayConfig(queue_size=64, write_timeout=1.0, idle_timeout=30.0, frame_timeout=2.0,
                                      send_buffer=16384))
    yield rg
    rg.close()


def run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await asyncio.wait_for(coro, 60)
    return asyncio.run(wrapped())


async def connect(gw: RunningGateway, certs: Path, pid: str) -> PssClient:
    return await PssClient.connect(gw.host, gw.port, certs, pid)


def about(ref: str, start: str) -> Callable[[str], bool]:
    """Predicate: a reply whose summary starts with `start` and links to `ref`."""
    return lambda m: summarise(m).startswith(start) and f"rel={ref}" in summarise(m)


async def expect(c: PssClient, ref: str, start: str, timeout: float = 15.0) -> list[str]:
    """Replies up to the first about `ref` starting with `start`, as summaries."""
    return [summarise(m) for m in await c.until(about(ref, start), timeout)]


def mine(replies: list[str], ref: str) -> list[str]:
    return [r for r in replies if f"rel={ref}" in r]


# ---- end to end ----------------------------------------------------------------------------------

def test_end_to_end_matching_541_543_settle_dvp_on_chain(gw: RunningGateway, certs: Path) -> None:
    def balances() -> tuple[int, int, int, int]:
        return (gw.ledger("security_balance", A, "1299"), gw.ledger("security_balance", B, "1299"),
                gw.ledger("cash_balance", A, "HKD"), gw.ledger("cash_balance", B, "HKD"))

    before = balances()

    async def scenario() -> tuple[list[str], list[str]]:
        a, b = await connect(gw, certs, A), await connect(gw, certs, B)
        await a.send(instruction(541, A, B, "E2E-A1", quantity=2000, amount="153600"))
        got_a = await expect(a, "E2E-A1", "548 IPRC//PACK")
        await b.send(instruction(543, B, A, "E2E-B1", quantity=2000, amount="153600"))
        got_a += await expect(a, "E2E-A1", "545")
        got_b = await expect(b, "E2E-B1", "547")
        await a.close()
        await b.close()
        return got_a, got_b

    got_a, got_b = run(scenario())
    ra, rb = mine(got_a, "E2E-A1"), mine(got_b, "E2E-B1")
    steps_a = [r.split(" rel=")[0] for r in ra]
    assert steps_a[0] == "548 IPRC//PACK"
    assert steps_a.index("548 MTCH//MACH") < len(steps_a) - 1 and ra[-1].startswith("545 settled")
    steps_b = [r.split(" rel=")[0] for r in rb]
    assert steps_b[0] == "548 IPRC//PACK" and "548 MTCH//MACH" in steps_b and rb[-1].startswith("547 settled")
    assert "HKD 153600" in ra[-1] and "2000" in rb[-1]
    after = balances()  # read from the chain (OnChainLedger) in the gateway's ledger worker
    assert after[0] - before[0] == 2000 and before[1] - after[1] == 2000
    assert before[2] - after[2] == 15_360_000 and after[3] - before[3] == 15_360_000


# ---- authentication and authorisation --------------------------------------------------------------

def test_client_with_certificate_from_another_ca_is_refused(gw: RunningGateway, tmp_path: Path, certs: Path) -> None:
    other = tmp_path / "other-ca"
    make_certs(other, [A])
    (other / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())  # trusts our server, but its cert is foreign

    async def scenario() -> list[str]:
        try:
            c = await PssClient.connect(gw.host, gw.port, other, A)
        except (ssl.SSLError, ConnectionError, OSError):
            return []
        try:
            await c.send(instruction(541, A, B, "EVIL1"))
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        await asyncio.wait_for(c.closed.wait(), 10)
        got = [summarise(m) for m in list(c.replies._queue)]  # type: ignore[attr-defined]
        await c.close()
        return got

    assert run(scenario()) == []
    assert gw.gw.engine.book.get(A, "EVIL1") is None


def test_certificate_of_a_non_participant_is_closed(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> bool:
        c = await connect(gw, certs, STRANGER)
        try:
            await c.send(instruction(541, STRANGER, B, "X1"))
        except (ConnectionError, OSError):
            pass
        await asyncio.wait_for(c.closed.wait(), 10)
        empty = c.replies.empty()
        await c.close()
        return empty

    assert run(scenario())


def test_participant_cannot_instruct_for_another_participants_account(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> list[str]:
        a = await connect(gw, certs, A)
        await a.send(instruction(541, A, B, "FOREIGN1", account="B00777-01"))
        got = await expect(a, "FOREIGN1", "548 IPRC//REJT")
        await a.close()
        return got

    last = run(scenario())[-1]
    assert "REJT SAFE" in last and "NOT AN ACCOUNT OF B01234" in last
    assert gw.gw.engine.book.get(A, "FOREIGN1") is None


# ---- mapping rejections over the wire -------------------------------------------------------------

@pytest.mark.parametrize(("ref", "kwargs", "reason"), [
    ("RJ-ISIN", {"isin": "HK0888800007"}, "DSEC"),
    ("RJ-SAFE", {"account": "B99999"}, "SAFE"),
    ("RJ-CPTY", {"counterparty": "B99999"}, "ICAG"),
    ("RJ-CCY", {"currency": "EUR"}, "NCRR"),
])
def test_mapping_rejections_have_specific_reasons(gw: RunningGateway, certs: Path, ref: str,
                                                  kwargs: dict[str, str], reason: str) -> None:
    cp = kwargs.pop("counterparty", B)

    async def scenario() -> str:
        a = await connect(gw, certs, A)
        await a.send(instruction(541, A, cp, ref, **kwargs))  # type: ignore[arg-type]
        got = await expect(a, ref, "548 IPRC//REJT")
        await a.close()
        return got[-1]

    assert f"548 IPRC//REJT {reason} rel={ref}" in run(scenario())


# ---- bad input ------------------------------------------------------------------------------------

def test_malformed_oversize_and_garbage_get_a_rejection_and_the_session_survives(gw: RunningGateway,
                                                                                 certs: Path) -> None:
    good = instruction(541, A, B, "BAD-OK1")
    too_long = good.replace(":16R:SETDET", ":16R:SETDET" + "\r\n:16R:SETPRTY\r\n:95Q::BUYR//X\r\n:16S:SETPRTY" * 240)
    assert 10_000 < len(too_long) < MAX_FRAME
    today = time.strftime("%Y%m%d", time.gmtime())

    async def scenario() -> list[str]:
        a = await connect(gw, certs, A)
        await a.send("this is not a FIN message")                               # garbage text
        await a.send(good[: len(good) // 2])                                    # truncated
        await a.send(good.replace("SEME//BAD-OK1", "SEME//BAD//REF"))           # T26
        await a.send(instruction(541, A, B, "BAD-DATE").replace(f"SETT//{today}", f"SETT//{today[:4]}1399"))  # invalid date
        await a.send_raw(b"\xff\xfe\x00binary junk")                            # not ASCII
        await a.send_raw(b"X" * (MAX_FRAME + 100))                              # oversize frame
        await a.send_raw(b"{1:F01BROKHKHHAXXX0001000001}{2:I541XHKCHKH1XXXXN}{4:\r\n:16R:GENL\r\n\x80")
        await a.send(too_long)                                                  # oversize message
        await a.send(good)                                                      # and the session still works
        got = await expect(a, "BAD-OK1", "548 IPRC//PACK")
        await a.close()
        return got

    got = run(scenario())
    rejections = [r for r in got if r.startswith("548 IPRC//REJT")]
    assert len(rejections) == 8, "\n".join(got)
    assert any("T26" in r for r in rejections) and any("T50" in r for r in rejections)
    assert any("L04" in r for r in rejections) and any("M60" in r for r in rejections)


# ---- idempotency ----------------------------------------------------------------------------------

def test_resend_gets_the_same_ack_and_never_a_second_instruction(gw: RunningGateway, certs: Path) -> None:
    msg = instruction(543, A, C, "IDEM-1", quantity=300)

    async def scenario() -> tuple[list[str], list[str]]:
        a = await connect(gw, certs, A)
        await a.send(msg)
        first = await a.until(about("IDEM-1", "548 IPRC//PACK"))
        await a.send(msg)
        second = await a.until(about("IDEM-1", "548 IPRC//PACK"))
        await a.send(instruction(543, A, C, "IDEM-1", quantity=999))  # same reference, other content
        third = await a.until(about("IDEM-1", "548 IPRC//REJT"))
        await a.close()
        return first, [*second, *third]

    first, later = run(scenario())
    assert first[-1] == later[later.index(next(m for m in later if about("IDEM-1", "548 IPRC//PACK")(m)))]
    assert "REFE" in summarise(later[-1])
    assert sum(1 for r in gw.gw.engine.book if r.si.key == (A, "IDEM-1")) == 1
    assert gw.gw.engine.book.get(A, "IDEM-1").si.quantity == 300  # type: ignore[union-attr]


# ---- slow consumers -------------------------------------------------------------------------------

def test_a_client_that_never_reads_does_not_block_another_clients_acks(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> tuple[float, int]:
        # A blocking TLS socket with a small receive buffer that never reads: the gateway's writes to it
        # soon stop going through.
        msgs = [instruction(541, SLOW, B, f"SLOW{i:05d}", quantity=100 + i) for i in range(1500)]
        blob = b"".join(struct.pack(">I", len(m)) + m.encode() for m in msgs)

        def slow_client() -> ssl.SSLSocket:
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect((gw.host, gw.port))
            tls = client_context(certs, SLOW).wrap_socket(raw, server_hostname=gw.host)
            tls.sendall(blob)
            return tls

        slow = await asyncio.to_thread(slow_client)
        fast = await connect(gw, certs, B)
        worst = 0.0
        for i in range(20):
            t0 = time.perf_counter()
            await fast.send(instruction(541, B, C, f"FAST{i:03d}", quantity=10 + i))
            await fast.until(about(f"FAST{i:03d}", "548 IPRC//PACK"), timeout=5)
            worst = max(worst, time.perf_counter() - t0)
        await fast.close()
        await asyncio.sleep(1.5)
        still = gw.gw.sessions.get(SLOW)
        slow.close()
        return worst, 0 if still is None else 1

    worst, slow_still_connected = run(scenario())
    assert worst < 2.0
    assert slow_still_connected == 0  # dropped as a slow consumer


# ---- cancel, hold/release, pending reasons --------------------------------------------------------

def test_cancel_of_an_unmatched_instruction(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> list[str]:
        a = await connect(gw, certs, A)
        await a.send(instruction(543, A, B, "CXL-1", quantity=700))
        await expect(a, "CXL-1", "548 MTCH//NMAT")
        await a.send(instruction(543, A, B, "CXL-2", function="CANC", previous="CXL-1", quantity=700))
        got = await expect(a, "CXL-1", "548 IPRC//CAND")
        await a.send(instruction(543, A, B, "CXL-3", function="CANC", previous="NOSUCHREF", quantity=700))
        got += await expect(a, "CXL-3", "548 IPRC//REJT")
        await a.close()
        return got

    got = run(scenario())
    assert any(r.startswith("548 IPRC//PACK rel=CXL-2") for r in got)
    assert "REFE" in got[-1]
    assert gw.gw.engine.book.get(A, "CXL-1").state.value == "cancelled"  # type: ignore[union-attr]


def test_hold_then_release_settles(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        a, b = await connect(gw, certs, A), await connect(gw, certs, B)
        await b.send(instruction(543, B, A, "HOLD-D1", quantity=400, amount="1000"))
        await expect(b, "HOLD-D1", "548 IPRC//PACK")
        await b.send(command(B, "HOLD-C1", "HOLD-D1", hold=True))
        await expect(b, "HOLD-D1", "548 SETT//PEND PREA")
        await a.send(instruction(541, A, B, "HOLD-R1", quantity=400, amount="1000"))
        await expect(a, "HOLD-R1", "548 MTCH//MACH")
        held = await b.drain_idle(1.0)
        await b.send(command(B, "HOLD-C2", "HOLD-D1", hold=False))
        got_b = await expect(b, "HOLD-D1", "547")
        got_a = await expect(a, "HOLD-R1", "545")
        await a.close()
        await b.close()
        return [summarise(m) for m in held], got_b + got_a

    held, after = run(scenario())
    assert not any(r.startswith("547") for r in held)  # nothing settled while held
    assert any(r.startswith("547 settled rel=HOLD-D1") for r in after)


def test_pending_lack_is_pushed_to_both_sides_and_final_run_fails_it(gw: RunningGateway, certs: Path) -> None:
    qty = DEMO_STOCK * 3  # more than C holds

    async def scenario() -> tuple[list[str], list[str], list[str], list[str]]:
        a, c = await connect(gw, certs, A), await connect(gw, certs, C)
        await c.send(instruction(543, C, A, "LACK-D1", quantity=qty, amount="5000"))
        await a.send(instruction(541, A, C, "LACK-R1", quantity=qty, amount="5000"))
        got_c = await expect(c, "LACK-D1", "548 SETT//PEND LACK")
        got_a = await expect(a, "LACK-R1", "548 SETT//PEND CLAC")
        fut = asyncio.run_coroutine_threadsafe(gw.gw.engine.day_end(), gw.loop)
        await asyncio.wrap_future(fut)
        end_c = await expect(c, "LACK-D1", "548 SETT//PENF LACK")
        end_a = [summarise(m) for m in await a.until(lambda m: summarise(m).startswith("536"), 15)]
        await a.close()
        await c.close()
        return got_c, got_a, end_c, end_a

    got_c, got_a, end_c, end_a = run(scenario())
    assert got_c[-1].startswith("548 SETT//PEND LACK rel=LACK-D1")
    assert got_a[-1].startswith("548 SETT//PEND CLAC rel=LACK-R1")
    assert any(r.startswith("535 holdings B01234") for r in end_a)


# ---- statements on request ------------------------------------------------------------------------

def test_statement_requests_get_an_ack_then_535_or_536(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> list[str]:
        a = await connect(gw, certs, A)
        await a.send(statement_request("STMT-1", 535, "B01234-01"))
        got = [summarise(m) for m in await a.until(lambda m: summarise(m).startswith("535"), 15)]
        await a.send(statement_request("STMT-2", 536, A))
        got += [summarise(m) for m in await a.until(lambda m: summarise(m).startswith("536"), 15)]
        await a.send(statement_request("STMT-3", 535, "B05678"))  # someone else's account
        got += await expect(a, "STMT-3", "548 IPRC//REJT")
        await a.close()
        return got

    got = run(scenario())
    assert "548 IPRC//PACK rel=STMT-1" in got and "548 IPRC//PACK rel=STMT-2" in got
    assert any(r.startswith("535 holdings B01234-01") and "1299=" in r for r in got)
    assert "SAFE" in got[-1]


# ---- free of payment, mailbox, the participant tool ------------------------------------------------

def test_free_of_payment_540_542_settle_with_544_546(gw: RunningGateway, certs: Path) -> None:
    before = gw.ledger("security_balance", C, "700"), gw.ledger("cash_balance", C, "HKD")

    async def scenario() -> tuple[list[str], list[str]]:
        a, c = await connect(gw, certs, A), await connect(gw, certs, C)
        await a.send(instruction(542, A, C, "FOP-D1", quantity=500, isin=None, stock_code="700"))
        await c.send(instruction(540, C, A, "FOP-R1", quantity=500, isin=None, stock_code="700"))
        got_a = await expect(a, "FOP-D1", "546")
        got_c = await expect(c, "FOP-R1", "544")
        await a.close()
        await c.close()
        return got_a, got_c

    got_a, got_c = run(scenario())
    assert got_a[-1].startswith("546 settled rel=FOP-D1 DELI 500")
    assert got_c[-1].startswith("544 settled rel=FOP-R1 RECE 500")
    after = gw.ledger("security_balance", C, "700"), gw.ledger("cash_balance", C, "HKD")
    assert after[0] - before[0] == 500 and after[1] == before[1]  # no cash moved


def test_pushes_for_a_disconnected_participant_wait_in_its_mailbox(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> list[str]:
        b = await connect(gw, certs, B)
        await b.send(instruction(541, B, C, "MBX-R1", quantity=600, amount="600"))
        await expect(b, "MBX-R1", "548 IPRC//PACK")
        await b.close()  # B goes away before its counterparty instructs
        await asyncio.sleep(0.3)
        c = await connect(gw, certs, C)
        await c.send(instruction(543, C, B, "MBX-D1", quantity=600, amount="600"))
        await expect(c, "MBX-D1", "547")
        await c.close()
        b = await connect(gw, certs, B)  # back: the match and the confirmation are waiting
        got = await expect(b, "MBX-R1", "545")
        await b.close()
        return got

    got = run(scenario())
    assert any(r.startswith("548 MTCH//MACH rel=MBX-R1") for r in got)


def test_pss_send_cli_prints_summaries(gw: RunningGateway, certs: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    f = tmp_path / "two.fin"
    f.write_text(instruction(541, A, B, "CLI-1", quantity=10).replace("\r\n", "\n") + "\n$\n"
                 + instruction(541, A, B, "CLI-1", quantity=10).replace("\r\n", "\n") + "\n")
    result = CliRunner().invoke(app, ["pss", "send", str(f), "--host", gw.host, "--port", str(gw.port),
                                      "--certs", str(certs), "--participant", A, "--wait", "1.0"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if "rel=CLI-1" in ln]
    assert lines.count("548 IPRC//PACK rel=CLI-1") == 2  # the resend got the same ack
    assert any(ln.startswith("548 MTCH//NMAT CMIS rel=CLI-1") for ln in lines)


def test_a_frame_whose_body_never_arrives_closes_the_session(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> float:
        a = await connect(gw, certs, A)
        t0 = time.perf_counter()
        await a.send_raw(struct.pack(">I", 500) + b"{1:F01", framed=False)  # and nothing more
        await asyncio.wait_for(a.closed.wait(), 10)
        await a.close()
        return time.perf_counter() - t0

    assert run(scenario()) < 5.0  # frame_timeout is 2 s in this module


def test_partial_settlement_in_board_lots_when_the_deliverer_allows_it(gw: RunningGateway, certs: Path) -> None:
    held = gw.ledger("security_balance", C, "388")
    qty = held + 50  # C is 50 short; 388 trades in lots of 100

    async def scenario() -> tuple[list[str], list[str]]:
        a, c = await connect(gw, certs, A), await connect(gw, certs, C)
        await c.send(instruction(543, C, A, "PART-D1", quantity=qty, amount="1000", isin=None, stock_code="388",
                                 partial="PART"))
        await a.send(instruction(541, A, C, "PART-R1", quantity=qty, amount="1000", isin=None, stock_code="388"))
        await expect(c, "PART-D1", "548 SETT//PEND LACK")  # real-time DvP is all or nothing
        fut = asyncio.run_coroutine_threadsafe(gw.gw.engine.run_batch("test run"), gw.loop)
        await asyncio.wrap_future(fut)
        got_c = await expect(c, "PART-D1", "547")
        got_c += await expect(c, "PART-D1", "548 SETT//PEND LACK")
        got_a = await expect(a, "PART-R1", "545")
        await a.close()
        await c.close()
        return got_c, got_a

    got_c, got_a = run(scenario())
    part = held // 100 * 100
    assert any(r.startswith(f"547 settled rel=PART-D1 DELI {part} ") for r in got_c), got_c
    assert "PARTIALLY SETTLED" in got_c[-1]
    assert gw.ledger("security_balance", C, "388") == held - part


def test_a_matched_pair_is_cancelled_only_when_both_sides_cancel(gw: RunningGateway, certs: Path) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        a, b = await connect(gw, certs, A), await connect(gw, certs, B)
        await b.send(instruction(543, B, A, "BIC-D1", quantity=800, amount="800"))
        await b.send(command(B, "BIC-H1", "BIC-D1", hold=True))  # held, so the match does not settle at once
        await expect(b, "BIC-D1", "548 SETT//PEND PREA")
        await a.send(instruction(541, A, B, "BIC-R1", quantity=800, amount="800"))
        await expect(a, "BIC-R1", "548 MTCH//MACH")
        await a.send(instruction(541, A, B, "BIC-C1", function="CANC", previous="BIC-R1", quantity=800, amount="800"))
        got_a = await expect(a, "BIC-R1", "548 CPRC//PACK")  # recorded; B must cancel too
        got_b = await expect(b, "BIC-D1", "548 SETT//PEND OTHR")  # told the counterparty wants out
        await b.send(instruction(543, B, A, "BIC-C2", function="CANC", previous="BIC-D1", quantity=800, amount="800"))
        got_b += await expect(b, "BIC-D1", "548 IPRC//CAND")
        got_a += await expect(a, "BIC-R1", "548 IPRC//CAND")
        await a.close()
        await b.close()
        return got_a, got_b

    got_a, got_b = run(scenario())
    assert any("COUNTERPARTY REQUESTED CANCELLATION" in r for r in got_b)
    book = gw.gw.engine.book
    assert book.get(A, "BIC-R1").state.value == "cancelled"  # type: ignore[union-attr]
    assert book.get(B, "BIC-D1").state.value == "cancelled"  # type: ignore[union-attr]


def test_batch_mode_matched_pairs_wait_for_the_run(gw: RunningGateway, certs: Path) -> None:
    engine = gw.gw.engine
    gw.loop.call_soon_threadsafe(setattr, engine, "realtime", False)  # as `--settlement batch`
    try:
        async def scenario() -> tuple[list[str], list[str]]:
            a, b = await connect(gw, certs, A), await connect(gw, certs, B)
            await a.send(instruction(541, A, B, "BAT-R1", quantity=900, amount="900"))
            await b.send(instruction(543, B, A, "BAT-D1", quantity=900, amount="900"))
            got_a = await expect(a, "BAT-R1", "548 SETT//PEND CYCL")
            got_b = await expect(b, "BAT-D1", "548 SETT//PEND CYCL")
            fut = asyncio.run_coroutine_threadsafe(engine.run_batch("test batch"), gw.loop)
            figures = await asyncio.wrap_future(fut)
            assert figures["settled"] >= 1
            got_a += await expect(a, "BAT-R1", "545")
            got_b += await expect(b, "BAT-D1", "547")
            await a.close()
            await b.close()
            return got_a, got_b

        got_a, got_b = run(scenario())
    finally:
        gw.loop.call_soon_threadsafe(setattr, engine, "realtime", True)
    assert any(r.startswith("548 MTCH//MACH rel=BAT-R1") for r in got_a)
    assert got_b[-1].startswith("547 settled rel=BAT-D1 DELI 900")


def test_a_mailbox_longer_than_the_session_queue_is_delivered_without_dropping_the_session(
        gw: RunningGateway, certs: Path) -> None:
    engine = gw.gw.engine
    n = 80  # x 3 messages for B while it is away, queue size 64
    gw.loop.call_soon_threadsafe(setattr, engine, "realtime", False)
    try:
        async def scenario() -> list[str]:
            b = await connect(gw, certs, B)
            for i in range(n):
                await b.send(instruction(543, B, A, f"MB-D{i:03d}", quantity=10 + i, amount="10"))
            await expect(b, f"MB-D{n - 1:03d}", "548 MTCH//NMAT")
            await b.close()
            await asyncio.sleep(0.3)
            a = await connect(gw, certs, A)
            for i in range(n):
                await a.send(instruction(541, A, B, f"MB-R{i:03d}", quantity=10 + i, amount="10"))
            await expect(a, f"MB-R{n - 1:03d}", "548 SETT//PEND CYCL")
            fut = asyncio.run_coroutine_threadsafe(engine.run_batch("mailbox run"), gw.loop)
            await asyncio.wrap_future(fut)
            await expect(a, f"MB-R{n - 1:03d}", "545", timeout=30)
            await a.close()
            b = await connect(gw, certs, B)
            got = [summarise(m) for m in await b.drain_idle(2.0)]
            await b.close()
            return got

        got = run(scenario())
    finally:
        gw.loop.call_soon_threadsafe(setattr, engine, "realtime", True)
    confirmations = {g.split(" ")[2] for g in got if g.startswith("547 settled rel=MB-D")}
    assert len(confirmations) == n, len(confirmations)
