"""A participant's secp256k1 key, encrypted at rest.

File format (JSON, `ledgerclear-key/1`):

    {"format": "ledgerclear-key/1",
     "address": "0x…",                      # checksummed, also bound into the ciphertext as AAD
     "kdf": "scrypt", "kdf_params": {"n": 131072, "r": 8, "p": 1, "salt": "<32 hex bytes>"},
     "cipher": "aes-256-gcm", "nonce": "<12 hex bytes>",
     "ciphertext": "<hex: AES-GCM(key32, nonce, private key 32 bytes, aad) incl. 16-byte tag>"}

The 32-byte AES key is scrypt(password, salt, n, r, p). A wrong password or any edit (address included)
fails authentication and nothing is returned.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account

FORMAT = "ledgerclear-key/1"
DEFAULT_N = 2**17


class KeystoreError(Exception):
    pass


def _kdf(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())


def _aad(address: str) -> bytes:
    return f"{FORMAT}|{address}".encode()


def encrypt(private_key: bytes, password: str, n: int = DEFAULT_N) -> dict[str, Any]:
    if not password:
        raise KeystoreError("a password is required")
    address = str(Account.from_key(private_key).address)
    salt, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
    ct = AESGCM(_kdf(password, salt, n, 8, 1)).encrypt(nonce, private_key, _aad(address))
    return {"format": FORMAT, "address": address, "kdf": "scrypt",
            "kdf_params": {"n": n, "r": 8, "p": 1, "salt": salt.hex()}, "cipher": "aes-256-gcm",
            "nonce": nonce.hex(), "ciphertext": ct.hex()}


def decrypt(doc: dict[str, Any], password: str) -> bytes:
    try:
        if doc.get("format") != FORMAT or doc.get("kdf") != "scrypt" or doc.get("cipher") != "aes-256-gcm":
            raise KeystoreError("not a ledgerclear-key/1 file")
        kp = doc["kdf_params"]
        key = _kdf(password, bytes.fromhex(kp["salt"]), int(kp["n"]), int(kp["r"]), int(kp["p"]))
        pk = AESGCM(key).decrypt(bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["ciphertext"]), _aad(doc["address"]))
    except InvalidTag:
        raise KeystoreError("wrong password, or the key file was altered") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise KeystoreError(f"malformed key file: {exc}") from None
    if str(Account.from_key(pk).address) != doc["address"]:
        raise KeystoreError("key does not match the recorded address")
    return pk


def generate(path: Path, password: str, n: int = DEFAULT_N) -> str:
    """Write a new key to `path` (mode 0600, refuses to overwrite); returns its address."""
    doc = encrypt(secrets.token_bytes(32), password, n)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    return str(doc["address"])


def load(path: Path, password: str) -> bytes:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc}") from None
    return decrypt(doc, password)


def address_of(path: Path) -> str:
    return str(json.loads(Path(path).read_text())["address"])
