"""The self-signed pair of ``cluster up --tls``: private files, the right names, usable by the
balancer and trusted by a client that loads the certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from balancer.tls import server_context
from cluster.runtime.tls_pair import existing_pair, make_pair, pair_in


def test_the_pair_is_private_names_the_host_and_loads(tmp_path: Path) -> None:
    assert existing_pair(tmp_path) is None
    pair = make_pair(tmp_path, "127.0.0.1")
    assert existing_pair(tmp_path) == pair == pair_in(tmp_path.resolve())
    for path in (pair.cert, pair.key):
        assert path.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    server_context(pair.cert, pair.key)
    client = ssl.create_default_context(cafile=str(pair.cert))
    assert client.cert_store_stats()["x509_ca"] == 1


def test_a_new_pair_replaces_the_old(tmp_path: Path) -> None:
    first = make_pair(tmp_path).cert.read_bytes()
    assert make_pair(tmp_path).cert.read_bytes() != first
