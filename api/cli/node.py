"""`ledgerclear node ...`: the participant client — key, sign, submit, follow, reconcile, verify-evidence."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

KEY_ENV = "LEDGERCLEAR_KEY_PASSWORD"
API_KEY_ENV = "LEDGERCLEAR_API_KEY"


Key = Annotated[Path, typer.Option("--key", help="Encrypted key file (ledgerclear-key/1).")]
Url = Annotated[str, typer.Option("--url", help="Service base URL.")]
Participant = Annotated[str, typer.Option("--participant", help="Own participant id.")]
Counterparty = Annotated[str, typer.Option("--counterparty", help="Counterparty participant id.")]
Direction = Annotated[str, typer.Option("--direction", help="deliver or receive.")]
Security = Annotated[str, typer.Option("--security", help="Stock code.")]
Quantity = Annotated[int, typer.Option("--quantity")]
Amount = Annotated[int, typer.Option("--amount-cents")]
Currency = Annotated[str, typer.Option("--currency")]
SDate = Annotated[str, typer.Option("--settlement-date", help="yyyy-mm-dd")]
Ref = Annotated[str, typer.Option("--reference", help="Sender reference (16 chars).")]
Nonce = Annotated[Optional[int], typer.Option("--nonce", help="Default: 128 random bits.")]
Ttl = Annotated[int, typer.Option("--ttl", help="Signature lifetime in seconds.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _password(confirm: bool = False) -> str:
    pw = os.environ.get(KEY_ENV)
    if pw:
        return pw
    pw = getpass.getpass("key password: ")
    if confirm and getpass.getpass("again: ") != pw:
        raise _fail("passwords differ")
    return pw


# Set by the `node` group options (--cert, --cert-key, --ca), before any command runs.
_TLS: dict[str, Optional[Path]] = {"cert": None, "key": None, "ca": None}


def _client(url: str) -> Any:
    import ssl

    from api.node.client import ServiceClient, tls_context

    key = os.environ.get(API_KEY_ENV)
    if not key and _TLS["cert"] is None:
        raise _fail(f"set {API_KEY_ENV} to the participant's API key, or give `node --cert FILE --cert-key FILE`")
    context = None
    if _TLS["cert"] is not None or _TLS["ca"] is not None:
        try:
            context = tls_context(_TLS["cert"], _TLS["key"], _TLS["ca"])
        except (OSError, ssl.SSLError) as exc:
            raise _fail(f"client certificate / CA: {exc}") from None
    # An explicit certificate is the credential: the API key is not sent too (the service would prefer it).
    return ServiceClient(url, None if _TLS["cert"] is not None else key, ssl_context=context)


app = typer.Typer(help="Participant node: keep the key, sign and submit instructions, follow, reconcile, "
                       "verify evidence on chain.",
                  no_args_is_help=True)


@app.callback()
def _tls_options(
    cert: Annotated[Optional[Path], typer.Option(
        "--cert", envvar="LEDGERCLEAR_CLIENT_CERT", help="Client certificate (PEM) instead of an API key.")] = None,
    cert_key: Annotated[Optional[Path], typer.Option(
        "--cert-key", envvar="LEDGERCLEAR_CLIENT_KEY", help="Its private key (PEM).")] = None,
    ca: Annotated[Optional[Path], typer.Option(
        "--ca", envvar="LEDGERCLEAR_CA", help="CA of the service's HTTPS certificate (PEM).")] = None,
) -> None:
    _TLS.update(cert=cert, key=cert_key, ca=ca)


@app.command("keygen")
def keygen(out: Annotated[Path, typer.Option("--out", help="Where to write the key file.")],
           scrypt_n: Annotated[int, typer.Option("--scrypt-n", help="scrypt cost (power of two).")] = 2**17,
           ) -> None:
    """Generate a secp256k1 key, encrypted with a password (prompt, or $LEDGERCLEAR_KEY_PASSWORD)."""
    from api.node.keystore import KeystoreError, generate

    try:
        address = generate(out, _password(confirm=True), n=scrypt_n)
    except (KeystoreError, FileExistsError, ValueError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(address)


def _signed(key: Path, fields: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    from api.node.keystore import KeystoreError, load
    from api.node.signer import sign_with_domain

    try:
        pk = load(key, _password())
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    return {"instruction": fields, "signature": sign_with_domain(fields, pk, domain)}


def _fields(participant: str, counterparty: str, direction: str, security: str, quantity: int, amount_cents: int,
            currency: str, settlement_date: str, reference: str, nonce: Optional[int], ttl: int) -> dict[str, Any]:
    from api.node.signer import instruction_fields

    return instruction_fields(participant, counterparty, direction, security, quantity, amount_cents, currency,
                              settlement_date, reference, nonce=nonce, ttl_s=ttl)


@app.command("sign")
def sign(key: Key, url: Url, participant: Participant, counterparty: Counterparty, direction: Direction,
         security: Security, quantity: Quantity, amount_cents: Amount, currency: Currency, settlement_date: SDate,
         reference: Ref, nonce: Nonce = None, ttl: Ttl = 3600) -> None:
    """Print a signed instruction (JSON) without submitting it; the signing domain comes from the service."""
    from api.node.client import ServiceError

    try:
        dom = _client(url).signing_domain()["domain"]
    except (ServiceError, OSError) as exc:
        raise _fail(str(exc)) from None
    f = _fields(participant, counterparty, direction, security, quantity, amount_cents, currency,
                settlement_date, reference, nonce, ttl)
    typer.echo(json.dumps(_signed(key, f, dom)))


@app.command("submit")
def submit(url: Url,
           signed: Annotated[Optional[Path], typer.Option("--signed", help="A file from `node sign` ('-': stdin).")]
           = None,
           key: Annotated[Optional[Path], typer.Option("--key", help="Sign now with this key instead.")] = None,
           participant: Annotated[Optional[str], typer.Option("--participant")] = None,
           counterparty: Annotated[Optional[str], typer.Option("--counterparty")] = None,
           direction: Annotated[Optional[str], typer.Option("--direction")] = None,
           security: Annotated[Optional[str], typer.Option("--security")] = None,
           quantity: Annotated[Optional[int], typer.Option("--quantity")] = None,
           amount_cents: Annotated[Optional[int], typer.Option("--amount-cents")] = None,
           currency: Annotated[str, typer.Option("--currency")] = "HKD",
           settlement_date: Annotated[Optional[str], typer.Option("--settlement-date")] = None,
           reference: Annotated[Optional[str], typer.Option("--reference")] = None,
           nonce: Nonce = None, ttl: Ttl = 3600) -> None:
    """Submit a signed instruction to the service (API key in $LEDGERCLEAR_API_KEY); prints the result."""
    from api.node.client import ServiceError

    client = _client(url)
    try:
        if signed is not None:
            doc = json.loads(sys.stdin.read() if str(signed) == "-" else signed.read_text())
        else:
            need = {"--key": key, "--participant": participant, "--counterparty": counterparty,
                    "--direction": direction, "--security": security, "--quantity": quantity,
                    "--amount-cents": amount_cents, "--settlement-date": settlement_date,
                    "--reference": reference}
            missing = [k for k, v in need.items() if v is None]
            if missing:
                raise _fail(f"give --signed FILE, or {', '.join(missing)}")
            assert key is not None and participant and counterparty and direction and security
            assert quantity is not None and amount_cents is not None and settlement_date and reference
            f = _fields(participant, counterparty, direction, security, quantity, amount_cents, currency,
                        settlement_date, reference, nonce, ttl)
            doc = _signed(key, f, client.signing_domain()["domain"])
        out = client.submit(doc["instruction"], doc["signature"])
    except (ServiceError, OSError, ValueError, KeyError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(out))


@app.command("follow")
def follow(url: Url,
           after: Annotated[int, typer.Option("--after", help="Only events after this id.")] = 0,
           count: Annotated[Optional[int], typer.Option("--count", help="Stop after this many events.")] = None,
           timeout: Annotated[float, typer.Option("--timeout", help="Stop after this many seconds.")] = 3600,
           ) -> None:
    """Print the participant's status changes as they happen (one JSON object per line)."""
    from api.node.client import ServiceError

    try:
        for ev in _client(url).events(after=after, limit=count, timeout=timeout):
            typer.echo(json.dumps(ev))
    except (ServiceError, OSError) as exc:
        raise _fail(str(exc)) from None


@app.command("reconcile")
def reconcile(url: Url, participant: Participant,
              rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC node URL of the chain.")],
              deployment: Annotated[Path, typer.Option("--deployment", help="deployment.json of the contracts.")],
              ) -> None:
    """Compare own balances reported by the service with the chain; exit 1 on any difference."""
    from api.node.client import ServiceError
    from api.node.reconcile import reconcile as run
    from ledger.chain import Chain, ChainConfig
    from ledger.deployment import bind
    from ledger.errors import LedgerError
    from ledger.onchain import OnChainLedger

    client = _client(url)
    try:
        bal = client.balances(participant)
        secs = client.call("GET", "/v1/securities?limit=500")
        token_ids = {s["code"]: int(s["token_id"]) for s in secs["items"]}
        while secs["next_offset"] is not None:
            secs = client.call("GET", f"/v1/securities?limit=500&offset={secs['next_offset']}")
            token_ids.update({s["code"]: int(s["token_id"]) for s in secs["items"]})
        onchain = OnChainLedger(bind(Chain.connect(ChainConfig(rpc_url=rpc)), json.loads(deployment.read_text())))
        rec = run(bal, onchain, token_ids)
    except (ServiceError, OSError, LedgerError, ValueError, KeyError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps({"participant_id": rec.participant_id, "checked": rec.checked, "ok": rec.ok,
                           "differences": rec.differences}))
    if not rec.ok:
        raise typer.Exit(code=1)


@app.command("verify-evidence")
def verify_evidence(sid: Annotated[int, typer.Argument(help="Signed instruction id (as the service gave it).")],
                    url: Url,
                    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC node URL of the chain.")],
                    deployment: Annotated[Path, typer.Option("--deployment",
                                                             help="deployment.json of the contracts.")],
                    ) -> None:
    """Fetch an instruction's signature evidence from the service and verify every side on the chain
    (signer is the registered account, digests agree, a matched pair mirrors); exit 1 if not verified."""
    from api.node.client import ServiceError
    from api.node.evidence import verify_evidence as run
    from ledger.chain import Chain, ChainConfig
    from ledger.deployment import bind
    from ledger.errors import LedgerError
    from ledger.instruction_verifier import InstructionVerifier

    client = _client(url)
    try:
        evidence = client.evidence(sid)
        verifier = InstructionVerifier(bind(Chain.connect(ChainConfig(rpc_url=rpc)),
                                            json.loads(deployment.read_text())))
        result = run(evidence, verifier)
    except (ServiceError, OSError, LedgerError, ValueError, KeyError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps({"signed_instruction_id": sid, **result.as_json()}))
    if not result.ok:
        raise typer.Exit(code=1)


def register(root: typer.Typer) -> None:
    """Add the ``node`` command group to ``root``."""
    root.add_typer(app, name="node")
