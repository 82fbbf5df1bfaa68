"""Start and stop a local Anvil node (npm @foundry-rs/anvil) on a free loopback port.

Used by the tests and benchmarks that prove the same code runs against a real JSON-RPC node.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.chain import DEFAULT_BLOCK_GAS_LIMIT

ROOT = Path(__file__).resolve().parent.parent
# Prague matches the embedded chain's fork (and has no per-transaction gas cap, so big batches fit).
HARDFORK = "prague"


def anvil_binary() -> Path | None:
    """The Anvil executable installed by npm, if any."""
    for candidate in (
        ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil",
        ROOT / "node_modules" / ".bin" / "anvil",
    ):
        if candidate.exists():
            return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def anvil_node(gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Run Anvil for the duration of the block; yields its RPC URL. The node is stopped on exit."""
    binary = anvil_binary()
    if binary is None:
        raise FileNotFoundError("Anvil is not installed; run `make install` (npm install) in the repository root")
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--hardfork", HARDFORK,
         "--gas-limit", str(gas_limit), "--accounts", "10", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"anvil exited with code {proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"anvil did not listen on port {port} within {startup_timeout_s} s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
