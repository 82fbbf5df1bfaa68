from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_world import World, build


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build(tmp_path_factory.mktemp("service"))
    yield w
    w.client.close()
    w.ctx.engine.dispose()
