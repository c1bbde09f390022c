#!/bin/sh
# `node` or `balancer` (or any other command, run as is). The Python process replaces this
# shell (exec), so it is PID 1 and receives the container's stop signal itself.
set -eu
role="${1:-node}"
[ "$#" -gt 0 ] && shift
case "$role" in
  node)
    # Each container of a scaled service needs its own name: default to the container's
    # hostname (its short id), which Docker makes unique.
    NODE_NAME="${NODE_NAME:-${HOSTNAME:-$(cat /etc/hostname)}}"
    export NODE_NAME
    exec python3 -m nodes "$@"
    ;;
  balancer)
    exec python3 -m balancer "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
