"""Compile contracts/*.sol with the pinned solc-js and write ledger/artifacts/*.json.

Usage: python scripts/build_contracts.py [--out DIR]

The artifacts are committed so the Python runtime never needs Node; tests/test_artifacts.py rebuilds them
into a temporary directory and fails if any byte differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("ParticipantRegistry", "SecuritiesLedger", "CashToken", "SettlementEngine", "RiskGate", "InstructionVerifier")
EVM_VERSION = "cancun"


def standard_input() -> dict[str, object]:
    sources = {
        f"contracts/{name}.sol": {"content": (ROOT / "contracts" / f"{name}.sol").read_text()}
        for name in CONTRACTS
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "viaIR": True,
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_all() -> dict[str, dict[str, object]]:
    proc = subprocess.run(
        ["node", str(ROOT / "scripts" / "solc_compile.cjs")],
        input=json.dumps(standard_input()),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    version = subprocess.run(
        ["node", "-e", "process.stdout.write(require('solc').version())"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    artifacts: dict[str, dict[str, object]] = {}
    for name in CONTRACTS:
        c = output["contracts"][f"contracts/{name}.sol"][name]
        artifacts[name] = {
            "contractName": name,
            "sourcePath": f"contracts/{name}.sol",
            "compiler": f"solc-js {version}",
            "evmVersion": EVM_VERSION,
            "abi": c["abi"],
            "bytecode": "0x" + c["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
        }
    return artifacts


def write(artifacts: dict[str, dict[str, object]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, art in artifacts.items():
        (out / f"{name}.json").write_text(json.dumps(art, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "ledger" / "artifacts")
    args = parser.parse_args(argv)
    write(compile_all(), args.out)
    print(f"wrote {len(CONTRACTS)} artifacts to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
