"""A local certificate authority for the gateway: CA, server certificate, participant certificates.

Layout of the directory (PEM files; private keys PKCS#8, unencrypted, mode 0600):

    ca.pem, ca.key                  the local CA (created once, reused to add participants)
    server.pem, server.key          the gateway's certificate (SAN: --server-name, 127.0.0.1, ::1)
    <PARTICIPANT>.pem, .key         one client certificate per participant, CN = participant id

Keys are EC P-256, signatures ECDSA with SHA-256.  A participant is whoever presents a client
certificate signed by this CA; its participant id is the certificate's common name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PARTICIPANT_ID = re.compile(r"^[A-Z][0-9]{5}$")
_DAYS = 825


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, org: str = "ledgerclear") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert_p, key_p = directory / "ca.pem", directory / "ca.key"
    if not (cert_p.exists() and key_p.exists()):
        return None
    cert = x509.load_pem_x509_certificate(cert_p.read_bytes())
    key = serialization.load_pem_private_key(key_p.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_p} is not an EC private key")
    return cert, key


def _issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool, usage: list[x509.ObjectIdentifier],
           san: list[x509.GeneralName], days: int = _DAYS) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path, participants: Sequence[str], server_name: str = "localhost") -> list[Path]:
    """Create (or extend) the CA directory; returns the files written."""
    for p in participants:
        if not PARTICIPANT_ID.match(p):
            raise ValueError(f"participant id {p!r} must be one upper-case letter and five digits, e.g. B01234")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    loaded = _load_ca(directory)
    if loaded is None:
        ca_key = _key()
        ca_name = _name("ledgerclear local CA")
        ca_cert = _issue(ca_name, ca_key, ca_name, ca_key, ca=True, usage=[], san=[], days=3650)
        _write_key(directory / "ca.key", ca_key)
        _write_cert(directory / "ca.pem", ca_cert)
        written += [directory / "ca.pem", directory / "ca.key"]
    else:
        ca_cert, ca_key = loaded
    issuer = ca_cert.subject
    if not (directory / "server.pem").exists() or not (directory / "server.key").exists():
        key = _key()
        san: list[x509.GeneralName] = [x509.DNSName(server_name)]
        for ip in ("127.0.0.1", "::1"):
            san.append(x509.IPAddress(ipaddress.ip_address(ip)))
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(server_name)))
        except ValueError:
            pass
        cert = _issue(_name(server_name), key, issuer, ca_key, ca=False, usage=[ExtendedKeyUsageOID.SERVER_AUTH], san=san)
        _write_key(directory / "server.key", key)
        _write_cert(directory / "server.pem", cert)
        written += [directory / "server.pem", directory / "server.key"]
    for p in participants:
        key = _key()
        cert = _issue(_name(p), key, issuer, ca_key, ca=False, usage=[ExtendedKeyUsageOID.CLIENT_AUTH], san=[])
        _write_key(directory / f"{p}.key", key)
        _write_cert(directory / f"{p}.pem", cert)
        written += [directory / f"{p}.pem", directory / f"{p}.key"]
    return written


def participants_in(directory: Path) -> list[str]:
    """Participant ids that have a certificate in the directory."""
    return sorted(p.stem for p in directory.glob("*.pem") if PARTICIPANT_ID.match(p.stem))


__all__ = ["make_certs", "participants_in"]
