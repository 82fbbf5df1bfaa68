"""HeadReader (api/service/head_reader.py): every caller gets a block number from a request sent after it
asked; callers waiting together share one request; a failure reaches each waiter and the next call works.
The requests are a counter standing in for the node (the node itself: tests/service/test_anvil.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from api.service.head_reader import HeadReader


class _Node:
    """Each request is answered with the number of requests sent before it, once `release` is set."""

    def __init__(self) -> None:
        self.sent = 0
        self.release = asyncio.Event()
        self.fail_next = False

    async def fetch(self) -> int:
        self.sent += 1
        number = self.sent
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("node down")
        return number


def _run(test: Callable[[_Node, HeadReader], Awaitable[None]]) -> None:
    """`test` on its own event loop, with a fresh node and a reader of it."""
    async def main() -> None:
        node = _Node()
        await test(node, HeadReader(node.fetch))

    asyncio.run(main())


def test_callers_in_one_pass_share_one_request() -> None:
    async def main(node: _Node, reader: HeadReader) -> None:
        node.release.set()
        got = await asyncio.gather(*(reader.current() for _ in range(20)))
        assert got == [1] * 20 and node.sent == 1

    _run(main)


def test_a_caller_never_gets_a_request_sent_before_it_asked() -> None:
    async def main(node: _Node, reader: HeadReader) -> None:
        first = asyncio.create_task(reader.current())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert node.sent == 1  # request 1 is out
        late = [asyncio.create_task(reader.current()) for _ in range(5)]  # asked after request 1 was sent
        await asyncio.sleep(0)
        node.release.set()
        assert await first == 1
        assert await asyncio.gather(*late) == [2] * 5  # all answered by request 2, sent after they asked
        assert node.sent == 2

    _run(main)


def test_a_failure_reaches_each_waiter_and_the_next_call_works() -> None:
    async def main(node: _Node, reader: HeadReader) -> None:
        node.fail_next = True
        node.release.set()
        results = await asyncio.gather(*(reader.current() for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)
        assert await reader.current() == 2

    _run(main)


def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    async def main(node: _Node, reader: HeadReader) -> None:
        gone = asyncio.create_task(reader.current())
        stays = asyncio.create_task(reader.current())
        await asyncio.sleep(0)
        gone.cancel()
        node.release.set()
        assert await stays == 1
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert await reader.current() == 2

    _run(main)
