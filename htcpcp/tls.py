"""
TLS for the pot server and the web front end: self-signed certificates on
demand, so that a bare C{ssl:5031} endpoint works out of the box.

The certificate is made with C{cryptography} and carries SubjectAltNames
(service_identity ignores the common name), is kept in the data directory,
and is made again when it is about to expire.  A user's own key is used as
given: an endpoint with C{privateKey=} is left alone.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet.endpoints import quoteStringArgument
from twisted.logger import Logger

__all__ = ["CERTIFICATE_FILE", "KEY_AND_CERTIFICATE_FILE", "self_signed_pem", "with_certificate"]

KEY_AND_CERTIFICATE_FILE: Final = "server.pem"
CERTIFICATE_FILE: Final = "server-certificate.pem"
"""The certificate alone: what clients pass as their CA file to trust it."""

VALIDITY: Final = datetime.timedelta(days=365)
RENEW_BEFORE: Final = datetime.timedelta(days=7)

log = Logger()


def default_names() -> tuple[list[str], list[str]]:
    """Host names and addresses a generated certificate is valid for."""
    names = ["localhost", "ducky", socket.gethostname().lower()]
    return list(dict.fromkeys(names)), ["127.0.0.1", "::1"]


def self_signed_pem(hostnames: Iterable[str], addresses: Iterable[str] = ()) -> tuple[bytes, bytes]:
    """
    Make a self-signed EC certificate for C{hostnames} and C{addresses}.

    @return: the PEM of the key followed by the certificate, and the PEM of
        the certificate alone.
    """
    hostnames = list(hostnames)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    alternatives: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + certificate_pem, certificate_pem


def _still_valid(path: Path) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    expires = certificate.not_valid_after_utc
    return expires - datetime.datetime.now(datetime.timezone.utc) > RENEW_BEFORE


def ensure_certificate(data_dir: Path) -> Path:
    """Return the key-and-certificate file in C{data_dir}, making it if needed."""
    pem = data_dir / KEY_AND_CERTIFICATE_FILE
    certificate = data_dir / CERTIFICATE_FILE
    if _still_valid(pem) and certificate.exists():
        return pem
    data_dir.mkdir(parents=True, exist_ok=True)
    hostnames, addresses = default_names()
    both, alone = self_signed_pem(hostnames, addresses)
    descriptor = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(both)
    certificate.write_bytes(alone)
    log.warn(
        "\n*** No TLS key was given, so a SELF-SIGNED certificate was generated: {pem}\n"
        "*** valid for {names}. Browsers will warn about it; clients can trust it with\n"
        "*** --cafile {certificate}. Pass privateKey=/certKey= to use your own.",
        pem=str(pem),
        names=", ".join(hostnames + addresses),
        certificate=str(certificate),
    )
    return pem


def with_certificate(description: str, data_dir: Path) -> str:
    """
    Give a bare C{ssl:} server endpoint description a generated certificate.

    Other descriptions, and C{ssl:} ones naming their own key, are returned
    unchanged.
    """
    if description.split(":", 1)[0].strip().lower() != "ssl":
        return description
    if "privateKey=" in description or "certKey=" in description:
        return description
    pem = quoteStringArgument(str(ensure_certificate(data_dir)))
    return f"{description}:privateKey={pem}:certKey={pem}"
