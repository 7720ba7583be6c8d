"""Certificates for the station's OPC UA server (Qt-free, `cryptography` only, nothing downloaded).

OPC UA's Basic256Sha256 SignAndEncrypt needs an application instance certificate and its private
key. A plant may issue one; otherwise the station makes a self-signed one, on request, into its data
folder. Which PLCs may connect is a folder of their certificates ("trusted clients"): a client is
accepted when its certificate is byte-for-byte one of them (pinning, as OPC UA trust lists do for
self-signed certificates), not merely well-formed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from desktop_app.line.config import LineConfigError

CERT_NAME, KEY_NAME = "station_cert.der", "station_key.pem"


def default_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where the station keeps its own OPC UA certificate and key (`<data>/opcua/`)."""
    folder = Path(data_dir) / "opcua"
    return folder / CERT_NAME, folder / KEY_NAME


def station_uri(hostname: str | None = None) -> str:
    """The server's application URI: unique per machine, and in the certificate's SubjectAltName."""
    return f"urn:{hostname or socket.gethostname()}:anomalygpt:inspector"


@dataclass(frozen=True)
class CertificateInfo:
    path: Path
    common_name: str
    application_uri: str
    fingerprint: str  # SHA-256 of the DER bytes, hex
    not_after: dt.datetime

    def summary(self) -> str:
        return (f"{self.common_name} · {self.application_uri} · valid until {self.not_after:%Y-%m-%d} · "
                f"SHA-256 {self.fingerprint[:16]}…")


def create_self_signed(cert_path: Path, key_path: Path, *, application_uri: str, common_name: str,
                       hosts: list[str] | None = None, days: int = 3650) -> CertificateInfo:
    """A self-signed application certificate (RSA 2048, SHA-256) usable by a server and a client.

    Key usages are those OPC UA Part 6 asks of an application instance certificate; the key file is
    written readable by its owner only. An existing pair is replaced (the caller asked for it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AnomalyGPT Inspector")])
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    for host in hosts if hosts is not None else [socket.gethostname(), "localhost", "127.0.0.1"]:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # clocks of PLC and station differ a little
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                     data_encipherment=True, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(cert_path), Path(key_path)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    _write_private(key_path, key_bytes)
    tmp = cert_path.with_name(cert_path.name + ".part")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    os.replace(tmp, cert_path)
    return describe(cert_path)


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte (no window where another user could read the key)."""
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def load_certificate(path: Path) -> x509.Certificate:
    data = Path(path).read_bytes()
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise LineConfigError(f"{path} is not a DER or PEM certificate") from exc


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def describe(path: Path) -> CertificateInfo:
    cert = load_certificate(path)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    return CertificateInfo(Path(path), str(names[0].value) if names else "", uris[0] if uris else "",
                           fingerprint(cert), cert.not_valid_after_utc)


def check_pair(cert_path: Path, key_path: Path) -> CertificateInfo:
    """The server's certificate and key, checked before the server starts: a readable message now
    instead of an asyncua traceback in the server thread."""
    for what, path in (("certificate", cert_path), ("private key", key_path)):
        if not Path(path).is_file():
            raise LineConfigError(f"OPC UA security needs a server {what}: none at {path} "
                                  "(Line tab: Create certificate, or choose the plant's)")
    info = describe(cert_path)
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None) \
        if Path(key_path).read_bytes().lstrip().startswith(b"-----") \
        else serialization.load_der_private_key(Path(key_path).read_bytes(), password=None)
    public = load_certificate(cert_path).public_key()
    same = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not same:
        raise LineConfigError(f"the private key {key_path} does not belong to the certificate {cert_path}")
    if info.not_after < dt.datetime.now(dt.timezone.utc):
        raise LineConfigError(f"the OPC UA server certificate {cert_path} expired on {info.not_after:%Y-%m-%d}")
    return info


class TrustedClients:
    """asyncua certificate validator: only clients whose certificate is in `folder` (DER or PEM)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise LineConfigError(f"the trusted client certificates folder {folder} does not exist")
        self.trusted: dict[str, str] = {}  # fingerprint -> file name
        for path in sorted(self.folder.iterdir()):
            if path.suffix.lower() in (".der", ".pem", ".crt", ".cer"):
                self.trusted[fingerprint(load_certificate(path))] = path.name
        if not self.trusted:
            raise LineConfigError(f"no client certificate (.der / .pem) in {folder}: no PLC could connect")

    def accepts(self, der: bytes | None) -> bool:
        """Whether the certificate (DER bytes, as a secure channel carries it) is a trusted one."""
        return bool(der) and hashlib.sha256(der).hexdigest() in self.trusted

    async def __call__(self, cert: x509.Certificate, app_description) -> None:
        from asyncua import ua
        from asyncua.common.utils import ServiceError

        now = dt.datetime.now(dt.timezone.utc)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ServiceError(ua.StatusCodes.BadCertificateTimeInvalid)
        if fingerprint(cert) not in self.trusted:
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
