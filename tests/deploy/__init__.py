"""Deployment artefacts checked offline: the Kubernetes manifests under ``deploy/k8s``."""
