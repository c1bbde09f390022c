"""The manifest lint on small YAML strings."""

from __future__ import annotations

import textwrap

import pytest

from cluster.sticky.manifest import ManifestError, hash_verdict, lint


def y(text: str) -> str:
    return textwrap.dedent(text)


SERVICE_CLIENT_IP = y("""\
    apiVersion: v1
    kind: Service
    metadata: {name: api, namespace: shop}
    spec:
      selector: {app: api}
      sessionAffinity: ClientIP
      sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
""")
SERVICE_PLAIN = y("""\
    apiVersion: v1
    kind: Service
    metadata: {name: api}
    spec: {sessionAffinity: None, ports: [{port: 80}]}
""")
INGRESS_COOKIE = y("""\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
      annotations:
        nginx.ingress.kubernetes.io/affinity: cookie
        nginx.ingress.kubernetes.io/session-cookie-name: route
""")


def ingress(annotations: str) -> str:
    return y(f"""\
        kind: Ingress
        metadata:
          name: web
          annotations: {annotations}
    """)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (SERVICE_CLIENT_IP, ["Service shop/api -> sticky by client address"]),
        (SERVICE_PLAIN, []),
        (
            "kind: Service\nmetadata: {name: api}\nspec: {sessionAffinity: ClientIP}\n",
            ["Service api -> sticky by client address"],
        ),
        (INGRESS_COOKIE, ["Ingress web -> sticky by cookie route"]),
        (
            ingress("{nginx.ingress.kubernetes.io/affinity: cookie}"),
            ["Ingress web -> sticky by cookie INGRESSCOOKIE"],
        ),
        (
            ingress("{nginx.ingress.kubernetes.io/upstream-hash-by: $binary_remote_addr}"),
            ["Ingress web -> sticky by client address"],
        ),
        (
            ingress('{nginx.ingress.kubernetes.io/upstream-hash-by: "$cookie_cart"}'),
            ["Ingress web -> sticky by cookie cart"],
        ),
        (ingress("{nginx.ingress.kubernetes.io/rewrite-target: /}"), []),
        (ingress("{other.example/affinity: cookie}"), []),
        (ingress("{}"), []),
        ("kind: Ingress\nmetadata: {name: bare}\n", []),
        (
            "kind: Deployment\nmetadata: {name: api}\nspec: {sessionAffinity: ClientIP}\n",
            [],
        ),
        (
            # kustomize build output: several documents, an empty one at the end
            "---\n".join([SERVICE_PLAIN, SERVICE_CLIENT_IP, INGRESS_COOKIE, ""]),
            [
                "Service shop/api -> sticky by client address",
                "Ingress web -> sticky by cookie route",
            ],
        ),
        (
            # kubectl get -o yaml: a List
            "kind: List\nitems:\n"
            + textwrap.indent(SERVICE_CLIENT_IP, "  ").replace("  apiVersion", "- apiVersion", 1),
            ["Service shop/api -> sticky by client address"],
        ),
        ("", []),
    ],
)
def test_lint(text: str, found: list[str]) -> None:
    assert [f"{f.kind} {f.name} -> {f.verdict}" for f in lint(text)] == found


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (SERVICE_CLIENT_IP, "sessionAffinity: ClientIP (timeoutSeconds 600)"),
        (
            "kind: Service\nmetadata: {name: api}\nspec: {sessionAffinity: ClientIP}\n",
            "sessionAffinity: ClientIP (timeoutSeconds 10800)",
        ),
    ],
)
def test_the_affinity_timeout_is_reported(text: str, detail: str) -> None:
    assert [f.detail for f in lint(text)] == [detail]


def test_both_ingress_annotations_are_reported() -> None:
    text = ingress(
        "{nginx.ingress.kubernetes.io/affinity: cookie,"
        " nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri}"
    )
    findings = [str(f) for f in lint(text)]
    assert findings == [
        "Ingress web: nginx.ingress.kubernetes.io/affinity: cookie -> sticky by cookie"
        " INGRESSCOOKIE",
        "Ingress web: nginx.ingress.kubernetes.io/upstream-hash-by: '$request_uri' -> sticky by"
        " hash of $request_uri",
    ]


@pytest.mark.parametrize(
    ("key", "verdict"),
    [
        ("$remote_addr", "sticky by client address"),
        ("$http_x_forwarded_for", "sticky by client address"),
        ("$cookie_session-id", "sticky by cookie session-id"),
        ("$request_uri$remote_addr", "sticky by client address"),
        ("$request_uri", "sticky by hash of $request_uri"),
    ],
)
def test_hash_verdict(key: str, verdict: str) -> None:
    assert hash_verdict(key) == verdict


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed\n", "not valid YAML"),
        ("just a string\n", "document 1 is not a Kubernetes object"),
        ("kind: Service\n---\n- a list\n", "document 2 is not"),
        ("kind: List\nitems: {a: 1}\n", "items of a List is not a list"),
        ("kind: List\nitems: [{kind: Service}, 3]\n", "document 1, item 1 is not"),
    ],
)
def test_what_is_not_a_manifest(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        lint(text)
