"""TLS termination on the public port: the server context, built once per process.

The context *is* the TLS state this balancer keeps. OpenSSL's session cache (TLS 1.2 session
ids) and the key that encrypts session tickets (TLS 1.2 tickets, TLS 1.3 PSK tickets) are made
at random when the context is created and live in this process's memory for its lifetime,
never on disk. A client that kept its session resumes with *this process* only (one round trip
less, no certificate signature): after a restart, or on another balancer with a context of its
own, it gets a full handshake (``make tls`` measures both). A multi-instance TLS tier therefore
shares its ticket keys (nginx's ``ssl_session_ticket_key``, HAProxy's ``tls-ticket-keys``) or
accepts full handshakes. No request depends on it: REST stays stateless at the application
level, and a resumed connection is round-robined over the nodes like any other.

A bad file is a ``SettingError`` naming its variable: the certificate is checked on its own
first, so that a key that fails is the key's fault.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from servicekit.settings import SettingError

CERT = "BALANCER_TLS_CERT"
KEY = "BALANCER_TLS_KEY"


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for the pair ``cert``/``key`` (TLS 1.2 and 1.3), or ``SettingError``."""
    _check_certificate(cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except OSError as exc:  # ssl.SSLError is one: a key that is no key, or not this cert's
        raise SettingError(KEY, f"cannot use {str(key)!r} with {CERT}: {_why(exc)}") from None
    return context


def _check_certificate(cert: Path) -> None:
    try:
        pem = cert.read_text(errors="replace")
    except OSError as exc:
        raise SettingError(CERT, f"cannot read {str(cert)!r}: {exc.strerror}") from None
    try:  # parses every certificate in the file, and nothing but certificates
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:  # ValueError: an empty file
        raise SettingError(CERT, f"{str(cert)!r} holds no PEM certificate: {_why(exc)}") from None


def _why(exc: Exception) -> str:
    """OpenSSL's reason (``KEY_VALUES_MISMATCH``), the OS's, or the message: one line."""
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
    return str(reason).splitlines()[0]
