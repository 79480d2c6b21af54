#!/bin/sh
# make test-deb: installs the packages that `make deb` built, as root, and
# checks them the way an admin uses them:
#
#   - the module is enabled in Debian's stock /etc/nginx, depends on this
#     nginx's ABI, and nginx -t passes;
#   - the folders and the group of the publish workflow are there, with
#     their owners and modes, and the man pages are found;
#   - bulletin-sync is there with its user, its unit (not enabled) and
#     /etc/default/bulletin-sync, a conffile, and refuses a counters file
#     that is not one, naming it;
#   - a build user of the group "bulletin" builds the sample store into
#     staging with /usr/bin/bulletin-build, bulletin-publish (which refuses
#     a non-root user) installs it, saying that nginx is not running;
#   - with the shipped conf.d snippet in /etc/nginx/conf.d/, nginx -t
#     passes;
#   - an nginx of the test's own, on a free loopback port, with the
#     modules Debian enables, the conf.d snippet and the locations snippet,
#     serves a page, the list and the status;
#   - purge leaves nothing enabled, removes the folders (emptied by the
#     test), and nginx -t passes again.
#
# It never starts nginx with the stock configuration (its default site
# listens on port 80), and skips, saying why, when it could change what it
# did not make: not root, the packages installed already, a system nginx
# running (a module package's install reloads it), /var/lib/bulletin or
# /etc/nginx/conf.d/bulletin.conf there already, or a stock configuration
# that fails nginx -t to begin with.  Whatever happens, it removes what it
# added (the packages, the snippet, the files, the build user, the group
# when it was not there before).  Every wait is bounded.  The last line:
# "N passed, N failed".

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mod=libnginx-mod-http-bulletin
tools=bulletin-tools
version=$(sed -n 's/^#define BULLETIN_VERSION  *"\(.*\)"$/\1/p' \
              src/bulletin_version.h)
arch=$(dpkg --print-architecture)
mod_deb=$top/build/deb/${mod}_${version}_$arch.deb
tools_deb=$top/build/deb/${tools}_${version}_$arch.deb

var=/var/lib/bulletin
staged=$var/staging/site.blt
served=$var/store/site.blt
counters=$var/counters/site
enabled=/etc/nginx/modules-enabled
snippet=/etc/nginx/conf.d/bulletin.conf
examples=/usr/share/doc/bulletin-tools/examples
title='北京市社会组织工作动态【第1期】'

passed=0
failed=0
skipped=0

ok() {
    passed=$((passed + 1))
    echo "ok $((passed + failed)) - $*"
}

not_ok() {
    failed=$((failed + 1))
    echo "not ok $((passed + failed)) - $*"
}

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() {
    what=$1
    shift

    if "$@"; then
        ok "$what"
    else
        not_ok "$what"
    fi
}

summary() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
}

skip_all() {
    echo "test-deb: skipped: $*"
    skipped=1
    summary
    exit 0
}

installed() {
    dpkg-query -W -f='${db:Status-Status}' "$1" 2> /dev/null \
        | grep -qv '^not-installed$'
}

# a master started as Debian's service starts it: with the stock
# configuration, no -p or -c (the tests' nginx have both)
system_nginx() {
    if pid=$(cat /run/nginx.pid 2> /dev/null) && [ -n "$pid" ] \
       && kill -0 "$pid" 2> /dev/null
    then
        return 0
    fi

    pgrep -a -f '^nginx: master process' 2> /dev/null \
        | grep -v -e ' -p ' -e ' -c ' | grep -q .
}

nginx_t() {
    timeout 60 nginx -t -q
}

apt() {
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -y -q \
        -o DPkg::Lock::Timeout=300 "$@"
}

mode_of() {
    stat -c '%U:%G %a' "$1" 2> /dev/null
}

# apt's output as comments, without dpkg's progress
show() {
    grep -v -e '^(Reading database' -e '^Reading ' -e '^Building dep' "$1" \
        | sed 's/^/#   /'
}


[ "$(id -u)" = 0 ] || skip_all "not root (it installs and purges packages)"

for f in "$mod_deb" "$tools_deb"; do
    [ -f "$f" ] || { echo "test-deb: no $f (make deb)" >&2; exit 1; }
done

for p in $mod $tools; do
    installed $p && skip_all "$p is installed already (the test installs" \
                             "and purges it: remove it first)"
done

command -v nginx > /dev/null 2>&1 || skip_all "no nginx (make installs it)"
system_nginx && skip_all "a system nginx runs: installing a module package" \
                         "would reload it"
[ -e $var ] && skip_all "$var is there already (someone's stores)"
[ -e $snippet ] && skip_all "$snippet is there already"
nginx_t > /dev/null 2>&1 || skip_all "nginx -t fails before the test"

enabled_before=$(ls -A $enabled 2> /dev/null)
group_before=$(getent group bulletin)
sync_user_before=$(getent passwd bulletin-sync)
user=
prefix=
sample=
nginx_pid=
installed_here=
snippet_here=


cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2> /dev/null; then
        kill -QUIT "$nginx_pid"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$nginx_pid" 2> /dev/null || break
            sleep 1
        done
        kill -KILL "$nginx_pid" 2> /dev/null
    fi

    [ -n "$snippet_here" ] && rm -f $snippet
    rm -f "$staged" "$served" "$counters"

    if [ -n "$installed_here" ]; then
        for p in $mod $tools; do
            installed $p && apt purge $mod $tools > /dev/null 2>&1 && break
        done
    fi

    [ -n "$user" ] && getent passwd "$user" > /dev/null \
        && deluser --quiet --system "$user" > /dev/null 2>&1
    [ -z "$sync_user_before" ] && getent passwd bulletin-sync > /dev/null \
        && deluser --quiet --system bulletin-sync > /dev/null 2>&1 \
        && { delgroup --quiet --system bulletin-sync > /dev/null 2>&1 \
             || true; }
    [ -z "$group_before" ] && getent group bulletin > /dev/null \
        && delgroup --quiet --system bulletin > /dev/null 2>&1

    [ -n "$prefix" ] && rm -rf "$prefix"
    [ -n "$sample" ] && rm -rf "$sample"
}

trap cleanup EXIT
trap 'exit 130' INT TERM HUP


echo "# install: apt-get install $mod_deb $tools_deb"

installed_here=1
apt install "$mod_deb" "$tools_deb" > build/deb/install.log 2>&1
status=$?
show build/deb/install.log
if [ "$status" = 0 ]; then
    ok "apt-get install of both packages"
else
    not_ok "apt-get install of both packages"
    summary
    exit 1
fi

check "the module is in /usr/lib/nginx/modules/" \
    test -f /usr/lib/nginx/modules/ngx_http_bulletin_module.so
check "modules-available/mod-http-bulletin.conf loads it" \
    grep -qx 'load_module modules/ngx_http_bulletin_module.so;' \
        /usr/share/nginx/modules-available/mod-http-bulletin.conf
check "it is enabled: $enabled/50-mod-http-bulletin.conf" \
    test "$(readlink $enabled/50-mod-http-bulletin.conf)" \
        = /usr/share/nginx/modules-available/mod-http-bulletin.conf

abi=$(sed -n 's/^nginx:abi=//p' \
          /usr/share/nginx/src/debian/libnginx-mod.abisubstvars)
check "$mod depends on nginx's ABI, $abi" \
    sh -c "dpkg-query -W -f='\${Depends}' $mod | grep -qw -- '$abi'"

check "nginx -t passes with the module enabled" nginx_t

check "the group bulletin exists" sh -c "getent group bulletin > /dev/null"
check "$var/staging is root:bulletin 2775" \
    test "$(mode_of $var/staging)" = "root:bulletin 2775"
check "$var/store is root:root 755" \
    test "$(mode_of $var/store)" = "root:root 755"
check "$var/counters is root:root 700" \
    test "$(mode_of $var/counters)" = "root:root 700"

for page in bulletin-build bulletin-publish bulletin-sync; do
    check "man -w $page" sh -c "man -w $page > /dev/null"
done
check "bulletin-sync --version says $version" \
    sh -c "/usr/bin/bulletin-sync --version | grep -qx 'bulletin-sync $version'"
check "the system user bulletin-sync exists" \
    sh -c "getent passwd bulletin-sync > /dev/null"
unit=/lib/systemd/system/bulletin-sync.service
check "$unit is installed" test -f $unit
check "it runs bulletin-sync as the user bulletin-sync" \
    grep -q '^ExecStart=/usr/bin/bulletin-sync --user bulletin-sync ' $unit
check "it is not enabled" test ! -e \
    /etc/systemd/system/multi-user.target.wants/bulletin-sync.service
check "/etc/default/bulletin-sync is a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}' $tools \
               | grep -q ' /etc/default/bulletin-sync '"
out=$(timeout 30 /usr/bin/bulletin-sync --counters /etc/passwd \
          --redis 127.0.0.1:9 --once 2>&1)
status=$?
check "bulletin-sync refuses a file that is not a counters file" \
    test "$status" = 1
case "$out" in
*'"/etc/passwd"'*) ok "and names it" ;;
*) not_ok "and names it (it said: $out)" ;;
esac
check "man -w 7 bulletin" sh -c "man -w 7 bulletin > /dev/null"
check "bulletin-build --version says $version" \
    sh -c "/usr/bin/bulletin-build --version | grep -qx 'bulletin-build $version'"
for f in default.html index.html; do
    check "/usr/share/bulletin/templates/$f" \
        test -f /usr/share/bulletin/templates/$f
done


echo "# build as a user of the group bulletin, publish as root"

user=bulletin-test-$$
adduser --quiet --system --no-create-home --ingroup bulletin "$user" \
    > /dev/null 2>&1
check "a build user $user in the group bulletin" \
    sh -c "id -nG $user | grep -qw bulletin"

sample=$(mktemp -d /tmp/bulletin-sample.XXXXXX)
cp sample/*.json "$sample"/
chmod -R a+rX "$sample"

check "the build user builds the sample store into staging" \
    sh -c "cd / && timeout 120 runuser -u $user -- /usr/bin/bulletin-build \
               -o $staged $sample > /dev/null"
check "the staged store is the build user's" \
    test "$(stat -c %U "$staged" 2> /dev/null)" = "$user"

out=$(cd / && timeout 60 runuser -u "$user" -- /usr/bin/bulletin-publish \
          "$staged" 2>&1)
status=$?
check "bulletin-publish refuses a user who is not root" test "$status" != 0
case "$out" in
*"must run as root"*) ok "and says why" ;;
*) not_ok "and says why (it said: $out)" ;;
esac

out=$(timeout 300 /usr/bin/bulletin-publish "$staged" 2>&1)
status=$?
echo "$out" | sed 's/^/# /'
check "bulletin-publish installs it" test "$status" = 0
case "$out" in
*"nginx is not running"*) ok "bulletin-publish: nginx is not running" ;;
*) not_ok "bulletin-publish: nginx is not running" ;;
esac
check "the served store is root:root 644" \
    test "$(mode_of "$served")" = "root:root 644"
check "the served store verifies" \
    sh -c "/usr/bin/bulletin-build --verify $served > /dev/null"
check "no temporary file is left beside it" \
    test -z "$(ls -A $var/store | grep -vx site.blt)"


echo "# the conf.d snippet in Debian's stock configuration"

snippet_here=1
cp $examples/bulletin.conf $snippet
check "nginx -t passes with $snippet" nginx_t


echo "# an nginx of the test's own serves the store"

prefix=$(mktemp -d /tmp/bulletin-test-deb.XXXXXX)
chmod 0755 "$prefix"
mkdir "$prefix/logs" "$prefix/tmp"
# load_module's relative paths (modules/...) resolve against the prefix
ln -s /usr/lib/nginx/modules "$prefix/modules"

port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
           Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0,
           ReuseAddr => 1)->sockport')

cat > "$prefix/nginx.conf" <<EOF
include $enabled/*.conf;

pcre_jit on;
worker_processes 1;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log notice;

events {
    worker_connections 64;
}

http {
    access_log $prefix/logs/access.log;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;

    include $snippet;

    server {
        listen 127.0.0.1:$port;
        include $examples/bulletin-locations.conf;
    }
}
EOF

if timeout 60 nginx -p "$prefix/" -c "$prefix/nginx.conf" \
       -e "$prefix/logs/error.log"
then
    for _ in $(seq 1 50); do
        nginx_pid=$(cat "$prefix/logs/nginx.pid" 2> /dev/null) \
            && [ -n "$nginx_pid" ] && break
        sleep 0.2
    done
fi
check "the test's nginx starts on 127.0.0.1:$port" test -n "$nginx_pid"

get() {
    curl -s --max-time 10 -o "$prefix/body" -D "$prefix/headers" \
         -w '%{http_code}' "http://127.0.0.1:$port$1"
}

check "GET /bulletin/bj-sociorg-2020-01: 200" \
    test "$(get /bulletin/bj-sociorg-2020-01)" = 200
check "the page has its title" grep -qF "$title" "$prefix/body"
check "GET /bulletin/: 200, the list" test "$(get /bulletin/)" = 200
check "GET /bulletin: 301" test "$(get /bulletin)" = 301
check "GET /bulletin_status: 200" test "$(get /bulletin_status)" = 200
check "the status is JSON with the packaged paths" \
    perl -MJSON::PP -e '
        local $/;
        my $s = JSON::PP->new->decode(<STDIN>);
        exit !($s->{store}{path} eq $ARGV[0] && $s->{zone}{file} eq $ARGV[1]
               && $s->{store}{pages} == 5 && $s->{totals}{views} >= 1);
    ' "$served" "$counters" < "$prefix/body"
check "the counters file is root:root 600" \
    test "$(mode_of "$counters")" = "root:root 600"

if [ -n "$nginx_pid" ]; then
    kill -QUIT "$nginx_pid"
    for _ in $(seq 1 50); do
        kill -0 "$nginx_pid" 2> /dev/null || break
        sleep 0.2
    done
    check "the test's nginx stops" sh -c "! kill -0 $nginx_pid 2> /dev/null"
fi
check "its error log has no [alert], [crit] or [emerg]" \
    sh -c "! grep -E '\[(alert|crit|emerg)\]' $prefix/logs/error.log"


echo "# purge"

rm -f $snippet "$staged" "$served" "$counters"
snippet_here=
check "nginx -t passes without the snippet" nginx_t

# remove first: the module's link is kept aside as Debian's module
# packages keep it, *.removed, which nginx.conf's include does not match
apt remove $mod $tools > build/deb/remove.log 2>&1
status=$?
show build/deb/remove.log
check "apt-get remove of both packages" test "$status" = 0
check "remove keeps the link aside: 50-mod-http-bulletin.conf.removed" \
    test -L $enabled/50-mod-http-bulletin.conf.removed
check "remove leaves the module disabled" \
    test ! -e $enabled/50-mod-http-bulletin.conf
check "nginx -t passes after the remove" nginx_t
check "remove keeps $var" test -d $var/counters

apt purge $mod $tools > build/deb/purge.log 2>&1
status=$?
show build/deb/purge.log
if [ "$status" = 0 ]; then
    ok "apt-get purge of both packages"
    installed_here=
else
    not_ok "apt-get purge of both packages"
fi

for p in $mod $tools; do
    check "$p is gone" sh -c "! dpkg-query -W -f='\${db:Status-Status}' $p \
                                  2> /dev/null | grep -qv not-installed"
done
check "nothing of bulletin is left in $enabled" \
    test -z "$(ls -A $enabled 2> /dev/null | grep bulletin)"
check "$enabled is as it was" \
    test "$(ls -A $enabled 2> /dev/null)" = "$enabled_before"
check "$var is gone (the test emptied it)" test ! -e $var
check "nginx -t passes after the purge" nginx_t

deluser --quiet --system "$user" > /dev/null 2>&1
check "the build user is removed" sh -c "! getent passwd $user > /dev/null"
user=
if [ -z "$sync_user_before" ]; then
    # and the sidecar's system user, likewise
    check "purge keeps the user bulletin-sync" \
        sh -c "getent passwd bulletin-sync > /dev/null"
    deluser --quiet --system bulletin-sync > /dev/null 2>&1
    delgroup --quiet --system bulletin-sync > /dev/null 2>&1
fi
check "the user bulletin-sync is as it was" \
    test "$(getent passwd bulletin-sync)" = "$sync_user_before"
if [ -z "$group_before" ]; then
    # purge keeps the group (Debian's custom for system groups)
    check "purge keeps the group bulletin" \
        sh -c "getent group bulletin > /dev/null"
    delgroup --quiet --system bulletin > /dev/null 2>&1
fi
check "the group bulletin is as it was" \
    test "$(getent group bulletin)" = "$group_before"

summary
[ "$failed" = 0 ]
