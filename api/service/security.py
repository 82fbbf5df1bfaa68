"""Credentials: argon2 password hashes, opaque tokens stored as sha256, TOTP (RFC 6238) second factor, and
the service key that seals TOTP secrets at rest (AES-256-GCM, the user id as associated data)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

if TYPE_CHECKING:
    from api.service.settings import Settings

log = logging.getLogger(__name__)
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
    if not secret_b32:  # the stored secret could not be unsealed (logged where it was read)
        return None
    try:
        t = _totp(secret_b32)
    except (ValueError, binascii.Error):
        return None
    for drift in (0, -1, 1):
        step = now // TOTP_STEP_S + drift
        try:
            t.verify(code.encode(), step * TOTP_STEP_S)
        except InvalidToken:
            continue
        return step if step > last_step else None
    return None


# ---- the service key and TOTP secrets sealed at rest -------------------------------------------------------

KEY_BYTES = 32  # AES-256
_SEAL_PREFIX = "v1."


class SecretKeyError(Exception):
    """The service key is missing, malformed, unreadable, or not the key the stored secrets were sealed with."""


def parse_service_key(text: str, where: str) -> bytes:
    """32 bytes from 64 hex digits or base64 (standard or URL-safe alphabet, padding optional)."""
    t = text.strip()
    try:
        if len(t) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in t):
            raw = bytes.fromhex(t)
        else:
            norm = t.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise SecretKeyError(f"{where}: not base64 or hex") from None
    if len(raw) != KEY_BYTES:
        raise SecretKeyError(f"{where}: the service key must be {KEY_BYTES} bytes, this one is {len(raw)}")
    return raw


def encode_service_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def _write_new_key(path: Path) -> bytes:
    """Create the key file (mode 0600) atomically: written to a private temporary file, then hard-linked into
    place, so a second process starting at the same moment reads either no file or the whole key."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(encode_service_key(key) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process won the race: use its key
            return parse_service_key(path.read_text(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    log.warning("generated a new service key in %s (mode 0600); back it up with the database", path)
    return key


def load_service_key(settings: Settings, create: bool) -> tuple[bytes, str]:
    """The service key and where it came from: LEDGERCLEAR_SECRET_KEY, else the key file (created when
    absent and `create`)."""
    if settings.secret_key is not None:
        return parse_service_key(settings.secret_key.get_secret_value(), "LEDGERCLEAR_SECRET_KEY"), \
            "LEDGERCLEAR_SECRET_KEY"
    path = settings.key_file()
    try:
        text = path.read_text()
    except FileNotFoundError:
        if not create:
            raise SecretKeyError(f"the service key file {path} does not exist, but the database holds secrets "
                                 "sealed with a service key: restore the file, or set LEDGERCLEAR_SECRET_KEY_FILE / "
                                 "LEDGERCLEAR_SECRET_KEY to that key") from None
        return _write_new_key(path), str(path)
    except OSError as exc:
        raise SecretKeyError(f"cannot read the service key file {path}: {exc.strerror}") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("the service key file %s is readable by group or others; chmod 600 it", path)
    return parse_service_key(text, str(path)), str(path)


def key_id(key: bytes) -> str:
    """A public name for a key (which key sealed what); a hash, so it tells nothing about the key."""
    return hashlib.sha256(b"ledgerclear service key id\0" + key).hexdigest()[:16]


def is_sealed(stored: str) -> bool:
    return stored.startswith(_SEAL_PREFIX)


class TotpCipher:
    """Seals a user's base32 TOTP secret as `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The user id
    is the associated data, so a sealed secret copied onto another user's row does not open."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the service key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    @staticmethod
    def _ad(user_id: int) -> bytes:
        return f"ledgerclear/totp/v1/user:{user_id}".encode()

    def seal(self, user_id: int, secret_b32: str) -> str:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, secret_b32.encode(), self._ad(user_id))
        return f"{_SEAL_PREFIX}{self.key_id}.{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def open(self, user_id: int, stored: str) -> str:
        parts = stored.split(".")
        if len(parts) != 3 or not is_sealed(stored):
            raise SecretKeyError(f"user id {user_id}: the TOTP secret is not sealed")
        if parts[1] != self.key_id:
            raise SecretKeyError(
                f"user id {user_id}: the TOTP secret was sealed with service key id {parts[1]}, but the configured "
                f"key has id {self.key_id}: start the service with the key this database was sealed with")
        try:
            blob = base64.urlsafe_b64decode(parts[2])
            return self._aead.decrypt(blob[:12], blob[12:], self._ad(user_id)).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise SecretKeyError(f"user id {user_id}: the sealed TOTP secret does not open with the service key "
                                 "(altered, or copied from another user)") from None


# The cipher of each database (engine). Keyed by engine rather than global: one process (tests, tools) may
# hold several databases with different keys. Installed by bootstrap.prepare_secrets.
_CIPHERS: weakref.WeakKeyDictionary[object, TotpCipher] = weakref.WeakKeyDictionary()
_CIPHERS_LOCK = threading.Lock()


def install_totp_cipher(engine: object, cipher: TotpCipher) -> None:
    with _CIPHERS_LOCK:
        _CIPHERS[engine] = cipher


def totp_cipher(engine: object) -> TotpCipher | None:
    with _CIPHERS_LOCK:
        return _CIPHERS.get(engine)
