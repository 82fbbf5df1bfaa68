"""Live status changes of the caller's own participant (the operator sees all), as Server-Sent Events
or as a JSON page for polling. Event ids increase; reconnect with `after` or Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import queue
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.service.deps import Ctx, Principal, Reader
from api.service.events import OPERATOR, Event

router = APIRouter(tags=["events"])
POLL_S = 0.05
KEEPALIVE_S = 15.0


class EventOut(BaseModel):
    id: int
    type: str
    data: dict[str, object]


def _channel(p: Principal) -> str:
    return OPERATOR if p.participant_id is None else p.participant_id


def _sse(e: Event) -> str:
    return f"id: {e.id}\nevent: {e.type}\ndata: {json.dumps(e.data, separators=(',', ':'))}\n\n"


@router.get("/events", response_model=list[EventOut])
def recent(p: Reader, ctx: Ctx,
           after: Annotated[int, Query(ge=0, le=2**62, description="events with a larger id")] = 0,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[EventOut]:
    return [EventOut(id=e.id, type=e.type, data=e.data) for e in ctx.hub.recent(_channel(p), after, limit)]


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
def stream(
    p: Reader, ctx: Ctx,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="close after this many events")] = None,
    timeout: Annotated[float, Query(ge=0, le=86_400, description="close after this many seconds")] = 3600,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**62)] = None,
) -> StreamingResponse:
    channel = _channel(p)
    start = max(after, last_event_id or 0)
    q, backlog = ctx.hub.subscribe(channel, start)

    async def gen() -> AsyncIterator[str]:
        # Async and polling, so an open stream holds no worker thread (publishers run in worker threads).
        sent, last = 0, start  # the backlog and the live queue may overlap: ids are sent once, in order
        now = time.monotonic()
        end, beat = now + timeout, now + KEEPALIVE_S
        try:
            yield ": ledgerclear event stream\n\n"
            for e in backlog:
                last = e.id
                yield _sse(e)
                sent += 1
                if limit is not None and sent >= limit:
                    return
            while time.monotonic() < end:
                try:
                    e = q.get_nowait()
                except queue.Empty:
                    if time.monotonic() >= beat:
                        beat = time.monotonic() + KEEPALIVE_S
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(POLL_S)
                    continue
                if e.id <= last:
                    continue
                last = e.id
                yield _sse(e)
                sent += 1
                if limit is not None and sent >= limit:
                    return
        finally:
            ctx.hub.unsubscribe(channel, q)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
