"""`ledgerclear gateway`: the ISO 15022 participant gateway (TCP + mutual TLS)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("gateway")
    def gateway(
        host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port).")] = 15022,
        certs: Annotated[Optional[Path], typer.Option(
            "--certs", help="Directory made by `ledgerclear certs` (default: the market's certs/, else ./certs).")]
        = None,
        market: Annotated[Optional[Path], typer.Option(
            "--market", help="The market to serve (made by `ledgerclear demo --out DIR` or `day`).")] = None,
        rpc: Annotated[Optional[str], typer.Option("--rpc", help="JSON-RPC node URL (default: embedded chain).")]
        = None,
        db: Annotated[str, typer.Option("--db", help="Database URL of the store.")] = "sqlite://",
        deployment: Annotated[Optional[Path], typer.Option(
            "--deployment", help="deployment.json to bind to (with --setup-demo-market: where to write it).")] = None,
        setup_demo_market: Annotated[bool, typer.Option(
            "--setup-demo-market", help="Deploy fresh contracts; register the participants that have certificates "
                                        "in --certs; list demo securities; fund every participant.")] = False,
        settlement: Annotated[str, typer.Option(
            "--settlement", help="realtime: DvP on each match (pending ones recycled by batch runs); "
                                 "batch: matched SIs wait for batch runs.")] = "realtime",
        batch_interval: Annotated[float, typer.Option(
            "--batch-interval", help="Seconds between batch runs (0: only on SIGUSR1).")] = 60.0,
        queue_size: Annotated[int, typer.Option("--queue-size", help="Outbound messages per session.")] = 1000,
        ledger_in_thread: Annotated[bool, typer.Option(
            "--ledger-in-thread", help="Run store and chain in a thread of this process (default: a child "
                                       "process, so the chain never delays acknowledgements).")] = False,
        journal: Annotated[Optional[Path], typer.Option(
            "--journal", help="Journal of accepted messages: replayed on start (restarts keep the SI book and "
                              "idempotency; use with a persistent --db and chain).")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Serve participants over TLS; SIGUSR1 runs a batch, SIGUSR2 ends the day (final run, 535/536)."""
        from api.gateway.certs import participants_in
        from api.gateway.server import Gateway, GatewayConfig

        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if settlement not in ("realtime", "batch"):
            typer.echo("error: --settlement is realtime or batch", err=True)
            raise typer.Exit(2)
        if market is not None:
            from ledger.market import MarketError, read

            try:
                read(market)
            except MarketError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            if setup_demo_market or deployment is not None or rpc is not None:
                typer.echo("error: --market brings its own chain, store and deployment: drop --setup-demo-market, "
                           "--deployment and --rpc", err=True)
                raise typer.Exit(2)
        certs = certs or (market / "certs" if market is not None else Path("certs"))
        for f in ("ca.pem", "server.pem", "server.key"):
            if not (certs / f).exists():
                typer.echo(f"error: {certs / f} missing; run `ledgerclear certs {certs} --participants ...`", err=True)
                raise typer.Exit(2)
        if not setup_demo_market and deployment is None and market is None:
            typer.echo("error: give --market DIR, --deployment FILE (an existing deployment) or --setup-demo-market",
                       err=True)
            raise typer.Exit(2)
        config = GatewayConfig(realtime=settlement == "realtime", batch_interval=batch_interval or None,
                               queue_size=queue_size, journal=journal)

        async def main() -> None:
            if setup_demo_market:
                pids = participants_in(certs)
                if not pids:
                    typer.echo(f"error: no participant certificates in {certs}", err=True)
                    raise typer.Exit(2)
                gw = await Gateway.create(certs, config, participants=pids, rpc_url=rpc, db_url=db,
                                          in_thread=ledger_in_thread)
                if deployment is not None:
                    deployment.write_text(json.dumps(await gw.ledger.call("describe"), indent=2))
            else:
                gw = await Gateway.create(certs, config, rpc_url=rpc, db_url=db, deployment_file=deployment,
                                          in_thread=ledger_in_thread, market_dir=market)
            bound = await gw.start(host, port)
            gw.install_signals()
            typer.echo(f"gateway on {bound[0]}:{bound[1]}: participants {', '.join(sorted(gw.refdata.participants))}; "
                       f"settlement {settlement}", err=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                typer.echo("gateway stopping", err=True)
                await gw.close()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
