"""Typed operations on a deployment: registration, listing, deposits, cash, DvP, batches, balances.

Inputs are checked here first so a user gets a plain message before anything is sent; the contracts
check again, and their custom errors come back decoded (see ledger.errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector

from ledger.batch import BatchOutcome, Obligation, encode_batch, outcome_from_events
from ledger.chain import checksum
from ledger.deployment import Deployment
from ledger.errors import ChainError, LedgerError

PARTICIPANT_ID = re.compile(r"^[A-Z][0-9]{5}$")
_SETTLE_BATCH_SELECTOR = function_signature_to_4byte_selector("settleBatch(address[],uint256[],uint256[],uint256[],bool)")


class Kind(IntEnum):
    BROKER = 0
    CUSTODIAN = 1
    CCP = 2
    SETTLEMENT_BANK = 3
    CSD_OPERATOR = 4


class Status(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    DEFAULTED = 3


class InputError(LedgerError):
    """Bad input caught before anything was sent to the chain."""


def participant_id_bytes(pid: str) -> bytes:
    if not PARTICIPANT_ID.match(pid):
        raise InputError(f"participant id {pid!r} must be one upper-case letter and five digits, e.g. B01234")
    return pid.encode().ljust(8, b"\x00")


def isin_bytes(isin: str) -> bytes:
    if len(isin) != 12 or not isin.isalnum() or not isin.isupper() and not isin.isdigit():
        raise InputError(f"ISIN {isin!r} must be 12 upper-case letters and digits")
    return isin.encode()


def _positive(what: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InputError(f"{what} must be a positive whole number, got {value!r}")
    return value


@dataclass(frozen=True)
class DvPInstruction:
    """A single real-time DvP: `deliverer` gives `quantity` of `security_id` to `receiver` for `amount` cents."""

    id: int
    deliverer: str
    receiver: str
    security_id: int
    quantity: int
    currency: str
    amount: int


class OnChainLedger:
    """Operations on one deployment, each signed by the operator whose role it needs."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.chain = deployment.chain
        self.ops = deployment.operators

    # ---- participants and securities -------------------------------------------------------------------

    def register_participant(self, pid: str, address: str, kind: Kind) -> None:
        self.chain.send(self.d.registry.functions.register(participant_id_bytes(pid), address, int(kind)), self.ops.csd)

    def register_participants(self, entries: Sequence[tuple[str, str, Kind]], chunk: int = 300) -> None:
        """Register (participant id, address, kind) entries, `chunk` per transaction."""
        for start in range(0, len(entries), chunk):
            part = entries[start:start + chunk]
            self.chain.send_call(self.d.registry.address, "registerBatch(bytes8[],address[],uint8[])",
                                 [[participant_id_bytes(p) for p, _, _ in part], [a for _, a, _ in part],
                                  [int(k) for _, _, k in part]], self.ops.csd)

    def set_status(self, address: str, status: Status) -> None:
        if status == Status.NONE:
            raise InputError("status must be active, suspended or defaulted")
        self.chain.send(self.d.registry.functions.setStatus(address, int(status)), self.ops.csd)

    def status_of(self, address: str) -> Status:
        return Status(self.chain.call(self.d.registry.functions.statusOf(address)))

    def list_security(self, security_id: int, isin: str) -> None:
        _positive("security id", security_id)
        self.chain.send(self.d.ledger.functions.listSecurity(security_id, isin_bytes(isin)), self.ops.csd)

    def list_securities(self, entries: Sequence[tuple[int, str]], chunk: int = 300) -> None:
        """List (security id, ISIN) entries, `chunk` per transaction."""
        for sid, _ in entries:
            _positive("security id", sid)
        for start in range(0, len(entries), chunk):
            part = entries[start:start + chunk]
            self.chain.send_call(self.d.ledger.address, "listSecurities(uint256[],bytes12[])",
                                 [[sid for sid, _ in part], [isin_bytes(i) for _, i in part]], self.ops.csd)

    def set_frozen(self, address: str, frozen: bool) -> None:
        self.chain.send(self.d.ledger.functions.setFrozen(address, frozen), self.ops.csd)

    # ---- movements outside settlement ------------------------------------------------------------------

    def deposit(self, address: str, security_id: int, quantity: int) -> None:
        _positive("quantity", quantity)
        self.chain.send(self.d.ledger.functions.deposit(address, security_id, quantity), self.ops.csd)

    def deposit_many(self, entries: Sequence[tuple[str, int, int]], chunk: int = 300) -> None:
        """Deposit (address, security id, quantity) entries, `chunk` per transaction."""
        for _, _, q in entries:
            _positive("quantity", q)
        for start in range(0, len(entries), chunk):
            part = entries[start:start + chunk]
            self.chain.send_call(self.d.ledger.address, "depositBatch(address[],uint256[],uint256[])",
                                 [[a for a, _, _ in part], [s for _, s, _ in part], [q for _, _, q in part]],
                                 self.ops.csd)

    def withdraw(self, address: str, security_id: int, quantity: int) -> None:
        _positive("quantity", quantity)
        self.chain.send(self.d.ledger.functions.withdraw(address, security_id, quantity), self.ops.csd)

    def issue_cash(self, address: str, currency: str, cents: int, reference: str = "") -> None:
        _positive("amount", cents)
        token = self.d.cash[self._currency(currency)]
        self.chain.send(token.functions.issue(address, cents, reference.encode()[:32].ljust(32, b"\0")), self.ops.bank)

    def issue_cash_many(self, currency: str, entries: Sequence[tuple[str, int]], reference: str = "",
                        chunk: int = 300) -> None:
        """Issue (address, cents) entries of one currency, `chunk` per transaction."""
        for _, c in entries:
            _positive("amount", c)
        token = self.d.cash[self._currency(currency)]
        ref = reference.encode()[:32].ljust(32, b"\0")
        for start in range(0, len(entries), chunk):
            part = entries[start:start + chunk]
            self.chain.send_call(token.address, "issueBatch(address[],uint256[],bytes32)",
                                 [[a for a, _ in part], [c for _, c in part], ref], self.ops.bank)

    def redeem_cash(self, address: str, currency: str, cents: int, reference: str = "") -> None:
        _positive("amount", cents)
        token = self.d.cash[self._currency(currency)]
        self.chain.send(token.functions.redeem(address, cents, reference.encode()[:32].ljust(32, b"\0")), self.ops.bank)

    # ---- settlement ------------------------------------------------------------------------------------

    def settle_dvp(self, ins: DvPInstruction) -> str:
        """Settle one instruction atomically; returns the transaction hash or raises ChainError."""
        _positive("quantity", ins.quantity)
        if ins.amount < 0:
            raise InputError(f"instruction {ins.id}: amount must not be negative, got {ins.amount}")
        cur = self.d.currency_index(self._currency(ins.currency))
        receipt = self.chain.send(
            self.d.engine.functions.settleDvP(
                ins.id, ins.deliverer, ins.receiver, ins.security_id, ins.quantity, cur, ins.amount
            ),
            self.ops.settler,
        )
        return receipt.tx_hash

    def settle_batch(self, obligations: Sequence[Obligation], all_or_nothing: bool = False) -> BatchOutcome:
        """Settle obligations in one transaction: each atomic; failures reported as pending with a reason."""
        if not obligations:
            raise InputError("a settlement batch needs at least one obligation")
        enc = encode_batch(obligations)
        data = _SETTLE_BATCH_SELECTOR + abi_encode(
            ["address[]", "uint256[]", "uint256[]", "uint256[]", "bool"],
            [enc.accounts, enc.sec_slots, enc.cash_slots, enc.words, all_or_nothing])
        try:
            receipt = self.chain.send_data(self.d.engine.address, data, self.ops.settler,
                                           gas=self.chain.config.batch_gas(len(obligations)))
        except ChainError as exc:
            if exc.name == "NetShortfall":  # the contract names a batch-local index; name the account
                a = exc.args_by_name
                account = enc.accounts[int(a["accountIndex"])]
                who = (self.chain.namer(account) if self.chain.namer else None) or account
                asset = self.d.currencies[int(a["assetId"])] if a["cash"] else f"security {a['assetId']}"
                raise ChainError(f"all-or-nothing batch would leave {who} short of {asset}",
                                 exc.name, a) from None
            raise
        return outcome_from_events(self.chain.events(receipt), receipt.tx_hash, receipt.block_number,
                                   receipt.gas_used)

    def set_risk_gate(self, gate_address: str | None) -> None:
        """Make settlement consult the risk gate at `gate_address` (None removes the gate)."""
        zero = "0x0000000000000000000000000000000000000000"
        self.chain.send(self.d.engine.functions.setRiskGate(gate_address or zero), self.ops.admin)

    def cancel(self, instruction_id: int) -> None:
        self.chain.send(self.d.engine.functions.cancel(instruction_id), self.ops.settler)

    def final_flags(self, ids: Sequence[int]) -> list[bool]:
        """Whether each id has settled or been cancelled on chain (for recovery after a crash)."""
        out: list[bool] = []
        for start in range(0, len(ids), 5000):
            (flags,) = self.chain.call_fast(self.d.engine.address, "finalOf(uint64[])",
                                            [list(ids[start:start + 5000])], ["bool[]"])
            out.extend(bool(f) for f in flags)
        return out

    # ---- reads -----------------------------------------------------------------------------------------

    def security_balances(self, pairs: Sequence[tuple[str, int]]) -> list[int]:
        out: list[int] = []
        for start in range(0, len(pairs), 2000):
            chunk = pairs[start:start + 2000]
            (balances,) = self.chain.call_fast(self.d.ledger.address, "balanceOfBatch(address[],uint256[])",
                                               [[a for a, _ in chunk], [s for _, s in chunk]], ["uint256[]"])
            out.extend(int(b) for b in balances)
        return out

    def security_balance(self, address: str, security_id: int) -> int:
        return int(self.chain.call(self.d.ledger.functions.balanceOf(address, security_id)))

    def total_supply(self, security_id: int) -> int:
        return int(self.chain.call(self.d.ledger.functions.totalSupply(security_id)))

    def cash_balances(self, currency: str, addresses: Sequence[str]) -> list[int]:
        token = self.d.cash[self._currency(currency)]
        out: list[int] = []
        for start in range(0, len(addresses), 2000):
            (balances,) = self.chain.call_fast(token.address, "balancesOf(address[])",
                                               [list(addresses[start:start + 2000])], ["uint256[]"])
            out.extend(int(b) for b in balances)
        return out

    def cash_balance(self, address: str, currency: str) -> int:
        return int(self.chain.call(self.d.cash[self._currency(currency)].functions.balanceOf(address)))

    def cash_supply(self, currency: str) -> int:
        return int(self.chain.call(self.d.cash[self._currency(currency)].functions.totalSupply()))

    def total_supplies(self, security_ids: Sequence[int]) -> list[int]:
        out: list[int] = []
        for start in range(0, len(security_ids), 2000):
            (supplies,) = self.chain.call_fast(self.d.ledger.address, "totalSupplyBatch(uint256[])",
                                               [list(security_ids[start:start + 2000])], ["uint256[]"])
            out.extend(int(x) for x in supplies)
        return out

    def holdings_touched(self, blocks_per_query: int = 64) -> dict[int, set[str]]:
        """Every (security -> accounts) pair whose balance ever changed, from the ledger's Transfer events.

        Any balance change emits a Transfer, so balances outside these pairs are zero: summing over them
        is a complete conservation check at the cost of the day's activity, not holders x securities.
        Logs are read a few blocks at a time and only their indexed topics are kept (sender, receiver, id
        are all indexed): a market day has millions of transfers, too many to hold as decoded logs at once.
        """
        transfer = next(e for e in self.d.ledger.abi if e.get("type") == "event" and e.get("name") == "Transfer")
        topic = "0x" + event_abi_to_log_topic(transfer).hex()  # type: ignore[arg-type]
        out: dict[int, set[str]] = {}
        last = self.chain.block_number
        for start in range(self.d.start_block, last + 1, blocks_per_query):
            raw = self.chain.w3.eth.get_logs({  # type: ignore[typeddict-item]
                "address": self.d.ledger.address, "fromBlock": start,
                "toBlock": min(start + blocks_per_query - 1, last), "topics": [topic]})
            for log in raw:
                _, sender, receiver, sid_topic = log["topics"]
                holders = out.setdefault(int.from_bytes(bytes(sid_topic), "big"), set())
                for who in (bytes(sender)[12:], bytes(receiver)[12:]):
                    if any(who):
                        holders.add(checksum("0x" + who.hex()))
        return out

    def conservation(self, holders: Sequence[str], security_ids: Iterable[int]) -> dict[str, bool]:
        """For every security and currency: do the holders' balances sum to the issued total?

        Securities are summed over every account the ledger's events show touching them (see
        holdings_touched); cash over `holders` (every registered participant) — the settlement engine is
        included for both and must hold nothing.
        """
        engine = self.d.engine.address
        touched = self.holdings_touched()
        ids = list(security_ids)
        pairs = [(a, sid) for sid in ids for a in sorted(touched.get(sid, set()) | {engine})]
        balances = self.security_balances(pairs)
        supplies = dict(zip(ids, self.total_supplies(ids), strict=True))
        sums: dict[int, int] = {sid: 0 for sid in ids}
        engine_clean = True
        for (a, sid), b in zip(pairs, balances, strict=True):
            sums[sid] += b
            engine_clean &= not (a == engine and b != 0)
        result = {f"security:{sid}": sums[sid] == supplies[sid] and engine_clean for sid in ids}
        everyone = list(dict.fromkeys([*holders, engine]))
        for code in self.d.currencies:
            cash = self.cash_balances(code, everyone)
            result[f"cash:{code}"] = sum(cash) == self.cash_supply(code) and cash[-1] == 0
        return result

    def _currency(self, code: str) -> str:
        if code not in self.d.cash:
            raise InputError(f"currency {code!r} is not settled here; expected one of {', '.join(self.d.currencies)}")
        return code
