"""Shared helpers for the ISO 15022 codec tests: the golden messages as exact wire text.

A plain module (not conftest.py) with a unique name, so importing it cannot pick up another
suite's conftest; test modules import the `golden` fixture from here explicitly.
"""

from __future__ import annotations

import pathlib

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def golden_text(name: str) -> str:
    return (GOLDEN / f"{name}.fin").read_bytes().decode("ascii")


def golden_names() -> list[str]:
    return sorted(p.stem for p in GOLDEN.glob("*.fin"))


@pytest.fixture(params=golden_names())
def golden(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, golden_text(request.param)
