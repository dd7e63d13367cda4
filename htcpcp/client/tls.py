# -*- test-case-name: tests.test_client -*-
"""
The client's side of TLS: whom to trust, and what a failed handshake means.

Verification is on whenever TLS is used.  Twisted lets a certificate
without subjectAltName through hostname verification (it logs the error and
goes on), so the client protocol checks that the certificate has one
(L{has_subject_alt_name}) before it sends anything, and refuses it
otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet.ssl import Certificate, trustRootFromCertificates
from twisted.python.failure import Failure

from htcpcp.client.errors import PotTLSError

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot

__all__ = ["has_subject_alt_name", "load_trust_root", "tls_error"]


def tls_error(reason: Failure, where: str, hostname: str) -> PotTLSError | None:
    """The L{PotTLSError} a lost connection stands for, if it is a TLS failure."""
    if reason.check(VerificationError):
        return PotTLSError(
            f"TLS: the certificate of {where} is not valid for the host name {hostname!r}"
        )
    error = reason.value
    if isinstance(error, SSL.Error):
        text = str(error)
        if "certificate verify failed" in text:
            return PotTLSError(
                f"TLS: the certificate of {where} is not trusted"
                " (give the server's certificate or its CA as the CA file, --cafile)"
            )
        detail = "; ".join(str(part[-1]) for part in error.args[0] if part[-1]) or text
        return PotTLSError(f"TLS handshake with {where} failed: {detail}")
    return None


def has_subject_alt_name(certificate: x509.Certificate) -> bool:
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


def load_trust_root(cafile: str | Path) -> IOpenSSLTrustRoot:
    """
    Trust every certificate in the PEM file C{cafile}.

    @raise PotTLSError: when the file cannot be read or holds no certificate.
    """
    path = Path(cafile)
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as error:
        raise PotTLSError(f"cannot read the CA file {path}: {error.strerror}") from error
    except ValueError as error:
        raise PotTLSError(f"the CA file {path} holds no PEM certificate") from error
    trust: IOpenSSLTrustRoot = trustRootFromCertificates(
        [Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates]
    )
    return trust
