"""Service configuration in one place: a pydantic model, filled from arguments or LEDGERCLEAR_* variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ENV_PREFIX = "LEDGERCLEAR_"
KEY_FILE_NAME = "ledgerclear-secret.key"


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
    event_poll_s: float = Field(default=0.05, gt=0, le=5)  # how soon another worker's events reach a stream
    event_retention: int = Field(default=1_000_000, gt=0)  # event rows kept for replay (Last-Event-ID)
    workers: int = Field(default=1, ge=1, le=64)  # uvicorn worker processes (more than 1 needs --rpc)
    # FastAPI's OpenTelemetry spans, metrics and logs, for providers set up outside the service (e.g. by
    # opentelemetry-instrument). Off, FastAPI does not look for providers on every request (~3% of a read).
    telemetry: bool = False
    # HTTPS: the server's certificate chain and key (PEM); with client_ca, clients may present a certificate
    # issued by that CA (optional at the TLS layer, so browsers with session tokens still connect).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    # The service key (32 bytes, base64 or hex) that seals TOTP secrets at rest. Prefer the file: an
    # environment variable is visible to anything that can read the process environment.
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None  # default: ledgerclear-secret.key beside the SQLite database

    @model_validator(mode="after")
    def _tls_consistent(self) -> Settings:
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("tls_key needs tls_cert")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("client_ca (client certificates) needs HTTPS: set tls_cert and tls_key")
        return self

    def key_file(self) -> Path:
        """Where the service key lives: the configured file, else beside the SQLite database (the data
        directory), else the working directory (where the default database would be)."""
        if self.secret_key_file is not None:
            return self.secret_key_file
        prefix = "sqlite:///"
        if self.db_url.startswith(prefix) and ":memory:" not in self.db_url and len(self.db_url) > len(prefix):
            return Path(self.db_url[len(prefix):].split("?", 1)[0]).parent / KEY_FILE_NAME
        return Path(KEY_FILE_NAME)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
