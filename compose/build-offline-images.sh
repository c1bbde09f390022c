#!/usr/bin/env bash
# Build the project's images with no container registry at all.
#
#   1. base:  a minimal Debian root filesystem from debootstrap (python3, python3-venv,
#             redis-server), turned into an image with `docker import`;
#   2. redis: the same root filesystem running redis-server as user redis (compose/redis.Dockerfile);
#   3. app:   compose/Dockerfile on that base, installing the project and its dependencies only
#             from wheels downloaded on the host into compose/wheels/ (`docker build --network none`).
#
# Each step is skipped when its inputs did not change (a label on the base image, a key file next
# to the wheels, Docker's layer cache for the rest), so a second run takes seconds.
# Needs root (debootstrap), the docker CLI, and the Debian mirror apt is configured with (read
# from the apt sources at run time; override with MIRROR=...). Tags come from the environment:
#   BASE_IMAGE (stateless-cluster/base:bookworm)  REDIS_IMAGE (stateless-cluster/redis:bookworm)
#   APP_IMAGE  (stateless-cluster/app:latest)     PYTHON (a host Python >= 3.11: reads pyproject)
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE="${DEBIAN_SUITE:-bookworm}"
PACKAGES="python3,python3-venv,redis-server"
BASE_IMAGE="${BASE_IMAGE:-stateless-cluster/base:$SUITE}"
REDIS_IMAGE="${REDIS_IMAGE:-stateless-cluster/redis:$SUITE}"
APP_IMAGE="${APP_IMAGE:-stateless-cluster/app:latest}"
PYTHON="${PYTHON:-python3}"
CACHE="compose/.build"
WHEELS="compose/wheels"
LABEL="org.stateless-cluster.base-key"

log() { printf 'build-offline-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The first mirror apt uses for $SUITE: deb822 files (*.sources), then one-line sources.list.
mirror() {
  if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
  local found
  found="$(awk -v suite="$SUITE" '
    BEGIN { RS = ""; FS = "\n" }
    {
      uris = ""; deb = 0; match_suite = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
        if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
        if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) match_suite = 1 }
      }
      if (deb && match_suite && uris != "") { print uris; exit }
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [ -z "$found" ] && [ -f /etc/apt/sources.list ]; then
    found="$(sed -E 's/\[[^]]*\]//' /etc/apt/sources.list \
      | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')"
  fi
  [ -n "$found" ] || die "no apt source for '$SUITE' found; set MIRROR=<a Debian mirror URL>"
  echo "$found"
}

build_base() {
  local key current root started
  key="$(printf '%s %s %s' "$SUITE" "$PACKAGES" "v1" | sha256sum | cut -c1-16)"
  current="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$BASE_IMAGE" 2>/dev/null || true)"
  if [ "$current" = "$key" ]; then
    log "base: $BASE_IMAGE is up to date (key $key)"
    return
  fi
  command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] \
    || die "debootstrap is not installed (Debian: apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  started=$SECONDS
  root="$(mktemp -d /var/tmp/sc-rootfs.XXXXXX)"
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "umount -R '$root/proc' '$root/sys' 2>/dev/null || true; rm -rf '$root'" EXIT
  mkdir -p "$CACHE/debs"
  log "base: debootstrap $SUITE ($PACKAGES) into $root"
  PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase --include="$PACKAGES" \
    --cache-dir="$(realpath "$CACHE/debs")" "$SUITE" "$root" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # Only what runs: no package lists, caches, documentation or man pages.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/tmp/*
  # A container gets its own /etc/hostname, /etc/hosts and /etc/resolv.conf from Docker.
  : >"$root/etc/resolv.conf"
  log "base: importing into $BASE_IMAGE"
  tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $LABEL=$key" \
    --change 'CMD ["/bin/bash"]' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  trap - EXIT
  log "base: done in $((SECONDS - started)) s"
}

# Wheels of the runtime dependencies (and of setuptools, to build the project itself offline).
# pip runs on the host's network but with the base image's own interpreter, so that environment
# markers are evaluated for it (redis-py needs async-timeout on Python < 3.11.3, and Debian's
# 3.11.2 is such a Python, whatever the host runs). The build itself then runs with no network.
download_wheels() {
  local key deps
  deps="$("$PYTHON" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')"
  key="$(printf '%s\n%s\n' "$(docker image inspect -f '{{ .Id }}' "$BASE_IMAGE")" "$deps" | sha256sum | cut -c1-16)"
  if [ -f "$WHEELS/.key" ] && [ "$(cat "$WHEELS/.key")" = "$key" ]; then
    log "wheels: $WHEELS is up to date (key $key)"
    return
  fi
  log "wheels: downloading into $WHEELS with the base image's Python"
  find "$WHEELS" -name '*.whl' -delete
  # The host's CA bundle: the base image has none, and a TLS-inspecting proxy (as on CI machines)
  # signs with a CA that only the host trusts.
  local cert=() bundle="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
  if [ -f "$bundle" ]; then cert=(-v "$(realpath "$bundle"):/host-ca.crt:ro" -e PIP_CERT=/host-ca.crt); fi
  printf '%s\n' "$deps" "setuptools>=77" "wheel" | docker run --rm -i --network host \
    --user "$(id -u):$(id -g)" -v "$(realpath "$WHEELS"):/wheels" "${cert[@]}" \
    -e PIP_INDEX_URL -e PIP_EXTRA_INDEX_URL -e HTTP_PROXY -e HTTPS_PROXY -e NO_PROXY \
    -e http_proxy -e https_proxy -e no_proxy \
    -e PIP_DISABLE_PIP_VERSION_CHECK=1 -e PIP_NO_CACHE_DIR=1 -e PIP_DEFAULT_TIMEOUT=120 \
    "$BASE_IMAGE" sh -ec 'cat >/tmp/requirements.txt
      python3 -m venv /tmp/venv
      /tmp/venv/bin/pip download -q --only-binary=:all: --dest /wheels -r /tmp/requirements.txt'
  echo "$key" >"$WHEELS/.key"
}

# docker build, quiet, without the legacy builder's deprecation notice (docker-compose v1 and
# engines without buildx use that builder; the Dockerfile is written for both).
quiet_build() {
  local status=0
  mkdir -p "$CACHE"
  DOCKER_BUILDKIT=0 docker build -q "$@" >/dev/null 2>"$CACHE/build.err" || status=$?
  grep -vE 'DEPRECATED|BuildKit|buildx|environment-variable|^ *$' "$CACHE/build.err" >&2 || true
  return "$status"
}

build_images() {
  log "redis: $REDIS_IMAGE"
  # No context at all: the Dockerfile copies nothing.
  quiet_build --force-rm --network none --build-arg BASE_IMAGE="$BASE_IMAGE" \
    -t "$REDIS_IMAGE" - <compose/redis.Dockerfile
  log "app: $APP_IMAGE"
  local args=(--force-rm --network none --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg PIP_OFFLINE=1
              -f compose/Dockerfile)
  # The build stage gets a tag of its own, so that its layers (the installed dependencies) stay
  # cached while the stage images of earlier builds, now untagged, can be pruned by their label.
  quiet_build "${args[@]}" --target build -t "$APP_IMAGE-build" .
  quiet_build "${args[@]}" -t "$APP_IMAGE" .
  docker image prune -f --filter label=org.stateless-cluster.stage >/dev/null
}

main() {
  command -v docker >/dev/null || die "the docker CLI is not installed"
  docker info >/dev/null 2>&1 || die "no Docker engine answers"
  local started=$SECONDS
  build_base
  download_wheels
  build_images
  log "done in $((SECONDS - started)) s: BASE_IMAGE=$BASE_IMAGE REDIS_IMAGE=$REDIS_IMAGE APP_IMAGE=$APP_IMAGE"
}

main "$@"
