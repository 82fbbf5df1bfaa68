"""One way to reach the chain: an embedded py-evm chain (default, no server) or any JSON-RPC node.

Everything above this module talks to a `Chain`: deploy, bind, send, call and decode events, with reverts
turned into readable `ChainError`s. The backend is chosen by `ChainConfig.rpc_url`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import RPCEndpoint

from ledger.artifacts import CONTRACT_NAMES, load_artifact
from ledger.errors import AddressNamer, ChainError, LedgerError, decode_revert, revert_data_of

DEFAULT_BLOCK_GAS_LIMIT = 2_000_000_000
DEFAULT_TX_GAS = 200_000_000


@dataclass(frozen=True)
class ChainConfig:
    """Where the chain is and how much gas a transaction may use.

    rpc_url: None for the embedded chain, else a JSON-RPC endpoint (e.g. http://127.0.0.1:8545).
    block_gas_limit: genesis block gas limit of the embedded chain (large, so big batches fit in one block).
    tx_gas: gas limit sent with ordinary transactions (explicit, so nothing is executed twice to estimate).
    batch_gas_base, batch_gas_per_obligation: gas for a settlement batch = base + per obligation × n,
      capped at `max_tx_gas`; measured costs are in README (scripts/bench_settlement.py prints them).
    """

    rpc_url: str | None = None
    # the embedded chain's database file (durable; resumed on connect); None: in memory, gone with the process
    chain_file: Path | None = None
    block_gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT
    tx_gas: int = DEFAULT_TX_GAS
    batch_gas_base: int = 1_000_000
    batch_gas_per_obligation: int = 60_000
    max_tx_gas: int = DEFAULT_BLOCK_GAS_LIMIT
    rpc_timeout_s: float = 600.0

    @property
    def backend(self) -> str:
        return "embedded" if self.rpc_url is None else "rpc"

    def batch_gas(self, obligations: int) -> int:
        return min(self.max_tx_gas, self.batch_gas_base + self.batch_gas_per_obligation * obligations)


@dataclass(frozen=True)
class Receipt:
    """A mined transaction, read straight from the node (no per-log web3 formatting: batches log thousands)."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    contract_address: str | None
    logs: list[dict[str, Any]]


def _field(d: dict[str, Any], camel: str, snake: str) -> Any:
    # JSON-RPC nodes answer in camelCase hex; the embedded tester in snake_case ints.
    return d[camel] if camel in d else d[snake]


def _int(v: Any) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


def _bytes(v: Any) -> bytes:
    if isinstance(v, str):
        return bytes.fromhex(v[2:] if v.startswith("0x") else v)
    return bytes(v)


@lru_cache(maxsize=1 << 16)
def checksum(address: str) -> str:
    """EIP-55 form of an address (cached: the same few thousand addresses recur in every batch)."""
    return str(to_checksum_address(address))


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    tx_hash: str
    log_index: int


@dataclass
class _EventAbi:
    contract: str
    name: str
    indexed: list[tuple[str, str]] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)


class EventDecoder:
    """Decodes logs of any ledgerclear contract by topic, without per-event web3 filters (fast on big batches)."""

    def __init__(self) -> None:
        self._by_topic: dict[bytes, _EventAbi] = {}
        for name in CONTRACT_NAMES:
            for item in load_artifact(name).abi:
                if item.get("type") != "event":
                    continue
                topic = bytes(event_abi_to_log_topic(item))  # type: ignore[arg-type]
                ev = _EventAbi(contract=name, name=item["name"])
                for inp in item["inputs"]:
                    (ev.indexed if inp["indexed"] else ev.data).append((inp["name"], inp["type"]))
                self._by_topic.setdefault(topic, ev)

    def decode(self, log: Any) -> DecodedEvent | None:
        topics = [_bytes(t) for t in log["topics"]]
        if not topics:
            return None
        ev = self._by_topic.get(topics[0])
        if ev is None:
            return None
        args: dict[str, Any] = {}
        for (name, typ), topic in zip(ev.indexed, topics[1:], strict=False):
            (args[name],) = abi_decode([typ], topic)
        if ev.data:
            values = abi_decode([t for _, t in ev.data], _bytes(log["data"]))
            args.update({n: v for (n, _), v in zip(ev.data, values, strict=True)})
        for k, v in list(args.items()):
            if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                args[k] = checksum(v)
        return DecodedEvent(
            contract=ev.contract,
            name=ev.name,
            args=args,
            address=checksum(log["address"]),
            block_number=_int(_field(log, "blockNumber", "block_number")),
            tx_hash="0x" + _bytes(_field(log, "transactionHash", "transaction_hash")).hex(),
            log_index=_int(_field(log, "logIndex", "log_index")),
        )

    def decode_all(self, logs: Iterable[Any]) -> list[DecodedEvent]:
        return [e for e in (self.decode(log) for log in logs) if e is not None]


class Chain:
    """A connected chain: web3 plus deploy/bind/send/call with readable errors."""

    def __init__(self, w3: Web3, config: ChainConfig) -> None:
        self.w3 = w3
        self.config = config
        self.decoder = EventDecoder()
        self.namer: AddressNamer | None = None
        # sender -> nonce its next transaction takes while a resumable step runs (see `resuming`)
        self._cursor: dict[str, int] | None = None

    def nonce(self, sender: str) -> int:
        """Transactions `sender` has had mined (its next transaction's nonce)."""
        return int(self.w3.eth.get_transaction_count(to_checksum_address(sender)))

    @contextmanager
    def resuming(self, start_nonces: dict[str, int]) -> Iterator[None]:
        """Send a step's transactions at most once across crashes.

        `start_nonces` are the senders' nonces when the step first began (recorded durably before it sent
        anything). The step must send the same transactions in the same order each time it runs; one whose
        nonce the chain has already used landed before a crash, so it is not sent again and its mined
        receipt is returned instead.
        """
        self._cursor = dict(start_nonces)
        try:
            yield
        finally:
            self._cursor = None

    def _landed(self, sender: str) -> Receipt | None:
        """The receipt of `sender`'s next transaction of a resumed step if it was mined before, else None."""
        if self._cursor is None or sender not in self._cursor:
            return None
        expected = self._cursor[sender]
        self._cursor[sender] = expected + 1
        mined = self.nonce(sender)
        if expected >= mined:
            if expected > mined:
                raise ChainError(f"{sender} has sent {mined} transactions but the resumed step expects "
                                 f"{expected}: the chain does not hold this step's earlier transactions")
            return None
        receipt = self.mined_receipt(sender, expected)
        if receipt.status != 1:
            raise ChainError(f"transaction {receipt.tx_hash} of the interrupted step had reverted")
        return receipt

    def mined_receipt(self, sender: str, nonce: int) -> Receipt:
        """The receipt of the mined transaction `sender` sent with `nonce` (searched from the newest block)."""
        wanted = to_checksum_address(sender)
        for number in range(self.block_number, -1, -1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                if not isinstance(tx, (bytes, str)) and tx["from"] == wanted and int(tx["nonce"]) == nonce:
                    return self.receipt(bytes(tx["hash"]))
        raise ChainError(f"no transaction of {sender} with nonce {nonce} on the chain")

    @classmethod
    def connect(cls, config: ChainConfig | None = None) -> Chain:
        config = config or ChainConfig()
        if config.rpc_url is None:
            return cls(_embedded_web3(config), config)
        w3 = Web3(Web3.HTTPProvider(config.rpc_url, request_kwargs={"timeout": config.rpc_timeout_s}))
        try:
            w3.eth.chain_id
        except Exception as exc:  # network errors come in many types; all mean the same to the user
            raise LedgerError(f"cannot reach the JSON-RPC node at {config.rpc_url}: {exc}") from exc
        return cls(w3, config)

    @cached_property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @cached_property
    def accounts(self) -> list[str]:
        """Unlocked accounts of the node (the embedded chain's test accounts, Anvil's dev accounts)."""
        return [to_checksum_address(a) for a in self.w3.eth.accounts]

    def deploy(self, name: str, args: Sequence[Any], sender: str) -> Contract:
        art = load_artifact(name)
        landed = self._landed(sender)
        if landed is not None:
            if landed.contract_address is None:
                raise ChainError(f"transaction {landed.tx_hash} of the interrupted step was not a deployment of {name}")
            return self.bind(name, landed.contract_address)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        try:
            tx_hash = factory.constructor(*args).transact({"from": sender, "gas": self.config.tx_gas})
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise decode_revert(revert_data_of(exc), self.namer) from None
        receipt = self.receipt(bytes(tx_hash))
        if receipt.status != 1 or receipt.contract_address is None:
            raise ChainError(f"deployment of {name} failed in transaction {receipt.tx_hash}")
        return self.bind(name, receipt.contract_address)

    def bind(self, name: str, address: str) -> Contract:
        art = load_artifact(name)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=art.abi)

    def send(self, fn: ContractFunction, sender: str, gas: int | None = None) -> Receipt:
        """Send a transaction and wait for its receipt; a revert raises ChainError with the decoded reason."""
        landed = self._landed(sender)
        if landed is not None:
            return landed
        params: dict[str, Any] = {"from": sender, "gas": gas or self.config.tx_gas}
        try:
            tx_hash = fn.transact(params)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise decode_revert(revert_data_of(exc), self.namer) from None
        receipt = self.receipt(bytes(tx_hash))
        if receipt.status != 1:
            raise self._replay_failure(params, receipt, lambda p, b: fn.call(p, block_identifier=b))
        return receipt

    def send_data(self, to: str, data: bytes, sender: str, gas: int) -> Receipt:
        """Send pre-encoded calldata (big batches: web3's per-argument validation costs seconds there)."""
        landed = self._landed(sender)
        if landed is not None:
            return landed
        params: dict[str, Any] = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": gas}
        try:
            tx_hash = self.w3.eth.send_transaction(params)  # type: ignore[arg-type]
        except Exception as exc:  # providers raise different types; the revert data is what matters
            revert = revert_data_of(exc)
            if revert is None:
                raise
            raise decode_revert(revert, self.namer) from None
        receipt = self.receipt(bytes(tx_hash))
        if receipt.status != 1:
            raise self._replay_failure(params, receipt, lambda p, b: self.w3.eth.call(p, block_identifier=b))
        return receipt

    def send_call(self, to: str, signature: str, args: Sequence[Any], sender: str, gas: int | None = None) -> Receipt:
        """Send `signature(args)` to `to` with calldata encoded by eth_abi directly (bulk writes)."""
        types = [t for t in signature[signature.index("(") + 1:-1].split(",") if t]
        data = function_signature_to_4byte_selector(signature) + abi_encode(types, list(args))
        return self.send_data(to, data, sender, gas or self.config.tx_gas)

    def receipt(self, tx_hash: bytes) -> Receipt:
        """Wait for and read the receipt of `tx_hash` (nodes here mine at once; slower ones are polled)."""
        deadline = time.monotonic() + self.config.rpc_timeout_s
        while True:
            raw = self.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"), ["0x" + tx_hash.hex()])
            result = raw.get("result")
            if result:
                break
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for transaction 0x{tx_hash.hex()} after {self.config.rpc_timeout_s} s")
            time.sleep(0.05)
        contract = _field(result, "contractAddress", "contract_address")
        return Receipt(
            tx_hash="0x" + tx_hash.hex(),
            block_number=_int(_field(result, "blockNumber", "block_number")),
            gas_used=_int(_field(result, "gasUsed", "gas_used")),
            status=_int(result["status"]),
            contract_address=checksum(contract) if contract else None,
            logs=list(result["logs"]),
        )

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any:
        try:
            return fn.call({"from": sender} if sender else {})  # type: ignore[typeddict-item]
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise decode_revert(revert_data_of(exc), self.namer) from None
        except Exception as exc:
            data = revert_data_of(exc)
            if data is None:
                raise
            raise decode_revert(data, self.namer) from None

    def call_fast(self, to: str, signature: str, args: Sequence[Any], returns: Sequence[str]) -> tuple[Any, ...]:
        """eth_call with calldata encoded by eth_abi directly (bulk reads: web3 re-validates every element).

        signature: e.g. "balanceOfBatch(address[],uint256[])"; returns: the ABI types of the result.
        """
        types = [t for t in signature[signature.index("(") + 1:-1].split(",") if t]
        data = function_signature_to_4byte_selector(signature) + abi_encode(types, list(args))
        try:
            raw = self.w3.eth.call({"to": to, "data": "0x" + data.hex()})  # type: ignore[typeddict-item]
        except Exception as exc:
            revert = revert_data_of(exc)
            if revert is None:
                raise
            raise decode_revert(revert, self.namer) from None
        return tuple(abi_decode(list(returns), bytes(raw)))

    def events(self, receipt: Receipt) -> list[DecodedEvent]:
        return self.decoder.decode_all(receipt.logs)

    def logs(self, addresses: Sequence[str], from_block: int, to_block: int | None = None) -> list[DecodedEvent]:
        """Every ledgerclear event the given contracts emitted in the block range."""
        raw = self.w3.eth.get_logs(
            {"address": [to_checksum_address(a) for a in addresses], "fromBlock": from_block,
             "toBlock": "latest" if to_block is None else to_block}
        )
        return self.decoder.decode_all(raw)

    @property
    def block_number(self) -> int:
        tester = getattr(self.w3.provider, "ethereum_tester", None)
        if tester is not None:
            sync = getattr(tester.backend, "sync", None)
            if sync is not None:
                sync()  # another process may have mined since (a durable market's chain)
            # Embedded: eth_blockNumber would build and serialise the whole latest block; its number is the
            # pending block's less one (eth-tester's "latest"). The mining chain's pending header has it
            # (get_block() builds a VM and the block from that header: ~20 us against 0.2 us).
            return max(0, int(tester.backend.chain.header.block_number) - 1)
        return int(self.w3.eth.block_number)

    def _replay_failure(self, params: dict[str, Any], receipt: Receipt, call: Any) -> ChainError:
        # A node mines a reverting transaction with status 0 and no reason; re-run it as a call on the
        # parent state to recover the custom error.
        try:
            call(params, receipt.block_number - 1)
        except Exception as exc:  # providers raise different types; the revert data is what matters
            data = revert_data_of(exc)
            if data is not None:
                return decode_revert(data, self.namer)
            return ChainError(f"transaction {receipt.tx_hash} reverted ({exc})")
        if receipt.gas_used >= int(params["gas"]):
            return ChainError(f"transaction ran out of gas ({receipt.gas_used} used); raise the gas limit in ChainConfig")
        return ChainError(f"transaction {receipt.tx_hash} reverted")


def _embedded_web3(config: ChainConfig) -> Web3:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3.providers.eth_tester import EthereumTesterProvider

    genesis = {"gas_limit": config.block_gas_limit}
    if config.chain_file is not None:
        from ledger.embedded_chain import DurablePyEVMBackend, DurableTesterProvider, SqliteChainDB

        backend = DurablePyEVMBackend(SqliteChainDB(config.chain_file), genesis)
        return Web3(DurableTesterProvider(backend, config.chain_file.with_suffix(".lock")))
    params = PyEVMBackend.generate_genesis_params(overrides=genesis)
    tester = EthereumTester(backend=PyEVMBackend(genesis_parameters=params))
    return Web3(EthereumTesterProvider(tester))
