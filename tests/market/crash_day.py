"""Runs `ledgerclear day ...` and kills its own process with SIGKILL at a chosen point (fault injection).

    python crash_day.py POINT -- day --generate N --market DIR ...

POINT is `after:STEP` (once step STEP is recorded done), `send:STEP:K` (right after the K-th chain
transaction sent while step STEP runs: mined, not yet recorded) or `reports:K` (after K report
directories were written). The hooks wrap the real functions; nothing else is changed.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import ledger.day as day_module
from ledger.chain import Chain
from ledger.stage_log import StageLog


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str) -> None:
    kind, _, rest = point.partition(":")
    current: list[str] = []
    run = StageLog.run

    def logged_run(self: StageLog, name: str, *args: Any, **kwargs: Any) -> Any:
        current.append(name)
        try:
            out = run(self, name, *args, **kwargs)
        finally:
            current.pop()
        if kind == "after" and name == rest:
            _die()
        return out

    StageLog.run = logged_run  # type: ignore[method-assign]
    if kind == "send":
        step, _, k = rest.rpartition(":")
        sent = [0]

        def counting(original: Any) -> Any:
            def counted(self: Chain, *args: Any, **kwargs: Any) -> Any:
                receipt = original(self, *args, **kwargs)
                if current and current[-1] == step:
                    sent[0] += 1
                    if sent[0] == int(k):
                        _die()
                return receipt
            return counted

        # send_call goes through send_data; deploy and send are the other ways a transaction leaves
        Chain.send_data = counting(Chain.send_data)  # type: ignore[method-assign]
        Chain.send = counting(Chain.send)  # type: ignore[method-assign]
        Chain.deploy = counting(Chain.deploy)  # type: ignore[method-assign]
    if kind == "reports":
        write = day_module.write_day_reports
        written = [0]

        def counted_write(*args: Any, **kwargs: Any) -> Any:
            out = write(*args, **kwargs)
            written[0] += 1
            if written[0] == int(rest):
                _die()
            return out

        day_module.write_day_reports = counted_write  # type: ignore[assignment]


if __name__ == "__main__":
    point, sep, *argv = sys.argv[1:]
    assert sep == "--"
    install(point)
    from api.cli import main

    sys.argv = ["ledgerclear", *argv]
    main()
