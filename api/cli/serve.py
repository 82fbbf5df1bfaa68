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
        market: Annotated[Optional[Path], typer.Option(
            "--market", help="The market to serve (made by `ledgerclear demo --out DIR` or `day`): its chain, "
                             "store, deployment and reports.")] = None,
        deployment: Annotated[Optional[Path], typer.Option(
            "--deployment", help="deployment.json to bind to (written after a fresh deploy).")] = None,
        reports_dir: Annotated[Optional[Path], typer.Option("--reports-dir", help="Day-end CSV reports.")] = None,
        rpf: Annotated[Optional[Path], typer.Option("--rpf", help="Published risk parameter file (RPF01).")] = None,
        cp_params_dir: Annotated[Optional[Path], typer.Option(
            "--cp-params-dir", help="Directory of <participant>.json CP parameters.")] = None,
        tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help="Serve HTTPS: certificate chain (PEM).")]
        = None,
        tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help="The certificate's private key (PEM).")]
        = None,
        client_ca: Annotated[Optional[Path], typer.Option(
            "--client-ca", help="Accept client certificates issued by this CA (PEM); optional per connection.")]
        = None,
        secret_key_file: Annotated[Optional[Path], typer.Option(
            "--secret-key-file", help="Service key sealing TOTP secrets (default: beside the SQLite database).")]
        = None,
        workers: Annotated[int, typer.Option(
            "--workers", min=1, max=64,
            help="Worker processes, one core each (more than 1 needs --rpc and --deployment).")] = 1,
    ) -> None:
        """Serve the participant API on HOST:PORT (/v1/..., /openapi.json)."""
        from pydantic import ValidationError

        from api.service import tls
        from api.service import workers as service_workers
        from api.service.app import create_app, keep_out_of_collections
        from api.service.bootstrap import ensure_operator_admin, prepare_secrets
        from api.service.context import open_context
        from api.service.security import SecretKeyError
        from api.service.settings import Settings

        opened = None
        if market is not None:
            from ledger.market import MarketError, open_market

            if db is not None or rpc is not None or deployment is not None:
                typer.echo("error: --market brings its own chain, store and deployment: drop --db, --rpc and "
                           "--deployment", err=True)
                raise typer.Exit(2)
            try:
                opened = open_market(market)
            except MarketError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            assert opened.dir is not None
            opened.store.engine.dispose()  # the service opens the store with its own pool
            db, rpc, deployment = opened.dir.db_url, opened.dir.manifest.rpc_url, opened.dir.deployment_file
            reports_dir = reports_dir or opened.dir.path
        try:
            settings = Settings.from_env(db_url=db, rpc_url=rpc, deployment_file=deployment, reports_dir=reports_dir,
                                         rpf_path=rpf, cp_params_dir=cp_params_dir, tls_cert=tls_cert,
                                         tls_key=tls_key, client_ca=client_ca, secret_key_file=secret_key_file,
                                         workers=workers if workers != 1 else None)
            service_workers.check(settings)
            if settings.tls_cert is not None:
                tls.server_context(settings)  # bad certificate files fail here, before anything else starts
        except (ValidationError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        ctx = open_context(settings, deployment=opened.deployment if opened is not None else None)
        try:
            ready = prepare_secrets(ctx)
        except SecretKeyError as exc:
            typer.echo(f"error: service key: {exc}", err=True)
            raise typer.Exit(2) from None
        if ready is not None:
            typer.echo(f"service key {ready.key_id} from {ready.key_source}"
                       + (f"; sealed {ready.sealed_now} clear TOTP secrets" if ready.sealed_now else ""), err=True)
        first = ensure_operator_admin(ctx, password=os.environ.get("LEDGERCLEAR_ADMIN_PASSWORD"))
        if first is not None:
            typer.echo(f"first operator administrator: {first.username}\n  password: "
                       f"{'(from LEDGERCLEAR_ADMIN_PASSWORD)' if os.environ.get('LEDGERCLEAR_ADMIN_PASSWORD') else first.password}"
                       f"\n  TOTP secret: {first.totp_secret}\n  {first.totp_uri}", err=True)
        typer.echo(f"chain {ctx.chain_id} ({ctx.deployment.chain.config.backend}), settlement engine "
                   f"{ctx.engine_address}; serving on {'https' if settings.tls_cert else 'http'}://{host}:{port}"
                   + (" (client certificates accepted)" if settings.client_ca else "")
                   + (f" with {settings.workers} worker processes" if settings.workers > 1 else ""), err=True)
        if settings.workers == 1:
            app = create_app(ctx)
            keep_out_of_collections()
            tls.run(app, settings, host, port, log_level="info")
            return
        service_workers.export(settings)  # each worker builds its own context from these
        ctx.engine.dispose()
        tls.run("api.service.workers:worker_app", settings, host, port, log_level="info", factory=True,
                workers=settings.workers)
