#!/usr/bin/env bash
# A throwaway MariaDB server for the ML Metadata tests (tests/test_mlmd.py uses it).
#
#   tests/mariadb.sh install            install mariadb-server from Debian's packages, if missing
#   tests/mariadb.sh start DIR PORT     new datadir in DIR, server on 127.0.0.1:PORT, database
#                                       `mlmd` and user assay/assay; prints the mysql:// URI
#   tests/mariadb.sh stop DIR           stop the server started in DIR
#
# `install` needs root and the Debian package mirror; the tests skip with its message when it
# fails. It waits for other apt/dpkg runs to finish instead of failing on their lock.
set -euo pipefail

cmd=${1:-}
case "$cmd" in
install)
    if command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1; then
        exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "mariadb.sh: mariadb-server is not installed, and installing it needs root" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "mariadb.sh: mariadb-server is not installed, and there is no apt-get here" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends mariadb-server \
        >/dev/null
    ;;
start)
    dir=${2:?usage: mariadb.sh start DIR PORT}
    port=${3:?usage: mariadb.sh start DIR PORT}
    me=$(id -un)
    mkdir -p "$dir"
    # --user=$me: the server runs as (and its socket admits) the user running the tests.
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$me" \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 || {
        cat "$dir/install.log" >&2; exit 1; }
    mariadbd --no-defaults --datadir="$dir/data" --user="$me" --bind-address=127.0.0.1 \
        --port="$port" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
        --log-error="$dir/error.log" --skip-name-resolve --innodb-buffer-pool-size=32M \
        --max-connections=200 >/dev/null 2>&1 &
    for _ in $(seq 1 150); do
        if mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -u "$me" ping \
                >/dev/null 2>&1; then
            break
        fi
        sleep 0.2
    done
    mariadb --no-defaults --socket="$dir/mysqld.sock" -u "$me" -e "
        CREATE DATABASE mlmd;
        CREATE USER 'assay'@'127.0.0.1' IDENTIFIED BY 'assay';
        GRANT ALL PRIVILEGES ON *.* TO 'assay'@'127.0.0.1';" || {
        cat "$dir/error.log" >&2; exit 1; }
    echo "mysql://assay:assay@127.0.0.1:$port/mlmd"
    ;;
stop)
    dir=${2:?usage: mariadb.sh stop DIR}
    if [ -f "$dir/mysqld.pid" ]; then
        pid=$(cat "$dir/mysqld.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    ;;
*)
    echo "usage: mariadb.sh install | start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
