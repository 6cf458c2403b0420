#!/usr/bin/env bash
# Installs what `make test` needs and a fresh Debian machine lacks: memcached
# (tests start real servers on loopback) and libmemcached-dev plus a C compiler
# (the ketama tests build a small C helper against libmemcached itself), and
# nginx and wrk for the load suites (bench/).
set -euo pipefail
need=()
command -v memcached >/dev/null 2>&1 || need+=(memcached)
[ -f /usr/include/libmemcached/memcached.h ] || need+=(libmemcached-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The load suites' tiny run in `make test` compares bypass with nginx as a
# plain reverse proxy and calibrates the load generator against wrk.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
