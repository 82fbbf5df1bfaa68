"""The block number of a JSON-RPC node, read from the event loop for the balance reads.

On the embedded chain the block number is a memory read. On a node it is a round trip, which the balance
endpoint used to make in the thread pool through the synchronous web3 client, on every request (reads cost
2.5-3.1 ms of service CPU on Anvil, lists and balances together). Here the round trip is made on the loop (web3's async HTTP provider), and
one request serves every caller that asked while it was being prepared:

* exact: each caller gets a number from an `eth_blockNumber` request sent after it asked, so a read never
  answers from a block older than one it could already have seen (e.g. the block of a settlement whose event
  reached the client first);
* shared: callers share a request until it starts; callers that ask while one is out wait for the next,
  started as soon as it returns. With many reads in flight that is about one round trip per loop pass,
  however many reads the pass holds.

One reader per event loop (its futures and HTTP session belong to that loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from web3 import AsyncHTTPProvider, AsyncWeb3

Fetch = Callable[[], Awaitable[int]]


class HeadReader:
    """`current()`: the node's block number, read after the call."""

    def __init__(self, fetch: Fetch, close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._fetch = fetch
        self._close = close
        self._out: asyncio.Future[int] | None = None  # the callers of the current request
        self._sent = False  # whether that request has started (then later callers wait for the next)
        self._next: asyncio.Future[int] | None = None  # the callers of the request after it
        self._tasks: set[asyncio.Task[None]] = set()

    async def current(self) -> int:
        loop = asyncio.get_running_loop()
        if self._out is None:
            fut = self._out = loop.create_future()
            self._send(fut)
        elif not self._sent:  # not started yet: it is sent after this call too
            fut = self._out
        else:
            if self._next is None:
                self._next = loop.create_future()
            fut = self._next
        return await asyncio.shield(fut)  # a caller that goes away does not cancel the others' answer

    def _send(self, fut: asyncio.Future[int]) -> None:
        self._sent = False
        task = asyncio.get_running_loop().create_task(self._run(fut))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, fut: asyncio.Future[int]) -> None:
        self._sent = True
        try:
            number = await self._fetch()
        except Exception as exc:  # every waiter gets it (and falls back to the thread pool)
            fut.set_exception(exc)
            fut.add_done_callback(lambda f: f.exception())  # retrieved even if every waiter went away
        else:
            fut.set_result(number)
        finally:
            self._out = None
            if self._next is not None:
                self._out, self._next = self._next, None
                self._send(self._out)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._close is not None:
            await self._close()


def rpc_head_reader(rpc_url: str, timeout_s: float = 10.0) -> HeadReader:
    """A reader over web3's async HTTP provider (its own aiohttp session, on the calling loop)."""
    provider = AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s})
    w3 = AsyncWeb3(provider)

    async def fetch() -> int:
        return int(await w3.eth.block_number)

    return HeadReader(fetch, provider.disconnect)
