"""A self-signed certificate and key for the balancer's TLS listener (``cluster up --tls``).

Made with ``cryptography`` (the ``tls`` extra) into the state directory, mode 0600, for the
cluster's loopback address and ``localhost``: a client trusts it by loading the certificate
itself as its CA (``curl --cacert .cluster/tls/cert.pem https://127.0.0.1:8080/healthz``).
ECDSA P-256, what current public certificates mostly are: its signature is the main CPU cost
of a full handshake, which is what resumption saves (``make tls`` measures it).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cluster.runtime.base import ClusterError

DAYS = 30


@dataclass(frozen=True, slots=True)
class TlsPair:
    cert: Path
    key: Path


def pair_in(directory: Path) -> TlsPair:
    """Where the pair of a state directory lives (whether or not it exists)."""
    return TlsPair(directory / "tls" / "cert.pem", directory / "tls" / "key.pem")


def existing_pair(directory: Path) -> TlsPair | None:
    """The pair ``make_pair`` left in ``directory`` (absolute paths), or None: no TLS."""
    pair = pair_in(directory.resolve())
    return pair if pair.cert.is_file() else None


def make_pair(directory: Path, host: str = "127.0.0.1") -> TlsPair:
    """A new self-signed pair in ``directory/tls/`` for ``host`` and ``localhost``."""
    cert_pem, key_pem = _self_signed(host)
    pair = pair_in(directory)
    pair.cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(pair.key, key_pem)
    _write(pair.cert, cert_pem)
    return pair


def _self_signed(host: str) -> tuple[bytes, bytes]:
    """(certificate, key) as PEM: ECDSA P-256, valid ``DAYS``, its own issuer."""
    # Imported here: only `up --tls` needs the extra; every other command works without it.
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise ClusterError(
            "--tls needs the `cryptography` package: pip install 'stateless-cluster[tls]'"
        ) from exc
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stateless-cluster balancer")])
    now = datetime.datetime.now(datetime.UTC)
    ip = _address(host)
    names = [x509.DNSName("localhost"), x509.IPAddress(ip) if ip else x509.DNSName(host)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: a DNS entry


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), mode)
        out.write(data)
