#!/bin/sh
# Installs the Debian packages the project needs, only those missing.
# Usage: tools/deps.sh PACKAGE...

set -u

missing=""
for p in "$@"; do
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$s" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "bulletin: installing missing Debian packages:$missing"

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "bulletin: these Debian packages are missing:$missing" >&2
    echo "bulletin: run as root, or install them:" >&2
    echo "    apt-get install$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# a fresh machine may have empty or stale package lists
$sudo apt-get update -qq || exit 1
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing || exit 1

exit 0
