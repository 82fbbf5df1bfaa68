"""Deploying the contract set, granting roles, and describing a deployment for outside tools."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from ledger.artifacts import load_artifact
from ledger.chain import Chain

CURRENCIES: tuple[str, ...] = ("HKD", "CNY", "USD")
_CURRENCY_NAMES = {"HKD": "Hong Kong dollar", "CNY": "Renminbi", "USD": "US dollar"}


def role(name: str) -> bytes:
    return bytes(Web3.keccak(text=name))


@dataclass(frozen=True)
class Operators:
    """The operator accounts that sign transactions (the node's unlocked accounts).

    admin: contract administration (roles, cash-token configuration, pause).
    csd: the CSD operator — registers participants, lists securities, deposits, withdraws, freezes.
    bank: the settlement bank — issues and redeems cash tokens.
    settler: the clearing house's settlement system — submits DvP instructions and batches.
    """

    admin: str
    csd: str
    bank: str
    settler: str

    @classmethod
    def from_chain(cls, chain: Chain) -> Operators:
        a = chain.accounts
        if len(a) < 4:
            raise ValueError(f"the node offers {len(a)} unlocked accounts; 4 operator accounts are needed")
        return cls(admin=a[0], csd=a[1], bank=a[2], settler=a[3])


@dataclass(frozen=True)
class Deployment:
    chain: Chain
    operators: Operators
    registry: Contract
    ledger: Contract
    engine: Contract
    cash: dict[str, Contract]
    start_block: int
    # Checks participants' EIP-712 instruction signatures; None when bound to a deployment described before
    # the verifier existed (`add_verifier` deploys one beside it).
    verifier: Contract | None = None

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(self.cash)

    def currency_index(self, code: str) -> int:
        try:
            return self.currencies.index(code)
        except ValueError:
            raise ValueError(f"currency {code!r} is not settled here; expected one of {', '.join(self.currencies)}") from None

    @property
    def contracts(self) -> dict[str, Contract]:
        out = {"ParticipantRegistry": self.registry, "SecuritiesLedger": self.ledger, "SettlementEngine": self.engine}
        out.update({f"CashToken{code}": c for code, c in self.cash.items()})
        if self.verifier is not None:
            out["InstructionVerifier"] = self.verifier
        return out

    @property
    def addresses(self) -> list[str]:
        return [c.address for c in self.contracts.values()]

    def describe(self) -> dict[str, Any]:
        """deployment.json: enough for an outside tool to find and decode everything."""
        def artifact_of(name: str) -> str:
            return str(load_artifact("CashToken" if name.startswith("CashToken") else name).path)

        return {
            "chain_id": self.chain.chain_id,
            "backend": self.chain.config.backend,
            "rpc_url": self.chain.config.rpc_url,
            "start_block": self.start_block,
            "contracts": {name: c.address for name, c in self.contracts.items()},
            "artifacts": {name: artifact_of(name) for name in self.contracts},
            "currencies": list(self.currencies),
            "operators": {
                "admin": self.operators.admin,
                "csd": self.operators.csd,
                "bank": self.operators.bank,
                "settler": self.operators.settler,
            },
        }


def deploy(chain: Chain, currencies: tuple[str, ...] = CURRENCIES, operators: Operators | None = None) -> Deployment:
    """Deploy registry, securities ledger, one cash token per currency, the settlement engine and the
    instruction verifier; grant roles."""
    ops = operators or Operators.from_chain(chain)
    start = chain.block_number
    admin = ops.admin
    registry = chain.deploy("ParticipantRegistry", [admin], admin)
    ledger = chain.deploy("SecuritiesLedger", [admin, registry.address], admin)
    engine = chain.deploy("SettlementEngine", [admin, registry.address, ledger.address], admin)
    cash: dict[str, Contract] = {}
    for code in currencies:
        if len(code) != 3 or not code.isalpha() or not code.isupper():
            raise ValueError(f"currency code {code!r} must be three upper-case letters (ISO 4217)")
        name = f"ledgerclear {_CURRENCY_NAMES.get(code, code)}"
        cash[code] = chain.deploy("CashToken", [admin, registry.address, code.encode(), name], admin)

    grants: list[tuple[Contract, str, str]] = [
        (registry, "REGISTRAR_ROLE", ops.csd),
        (registry, "STATUS_ROLE", ops.csd),
        (ledger, "LISTING_ROLE", ops.csd),
        (ledger, "CSD_OPERATOR_ROLE", ops.csd),
        (ledger, "SETTLEMENT_ROLE", engine.address),
        (ledger, "PAUSER_ROLE", admin),
        (engine, "SETTLER_ROLE", ops.settler),
        (engine, "CONFIG_ROLE", admin),
        (engine, "PAUSER_ROLE", admin),
    ]
    for token in cash.values():
        grants += [(token, "ISSUER_ROLE", ops.bank), (token, "SETTLEMENT_ROLE", engine.address),
                   (token, "PAUSER_ROLE", admin)]
    for contract, role_name, who in grants:
        chain.send(contract.functions.grantRole(role(role_name), who), admin)
    for i, token in enumerate(cash.values()):
        chain.send(engine.functions.setCashToken(i, token.address), admin)
    # Deployed last so every other contract keeps the address it had before the verifier existed. It needs no
    # role: it only reads the registry (the engine's) and has no state of its own.
    verifier = chain.deploy("InstructionVerifier", [engine.address], admin)
    return Deployment(chain, ops, registry, ledger, engine, cash, start, verifier)


def add_verifier(deployment: Deployment) -> Deployment:
    """Deploy an InstructionVerifier beside an existing deployment (its signing domain is the engine's, so
    signatures made before it existed verify too)."""
    verifier = deployment.chain.deploy("InstructionVerifier", [deployment.engine.address], deployment.operators.admin)
    return replace(deployment, verifier=verifier)


def bind(chain: Chain, description: dict[str, Any]) -> Deployment:
    """Re-attach to a deployment described by `Deployment.describe()` (e.g. a saved deployment.json)."""
    c = description["contracts"]
    ops = Operators(**description["operators"])
    cash = {code: chain.bind("CashToken", c[f"CashToken{code}"]) for code in description["currencies"]}
    return Deployment(
        chain, ops,
        chain.bind("ParticipantRegistry", c["ParticipantRegistry"]),
        chain.bind("SecuritiesLedger", c["SecuritiesLedger"]),
        chain.bind("SettlementEngine", c["SettlementEngine"]),
        cash,
        int(description.get("start_block", 0)),
        chain.bind("InstructionVerifier", c["InstructionVerifier"]) if "InstructionVerifier" in c else None,
    )


def artifact_dir() -> Path:
    return load_artifact("SettlementEngine").path.parent
