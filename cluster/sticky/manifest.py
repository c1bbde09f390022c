"""What a Kubernetes manifest declares about stickiness, read with no cluster (pure).

The input is one or more YAML documents (``kubectl get -o yaml``, ``kustomize build``, a
``kind: List``). It reports:

- a Service with ``spec.sessionAffinity: ClientIP``: kube-proxy pins each client address to one
  endpoint (for ``sessionAffinityConfig.clientIP.timeoutSeconds``, 10800 s unless set);
- an Ingress with ingress-nginx's ``nginx.ingress.kubernetes.io/affinity: cookie``: the
  controller inserts a cookie (``session-cookie-name``, ``INGRESSCOOKIE`` unless set);
- an Ingress with ``nginx.ingress.kubernetes.io/upstream-hash-by``: consistent hashing on an
  nginx variable; ``$remote_addr`` and its kin pin by address, ``$cookie_NAME`` by cookie.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import yaml

NGINX = "nginx.ingress.kubernetes.io/"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds: kube-proxy's default for ClientIP affinity
DEFAULT_INGRESS_COOKIE = "INGRESSCOOKIE"
# nginx variables that stand for the client's address (the realip module's or a proxy's view).
ADDRESS_VARIABLES = frozenset(
    {
        "$remote_addr",
        "$binary_remote_addr",
        "$realip_remote_addr",
        "$http_x_forwarded_for",
        "$http_x_real_ip",
        "$proxy_add_x_forwarded_for",
    }
)
_COOKIE_VARIABLE = re.compile(r"\$cookie_([A-Za-z0-9_-]+)")


class ManifestError(ValueError):
    """The manifest is not YAML, or a document in it is not a Kubernetes object."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One object that pins clients: ``verdict`` is in the form of the probe's verdict line
    (``sticky by cookie NAME``, ``sticky by client address``, or ``sticky by hash of KEY`` for
    a hash on something else), ``detail`` says what declares it."""

    kind: str
    name: str
    verdict: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.detail} -> {self.verdict}"


def lint(text: str) -> list[Finding]:
    """Every sticky object in the documents of ``text``, in document order."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"not valid YAML: {exc}") from exc
    findings: list[Finding] = []
    for index, document in enumerate(documents, 1):
        if document is None:  # an empty document: `---` at the end of a file
            continue
        for obj in _objects(document, f"document {index}"):
            findings.extend(_service(obj) if obj.get("kind") == "Service" else ())
            findings.extend(_ingress(obj) if obj.get("kind") == "Ingress" else ())
    return findings


def _objects(document: object, where: str) -> Iterator[Mapping[str, object]]:
    if not isinstance(document, dict) or not isinstance(document.get("kind"), str):
        raise ManifestError(f"{where} is not a Kubernetes object (no kind)")
    if document["kind"] == "List" or document["kind"].endswith("List"):
        items = document.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{where}: items of a {document['kind']} is not a list")
        for position, item in enumerate(items):
            yield from _objects(item, f"{where}, item {position}")
    else:
        yield document


def _service(obj: Mapping[str, object]) -> list[Finding]:
    spec = _mapping(obj.get("spec"))
    if spec.get("sessionAffinity") != "ClientIP":
        return []
    client_ip = _mapping(_mapping(spec.get("sessionAffinityConfig")).get("clientIP"))
    timeout = client_ip.get("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT)
    return [
        Finding(
            "Service",
            _name(obj),
            "sticky by client address",
            f"sessionAffinity: ClientIP (timeoutSeconds {timeout})",
        )
    ]


def _ingress(obj: Mapping[str, object]) -> list[Finding]:
    annotations = _mapping(_mapping(obj.get("metadata")).get("annotations"))
    findings = []
    affinity = str(annotations.get(f"{NGINX}affinity", "")).strip()
    if affinity == "cookie":
        cookie = str(annotations.get(f"{NGINX}session-cookie-name") or DEFAULT_INGRESS_COOKIE)
        detail = f"{NGINX}affinity: cookie"
        findings.append(Finding("Ingress", _name(obj), f"sticky by cookie {cookie}", detail))
    key = str(annotations.get(f"{NGINX}upstream-hash-by", "")).strip()
    if key:
        detail = f"{NGINX}upstream-hash-by: {key!r}"
        findings.append(Finding("Ingress", _name(obj), hash_verdict(key), detail))
    return findings


def hash_verdict(key: str) -> str:
    """What a consistent hash on the nginx expression ``key`` pins clients by."""
    cookie = _COOKIE_VARIABLE.search(key)
    if cookie:
        return f"sticky by cookie {cookie.group(1)}"
    if any(variable in key for variable in ADDRESS_VARIABLES):
        return "sticky by client address"
    return f"sticky by hash of {key}"


def _name(obj: Mapping[str, object]) -> str:
    metadata = _mapping(obj.get("metadata"))
    name, namespace = metadata.get("name") or "?", metadata.get("namespace")
    return f"{namespace}/{name}" if namespace else str(name)


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}
