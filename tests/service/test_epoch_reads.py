"""EpochReads (api/service/auth_cache.py): requests that ask together share one read of the auth epoch, and a
request that asks after a read has started waits for a newer one, so it never sees an epoch from before it
asked (a revocation committed before a request arrived is always seen)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.service import migrate as service_migrate
from api.service.auth_cache import EpochReads, auth_epoch, bump_auth_epoch
from api.service.context import make_engine


def test_callers_of_one_pass_share_a_read_and_later_callers_see_later_commits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    service_migrate.upgrade(engine)
    reads: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: reads.append(a[2]))
    epochs = EpochReads(engine)

    async def scenario() -> tuple[list[int], int]:
        together = await asyncio.gather(*(epochs.current() for _ in range(20)))
        with Session(engine) as s, s.begin():
            bump_auth_epoch(s)
        return list(together), await epochs.current()

    try:
        before = auth_epoch(engine)
        reads.clear()
        together, after = asyncio.run(scenario())
        assert together == [before] * 20
        assert after == before + 1  # asked after the commit: a fresh read
        epoch_reads = [r for r in reads if "svc_auth_epoch" in r and r.lstrip().upper().startswith("SELECT")]
        assert len(epoch_reads) == 2, reads  # one for the twenty, one for the last
    finally:
        engine.dispose()


def test_a_failed_read_reaches_every_waiter(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # not migrated: no epoch table
    epochs = EpochReads(engine)

    async def scenario() -> list[BaseException | int]:
        return list(await asyncio.gather(*(epochs.current() for _ in range(3)), return_exceptions=True))

    try:
        got = asyncio.run(scenario())
        assert len(got) == 3 and all(isinstance(g, Exception) for g in got)
    finally:
        engine.dispose()
