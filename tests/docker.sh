#!/usr/bin/env bash
# The Docker engine and base image that tests/test_container.py needs.
#
#   tests/docker.sh install      # Debian's docker.io, debootstrap, iptables (apt-get; root)
#   tests/docker.sh start        # start dockerd unless one answers; prints "started PID" or
#                                #   "running" (stop only a daemon you started: `stop PID`)
#   tests/docker.sh stop PID     # stop the dockerd that `start` started
#   tests/docker.sh base-image   # make sure $PYTHON_IMAGE exists: reuse, pull, or build the
#                                #   stand-in below
#
# THE STAND-IN IS A TEST FIXTURE ONLY. No image registry can be reached on the machines that
# run these tests, so when python:3.10.13-slim-bookworm is neither present nor pullable, this
# script builds an image under that name from a Debian bookworm root (debootstrap, from the
# same Debian mirror apt uses), the runtime libraries Python needs, this machine's Python
# 3.10.13 copied to /usr/local, and this machine's CA bundle (registries are reached here through
# a TLS-intercepting proxy). It exists so the Dockerfile can be built and tested here as
# written; release images are built on the official python image, never on this one.
#
# The engine: Debian's dockerd with its data root in $ASSAY_DOCKER_DATA_ROOT (kept between
# runs, so the base image and Docker's layer cache survive), without a bridge network or iptables
# rules (the containers of these tests run with --network none; builds use --network=host).
# Its log is $ASSAY_DOCKER_DATA_ROOT.log.
set -euo pipefail

PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.10.13-slim-bookworm}
DATA_ROOT=${ASSAY_DOCKER_DATA_ROOT:-/var/lib/assay-test-docker}
DOCKER=${DOCKER:-/usr/bin/docker}   # Debian's client: it has BuildKit (the newer one may not)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

say() { echo "docker.sh: $*" >&2; }
die() { say "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

cmd_install() {
    if command -v dockerd >/dev/null && [ -x "$DOCKER" ] && command -v debootstrap >/dev/null \
            && command -v iptables >/dev/null; then
        say "docker.io, debootstrap and iptables are installed"
        return 0
    fi
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
        docker.io debootstrap iptables
}

engine_answers() { timeout 20 "$DOCKER" info >/dev/null 2>&1; }

cmd_start() {
    if engine_answers; then echo running; return 0; fi
    command -v dockerd >/dev/null || die "no dockerd: run tests/docker.sh install first"
    as_root mkdir -p "$DATA_ROOT"
    local log="$DATA_ROOT.log" pidfile="$DATA_ROOT.pid" pid=
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && as_root kill -0 "$pid" 2>/dev/null; then
        die "dockerd $pid (data root $DATA_ROOT) runs but does not answer (log: $log)"
    fi
    as_root rm -f "$pidfile"
    pid=
    # setsid: the daemon outlives this script; `stop PID` ends it (its PID from --pidfile).
    as_root setsid dockerd --data-root="$DATA_ROOT" --pidfile="$pidfile" --bridge=none \
        --iptables=false >"$log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && engine_answers; then echo "started $pid"; return 0; fi
        sleep 1
    done
    [ -n "$pid" ] && as_root kill "$pid" 2>/dev/null || true
    tail -n 30 "$log" >&2 || true
    die "dockerd did not start (log: $log)"
}

cmd_stop() {
    local pid=${1:?usage: docker.sh stop PID}
    as_root kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 30); do as_root kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
    as_root kill -9 "$pid" 2>/dev/null || true
}

# Python's runtime libraries as the official slim image has them, plus what it installs.
RUNTIME_PACKAGES=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,zlib1g,libbz2-1.0,\
liblzma5,libreadline8,libncursesw6,libtinfo6,libgdbm6,libgdbm-compat4,libuuid1,libexpat1,libdb5.3

cmd_base_image() {
    if "$DOCKER" image inspect "$PYTHON_IMAGE" >/dev/null 2>&1; then
        say "$PYTHON_IMAGE is present"; return 0
    fi
    if timeout 60 "$DOCKER" pull "$PYTHON_IMAGE" >/dev/null 2>&1; then
        say "pulled $PYTHON_IMAGE"; return 0
    fi
    say "$PYTHON_IMAGE cannot be pulled: building the TEST-ONLY stand-in"
    command -v debootstrap >/dev/null || die "no debootstrap: run tests/docker.sh install first"
    # This machine's Python 3.10.13: the one the project's .venv was made from, or pyenv's.
    local prefix=${ASSAY_BASE_PYTHON_PREFIX:-}
    if [ -z "$prefix" ] && [ -x "$ROOT/.venv/bin/python" ]; then
        prefix=$("$ROOT/.venv/bin/python" -c 'import sys; print(sys.base_prefix)')
    fi
    prefix=${prefix:-/root/.pyenv/versions/3.10.13}
    local version
    version=$("$prefix/bin/python3.10" -c 'import platform; print(platform.python_version())') \
        || die "no Python 3.10 at $prefix"
    [ "$version" = 3.10.13 ] || die "the Python at $prefix is $version, not 3.10.13"

    rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/assay-base.XXXXXX")
    trap 'as_root rm -rf "$rootfs"' EXIT
    as_root debootstrap --variant=minbase --include="$RUNTIME_PACKAGES" bookworm "$rootfs" \
        "$MIRROR" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed"; }
    rm -f "$rootfs.log"
    # Python in /usr/local, as the official image has it: without its test suite, and with only
    # pip and setuptools in site-packages (not what this machine installed there).
    as_root tar -C "$prefix" -c --exclude=./lib/python3.10/test \
        --exclude=./lib/python3.10/site-packages --exclude='__pycache__' --exclude=./bin . \
        | as_root tar -C "$rootfs/usr/local" -x
    # Python's own programs only (not what was pip-installed here).
    as_root mkdir -p "$rootfs/usr/local/bin"
    (cd "$prefix/bin" && as_root tar -c python3.10 python3.10-config pip3.10 pydoc3.10 \
        2to3-3.10 idle3.10) | as_root tar -C "$rootfs/usr/local/bin" -x
    local site=lib/python3.10/site-packages
    as_root mkdir -p "$rootfs/usr/local/$site"
    (cd "$prefix/$site" && as_root tar -c --exclude='__pycache__' README.txt pip pip-*.dist-info \
        setuptools setuptools-*.dist-info pkg_resources _distutils_hack distutils-precedence.pth \
        2>/dev/null) | as_root tar -C "$rootfs/usr/local/$site" -x
    # Scripts' shebangs name the prefix they were installed in.
    as_root sed -i "1s|^#!$prefix/bin/|#!/usr/local/bin/|" $(grep -l "^#!$prefix/bin/" \
        "$rootfs"/usr/local/bin/* 2>/dev/null) 2>/dev/null || true
    for link in python3:python3.10 python:python3 python3-config:python3.10-config \
            python-config:python3-config pip3:pip3.10 pip:pip3 pydoc3:pydoc3.10 \
            pydoc:pydoc3 2to3:2to3-3.10 idle3:idle3.10 idle:idle3; do
        as_root ln -sfn "${link#*:}" "$rootfs/usr/local/bin/${link%%:*}"
    done
    # This machine's CA bundle (with the proxy's CA), where Debian keeps it, and as a local CA
    # so that update-ca-certificates keeps it.
    as_root cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    as_root cp /etc/ssl/certs/ca-certificates.crt \
        "$rootfs/usr/local/share/ca-certificates/build-host-bundle.crt"
    as_root chroot "$rootfs" ldconfig
    as_root chroot "$rootfs" /usr/local/bin/python3 \
        -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid, curses' \
        || die "the stand-in's Python cannot import its extension modules"
    as_root rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    as_root tar -C "$rootfs" -c . | "$DOCKER" import \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'ENV PYTHON_VERSION=3.10.13' \
        --change 'CMD ["python3"]' \
        --message "TEST FIXTURE: stand-in for $PYTHON_IMAGE (tests/docker.sh)" \
        - "$PYTHON_IMAGE" >/dev/null
    say "built the stand-in $PYTHON_IMAGE"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) shift; cmd_stop "$@" ;;
    base-image) cmd_base_image ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
