"""Credentials: argon2 password hashes, opaque tokens stored as sha256, TOTP (RFC 6238) second factor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
TOTP_DIGITS = 6
TOTP_STEP_S = 30
MIN_PASSWORD = 12


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so timing does not reveal usernames.
DUMMY_HASH = hash_password("not-a-real-password-0")


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens and API-key secrets are 256-bit random, so a plain sha256 is enough at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode()


def _totp(secret_b32: str) -> TOTP:
    return TOTP(base64.b32decode(secret_b32), TOTP_DIGITS, SHA1(), TOTP_STEP_S, enforce_key_length=False)


def totp_now(secret_b32: str, at: float | None = None) -> str:
    return _totp(secret_b32).generate(int(at if at is not None else time.time())).decode()


def totp_uri(secret_b32: str, account: str) -> str:
    return _totp(secret_b32).get_provisioning_uri(account, "ledgerclear")


def verify_totp(secret_b32: str, code: str, last_step: int, at: float | None = None) -> int | None:
    """The time step a valid code belongs to (±1 step of drift), or None. A step <= last_step is refused
    (a code works once)."""
    now = int(at if at is not None else time.time())
    if not (len(code) == TOTP_DIGITS and code.isdigit()):
        return None
    t = _totp(secret_b32)
    for drift in (0, -1, 1):
        step = now // TOTP_STEP_S + drift
        try:
            t.verify(code.encode(), step * TOTP_STEP_S)
        except InvalidToken:
            continue
        return step if step > last_step else None
    return None
