"""FastAPI's OpenTelemetry instrumentation follows the `telemetry` setting: off (the default), requests do not
look for OpenTelemetry providers; on, FastAPI looks for them on each request (and would use them)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from service_world import World, with_settings

from api.service.settings import Settings


def _lookups(world: World, monkeypatch: pytest.MonkeyPatch, telemetry: bool) -> int:
    calls = [0]
    real = trace.get_tracer_provider

    def counted() -> trace.TracerProvider:
        calls[0] += 1
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    client = with_settings(world, telemetry=telemetry)
    assert client.get("/v1/health").status_code == 200
    return calls[0]


def test_off_by_default_and_no_lookups(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().telemetry is False
    assert _lookups(world, monkeypatch, telemetry=False) == 0


def test_on_looks_for_providers(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _lookups(world, monkeypatch, telemetry=True) > 0


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERCLEAR_TELEMETRY", "1")
    assert Settings.from_env().telemetry is True
