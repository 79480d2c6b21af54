#!/bin/sh
# make deb: the Debian packages libnginx-mod-http-bulletin and
# bulletin-tools, from a copy of the sources in build/deb/bulletin-VERSION/
# (the files git tracks or would, as they are in the work tree), built by
# dpkg-buildpackage (debian/rules: the module by Debian's nginx_mod build
# system, bulletin-build by the Makefile with NO_DEPS=1), then checked by
# lintian.  The .debs land in build/deb/.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

version=$(sed -n 's/^#define BULLETIN_VERSION  *"\(.*\)"$/\1/p' \
              src/bulletin_version.h)
packaged=$(dpkg-parsechangelog -S Version)

if [ "$version" != "$packaged" ]; then
    echo "deb: src/bulletin_version.h says $version, debian/changelog" \
         "$packaged: add a changelog entry (dch -v $version)" >&2
    exit 1
fi

out=build/deb
src=$out/bulletin-$version
arch=$(dpkg --print-architecture)
log=$out/dpkg-buildpackage.log

rm -rf "$out"
mkdir -p "$src"

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    # tracked and new files, as they are in the work tree; not what git
    # ignores (build/, node_modules/)
    git ls-files -z --cached --others --exclude-standard \
        | tar --null -T - --ignore-failed-read -cf - 2> /dev/null \
        | tar -xf - -C "$src"
else
    tar --exclude=./build --exclude=node_modules --exclude=.git -cf - . \
        | tar -xf - -C "$src"
fi

echo "deb: dpkg-buildpackage -us -uc -b in $src (log: $log)"

if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "deb: dpkg-buildpackage failed (the whole log: $log)" >&2
    exit 1
fi

changes=$out/bulletin_${version}_$arch.changes

for deb in "$out"/*.deb; do
    echo "deb: $deb"
done

echo "deb: lintian $changes"

# no error, no warning; the rest (info) shown
if lintian --fail-on error,warning --display-info "$changes"; then
    echo "deb: lintian: no error, no warning"
else
    echo "deb: lintian: failed (above)" >&2
    exit 1
fi
