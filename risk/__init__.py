"""risk: the numpy margin engine (HKSCC VaR Platform method), parameter files, stress and backtests.

Modules, each with one job:

* :mod:`risk.rpf` — read/write the RPF01 risk parameter file (strict parser).
* :mod:`risk.positions`, :mod:`risk.cp_params` — the other two inputs.
* :mod:`risk.margin` — every margin component and the total requirement
  (:func:`~risk.margin.compute_margin`, :func:`~risk.margin.compute_margins`).
* :mod:`risk.scenario_pnl`, :mod:`risk.expected_shortfall`, :mod:`risk.rounding` — the maths.
* :mod:`risk.whatif` — incremental what-if on cached scenario P&L.
* :mod:`risk.synthetic_market`, :mod:`risk.rpf_generation` — synthetic history and FHS parameter files.
* :mod:`risk.stress` — stress scenarios, cover-2 default fund.
* :mod:`risk.backtest`, :mod:`risk.margin_backtest` — Kupiec, Christoffersen, traffic light.
* :mod:`risk.holiday` — holiday factor and stepped holiday schedules.
* :mod:`risk.interface` — what the ledger calls: requirement, eligibility, digests.
* :mod:`risk.marks`, :mod:`risk.daily_cycle`, :mod:`risk.cycle_files` — marks, positions from open
  instructions, the daily cycle (calls, coverage, eligibility).
* :mod:`risk.attestation` — the hash posted to the on-chain risk gate and its recomputation.
"""
