"""Compiled contract artifacts (ABI + bytecode) shipped with the package; no Node needed at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
CONTRACT_NAMES = ("ParticipantRegistry", "SecuritiesLedger", "CashToken", "SettlementEngine", "RiskGate",
                  "InstructionVerifier")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    path: Path


@cache
def load_artifact(name: str) -> Artifact:
    """Load the committed artifact of contract `name`."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no compiled artifact for contract {name!r} at {path}")
    data = json.loads(path.read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"], path=path)
