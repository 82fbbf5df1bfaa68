"""The service's own tables (users, groups, sessions, API keys, client certificates, signed instructions,
signatures, approvals, audit log), in their own metadata so ledger/ never depends on api/. Migrated by
api/service/migrations."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, UniqueConstraint, event, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, object_session
from sqlalchemy.orm.attributes import set_committed_value

from api.service.security import SecretKeyError, TotpCipher, is_sealed, totp_cipher

log = logging.getLogger(__name__)


class ServiceBase(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


PARTICIPANT_GROUPS: tuple[str, ...] = ("viewer", "inputter", "authoriser", "administrator")
OPERATOR_GROUPS: tuple[str, ...] = ("operator-viewer", "operator-admin")


class GroupRow(ServiceBase):
    """The predefined role groups (seeded by the migration): scope is `participant` or `operator`."""

    __tablename__ = "svc_groups"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(String(200))


class UserRow(ServiceBase):
    """A person. participant_id None = a member of the exchange operator."""

    __tablename__ = "svc_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[str | None] = mapped_column(String(6), index=True, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # The TOTP secret sealed with the service key (security.TotpCipher); `totp_secret` reads and writes it in
    # clear. Sealed after the INSERT, once the row has the id that the ciphertext is bound to.
    totp_sealed: Mapped[str] = mapped_column("totp_secret", String(200), default="")
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)  # a code is accepted once
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)  # consecutive; reset on success
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def totp_secret(self) -> str:
        """The clear base32 secret; "" (no code verifies) when it cannot be unsealed, which is logged: a
        sign-in then fails like a wrong code instead of erring."""
        pending = self.__dict__.get(_PENDING_TOTP)
        if pending is not None:
            return str(pending)
        try:
            return _cipher_of(self).open(self.id, self.totp_sealed)
        except SecretKeyError as exc:
            log.error("TOTP secret of user %s unusable: %s", self.username, exc)
            return ""

    @totp_secret.setter
    def totp_secret(self, secret_b32: str) -> None:
        if self.id is None:  # not inserted yet: sealed by the after_insert hook below
            self.__dict__[_PENDING_TOTP] = secret_b32
        else:
            self.totp_sealed = _cipher_of(self).seal(self.id, secret_b32)


_PENDING_TOTP = "_ledgerclear_totp_clear"  # instance-dict slot of a clear secret waiting for its row id


def _cipher_of(user: UserRow) -> TotpCipher:
    s = object_session(user)
    cipher = totp_cipher(s.get_bind()) if s is not None else None
    if cipher is None:
        raise SecretKeyError("no service key installed for this database (bootstrap.prepare_secrets)")
    return cipher


@event.listens_for(UserRow, "before_insert")
def _totp_placeholder(_: Mapper[Any], connection: Connection, user: UserRow) -> None:
    if _PENDING_TOTP in user.__dict__:
        if totp_cipher(connection.engine) is None:  # fail closed: never store the secret in clear
            raise SecretKeyError("no service key installed for this database (bootstrap.prepare_secrets)")
        user.totp_sealed = ""


@event.listens_for(UserRow, "after_insert")
def _totp_seal(_: Mapper[Any], connection: Connection, user: UserRow) -> None:
    clear = user.__dict__.pop(_PENDING_TOTP, None)
    if clear is None:
        return
    cipher = totp_cipher(connection.engine)
    assert cipher is not None  # checked before the insert
    sealed = cipher.seal(user.id, clear)
    table = UserRow.__table__
    connection.execute(update(UserRow).where(table.c.id == user.id).values({table.c.totp_secret: sealed}))
    set_committed_value(user, "totp_sealed", sealed)


def totp_is_sealed(user: UserRow) -> bool:
    return is_sealed(user.totp_sealed)


class SessionRow(ServiceBase):
    __tablename__ = "svc_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiKeyRow(ServiceBase):
    """A machine credential `lck_<key_id>_<secret>`; only sha256(secret) is stored."""

    __tablename__ = "svc_api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[str | None] = mapped_column(String(6), index=True, nullable=True)
    name: Mapped[str] = mapped_column(String(80))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClientCertRow(ServiceBase):
    """A machine credential: a client certificate (verified by the TLS layer against the client CA) known by
    the sha256 of its DER encoding. Only the fingerprint and descriptive fields are kept."""

    __tablename__ = "svc_client_certs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # lower-case hex
    participant_id: Mapped[str | None] = mapped_column(String(6), index=True, nullable=True)
    label: Mapped[str] = mapped_column(String(80))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(String(400), nullable=True)  # from the PEM, when given
    not_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthEpochRow(ServiceBase):
    """One row (id 1): raised in the transaction of every change that can revoke or alter a credential, so
    each worker process's authentication cache (deps.py) knows when to forget what it remembered."""

    __tablename__ = "svc_auth_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)


class SignedInstructionRow(ServiceBase):
    """One side of a settlement instruction as signed by its participant.

    status: unauthorised (waiting for the checker) -> unmatched -> matched (then `instruction_id` is the
    ledger instruction, whose state is the settlement status) | cancelled.
    """

    __tablename__ = "svc_signed_instructions"
    __table_args__ = (
        UniqueConstraint("participant_id", "nonce", name="uq_si_nonce"),
        UniqueConstraint("participant_id", "sender_reference", name="uq_si_reference"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[str] = mapped_column(String(6), index=True)
    counterparty_id: Mapped[str] = mapped_column(String(6))
    direction: Mapped[str] = mapped_column(String(8))
    security_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    settlement_date: Mapped[str] = mapped_column(String(10))
    sender_reference: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(78))  # uint256 in decimal
    expiry: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), index=True)
    reason: Mapped[str | None] = mapped_column(String(4), nullable=True)  # why unmatched (CMIS, DQUA, ...)
    input_by: Mapped[str] = mapped_column(String(80))
    authorised_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    instruction_id: Mapped[int | None] = mapped_column(BigInteger, index=True, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignatureRow(ServiceBase):
    """Evidence: the exact typed data a participant signed, its digest, signature and recovered signer."""

    __tablename__ = "svc_signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signed_instruction_id: Mapped[int] = mapped_column(Integer, unique=True)
    participant_id: Mapped[str] = mapped_column(String(6), index=True)
    signer: Mapped[str] = mapped_column(String(42))
    signature: Mapped[str] = mapped_column(String(132))
    digest: Mapped[str] = mapped_column(String(66))
    typed_data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ApprovalRow(ServiceBase):
    """Maker-checker for operator actions (participant status changes): requested by one, decided by another."""

    __tablename__ = "svc_approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by: Mapped[str] = mapped_column(String(80))
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRow(ServiceBase):
    """Append-only, hash-chained: hash = sha256(prev_hash ‖ canonical JSON of the entry)."""

    __tablename__ = "svc_audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(80))
    participant_id: Mapped[str | None] = mapped_column(String(6), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(ServiceBase):
    """The last sequence number and hash (so deleting the newest entries is detected too)."""

    __tablename__ = "svc_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


