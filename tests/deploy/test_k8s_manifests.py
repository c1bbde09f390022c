"""deploy/k8s rendered by ``kubectl kustomize`` and checked offline, as a cluster would see it.

Each overlay is rendered once, validated with kubernetes-validate (strict: an unknown field is an
error, as it is for ``kubectl apply --validate=strict``) against the oldest Kubernetes version
the manifests are written for and the newest the validator knows, and then held to the
properties that make the cluster stateless and its rollouts lossless. What no offline check can
show (scheduling, DNS, kube-proxy timing, a real rollout) is listed in docs/kubernetes.md.
"""

from __future__ import annotations

import base64
import tomllib
from typing import Any

import pytest

from cluster.sticky.manifest import lint
from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    ROOT,
    Obj,
    _render_text,
    base_name,
    container,
    environment,
    one,
    pod_spec,
    render,
    selected,
    workloads,
)
from tests.support import require

# 1.30: the first release with the kubelet's preStop `sleep` action on by default.
K8S_VERSIONS = ("1.30.0", "1.37.0")
# Seconds the process needs to exit once its own shutdown is done (interpreter, log flush).
EXIT_MARGIN = 5
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

EXPECTED = {
    ("Namespace", None),
    ("ConfigMap", "node-config"),
    ("ConfigMap", "balancer-config"),
    ("Deployment", "node"),
    ("Deployment", "balancer"),
    ("StatefulSet", "redis"),
    ("Service", "node"),
    ("Service", "node-headless"),
    ("Service", "balancer"),
    ("Service", "redis"),
    ("Service", "redis-headless"),
    ("PodDisruptionBudget", "node"),
    ("PodDisruptionBudget", "balancer"),
    ("HorizontalPodAutoscaler", "node"),
    ("NetworkPolicy", "node"),
    ("NetworkPolicy", "balancer"),
    ("NetworkPolicy", "redis"),
}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def objects(overlay: str) -> list[Obj]:
    return render(K8S / "overlays" / overlay)


def test_the_objects_each_overlay_renders(overlay: str, objects: list[Obj]) -> None:
    kinds = {(o["kind"], base_name(o)) for o in objects if o["kind"] != "Secret"}
    assert kinds == EXPECTED
    secrets = [o for o in objects if o["kind"] == "Secret"]
    # The demo generates its marked demo secret; ha never carries one (made by hand).
    assert len(secrets) == (1 if overlay == "demo" else 0)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", ["base", "overlays/demo", "overlays/ha"])
def test_every_object_validates_strictly(target: str, version: str) -> None:
    objects = render(K8S / target)
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import SchemaNotFoundError, ValidationError
    except ImportError:
        kubernetes_validate = None
    require(kubernetes_validate is not None, "kubernetes-validate (pip install it)")
    errors = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where}: {path}: {exc.message}")
        except SchemaNotFoundError as exc:  # the CLI only warns; an unknown kind is an error here
            errors.append(f"{where}: {exc.message}")
    assert not errors, f"against Kubernetes {version}:\n" + "\n".join(errors)


def test_every_service_says_session_affinity_none(objects: list[Obj]) -> None:
    services = [o for o in objects if o["kind"] == "Service"]
    assert len(services) == 5
    for service in services:
        assert service["spec"].get("sessionAffinity") == "None", service["metadata"]["name"]
        assert "sessionAffinityConfig" not in service["spec"]


def test_every_selector_selects_exactly_one_workload(objects: list[Obj]) -> None:
    selectors: list[tuple[str, dict[str, str]]] = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = obj.get("spec", {})
        if obj["kind"] == "Service":
            selectors.append((where, spec["selector"]))
        elif obj["kind"] in ("PodDisruptionBudget", "Deployment", "StatefulSet"):
            selectors.append((where, spec["selector"]["matchLabels"]))
        elif obj["kind"] == "NetworkPolicy":
            selectors.append((where, spec["podSelector"]["matchLabels"]))
            for rule in spec["ingress"]:
                peers = [p["podSelector"]["matchLabels"] for p in rule.get("from", [])]
                selectors.extend((f"{where} from", peer) for peer in peers)
    for workload in workloads(objects):
        for constraint in pod_spec(workload).get("topologySpreadConstraints", []):
            selectors.append((f"{workload['metadata']['name']} spread",
                              constraint["labelSelector"]["matchLabels"]))  # fmt: skip
    for where, selector in selectors:
        assert len(selected(objects, selector)) == 1, f"{where} selects {selector}"


@pytest.mark.parametrize("name", ["node", "balancer"])
def test_rolling_updates_never_lower_capacity(objects: list[Obj], name: str) -> None:
    strategy = one(objects, "Deployment", name)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def _probe_port(ctr: Obj, probe: Obj) -> int:
    port = probe["httpGet"]["port"]
    by_name = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    return int(by_name.get(port, port))


def test_node_probes_readyz_for_readiness_healthz_for_liveness(objects: list[Obj]) -> None:
    ctr = container(one(objects, "Deployment", "node"))
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = environment(objects, ctr)
    for probe in (ctr["readinessProbe"], ctr["livenessProbe"]):
        assert _probe_port(ctr, probe) == int(env["NODE_PORT"]) == 8000
    # Liveness must be slower to act than readiness: a node that is only unready (Redis away,
    # draining) must leave the Services long before anything would restart it.
    live, ready = ctr["livenessProbe"], ctr["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] > 3 * (
        ready["periodSeconds"] * ready["failureThreshold"]
    )


def _pre_stop_seconds(ctr: Obj) -> int:
    hook = ctr["lifecycle"]["preStop"]
    assert "sleep" in hook, "preStop waits with the kubelet's sleep action"
    return int(hook["sleep"]["seconds"])


def test_node_grace_period_covers_prestop_drain_and_in_flight(objects: list[Obj]) -> None:
    node = one(objects, "Deployment", "node")
    ctr, env = container(node), environment(objects, container(node))
    pre_stop = _pre_stop_seconds(ctr)
    drain, in_flight = float(env["DRAIN_SECONDS"]), float(env["SHUTDOWN_TIMEOUT_SECONDS"])
    # The endpoints must have had time to drop the pod before the drain starts (a few seconds
    # for kube-proxy everywhere), and the drain must outlast the balancer's probe verdict
    # (0.5 s × 2 failures).
    assert pre_stop >= 3 and drain >= 2
    grace = pod_spec(node)["terminationGracePeriodSeconds"]
    assert grace > pre_stop + drain + in_flight + EXIT_MARGIN


def test_balancer_grace_period_covers_prestop_and_in_flight(objects: list[Obj]) -> None:
    balancer = one(objects, "Deployment", "balancer")
    ctr = container(balancer)
    env = environment(objects, ctr)
    pre_stop, in_flight = _pre_stop_seconds(ctr), float(env["BALANCER_SHUTDOWN_GRACE"])
    assert pod_spec(balancer)["terminationGracePeriodSeconds"] > pre_stop + in_flight + EXIT_MARGIN
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/_lb/status"


def test_the_balancer_discovers_every_node_pod_through_the_headless_service(
    objects: list[Obj],
) -> None:
    env = environment(objects, container(one(objects, "Deployment", "balancer")))
    host, _, port = env["BALANCER_DISCOVER"].partition(":")
    service = one(objects, "Service", host)
    assert service["spec"]["clusterIP"] == "None"
    assert selected(objects, service["spec"]["selector"]) == ["node"]
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert "BALANCER_BACKENDS" not in env
    assert one(objects, "Deployment", "balancer")["spec"]["replicas"] >= 2


def test_redis_url_names_the_redis_service_in_one_key(objects: list[Obj]) -> None:
    node = one(objects, "Deployment", "node")
    ctr = container(node)
    assert "REDIS_URL" not in {e["name"] for e in ctr.get("env", [])}, "one key: the ConfigMap"
    url = environment(objects, ctr)["REDIS_URL"]
    host_port = url.removeprefix("redis://").split("/", 1)[0]
    host, _, port = host_port.partition(":")
    service = one(objects, "Service", host)
    assert selected(objects, service["spec"]["selector"]) == ["redis"]
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}


def test_pdbs_and_the_hpa_cover_the_node_pods(overlay: str, objects: list[Obj]) -> None:
    for name in ("node", "balancer"):
        pdb = one(objects, "PodDisruptionBudget", name)
        assert selected(objects, pdb["spec"]["selector"]["matchLabels"]) == [name]
        assert pdb["spec"]["maxUnavailable"] == 1
    hpa = one(objects, "HorizontalPodAutoscaler", "node")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "node",
    }  # fmt: skip
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] == {"demo": 3, "ha": 6}[overlay]
    # The HPA owns the count: a replicas field would be reset by every `kubectl apply`.
    node = one(objects, "Deployment", "node")
    assert "replicas" not in node["spec"]
    # A CPU utilization target needs a CPU request to be measured against.
    assert container(node)["resources"]["requests"]["cpu"]


def test_the_jwt_secret_is_a_mounted_secret_file(overlay: str, objects: list[Obj]) -> None:
    node = one(objects, "Deployment", "node")
    ctr, spec = container(node), pod_spec(node)
    env = environment(objects, ctr)
    assert "JWT_SECRET" not in env, "the key itself never goes in the environment"
    path = env["JWT_SECRET_FILE"]
    [mount] = [m for m in ctr["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mount.get("readOnly") is True
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    source = volume["secret"]
    file_name = path.removeprefix(mount["mountPath"].rstrip("/") + "/")
    [item] = [i for i in source["items"] if i["path"] == file_name]
    assert source["defaultMode"] & 0o077 == source["defaultMode"] & 0o040  # group read at most
    assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"]
    secrets = [o for o in objects if o["kind"] == "Secret"]
    if overlay == "ha":  # created by hand under exactly this name (docs/kubernetes.md)
        assert source["secretName"] == "jwt-secret" and not secrets
        return
    secret = one(objects, "Secret", source["secretName"])
    value = base64.b64decode(secret["data"][item["key"]])
    assert len(value) >= 32, "the node refuses a key under 32 bytes"
    assert value.startswith(b"DEMO-ONLY-"), "the demo value says what it is"


def _images(objects: list[Obj]) -> list[str]:
    return [c["image"] for w in workloads(objects) for c in pod_spec(w)["containers"]]


def test_every_image_is_pinned(objects: list[Obj]) -> None:
    for image in _images(objects):
        name, _, tag = image.rpartition(":")
        assert "@sha256:" in image or (name and "/" not in tag and tag != "latest"), image
    app = {i for i in _images(objects) if i.startswith("stateless-cluster/app")}
    assert app == {f"stateless-cluster/app:{VERSION}"}, "the app's tag is the project version"
    for name in ("node", "balancer"):
        labels = one(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/version"] == VERSION


def _pod_checks(spec: Obj, ctr: Obj) -> dict[str, Any]:
    pod_sc, sc = spec["securityContext"], ctr["securityContext"]
    return {
        "runAsNonRoot": pod_sc.get("runAsNonRoot"),
        "nonzero uid": pod_sc.get("runAsUser", 0) > 0,
        "seccomp": pod_sc.get("seccompProfile", {}).get("type"),
        "allowPrivilegeEscalation": sc.get("allowPrivilegeEscalation"),
        "drop": sc.get("capabilities", {}).get("drop"),
        "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem"),
        "enableServiceLinks": spec.get("enableServiceLinks"),
        "automountServiceAccountToken": spec.get("automountServiceAccountToken"),
        "requests = limits (memory)": ctr["resources"]["requests"]["memory"]
        == ctr["resources"]["limits"]["memory"],
    }


def test_every_pod_is_locked_down(objects: list[Obj]) -> None:
    expected = {
        "runAsNonRoot": True, "nonzero uid": True, "seccomp": "RuntimeDefault",
        "allowPrivilegeEscalation": False, "drop": ["ALL"], "readOnlyRootFilesystem": True,
        # Service links would inject NODE_PORT=tcp://… and BALANCER_PORT=tcp://…
        "enableServiceLinks": False, "automountServiceAccountToken": False,
        "requests = limits (memory)": True,
    }  # fmt: skip
    for workload in workloads(objects):
        checks = _pod_checks(pod_spec(workload), container(workload))
        assert checks == expected, workload["metadata"]["name"]
    [namespace] = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_redis_is_a_statefulset_with_a_volume_and_the_append_only_file(objects: list[Obj]) -> None:
    redis = one(objects, "StatefulSet", "redis")
    [claim] = redis["spec"]["volumeClaimTemplates"]
    ctr = container(redis)
    [mount] = [m for m in ctr["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    args = ctr["args"]
    assert args[args.index("--dir") + 1] == mount["mountPath"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert one(objects, "Service", redis["spec"]["serviceName"])["spec"]["clusterIP"] == "None"


def test_network_policies_only_the_nodes_reach_redis_only_the_balancer_the_nodes(
    objects: list[Obj],
) -> None:
    allowed = {}
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        spec = policy["spec"]
        [target] = selected(objects, spec["podSelector"]["matchLabels"])
        assert spec["policyTypes"] == ["Ingress"]
        peers = [p for rule in spec["ingress"] for p in rule.get("from", [None])]
        allowed[target] = sorted(
            "anyone" if p is None else "".join(selected(objects, p["podSelector"]["matchLabels"]))
            for p in peers
        )
    assert allowed == {"redis": ["node"], "node": ["balancer"], "balancer": ["anyone"]}


def test_recommended_labels_on_every_object(overlay: str, objects: list[Obj]) -> None:
    for obj in objects:
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "stateless-cluster", obj["kind"]
        assert labels.get("app.kubernetes.io/managed-by") == "kustomize"
        assert labels.get("app.kubernetes.io/instance") == overlay
        if obj["kind"] not in ("Namespace", "ConfigMap", "Secret"):
            assert labels.get("app.kubernetes.io/name") in ("node", "balancer", "redis")
            assert labels.get("app.kubernetes.io/component")
    for workload in workloads(objects):
        assert workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"]


def test_ha_spreads_hard_and_takes_outside_traffic() -> None:
    objects = render(K8S / "overlays" / "ha")
    for name in ("node", "balancer"):
        spread = pod_spec(one(objects, "Deployment", name))["topologySpreadConstraints"]
        assert {c["whenUnsatisfiable"] for c in spread} == {"DoNotSchedule"}
        assert {c["topologyKey"] for c in spread} == {
            "topology.kubernetes.io/zone", "kubernetes.io/hostname",
        }  # fmt: skip
    service = one(objects, "Service", "balancer")["spec"]
    assert service["type"] == "LoadBalancer" and service["externalTrafficPolicy"] == "Local"
    assert one(objects, "Deployment", "balancer")["spec"]["replicas"] == 3


def test_the_base_renders_without_an_overlay() -> None:
    kinds = {(o["kind"], base_name(o)) for o in render(K8S / "base")}
    assert kinds == EXPECTED - {("Namespace", None)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sticky_session_lint_finds_nothing(overlay: str) -> None:
    # The same lint `cluster check-sticky --manifest FILE` runs on a user's manifests.
    text = _render_text(K8S / "overlays" / overlay)
    assert lint(text) == []
    sticky = text.replace("sessionAffinity: None", "sessionAffinity: ClientIP", 1)
    assert [f.verdict for f in lint(sticky)] == ["sticky by client address"]
