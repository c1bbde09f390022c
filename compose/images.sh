#!/usr/bin/env bash
# `make images`: the official way when a registry answers (python:3.12-slim and redis:7-alpine
# pulled, compose/Dockerfile built on them), else the offline way (build-offline-images.sh:
# debootstrap, docker import, wheels from the host). Says which. OFFLINE=1 forces the offline way.
set -euo pipefail
cd "$(dirname "$0")/.."

APP_IMAGE="${APP_IMAGE:-stateless-cluster/app:latest}"
OFFICIAL_BASE="${OFFICIAL_BASE_IMAGE:-python:3.12-slim}"
OFFICIAL_REDIS="${OFFICIAL_REDIS_IMAGE:-redis:7-alpine}"

have() { docker image inspect "$1" >/dev/null 2>&1; }
pulled() { have "$1" || docker pull -q "$1" >/dev/null 2>&1; }

command -v docker >/dev/null || { echo "make images: the docker CLI is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "make images: no Docker engine answers" >&2; exit 1; }

if [ "${OFFLINE:-0}" != 1 ] && pulled "$OFFICIAL_BASE" && pulled "$OFFICIAL_REDIS"; then
  echo "make images: official way (a registry answered, or $OFFICIAL_BASE and $OFFICIAL_REDIS are here)"
  docker build -q --build-arg BASE_IMAGE="$OFFICIAL_BASE" -t "$APP_IMAGE" -f compose/Dockerfile .
  echo "make images: APP_IMAGE=$APP_IMAGE REDIS_IMAGE=$OFFICIAL_REDIS"
else
  echo "make images: offline way (no registry answered): debootstrap base, wheels from the host"
  exec compose/build-offline-images.sh
fi
