"""Count EVM opcodes per settled obligation, per contract, in a CNS-shaped batch on the embedded chain.

On py-evm, time is roughly proportional to opcodes executed, so this is where to look before
optimising the batch path. Usage: python scripts/profile_batch_opcodes.py [--batch-size N] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eth.vm.code_stream as code_stream  # noqa: E402
from eth.vm.computation import BaseComputation  # noqa: E402

import bench_settlement  # noqa: E402
from ledger.onchain import OnChainLedger  # noqa: E402

_counts: collections.Counter[str] = collections.Counter()
_stack: list[str] = []


def _instrument() -> None:
    """Wrap py-evm's opcode iterator and message application to attribute opcodes to code addresses."""
    original_iter = code_stream.CodeStream.__iter__

    def counting_iter(self: Any) -> Iterator[int]:
        for op in original_iter(self):
            _counts[_stack[-1] if _stack else "?"] += 1
            yield op

    original_apply = BaseComputation.apply_computation.__func__  # type: ignore[attr-defined]

    def apply(cls: Any, state: Any, message: Any, tc: Any, parent_computation: Any = None) -> Any:
        _stack.append("0x" + message.code_address.hex())
        try:
            return original_apply(cls, state, message, tc, parent_computation)
        finally:
            _stack.pop()

    code_stream.CodeStream.__iter__ = counting_iter  # type: ignore[method-assign]
    BaseComputation.apply_computation = classmethod(apply)  # type: ignore[method-assign, assignment]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    _instrument()
    per_batch: list[dict[str, Any]] = []
    original = OnChainLedger.settle_batch

    def settle_batch(self: OnChainLedger, obligations: Any, all_or_nothing: bool = False) -> Any:
        _counts.clear()
        out = original(self, obligations, all_or_nothing)
        names = {c.address.lower(): n for n, c in self.d.contracts.items()}
        n = len(obligations)
        per_batch.append({"obligations": n, "opcodes_per_obligation": round(sum(_counts.values()) / n),
                          "by_contract": {names.get(k, k): round(v / n) for k, v in _counts.items()}})
        return out

    OnChainLedger.settle_batch = settle_batch  # type: ignore[method-assign]
    bench_settlement.bench_backend("embedded", None, args.batch_size, 1, 1)
    result = per_batch[-1]
    if not args.json:
        print(f"{result['opcodes_per_obligation']} opcodes per settled obligation: {result['by_contract']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
