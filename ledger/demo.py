"""The demo is a generated day: `ledgerclear demo` is `ledgerclear day` with generated trades and SIs."""

from __future__ import annotations

from ledger.day import DayConfig, DayResult, participant_address, run_day

DemoConfig = DayConfig
DemoResult = DayResult
run_demo = run_day

__all__ = ["DemoConfig", "DemoResult", "participant_address", "run_demo"]
