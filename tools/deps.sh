#!/bin/sh
# Installs the Debian packages the project needs, only those missing.
# Usage: tools/deps.sh PACKAGE...
#
# The project never enables a module in the live nginx: a module package
# (libnginx-mod-*) enables itself in /etc/nginx/modules-enabled/ when it
# is installed, so the links that appear there during the install are
# removed again, saying so.  The tests and the benchmark load the modules
# they need with their own load_module.  Removing the link is what an
# admin's disabling is: the package's later upgrades leave it disabled.
# (BULLETIN_MODULES_ENABLED names another folder, for t/003-deps.t.)

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

enabled=${BULLETIN_MODULES_ENABLED:-/etc/nginx/modules-enabled}
before=$(ls -A "$enabled" 2>/dev/null)

# a fresh machine may have empty or stale package lists
$sudo apt-get update -qq || exit 1
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
status=$?

for link in "$enabled"/*; do
    [ -L "$link" ] || continue
    name=${link##*/}
    printf '%s\n' "$before" | grep -qxF "$name" && continue
    $sudo rm -f "$link" && echo "bulletin: disabled $name in the live" \
        "nginx again (enabled by its package; the tests load it themselves)"
done

exit $status
