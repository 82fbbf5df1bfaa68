"""The embedded chain in a market file: resumed exactly after a clean stop or SIGKILL, shared by processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.chain import Chain, ChainConfig
from ledger.deployment import bind, deploy, role
from ledger.onchain import Kind, OnChainLedger

HOLDER = "0x" + "11" * 20
TOKEN = 700


def _fresh(path: Path) -> OnChainLedger:
    chain = Chain.connect(ChainConfig(chain_file=path / "chain.sqlite"))
    dep = deploy(chain)
    (path / "deployment.json").write_text(json.dumps(dep.describe()))
    ledger = OnChainLedger(dep)
    ledger.register_participants([("B00001", HOLDER, Kind.BROKER)])
    ledger.list_securities([(TOKEN, "HK0000007009")])
    return ledger


def _reopen(path: Path) -> OnChainLedger:
    chain = Chain.connect(ChainConfig(chain_file=path / "chain.sqlite"))
    return OnChainLedger(bind(chain, json.loads((path / "deployment.json").read_text())))


def test_reopened_chain_has_its_state_and_moves_forward(tmp_path: Path) -> None:
    ledger = _fresh(tmp_path)
    ledger.deposit(HOLDER, TOKEN, 500)
    ledger.issue_cash(HOLDER, "HKD", 12_345)
    block = ledger.chain.block_number
    settler = ledger.ops.settler
    del ledger

    again = _reopen(tmp_path)
    assert again.chain.block_number == block
    assert again.security_balance(HOLDER, TOKEN) == 500 and again.total_supply(TOKEN) == 500
    assert again.cash_balance(HOLDER, "HKD") == 12_345
    assert again.chain.call(again.d.engine.functions.hasRole(role("SETTLER_ROLE"), settler)) is True
    again.deposit(HOLDER, TOKEN, 1)  # the next transaction lands on the resumed head
    assert again.chain.block_number == block + 1
    assert again.security_balance(HOLDER, TOKEN) == 501


_DEPOSIT_FOREVER = """
import json, sys
from pathlib import Path
from ledger.chain import Chain, ChainConfig
from ledger.deployment import bind
from ledger.onchain import OnChainLedger
path = Path(sys.argv[1])
ledger = OnChainLedger(bind(Chain.connect(ChainConfig(chain_file=path / "chain.sqlite")),
                            json.loads((path / "deployment.json").read_text())))
print("ready", flush=True)
while True:
    ledger.deposit_many([({holder!r}, {token}, 1)] * 3)
""".format(holder=HOLDER, token=TOKEN)


@pytest.mark.parametrize("after_s", [0.3, 0.9, 1.7])
def test_sigkill_at_any_point_leaves_the_last_mined_block(tmp_path: Path, after_s: float) -> None:
    ledger = _fresh(tmp_path)
    csd, start_nonce = ledger.ops.csd, ledger.chain.nonce(ledger.ops.csd)
    del ledger
    proc = subprocess.Popen([sys.executable, "-c", _DEPOSIT_FOREVER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    again = _reopen(tmp_path)
    mined = again.chain.nonce(csd) - start_nonce
    assert mined > 0
    # every mined deposit transaction is whole (3 units each) and nothing else moved
    assert again.security_balance(HOLDER, TOKEN) == 3 * mined == again.total_supply(TOKEN)
    again.deposit(HOLDER, TOKEN, 1)
    assert again.security_balance(HOLDER, TOKEN) == 3 * mined + 1


def test_two_processes_share_one_chain(tmp_path: Path) -> None:
    reader = _fresh(tmp_path)
    assert reader.security_balance(HOLDER, TOKEN) == 0
    block = reader.chain.block_number
    writer = subprocess.run([sys.executable, "-c", _DEPOSIT_FOREVER.replace("while True:", "for _ in range(2):"),
                             str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert writer.returncode == 0, writer.stderr
    # the reader's view follows what the other process mined, and its own next block comes after them
    assert reader.chain.block_number == block + 2
    assert reader.security_balance(HOLDER, TOKEN) == 6
    reader.deposit(HOLDER, TOKEN, 4)
    assert reader.chain.block_number == block + 3
    assert _reopen(tmp_path).security_balance(HOLDER, TOKEN) == 10
