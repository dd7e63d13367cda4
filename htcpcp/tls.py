# -*- test-case-name: tests.test_tls -*-
"""
TLS for the pot server and the web front end: self-signed certificates on
demand, so that a bare C{ssl:5031} endpoint works out of the box, hardened
server contexts, and key logging for decrypting captures.

The generated certificate is a leaf (C{CA:FALSE}, serverAuth): trusting it
trusts this server only, it can sign nothing.  It carries SubjectAltNames for
every name and address this machine answers to (service_identity ignores the
common name), LAN addresses included, is kept in the data directory, and is
made again when it is about to expire or no longer covers this machine's
names.  A user's own key is used as given: an endpoint with C{privateKey=}
keeps its certificate.

Servers offer TLS 1.3 as OpenSSL has it and, for TLS 1.2, only ECDHE key
exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305).  They issue session
tickets (RFC 8446 and RFC 5077; stateless, sealed with a key OpenSSL makes
for each listening context and keeps in memory only), so a returning client
resumes its session with a short handshake instead of a full one; Twisted
turns tickets off unless asked.  L{KeyLog} writes
the session secrets in the NSS key log format (C{SSLKEYLOGFILE}) that
Wireshark reads, so a capture of this suite's own TLS can be decrypted.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from twisted.internet.endpoints import HostnameEndpoint, quoteStringArgument, wrapClientTLS
from twisted.internet.ssl import (
    AcceptableCiphers,
    Certificate,
    CertificateOptions,
    TLSVersion,
    optionsForClientTLS,
    trustRootFromCertificates,
)
from twisted.logger import Logger

from htcpcp.addresses import host_names, local_addresses

__all__ = [
    "CERTIFICATE_FILE",
    "KEY_AND_CERTIFICATE_FILE",
    "SERVER_CIPHERS",
    "KeyLog",
    "client_tls_options",
    "default_names",
    "ensure_certificate",
    "keylog_from",
    "self_signed_pem",
    "server_options",
    "tls_client_endpoint",
    "trust_root_from_directory",
    "with_certificate",
]

KEY_AND_CERTIFICATE_FILE: Final = "server.pem"
CERTIFICATE_FILE: Final = "server-certificate.pem"
"""The certificate alone: what clients pass as their CA file to trust it."""

VALIDITY: Final = datetime.timedelta(days=365)
RENEW_BEFORE: Final = datetime.timedelta(days=7)
SERVER_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
"""TLS 1.2 suites a server offers: ECDHE key exchange, AEAD ciphers only."""
KEYLOG_VARIABLE: Final = "SSLKEYLOGFILE"

log = Logger()


def default_names(extra: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """
    Host names and addresses a generated certificate is valid for: localhost,
    ducky, this machine's names and every address of its interfaces, and
    C{extra} (the configured names; addresses among them go with the addresses).
    """
    names = ["localhost", "ducky", *host_names()]
    addresses = list(local_addresses())
    for item in extra:
        try:
            addresses.append(str(ipaddress.ip_address(item.strip("[]"))))
        except ValueError:
            names.append(item.lower())
    return list(dict.fromkeys(names)), list(dict.fromkeys(addresses))


def self_signed_pem(hostnames: Iterable[str], addresses: Iterable[str] = ()) -> tuple[bytes, bytes]:
    """
    Make a self-signed EC leaf certificate for C{hostnames} and C{addresses}.

    @return: the PEM of the key followed by the certificate, and the PEM of
        the certificate alone.
    """
    hostnames = list(hostnames)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    alternatives: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + certificate_pem, certificate_pem


def _covers(certificate: x509.Certificate, hostnames: list[str], addresses: list[str]) -> bool:
    """Whether C{certificate} is a leaf valid for all of C{hostnames} and C{addresses}."""
    try:
        leaf = not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    has_names = set(names.get_values_for_type(x509.DNSName)) >= set(hostnames)
    has_addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)} >= {
        str(ipaddress.ip_address(a)) for a in addresses
    }
    return leaf and has_names and has_addresses


def _reusable(path: Path, hostnames: list[str], addresses: list[str]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    expires = certificate.not_valid_after_utc
    fresh = expires - datetime.datetime.now(datetime.timezone.utc) > RENEW_BEFORE
    return fresh and _covers(certificate, hostnames, addresses)


def ensure_certificate(data_dir: Path, names: Iterable[str] = ()) -> Path:
    """
    Return the key-and-certificate file in C{data_dir}, making it if needed:
    when there is none, it expires soon, it is an old CA certificate, or it
    lacks one of this machine's names and addresses or C{names}.
    """
    pem = data_dir / KEY_AND_CERTIFICATE_FILE
    certificate = (data_dir / CERTIFICATE_FILE).absolute()
    hostnames, addresses = default_names(names)
    if _reusable(certificate, hostnames, addresses) and pem.exists():
        return pem
    data_dir.mkdir(parents=True, exist_ok=True)
    both, alone = self_signed_pem(hostnames, addresses)
    descriptor = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(both)
    certificate.write_bytes(alone)
    log.warn(
        "\n*** No TLS key was given, so a SELF-SIGNED certificate was generated: {pem}\n"
        "*** valid for {names}. Browsers will warn about it; clients can trust it with\n"
        "*** --cafile {certificate}. Pass privateKey=/certKey= to use your own.",
        pem=str(pem.absolute()),
        names=", ".join(hostnames + addresses),
        certificate=str(certificate),
    )
    return pem


def with_certificate(description: str, data_dir: Path, names: Iterable[str] = ()) -> str:
    """
    Give a bare C{ssl:} server endpoint description a generated certificate
    (valid for this machine and C{names}).

    Other descriptions, and C{ssl:} ones naming their own key, are returned
    unchanged.
    """
    if description.split(":", 1)[0].strip().lower() != "ssl":
        return description
    if "privateKey=" in description or "certKey=" in description:
        return description
    pem = quoteStringArgument(str(ensure_certificate(data_dir, names).absolute()))
    return f"{description}:privateKey={pem}:certKey={pem}"


class KeyLog:
    """
    Appends TLS secrets to a key log file (NSS format, as C{SSLKEYLOGFILE}),
    one line per secret, flushed at once so a capture can be decrypted while
    the server runs.  Anyone holding the file can decrypt the traffic: it is
    created readable by its owner only.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(descriptor, "ab")
        return self._file

    def write_line(self, connection: object, line: bytes) -> None:
        """The keylog callback of an OpenSSL context: C{line} is one secret, without newline."""
        with self._lock:
            out = self._open()
            out.write(line + b"\n")
            out.flush()

    def attach(self, context: SSL.Context) -> None:
        """Log the secrets of every connection made with C{context}."""
        context.set_keylog_callback(self.write_line)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


_KEYLOGS: dict[Path, KeyLog] = {}


def keylog_from(option: str | None, environ: Mapping[str, str] = os.environ) -> KeyLog | None:
    """
    The key log for C{--tls-keylog FILE}, else C{SSLKEYLOGFILE} as browsers and
    curl honour it, else none.  One L{KeyLog} per file in a process.
    """
    path = option or environ.get(KEYLOG_VARIABLE) or None
    if path is None:
        return None
    absolute = Path(path).absolute()
    keylog = _KEYLOGS.get(absolute)
    if keylog is None:
        keylog = _KEYLOGS[absolute] = KeyLog(absolute)
        log.warn(
            "TLS secrets are logged to {path}: anyone with this file can decrypt the traffic",
            path=str(absolute),
        )
    return keylog


class _ServerOptions(CertificateOptions):
    """
    L{CertificateOptions} whose context also logs its secrets to a L{KeyLog},
    and holds no buffers for idle connections (thousands may be open).

    The context is made once and used for every connection, so the key log
    is attached as it is made (pyOpenSSL refuses to change a context that
    has made a connection).
    """

    def __init__(self, keylog: KeyLog | None, **options: Any) -> None:
        super().__init__(**options)
        self._keylog = keylog

    def _makeContext(self, *args: Any, **kwargs: Any) -> SSL.Context:
        """
        The context, with OpenSSL's buffers released while a connection has nothing in them.

        The arguments pass through: Twisted's private method takes
        C{skipCiphers} in newer releases and nothing in older ones.
        """
        context = super()._makeContext(*args, **kwargs)
        context.set_mode(SSL.MODE_RELEASE_BUFFERS)
        if self._keylog is not None:
            self._keylog.attach(context)
        return context


def _certificates(pem: bytes, source: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise ValueError(f"{source} holds no PEM certificate") from error


def server_options(
    private_key: str,
    cert_key: str | None = None,
    extra_chain: str | None = None,
    keylog: KeyLog | None = None,
) -> CertificateOptions:
    """
    Hardened TLS server options for a key and certificate in PEM files (as an
    C{ssl:} endpoint's C{privateKey}, C{certKey} and C{extraCertChain}).

    @raise ValueError: when a file cannot be read or holds no key or certificate.
    """
    cert_key = cert_key or private_key
    try:
        key_pem = Path(private_key).read_bytes()
        chain = _certificates(Path(cert_key).read_bytes(), cert_key)
        if extra_chain:
            chain += _certificates(Path(extra_chain).read_bytes(), extra_chain)
    except OSError as error:
        raise ValueError(f"cannot read {error.filename}: {error.strerror}") from error
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{private_key} holds no unencrypted PEM private key") from error
    return _ServerOptions(
        keylog,
        privateKey=crypto.PKey.from_cryptography_key(key),  # type: ignore[arg-type]
        certificate=crypto.X509.from_cryptography(chain[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in chain[1:]],
        acceptableCiphers=AcceptableCiphers.fromOpenSSLCipherString(SERVER_CIPHERS),
        raiseMinimumTo=TLSVersion.TLSv1_2,
        enableSessionTickets=True,
    )


def client_tls_options(hostname: str, trust_root: Any = None, keylog: KeyLog | None = None) -> Any:
    """
    Twisted's verifying client TLS options for C{hostname}, whose context
    also logs its secrets to C{keylog}.

    pyOpenSSL lets a context be changed only before its first connection,
    so the key log is attached to the context as soon as it is made.
    """
    options = optionsForClientTLS(hostname, trustRoot=trust_root)
    if keylog is not None:
        create = getattr(options, "_createConnection", None)
        owner = getattr(create, "__self__", None)
        context = owner.getContext() if owner is not None else getattr(options, "_ctx", None)
        if context is None:
            raise RuntimeError("this Twisted's client TLS options do not show their context")
        keylog.attach(context)
    return options


def trust_root_from_directory(directory: str | Path) -> Any:
    """Trust every PEM certificate in the files of C{directory} (as C{trustRoots=})."""
    certificates = []
    for path in sorted(Path(directory).iterdir()):
        try:
            found = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError):
            continue
        certificates += [
            Certificate.loadPEM(c.public_bytes(serialization.Encoding.PEM)) for c in found
        ]
    if not certificates:
        raise ValueError(f"{directory} holds no PEM certificate to trust")
    return trustRootFromCertificates(certificates)


def tls_client_endpoint(reactor: Any, description: str, keylog: KeyLog) -> Any:
    """
    The C{tls:host:port[:trustRoots=DIR][:timeout=S]} client endpoint, with
    its secrets logged to C{keylog}.

    @raise ValueError: for other options (give them without a key log).
    """
    from htcpcp.endpoint_strings import endpoint_fields

    _, positional, keywords = endpoint_fields(description)
    unknown = sorted(set(keywords) - {"host", "port", "timeout", "trustRoots"})
    if unknown:
        raise ValueError(f"{description!r}: {', '.join(unknown)} cannot be used with a TLS key log")
    host = keywords.get("host") or (positional[0] if positional else "")
    port = keywords.get("port") or (positional[1] if len(positional) > 1 else "")
    if not host or not port.isdigit():
        raise ValueError(f"{description!r} names no host and port")
    roots = keywords.get("trustRoots")
    trust = trust_root_from_directory(roots) if roots else None
    timeout = float(keywords.get("timeout", "30"))
    endpoint = HostnameEndpoint(reactor, host, int(port), timeout)
    return wrapClientTLS(client_tls_options(host, trust, keylog), endpoint)
