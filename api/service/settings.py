"""Service configuration in one place: a pydantic model, filled from arguments or LEDGERCLEAR_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "LEDGERCLEAR_"


class Settings(BaseModel):
    """Everything the service can be told. `from_env` reads LEDGERCLEAR_<FIELD> (upper case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str = "sqlite:///ledgerclear.sqlite"
    rpc_url: str | None = None
    deployment_file: Path | None = None  # deployment.json to bind to on --rpc (else deploy fresh)
    reports_dir: Path = Path("reports")
    rpf_path: Path | None = None  # the published risk parameter file (RPF01 CSV)
    cp_params_dir: Path | None = None  # <participant>.json CP parameters
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    rate_per_s: float = Field(default=50.0, gt=0)  # token refill per caller
    rate_burst: int = Field(default=100, gt=0)  # bucket size per caller
    session_ttl_s: int = Field(default=15 * 60, gt=0)
    max_failed_signins: int = Field(default=5, gt=0)  # consecutive failures before the user is locked
    lockout_s: int = Field(default=15 * 60, gt=0)
    max_instruction_expiry_s: int = Field(default=7 * 24 * 3600, gt=0)
    page_max: int = Field(default=500, gt=0)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
