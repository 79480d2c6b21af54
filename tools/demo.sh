#!/bin/sh
# make demo: builds the sample store and runs nginx in the foreground on
# http://127.0.0.1:8080/ with its prefix in build/demo/; Ctrl-C stops it.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
prefix="$top/build/demo"
nginx=${NGINX:-/usr/sbin/nginx}

mkdir -p "$prefix/logs" "$prefix/tmp"
chmod 0755 "$top/build" "$prefix"

"$top/build/bulletin-build" --site "$top/sample/site.json" \
    -o "$prefix/site.blt" "$top/sample"

"$nginx" -q -t -p "$prefix/" -c "$top/conf/demo.conf" -e stderr

cat <<MSG

bulletin demo: nginx serves the sample bulletins (Ctrl-C stops it)

    http://127.0.0.1:8080/bulletin/                     the list
    http://127.0.0.1:8080/bulletin/bj-sociorg-2020-01   a bulletin
    http://127.0.0.1:8080/bulletin/sitemap.xml          the sitemap
    http://127.0.0.1:8080/bulletin/feed.atom            the Atom feed
    http://127.0.0.1:8080/bulletin_status               the status (JSON)
    http://127.0.0.1:8080/bulletin_status?format=prometheus

MSG

exec "$nginx" -p "$prefix/" -c "$top/conf/demo.conf" -e stderr
