"""Client certificates as machine credentials: an administrator registers a certificate (the PEM, or its
sha256 fingerprint) for its own participant with groups, like an API key. A request over a TLS connection
whose verified client certificate is registered and active authenticates as that machine (deps.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from fastapi import APIRouter, Path, Response
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints
from sqlalchemy import select

from api.service import audit
from api.service.auth_cache import bump_auth_epoch
from api.service.db import ClientCertRow
from api.service.deps import Administrator, Ctx, Paging, aware
from api.service.errors import ApiError
from api.service.routers.users import _check_groups, _manageable, _target_scope
from api.service.schemas import GroupName, PageOf, ParticipantId, Strict
from api.service.tls import fingerprint, normalise_fingerprint

router = APIRouter(tags=["administration"])

Fingerprint = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the DER certificate, hex")]


class ClientCertIn(Strict):
    certificate: Annotated[str, StringConstraints(min_length=1, max_length=16_384)] | None = Field(
        default=None, description="the PEM certificate (preferred: its subject and expiry are kept and checked)")
    fingerprint: Annotated[str, StringConstraints(min_length=64, max_length=95)] | None = Field(
        default=None, description="or its sha256 fingerprint (hex, colons allowed)")
    expires_at: AwareDatetime | None = Field(default=None, description="with a bare fingerprint: when to stop "
                                                                        "accepting it")
    label: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    participant_id: ParticipantId | None = None
    groups: list[GroupName] = Field(min_length=1, max_length=6)


class ClientCertOut(BaseModel):
    fingerprint: str
    label: str
    participant_id: str | None
    groups: list[str]
    subject: str | None
    not_after: dt.datetime | None
    active: bool


def _out(r: ClientCertRow) -> ClientCertOut:
    return ClientCertOut(fingerprint=r.fingerprint, label=r.label, participant_id=r.participant_id,
                         groups=list(r.groups), subject=r.subject,
                         not_after=aware(r.not_after) if r.not_after else None, active=r.active)


def _check_certificate(pem: str, ctx: Ctx) -> x509.Certificate:
    """A PEM client certificate the TLS layer would accept; otherwise 422 saying why."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise ApiError(422, "not a PEM X.509 certificate", field="certificate") from None
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise ApiError(422, "the certificate is expired or not yet valid", field="certificate")
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ApiError(422, "a CA certificate is not a client certificate", field="certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            raise ApiError(422, "the certificate is not for client authentication (extended key usage)",
                           field="certificate")
    except x509.ExtensionNotFound:
        pass
    ca_path = ctx.settings.client_ca
    if ca_path is not None:  # the TLS layer would refuse anything else, so say so now
        try:
            cas = x509.load_pem_x509_certificates(ca_path.read_bytes())
        except (OSError, ValueError):
            raise ApiError(503, "the service's client CA file is unreadable") from None
        if not any(_issued_by(cert, ca) for ca in cas):
            raise ApiError(422, "the certificate is not issued by the service's client CA", field="certificate")
    return cert


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


@router.post("/client-certificates", response_model=ClientCertOut, status_code=201)
def register_cert(body: ClientCertIn, p: Administrator, ctx: Ctx) -> ClientCertOut:
    if (body.certificate is None) == (body.fingerprint is None):
        raise ApiError(422, "give either certificate (PEM) or fingerprint", field="certificate")
    subject: str | None = None
    not_after = body.expires_at
    if body.certificate is not None:
        if body.expires_at is not None:
            raise ApiError(422, "expires_at is taken from the certificate", field="expires_at")
        cert = _check_certificate(body.certificate, ctx)
        fp = fingerprint(cert.public_bytes(Encoding.DER))
        subject = cert.subject.rfc4514_string()[:400]
        not_after = cert.not_valid_after_utc
    else:
        assert body.fingerprint is not None
        norm = normalise_fingerprint(body.fingerprint)
        if norm is None:
            raise ApiError(422, "fingerprint must be 64 hex digits (sha256), colons allowed", field="fingerprint")
        fp = norm
    with ctx.session() as s:
        pid = _target_scope(p, body.participant_id, s)
        grp = _check_groups(body.groups, pid)
        if s.scalar(select(ClientCertRow.id).where(ClientCertRow.fingerprint == fp)) is not None:
            raise ApiError(409, "this certificate is registered already", field="certificate")
        row = ClientCertRow(fingerprint=fp, participant_id=pid, label=body.label, groups=grp, subject=subject,
                            not_after=not_after, active=True, created_by=p.actor)
        s.add(row)
        s.flush()
        audit.append(s, p.actor, "client_cert.registered", f"cert:{fp[:16]}",
                     {"groups": grp, "label": body.label, "fingerprint": fp}, pid)
        return _out(row)


@router.get("/client-certificates", response_model=PageOf[ClientCertOut])
def list_certs(p: Administrator, ctx: Ctx, pg: Paging) -> PageOf[ClientCertOut]:
    with ctx.session() as s:
        q = select(ClientCertRow).order_by(ClientCertRow.id)
        if not p.is_operator:
            q = q.where(ClientCertRow.participant_id == p.participant_id)
        return pg.of(list(s.scalars(q.offset(pg.offset).limit(pg.limit + 1))), _out)


@router.get("/client-certificates/{fp}", response_model=ClientCertOut)
def get_cert(fp: Fingerprint, p: Administrator, ctx: Ctx) -> ClientCertOut:
    with ctx.session() as s:
        row = s.scalar(select(ClientCertRow).where(ClientCertRow.fingerprint == fp))
        if row is None or not _manageable(p, row.participant_id):
            raise ApiError(404, "client certificate not found")
        return _out(row)


@router.delete("/client-certificates/{fp}", status_code=204, response_class=Response)
def revoke_cert(fp: Fingerprint, p: Administrator, ctx: Ctx) -> Response:
    with ctx.session() as s:
        row = s.scalar(select(ClientCertRow).where(ClientCertRow.fingerprint == fp))
        if row is None or not _manageable(p, row.participant_id):
            raise ApiError(404, "client certificate not found")
        row.active = False
        bump_auth_epoch(s)
        audit.append(s, p.actor, "client_cert.revoked", f"cert:{fp[:16]}", {}, row.participant_id)
    return Response(status_code=204)
