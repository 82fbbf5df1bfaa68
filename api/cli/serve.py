"""`ledgerclear serve`: the participant service (FastAPI under uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
        rpc: Annotated[Optional[str], typer.Option("--rpc", help="JSON-RPC node URL (default: embedded chain).")] = None,
        db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default sqlite:///ledgerclear.sqlite).")]
        = None,
        deployment: Annotated[Optional[Path], typer.Option(
            "--deployment", help="deployment.json to bind to (written after a fresh deploy).")] = None,
        reports_dir: Annotated[Optional[Path], typer.Option("--reports-dir", help="Day-end CSV reports.")] = None,
        rpf: Annotated[Optional[Path], typer.Option("--rpf", help="Published risk parameter file (RPF01).")] = None,
        cp_params_dir: Annotated[Optional[Path], typer.Option(
            "--cp-params-dir", help="Directory of <participant>.json CP parameters.")] = None,
    ) -> None:
        """Serve the participant API on HOST:PORT (/v1/..., /openapi.json)."""
        import uvicorn

        from api.service.app import create_app
        from api.service.bootstrap import ensure_operator_admin
        from api.service.context import open_context
        from api.service.settings import Settings

        settings = Settings.from_env(db_url=db, rpc_url=rpc, deployment_file=deployment, reports_dir=reports_dir,
                                     rpf_path=rpf, cp_params_dir=cp_params_dir)
        ctx = open_context(settings)
        first = ensure_operator_admin(ctx, password=os.environ.get("LEDGERCLEAR_ADMIN_PASSWORD"))
        if first is not None:
            typer.echo(f"first operator administrator: {first.username}\n  password: "
                       f"{'(from LEDGERCLEAR_ADMIN_PASSWORD)' if os.environ.get('LEDGERCLEAR_ADMIN_PASSWORD') else first.password}"
                       f"\n  TOTP secret: {first.totp_secret}\n  {first.totp_uri}", err=True)
        typer.echo(f"chain {ctx.chain_id} ({ctx.deployment.chain.config.backend}), settlement engine "
                   f"{ctx.engine_address}; serving on http://{host}:{port}", err=True)
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="info")
