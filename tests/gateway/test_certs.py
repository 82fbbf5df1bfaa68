"""`ledgerclear certs`: a CA, a server certificate and participant certificates; keys 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from api.cli import app


def test_certs_cli_writes_ca_server_and_participants(tmp_path: Path) -> None:
    d = tmp_path / "certs"
    result = CliRunner().invoke(app, ["certs", str(d), "--participants", "B01234,B05678", "--server-name", "gw.local"])
    assert result.exit_code == 0, result.output
    for name in ("ca", "server", "B01234", "B05678"):
        assert (d / f"{name}.pem").exists()
        mode = stat.S_IMODE((d / f"{name}.key").stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    ca = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((d / "B01234.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "B01234"
    assert cert.issuer == ca.subject
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(ca)
    server = x509.load_pem_x509_certificate((d / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "gw.local" in names.get_values_for_type(x509.DNSName)


def test_certs_reuses_the_ca_to_add_a_participant(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["certs", str(tmp_path), "--participants", "B01234"]).exit_code == 0
    ca_before = (tmp_path / "ca.pem").read_bytes()
    assert runner.invoke(app, ["certs", str(tmp_path), "--participants", "C00042"]).exit_code == 0
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    ca = x509.load_pem_x509_certificate(ca_before)
    x509.load_pem_x509_certificate((tmp_path / "C00042.pem").read_bytes()).verify_directly_issued_by(ca)


def test_certs_refuses_a_bad_participant_id(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["certs", str(tmp_path), "--participants", "bad"])
    assert result.exit_code == 2
