#!/usr/bin/perl

# bulletin_store (issue 4): the store is opened, mapped read-only and
# verified while nginx loads its configuration; every store that fails a
# check fails `nginx -t` (and a start, and a reload) with a message that
# names the file and the check; the directives' dependencies fail
# `nginx -t` whatever their order; a reload maps a store renamed into
# place afresh, and a reload with a bad store is refused while the
# running configuration keeps serving.  A store rewritten in place under
# a running nginx (which the README forbids) makes a page a 500 and one
# error a worker: no worker sends a byte from outside the file, and none
# dies.
#
# Bad stores are made from a good one by the helpers below, from the
# header layout in src/bulletin_store.h (checksum: CRC-32 of the file
# with its own four bytes at offset 28 read as zero).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Compress::Raw::Zlib qw(crc32);
use File::Copy qw(copy);
use IO::Socket::UNIX;
use POSIX ();
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(sleep time);


my $ROOT = "$FindBin::Bin/..";
my $ID = 'bj-sociorg-2020-01';

my $t = Test::Bulletin->new;

$t->skip_unless_builder;

# header fields (src/bulletin_store.h)
use constant {
    VERSION_OFF     => 8,
    BYTE_ORDER_OFF  => 12,
    FILE_SIZE_OFF   => 16,
    HEADER_SIZE_OFF => 24,
    CHECKSUM_OFF    => 28,
    BUILT_AT_OFF    => 32,
    GENERATION_OFF  => 40,
    PAGE_COUNT_OFF  => 56,
    RESERVED0_OFF   => 204,
    INPUTS_OFF      => 264,
    SOURCES_OFF     => 272,
    SOURCE_SIZE     => 48,
    RECORDS_OFF     => 208,
    SEGMENTS_OFF    => 216,
    SLOTS_OFF       => 232,
    HEADER_SIZE     => 280,
    RECORD_SIZE     => 96,
    SEGMENT_SIZE    => 32,
    SLOT_SIZE       => 8,
};

# a record's and a segment's fields, in order, as unpack reads them
my @RECORD = qw(id_off title_off published_off etag_off id_len title_len
                published_len etag_len last_modified hash plain_len gzip_len
                segment_first slot_first nslots reserved);
my %RECORD_OFF = (last_modified => 48);
my @SEGMENT = qw(plain_off gzip_off plain_len gzip_len crc crc_op);

our $GOOD;

setup();

$t->run_blocks;

directives();
order_of_directives();
unreadable();
start_refused();
mapping();
rewritten_in_place();
reloads();


sub setup {
    my ($rc, $out, $err) = $t->build_store(inputs => ["$ROOT/sample"],
                                           output => 'good.blt');

    die "bulletin-build failed ($rc): $err" unless $rc == 0;

    $GOOD = $t->read_file('good.blt');

    # the checksum as this file computes it is the builder's: a patched
    # header with its checksum fixed up fails the check meant, not this
    is(fix_crc($GOOD), $GOOD, 'the CRC-32 of a good store is its checksum');
    is(unpack('V', substr $GOOD, VERSION_OFF, 4), 3, 'format version 3');
}


#### bad stores, for the blocks' init (package main)

sub good { $GOOD }


sub bad_store {
    my ($bytes) = @_;

    return $t->write_file('bad.blt', $bytes);
}


sub flipped {
    my ($off) = @_;

    my $bytes = $GOOD;
    substr($bytes, $off, 1) ^= "\x01";

    return $bytes;
}


# a version 1 store: the builder's input fingerprints' offset zero, as
# the reserved bytes it was, and so its sources' (version 3)

sub version_1 {
    my ($inputs_off) = @_;

    my $bytes = $GOOD;
    substr($bytes, VERSION_OFF, 4) = pack('V', 1);
    substr($bytes, INPUTS_OFF, 8) = pack('Q<', $inputs_off);
    substr($bytes, SOURCES_OFF, 8) = pack('Q<', 0);

    return fix_crc($bytes);
}


# a version 2 store: no sources section, the reserved bytes it was

sub version_2 {
    my ($sources_off) = @_;

    my $bytes = $GOOD;
    substr($bytes, VERSION_OFF, 4) = pack('V', 2);
    substr($bytes, SOURCES_OFF, 8) = pack('Q<', $sources_off);

    return fix_crc($bytes);
}


# the last record's source entry (a bulletin's: "_" ids sort first)

sub last_source_off {
    my $n = unpack('V', substr $GOOD, PAGE_COUNT_OFF, 4);

    return unpack('Q<', substr $GOOD, SOURCES_OFF, 8)
           + ($n - 1) * SOURCE_SIZE;
}


sub truncated {
    my ($len) = @_;

    return substr $GOOD, 0, $len;
}


# $GOOD with $packed written at $off, and the checksum made right again.

sub patched {
    my ($off, $packed) = @_;

    my $bytes = $GOOD;
    substr($bytes, $off, length $packed) = $packed;

    return fix_crc($bytes);
}


sub fix_crc {
    my ($bytes) = @_;

    substr($bytes, CHECKSUM_OFF, 4) = "\0\0\0\0";
    substr($bytes, CHECKSUM_OFF, 4) = pack 'V', crc32($bytes);

    return $bytes;
}


sub field {
    my ($off, $format) = @_;

    return unpack $format, substr($GOOD, $off, 8);
}


# Record $i of $GOOD (or of the page whose id is $i): its fields, its
# id, and the file offset of the record ("off").

sub record {
    my ($i) = @_;

    my $n = field(PAGE_COUNT_OFF, 'V');

    if ($i !~ /\A\d+\z/) {
        my ($k) = grep { record($_)->{id} eq $i } 0 .. $n - 1;
        defined $k or die "no page \"$i\" in the store";
        $i = $k;
    }

    my $off = field(RECORDS_OFF, 'Q<') + $i * RECORD_SIZE;
    my %r;

    @r{@RECORD} = unpack 'Q<4 V4 q< Q<3 V4', substr($GOOD, $off, RECORD_SIZE);
    $r{off} = $off;
    $r{id} = substr $GOOD, $r{id_off}, $r{id_len};

    return \%r;
}


sub segment {
    my ($j) = @_;

    my $off = field(SEGMENTS_OFF, 'Q<') + $j * SEGMENT_SIZE;
    my %s;

    @s{@SEGMENT} = unpack 'Q<2 V4', substr($GOOD, $off, SEGMENT_SIZE);
    $s{off} = $off;

    return \%s;
}


# The last segment of record $r with plain bytes: (its number in the
# page, the segment).

sub page_segment {
    my ($r) = @_;

    for my $k (reverse 0 .. $r->{nslots}) {
        my $s = segment($r->{segment_first} + $k);
        return ($k, $s) if $s->{plain_len} > 0;
    }

    die "page \"$r->{id}\" has no bytes";
}


# $GOOD with record 0's $name set to $packed, its checksum right.

sub record_patched {
    my ($name, $packed) = @_;

    return patched(record(0)->{off} + $RECORD_OFF{$name}, $packed);
}


# Record 0's last segment with bytes, its CRC-32 or its operator
# changed, the checksum right: (store, the refusal's text).

sub segment_crc_changed {
    my ($what) = @_;

    my $r = record(0);
    my ($k, $s) = page_segment($r);

    if ($what eq 'crc') {
        return (patched($s->{off} + 24, pack 'V', $s->{crc} ^ 1),
                refused(sprintf 'inconsistent page record: page 0 "%s": '
                        . 'segment %u: its plain bytes\' CRC-32 is %08x, '
                        . 'the segment says %08x', $r->{id}, $k, $s->{crc},
                        $s->{crc} ^ 1));
    }

    return (patched($s->{off} + 28, pack 'V', $s->{crc_op} ^ 1),
            refused(sprintf 'inconsistent page record: page 0 "%s": '
                    . 'segment %u: crc_op %08x is not the operator of %u '
                    . 'bytes, %08x', $r->{id}, $k, $s->{crc_op} ^ 1,
                    $s->{plain_len}, $s->{crc_op}));
}


sub time_refused {
    my ($what) = @_;

    return refused('time out of range (1970-01-01 to 9999-12-31): '
                   . $what . ' is not a time from 1970-01-01T00:00:00Z to '
                   . '9999-12-31T23:59:59Z');
}


# The text of the refusal of bad.blt: 'is refused: CHECK: DETAIL'.

sub refused {
    my ($what) = @_;

    return 'bulletin store "' . $t->path('bad.blt') . "\" is refused: $what";
}


#### directives: nginx -t of whole configuration texts

# A configuration whose http{} holds $http; the line numbers in
# messages are counted in the text.

sub conf {
    my ($http, $main) = @_;

    return "load_module %%MODULE%%;\n"
         . "pid logs/nginx.pid;\n"
         . "error_log logs/error.log info;\n"
         . ($main // '')
         . "events {\n}\n"
         . "http {\n"
         . "    access_log logs/access.log;\n"
         . "    client_body_temp_path temp/client_body;\n"
         . "    proxy_temp_path temp/proxy;\n"
         . "    fastcgi_temp_path temp/fastcgi;\n"
         . "    uwsgi_temp_path temp/uwsgi;\n"
         . "    scgi_temp_path temp/scgi;\n"
         . $http
         . "}\n";
}


# The line of the first $text in $conf, and the conf's path as nginx
# names it in messages.

sub at {
    my ($conf, $text, $nth) = @_;

    my @lines = split /\n/, $conf;
    my @at = grep { index($lines[$_], $text) >= 0 } 0 .. $#lines;

    return $t->path('conf/test.conf') . ':' . ($at[($nth // 1) - 1] + 1);
}


# nginx -t of $conf fails, saying $message (a string) at [emerg].

sub test_fails {
    my ($name, $conf, $message) = @_;

    my ($status, $out) = $t->test_config($conf);

    isnt($status, 0, "$name: nginx -t fails");
    like($out, qr/\[emerg\] .*\Q$message\E/, "$name: says so")
        or diag $out;

    $t->expect_errors(qr/\Q$message\E/);
}


sub test_passes {
    my ($name, $conf) = @_;

    my ($status, $out) = $t->test_config($conf);

    is($status, 0, "$name: nginx -t passes") or diag $out;
}


sub directives {
    my $page = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        location /bulletin/ {
            bulletin_page x;
        }
    }
EOF
    my $status = $page =~ s/bulletin_page x/bulletin_status/r;
    my $conf;

    $t->stop;
    copy($t->path('good.blt'), $t->path('site.blt')) or die "copy: $!";

    $conf = conf($page);
    test_fails('bulletin_page without bulletin_store', $conf,
               '"bulletin_store" is not set, but the bulletin directive in '
               . at($conf, 'bulletin_page') . ' needs it');

    $conf = conf($status);
    test_fails('bulletin_status without bulletin_store', $conf,
               '"bulletin_store" is not set, but the bulletin directive in '
               . at($conf, 'bulletin_status') . ' needs it');

    $conf = conf($page =~ s/bulletin_page x/bulletin_share x/r);
    test_fails('bulletin_share without bulletin_store', $conf,
               '"bulletin_store" is not set, but the bulletin directive in '
               . at($conf, 'bulletin_share') . ' needs it');

    $conf = conf("    bulletin_store site.blt;\n"
                 . "    bulletin_store site.blt;\n");
    test_fails('a duplicate bulletin_store', $conf,
               '"bulletin_store" is duplicate, first set in '
               . at($conf, 'bulletin_store') . ' in '
               . at($conf, 'bulletin_store', 2));

    $conf = conf("    bulletin_store site.blt;\n" . $page
                 . "    bulletin_store good.blt;\n");
    test_fails('a duplicate bulletin_store after a server', $conf,
               '"bulletin_store" is duplicate, first set in '
               . at($conf, 'bulletin_store') . ' in '
               . at($conf, 'bulletin_store', 2));

    $conf = conf('', "bulletin_store site.blt;\n");
    test_fails('bulletin_store outside http', $conf,
               '"bulletin_store" directive is not allowed here in '
               . at($conf, 'bulletin_store'));

    $conf = conf($page =~ s/(listen .*\n)/$1    bulletin_store site.blt;\n/r);
    test_fails('bulletin_store in server', $conf,
               '"bulletin_store" directive is not allowed here in '
               . at($conf, 'bulletin_store'));

    $conf = conf($page =~ s/(bulletin_page x;\n)/$1bulletin_store site.blt;\n/r);
    test_fails('bulletin_store in location', $conf,
               '"bulletin_store" directive is not allowed here in '
               . at($conf, 'bulletin_store'));

    $conf = conf("    bulletin_store;\n");
    test_fails('bulletin_store without a path', $conf,
               'invalid number of arguments in "bulletin_store" directive in '
               . at($conf, 'bulletin_store'));

    $conf = conf("    bulletin_store site.blt good.blt;\n");
    test_fails('bulletin_store with two paths', $conf,
               'invalid number of arguments in "bulletin_store" directive in '
               . at($conf, 'bulletin_store'));

    $conf = conf("    bulletin_store \"\";\n");
    test_fails('bulletin_store with an empty path', $conf,
               '"bulletin_store" directive has an empty path in '
               . at($conf, 'bulletin_store'));

    $conf = conf("    bulletin_store site.blt;\n"
                 . ($page =~ s/(bulletin_page x;)/$1 bulletin_page y;/r));
    test_fails('bulletin_page twice in a location', $conf,
               '"bulletin_page" directive is duplicate in '
               . at($conf, 'bulletin_page y'));

    $conf = conf("    bulletin_store site.blt;\n"
                 . ($page =~ s/bulletin_page x/bulletin_page x y/r));
    test_fails('bulletin_page with two ids', $conf,
               'invalid number of arguments in "bulletin_page" directive in '
               . at($conf, 'bulletin_page'));

    $conf = conf("    bulletin_store site.blt;\n"
                 . ($page =~ s/bulletin_page x/bulletin_page \$no_such_var/r));
    test_fails('bulletin_page with an unknown variable', $conf,
               'unknown "no_such_var" variable');

    $conf = conf("    bulletin_store site.blt;\n"
                 . ($page =~ s/(listen .*\n)/$1        bulletin_page x;\n/r));
    test_fails('bulletin_page in server', $conf,
               '"bulletin_page" directive is not allowed here in '
               . at($conf, 'bulletin_page'));

    $conf = conf("    bulletin_store site.blt;\n    bulletin_gzip yes;\n");
    test_fails('bulletin_gzip yes', $conf,
               'invalid value "yes" in "bulletin_gzip" directive, '
               . 'it must be "on" or "off" in ' . at($conf, 'bulletin_gzip'));
}


# bulletin_store may come before or after the directives that need it:
# nginx -t passes either way, and the page is served.

sub order_of_directives {
    my $server = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
            bulletin_page $bulletin_id;
        }
        location = /status {
            bulletin_status;
        }
    }
EOF

    test_passes('bulletin_store before the server',
                conf("    bulletin_store site.blt;\n" . $server));
    test_passes('bulletin_store after the server',
                conf($server . "    bulletin_store site.blt;\n"));

    $t->stop->config(conf($server . "    bulletin_store site.blt;\n"))->run;

    my $res = $t->http_get("/bulletin/$ID");

    is($res->status, 200, 'bulletin_store after the server: served');
    like($res->body // '', qr/北京市社会组织工作动态【第1期】/,
         'bulletin_store after the server: the page');

    is($t->http_get('/status')->status, 200,
       'bulletin_store after the server: status served');

    $t->stop;

    # a path resolves against the prefix; an absolute one is taken as is
    test_passes('an absolute path',
                conf('    bulletin_store ' . $t->path('good.blt') . ";\n"
                     . $server));
}


# An unreadable store.  The tests run as root, whom file modes do not
# stop: as root, nginx -t runs again as nobody (setpriv) on a store of
# mode 0000, with a configuration of its own that nobody can carry out
# (its logs and temporary folders in a folder of mode 0777); a control
# run on the same store with mode 0644 passes.  Paths that root cannot
# open either are blocks above (a socket, a symlink loop, a file taken
# for a folder).

sub unreadable {
    my $conf = <<'EOF';
load_module %%MODULE%%;
pid nobody/nginx.pid;
error_log nobody/error.log info;
events {
}
http {
    access_log off;
    client_body_temp_path nobody/client_body;
    proxy_temp_path nobody/proxy;
    fastcgi_temp_path nobody/fastcgi;
    uwsgi_temp_path nobody/uwsgi;
    scgi_temp_path nobody/scgi;
    bulletin_store unreadable.blt;
}
EOF

    my $store = $t->path('unreadable.blt');

    copy($t->path('good.blt'), $store) or die "copy: $!";
    chmod 0000, $store;

    SKIP: {
        if ($> != 0) {
            test_fails('a store of mode 0000', $conf,
                       "bulletin store \"$store\": open() failed "
                       . '(13: Permission denied)');
            skip 'not root: no control run as nobody', 1;
        }

        skip 'root, and no setpriv to run nginx -t as nobody', 3
            unless Test::Bulletin::find_in_path('setpriv');

        mkdir $t->path('nobody'), 0777;
        chmod 0777, $t->path('nobody');
        $t->write_file('conf/nobody.conf', $t->expand($conf));

        my @nobody = ('setpriv', '--reuid=' . getpwnam('nobody'),
                      '--regid=' . (getpwnam('nobody'))[3],
                      '--clear-groups', $Test::Bulletin::NGINX,
                      '-p', $t->prefix . '/', '-e', 'nobody/error.log',
                      '-t', '-c', 'conf/nobody.conf');

        my $out = `@nobody 2>&1`;

        isnt($?, 0, 'a store of mode 0000, nginx -t as nobody: fails');
        like($out, qr/\[emerg\] .*\Qbulletin store "$store": open() failed\E
                      \s\Q(13: Permission denied)\E/x,
             'a store of mode 0000: says so, naming the file');

        chmod 0644, $store;
        $out = `@nobody 2>&1`;

        is($?, 0, 'control: the same store of mode 0644 passes as nobody')
            or diag $out;
    }
}


# A bad store fails a start too (not only nginx -t), with its message.

sub start_refused {
    $t->stop;
    $t->write_file('start.blt', truncated(1000));
    $t->config(http => 'bulletin_store start.blt;');

    my ($ok, $why) = $t->start;
    my $message = 'bulletin store "' . $t->path('start.blt')
                . '" is refused: file size differs from the header\'s';

    ok(!$ok, 'a bad store: nginx does not start');
    like($why // '', qr/\Q$message\E/, 'a bad store: the start says why');

    $t->expect_errors(qr/\Q$message\E/);
}


# The master maps the store before it forks: every process maps it,
# read-only and shared, and none holds a descriptor of it.

sub mapping {
    my $store = $t->path('site.blt');

    copy($t->path('good.blt'), $store) or die "copy: $!";

    $t->stop->config(http => 'bulletin_store site.blt;')->run;

    # under valgrind, one process is master and worker
    my %pids = map { $_ => 1 } $t->master_pid, $t->worker_pids;
    my @pids = sort keys %pids;

    is(scalar @pids, $t->valgrind ? 1 : 3, "master and workers");

    for my $pid (@pids) {
        my @maps = grep { m{ \Q$store\E\n?\z} } slurp_lines("/proc/$pid/maps");
        my @fds = grep { (readlink($_) // '') eq $store }
                  glob "/proc/$pid/fd/*";

        ok(@maps, "process $pid maps the store");
        ok(!grep({ !/\A\S+ r-.s / } @maps),
           "process $pid: read-only, shared mapping") or diag @maps;
        is(scalar @fds, 0, "process $pid: no descriptor of the store");
    }
}


sub slurp_lines {
    my ($file) = @_;

    open my $fh, '<', $file or return ();
    my @lines = <$fh>;
    close $fh;

    return @lines;
}


#### a store rewritten in place

# What the README forbids, done: bytes of the mapped file rewritten in
# place (same inode, same size), which workers see in their mapping at
# once.  Each change is undone before the next.

sub poke {
    my ($file, $off, $packed) = @_;

    open my $fh, '+<:raw', $file or die "$file: $!";
    sysseek($fh, $off, 0) or die "$file: seek: $!";
    syswrite($fh, $packed) == length $packed or die "$file: write: $!";
    close $fh or die "$file: $!";
}


sub rewritten_in_place {
    my $store = $t->path('live.blt');
    my $size = length $GOOD;
    my $r = record($ID);
    my ($k, $s) = page_segment($r);
    my $slot = field(SLOTS_OFF, 'Q<') + $r->{slot_first} * SLOT_SIZE;

    # what, where, the bytes; then the statuses of the page, plain and
    # gzip, and of the status document (200: the page as it was).  Each
    # variant reads only the segments' fields it sends (plain or gzip) and
    # checks their lengths' sum against the record's; a page whose id
    # cannot be read is not found; the header read is nginx's own copy.
    my @cases = (
        ["segment ${k}'s length 4 KB past the end", $s->{off} + 16,
         pack('V', $size - $s->{plain_off} + 4096), 500, 200, 200],
        ["segment ${k}'s gzip length 4 KB past the end", $s->{off} + 20,
         pack('V', $size - $s->{gzip_off} + 4096), 200, 500, 200],
        ["segment ${k}'s length 1 byte less", $s->{off} + 16,
         pack('V', $s->{plain_len} - 1), 500, 200, 200],
        ["segment $k 8 bytes before the end", $s->{off},
         pack('Q<', $size - 8), 500, 200, 200],
        ["segment ${k}'s gzip bytes 8 bytes before the end", $s->{off} + 8,
         pack('Q<', $size - 8), 200, 500, 200],
        ['a slot of page 2^32 - 1', $slot, pack('V', 0xffffffff),
         500, 500, 200],
        ['a slot of kind 2^32 - 1', $slot + 4, pack('V', 0xffffffff),
         500, 500, 200],
        ['the segments from 2^32 - 1', $r->{off} + 80,
         pack('V', 0xffffffff), 500, 500, 500],
        ['a negative last_modified', $r->{off} + 48, pack('q<', -1),
         500, 500, 500],
        ['the title past the end', $r->{off} + 36, pack('V', $size),
         500, 500, 500],
        ['the id past the end', $r->{off}, pack('Q<', $size + 8),
         404, 404, 500],
        ['page_count in the header', PAGE_COUNT_OFF, pack('V', 0xffffffff),
         200, 200, 200],
    );

    copy($t->path('good.blt'), $store) or die "copy: $!";

    # the agent is excluded: counts, so the page's bytes, stay as they are
    $t->stop->config(http => "bulletin_store live.blt;\n"
                             . "bulletin_counters zone=live:1m;\n"
                             . 'bulletin_count_exclude "^test-bot$";',
                     server => <<'EOF')->run;
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
location = /status {
    bulletin_status;
}
EOF

    my @pids = ($t->master_pid, $t->worker_pids);
    my %page;

    for my $enc ('plain', 'gzip') {
        my $res = $t->http_get("/bulletin/$ID", headers => [
            'User-Agent' => 'test-bot',
            $enc eq 'gzip' ? ('Accept-Encoding' => 'gzip') : ()]);

        is($res->status, 200, "in place: the page, $enc");
        $page{$enc} = $res->body;
    }

    my $from = $t->error_log_size;

    for my $case (@cases) {
        my ($what, $off, $packed) = @$case;
        my %want;
        my $before = substr $GOOD, $off, length $packed;

        @want{qw(plain gzip status)} = @$case[3 .. 5];

        poke($store, $off, $packed);

        for my $enc ('plain', 'gzip') {
            my $res = $t->http_get("/bulletin/$ID", headers => [
                'User-Agent' => 'test-bot',
                $enc eq 'gzip' ? ('Accept-Encoding' => 'gzip') : ()]);
            my $got = $res->status // 'no response';

            ok($got eq $want{$enc}
               && ($got ne '200' || ($res->body // '') eq $page{$enc}),
               "in place, $what, $enc: $want{$enc}"
               . ($want{$enc} == 200 ? ', the page as it was' : ''))
                or diag "status $got, " . length($res->body // '')
                        . ' bytes';
        }

        # the status document reads the records of the pages it lists
        is($t->http_get('/status')->status, $want{status},
           "in place, $what: the status document, $want{status}");

        poke($store, $off, $before);
    }

    is_deeply([$t->master_pid, $t->worker_pids], \@pids,
              'in place: no worker died');

    my $log = $t->error_log_since($from);
    my @lines = $log =~ /^(.*\[error\].*)$/mg;
    my $workers = $t->valgrind ? 1 : @pids - 1;

    ok(@lines >= 1 && @lines <= $workers, 'in place: logged once a worker')
        or diag $log;
    is(scalar(grep { !/\[error\] .*\Qbulletin store "$store", page \E\d+
                       \Q: the store changed since it was verified\E/x }
                   @lines),
       0, 'in place: the error names the store and the check') or diag $log;
    unlike($log, qr/exited on signal|\[alert\]|\[crit\]/,
           'in place: no crash, no alert');

    my $res = $t->http_get("/bulletin/$ID",
                           headers => ['User-Agent' => 'test-bot']);

    is($res->status, 200, 'in place, undone: the page');
    ok(($res->body // '') eq $page{plain}, 'in place, undone: byte for byte');

    $t->stop;
}


#### reloads

sub reloads {
    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 1);

        subtest 'reloads' => \&reload_cases;
    }
}


# Sources: A is the sample, B the sample with one bulletin's title
# changed and one bulletin more.

sub sources_b {
    for my $file (glob "$ROOT/sample/*.json") {
        my $json = do { local $/; open my $fh, '<:raw', $file or die; <$fh> };

        $json =~ s/北京市社会组织工作动态【第1期】/北京市社会组织工作动态【第1期·修订】/
            if $file =~ m{/\Q$ID\E\.json\z};

        (my $name = $file) =~ s{.*/}{};
        $t->write_file("src-b/$name", $json);
    }

    $t->write_file('src-b/added-on-reload.json', <<'EOF');
{
  "id": "added-on-reload",
  "title": "重新加载后新增",
  "published": "2020-07-01",
  "blocks": [{"paragraph": "新的一期。"}]
}
EOF
}


sub build {
    my ($which) = @_;

    my @inputs = $which eq 'A' ? ("$ROOT/sample") : ('src-b');
    my ($rc, $out, $err) = $t->build_store(inputs => \@inputs,
                                           output => 'site.blt');

    die "bulletin-build $which failed: $err" unless $rc == 0;

    my ($gen) = $out =~ /\bgeneration ([0-9a-f]{16})\b/
        or die "no generation in: $out";

    return $gen;
}


# A page as served now: (generation, plain body, gzip body).

sub served {
    my ($uri) = @_;

    my $plain = $t->http_get($uri);
    my $gzip = $t->http_get($uri, headers => ['Accept-Encoding' => 'gzip']);

    return ($plain->header('X-Gen') // '', $plain->body // '',
            $gzip->body // '', $plain->status);
}


sub reload_cases {
    sources_b();

    unlink $t->path('site.blt');

    my %gen = (A => build('A'));
    my $store = $t->path('site.blt');

    $t->stop->config(http => 'bulletin_store site.blt;', server => <<'EOF');
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    add_header X-Gen $bulletin_generation always;
    bulletin_page $bulletin_id;
}
EOF
    $t->run;

    my (%plain, %gzip, $gen);

    ($gen, $plain{A}, $gzip{A}) = served("/bulletin/$ID");

    is($gen, $gen{A}, 'A: the generation of build A');
    like($plain{A}, qr/【第1期】/, 'A: the page of build A');
    is($t->http_get('/bulletin/added-on-reload')->status, 404,
       'A: no page added-on-reload');

    # a new build renamed into place: nginx keeps its mapping until told
    $gen{B} = build('B');

    isnt($gen{B}, $gen{A}, 'B: another generation');
    is((served("/bulletin/$ID"))[0], $gen{A},
       'B built, not reloaded: nginx still serves A');

    $t->reload;

    ($gen, $plain{B}, $gzip{B}) = served("/bulletin/$ID");

    is($gen, $gen{B}, 'reload: the generation of build B');
    like($plain{B}, qr/【第1期·修订】/, 'reload: the page of build B');
    is((Test::Bulletin::gunzip($gzip{B}))[0], $plain{B},
       'reload: the gzip page of build B');
    is($t->http_get('/bulletin/added-on-reload')->status, 200,
       'reload: the page added by build B');

    # a bad store renamed into place: the reload is refused, and the
    # running configuration serves B from its mapping of the old file
    $t->write_file('site.blt.tmp', substr($t->read_file('site.blt'), 0, -8));
    rename $t->path('site.blt.tmp'), $store or die "rename: $!";

    my $text = $t->reload_refused;

    like($text, qr/\[emerg\] .*\Qbulletin store "$store" is refused:\E
                   \s\Qfile size differs from the header's\E/x,
         'a truncated store: the reload is refused, naming file and check');
    is_deeply([mappings($t->master_pid)], ["$store (deleted)"],
              'refused: the master unmapped the bad store, maps B\'s file');
    is_deeply([served("/bulletin/$ID")], [$gen{B}, $plain{B}, $gzip{B}, 200],
              'refused: B still served, plain and gzip, byte for byte');

    unlink $store;
    $text = $t->reload_refused;

    like($text, qr/\Qbulletin store "$store": open() failed\E
                   \s\Q(2: No such file or directory)\E/x,
         'a missing store: the reload is refused');
    is_deeply([served("/bulletin/$ID")], [$gen{B}, $plain{B}, $gzip{B}, 200],
              'refused: B still served');

    build('A');
    $t->reload;

    is_deeply([served("/bulletin/$ID")], [$gen{A}, $plain{A}, $gzip{A}, 200],
              'a good store again: A served, plain and gzip');
    is($t->http_get('/bulletin/added-on-reload')->status, 404,
       'a good store again: the page of B is gone');

    signaller($gen{B}, $plain{B});
    steady(\%gen, \%plain, \%gzip);

    # after all these reloads, every process maps one store: the last
    my @pids = ($t->master_pid, $t->worker_pids);

    is_deeply([map { mappings($_) } @pids], [($store) x @pids],
              'every process maps the current store once, no old one');
}


# The files of the store mappings of a process, as /proc names them.

sub mappings {
    my ($pid) = @_;

    my $store = $t->path('site.blt');

    return map { m{ (\Q$store\E(?: \(deleted\))?)$} ? $1 : () }
           slurp_lines("/proc/$pid/maps");
}


# `nginx -s reload`, the command: it reads the configuration but maps
# nothing (so it works whatever the store holds), and the master maps
# the new store.

sub signaller {
    my ($gen, $plain) = @_;

    my @nginx = ($Test::Bulletin::NGINX, '-p', $t->prefix . '/', '-e',
                 'logs/error.log');
    my %old = map { $_ => 1 } $t->worker_pids;

    build('B');

    my $out = `@nginx -c conf/nginx.conf -s reload 2>&1`;

    is($?, 0, 'nginx -s reload: exit status 0') or diag $out;

    my $deadline = time + 10;

    sleep 0.05 until !grep({ $old{$_} } $t->worker_pids) || time > $deadline;

    is_deeply([(served("/bulletin/$ID"))[0, 1]], [$gen, $plain],
              'nginx -s reload: the new store served');

    # the signaller of a configuration whose store is missing still works
    $t->write_file('conf/signal.conf', $t->read_file('conf/nginx.conf')
                   =~ s/site\.blt;/missing.blt;/r);

    $out = `@nginx -c conf/signal.conf -s reopen 2>&1`;

    is($?, 0, 'nginx -s with a missing store: the signal is sent')
        or diag $out;
    unlike($out, qr/missing\.blt/, 'nginx -s maps nothing');
}


# Requests never fail across reloads.  A forked client requests a page
# in a loop, each request on its own connection (Connection: close, as
# the harness sends by default: nginx closes idle keep-alive connections
# of old workers at a reload, which a browser retries and this client
# would count as failures), alternately plain and gzip, while the store
# is rebuilt and nginx reloaded four times.  Every response must be a
# 200 whose body is, byte for byte, the page of the generation its X-Gen
# names; both generations must be seen, and the last requests serve the
# last build.

sub steady {
    my ($gen, $plain, $gzip) = @_;

    my %want;

    for my $which (qw(A B)) {
        $want{ $gen->{$which} } = [$plain->{$which}, $gzip->{$which}];
    }

    build('A');
    $t->reload;

    my $log = $t->path('steady.log');
    my $stop = $t->path('steady.stop');

    unlink $log, $stop;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open my $fh, '>', $log or POSIX::_exit(1);
        $fh->autoflush(1);

        for (my $n = 0; !-e $stop; $n++) {
            my $gz = $n % 2;
            my $res = $t->http_get("/bulletin/$ID",
                headers => [$gz ? ('Accept-Encoding' => 'gzip') : ()]);
            my $g = $res->header('X-Gen') // '-';
            my $body = $want{$g} ? $want{$g}[$gz] : undef;
            my $why = !defined $res->status ? 'no response: ' . $res->error
                    : $res->status != 200 ? 'status ' . $res->status
                    : !defined $body ? "unknown generation $g"
                    : ($res->body // '') ne $body ? 'wrong body'
                    : 'ok';

            print $fh "$n $g $why\n";
        }

        close $fh;
        POSIX::_exit(0);
    }

    sleep 0.3;

    for my $which (qw(B A B A)) {
        build($which);
        $t->reload;
        sleep 0.3;
    }

    $t->write_file('steady.stop', '');
    waitpid $pid, 0;

    my @lines = slurp_lines($log);
    my @bad = grep { !/ ok$/ } @lines;
    my %seen = map { (split ' ')[1] => 1 } @lines;

    cmp_ok(scalar @lines, '>=', 20, 'steady: requests made across 4 reloads')
        or diag "only " . @lines;
    is(scalar @bad, 0, 'steady: no request failed') or diag @bad[0 .. 9];
    ok($seen{ $gen->{A} } && $seen{ $gen->{B} }, 'steady: both generations');
    like($lines[-1] // '', qr/^\d+ \Q$gen->{A}\E ok$/,
         'steady: the last requests serve the last build');
}


__DATA__

=== TEST 1: a good store: nginx -t passes, and serves
--- init
main::bad_store(main::good());
--- http_config
bulletin_store bad.blt;
--- config
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
--- request
GET /bulletin/bj-sociorg-2020-01
--- response_body_like
北京市社会组织工作动态【第1期】
--- no_error_log
[warn]

=== TEST 2: a missing store: nginx -t names the file, and the file of the directive
--- http_config
bulletin_store missing.blt;
--- must_die
--- error_log
/\[emerg\] .*bulletin store "%%PREFIX%%\/missing\.blt": open\(\) failed \(2: No such file or directory\) in %%PREFIX%%\/conf\/test\.conf:\d+$/

=== TEST 3: a missing store by an absolute path
--- http_config
bulletin_store %%PREFIX%%/no/such/folder/site.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/no/such/folder/site.blt": open() failed (2: No such file or directory)

=== TEST 4: a directory
--- init
mkdir $t->path('dir.blt');
--- http_config
bulletin_store dir.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/dir.blt" is refused: it is not a regular file

=== TEST 5: unreadable, even for root: a socket cannot be opened (ENXIO)
--- init
unlink $t->path('socket.blt');
IO::Socket::UNIX->new(Local => $t->path('socket.blt'), Listen => 1)
    or die "socket: $!";
--- http_config
bulletin_store socket.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/socket.blt": open() failed (6: No such device or address)

=== TEST 6: a symbolic link loop (ELOOP): no link is followed
--- init
unlink $t->path('loop.blt');
symlink 'loop.blt', $t->path('loop.blt') or die "symlink: $!";
--- http_config
bulletin_store loop.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/loop.blt" is refused: it is a symbolic link, which is not followed

=== TEST 7: unreadable, even for root: a file taken for a folder (ENOTDIR)
--- http_config
bulletin_store good.blt/site.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/good.blt/site.blt": open() failed (20: Not a directory)

=== TEST 8: an empty file
--- init
main::bad_store('');
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log
bulletin store "%%PREFIX%%/bad.blt" is empty

=== TEST 9: truncated to 1 byte
--- init
main::bad_store(main::truncated(1));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("shorter than a store header: 1 bytes, a header alone is 280")

=== TEST 10: truncated to a header less one byte
--- init
main::bad_store(main::truncated(279));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("shorter than a store header: 279 bytes, a header alone is 280")

=== TEST 11: truncated to the header alone
--- init
main::bad_store(main::truncated(280));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's: the header says "
              . length(main::good()) . " bytes, the file has 280")

=== TEST 12: truncated to half
--- init
main::bad_store(main::truncated(int(length(main::good()) / 2)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's: the header says "
              . length(main::good()) . " bytes, the file has "
              . int(length(main::good()) / 2))

=== TEST 13: truncated by 8 bytes (an aligned length)
--- init
main::bad_store(main::truncated(length(main::good()) - 8));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's: the header says "
              . length(main::good()) . " bytes, the file has "
              . (length(main::good()) - 8))

=== TEST 14: truncated by 1 byte
--- init
main::bad_store(main::truncated(length(main::good()) - 1));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's")

=== TEST 15: a byte more
--- init
main::bad_store(main::good() . "\0");
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's: the header says "
              . length(main::good()) . " bytes, the file has "
              . (length(main::good()) + 1))

=== TEST 16: a bit flipped in the magic
--- init
main::bad_store(main::flipped(0));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("not a bulletin store (bad magic)")

=== TEST 17: a bit flipped in the version
--- init
main::bad_store(main::flipped(9));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("unsupported store version: version 259, expected 1 to 3")

=== TEST 18: a bit flipped in the byte order mark
--- init
main::bad_store(main::flipped(12));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("byte order differs from this machine's")

=== TEST 19: a bit flipped in the file size
--- init
main::bad_store(main::flipped(16));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("file size differs from the header's")

=== TEST 20: a bit flipped in the header size
--- init
main::bad_store(main::flipped(24));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("bad header field: header_size 281, expected 280")

=== TEST 21: a bit flipped in the checksum
--- init
main::bad_store(main::flipped(28));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 22: a bit flipped in the generation
--- init
main::bad_store(main::flipped(40));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 23: a bit flipped in the first page's bytes
--- init
main::bad_store(main::flipped(300));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 24: a bit flipped in the middle
--- init
main::bad_store(main::flipped(int(length(main::good()) / 2)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 25: a bit flipped in the records
--- init
main::bad_store(main::flipped(main::field(208, 'Q<') + 8));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 26: a bit flipped in the last byte
--- init
main::bad_store(main::flipped(length(main::good()) - 1));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("checksum mismatch")

=== TEST 27: format version 4, its checksum right
--- init
main::bad_store(main::patched(8, pack('V', 4)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("unsupported store version: version 4, expected 1 to 3")

=== TEST 28: a reserved header field set, its checksum right
--- init
main::bad_store(main::patched(204, pack('V', 1)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("bad header field: reserved0 is not zero")

=== TEST 29: the records past the end of the file, its checksum right
--- init
main::bad_store(main::patched(208, pack('Q<', length(main::good()) + 8)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("offset or length outside the file: the records section")

=== TEST 30: the records misaligned, its checksum right
--- init
main::bad_store(main::patched(208, pack('Q<', main::field(208, 'Q<') + 4)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("misaligned section: the records section")

=== TEST 31: not a store: an HTML page
--- init
main::bad_store("<!DOCTYPE html>\n<p>not a store</p>\n" x 20);
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("not a bulletin store (bad magic)")

=== TEST 32: not a store: a short text
--- init
main::bad_store("hello\n");
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("shorter than a store header: 6 bytes")

=== TEST 33: a bad store fails with bulletin_page configured, too
--- init
main::bad_store(main::flipped(300));
--- http_config
bulletin_store bad.blt;
--- config
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
--- must_die
--- error_log eval
main::refused("checksum mismatch")


=== TEST 34: a negative Last-Modified, its checksum right
--- init
main::bad_store(main::record_patched('last_modified', pack('q<', -1)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::time_refused('page 0 "' . main::record(0)->{id} . '": last_modified -1')

=== TEST 35: a Last-Modified in the year 10000, its checksum right
--- init
main::bad_store(main::record_patched('last_modified',
                                     pack('q<', 253402300800)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::time_refused('page 0 "' . main::record(0)->{id}
                   . '": last_modified 253402300800')

=== TEST 36: built before 1970, its checksum right
--- init
main::bad_store(main::patched(main::BUILT_AT_OFF, pack('q<', -1)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::time_refused('built_at -1')

=== TEST 37: a segment's CRC-32 changed, its checksum right
--- init
main::bad_store((main::segment_crc_changed('crc'))[0]);
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
(main::segment_crc_changed('crc'))[1]

=== TEST 38: a segment's CRC operator changed, its checksum right
--- init
main::bad_store((main::segment_crc_changed('crc_op'))[0]);
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
(main::segment_crc_changed('crc_op'))[1]

=== TEST 39: a title that is not UTF-8, its checksum right
--- init
main::bad_store(main::patched(main::record(0)->{title_off}, "\xff"));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused('title or published date not as the builder writes them: '
              . 'page 0 "' . main::record(0)->{id} . '": the title is not '
              . 'valid UTF-8')

=== TEST 40: a version 1 store (no inputs section) is still served
--- init
main::bad_store(main::version_1(0));
--- http_config
bulletin_store bad.blt;
--- config
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
--- request
GET /bulletin/bj-sociorg-2020-01
--- response_body_like
北京市社会组织工作动态【第1期】
--- no_error_log
[warn]

=== TEST 41: version 1 with an inputs section, its checksum right
--- init
main::bad_store(main::version_1(unpack('Q<', substr main::good(),
                                       main::INPUTS_OFF, 8)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("bad header field: inputs_off is not zero in a version 1 "
              . "store")

=== TEST 42: the inputs section past the end of the file, its checksum right
--- init
main::bad_store(main::patched(main::INPUTS_OFF,
                              pack('Q<', length(main::good()))));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("offset or length outside the file: the inputs section")

=== TEST 43: a version 2 store (no sources section) is still served
--- init
main::bad_store(main::version_2(0));
--- http_config
bulletin_store bad.blt;
--- config
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
--- request
GET /bulletin/bj-sociorg-2020-01
--- response_body_like
北京市社会组织工作动态【第1期】
--- no_error_log
[warn]

=== TEST 44: version 2 with a sources section, its checksum right
--- init
main::bad_store(main::version_2(unpack('Q<', substr main::good(),
                                       main::SOURCES_OFF, 8)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("bad header field: sources_off is not zero in a version 2 "
              . "store")

=== TEST 45: the sources section past the end of the file, its checksum right
--- init
main::bad_store(main::patched(main::SOURCES_OFF,
                              pack('Q<', length(main::good()))));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("offset or length outside the file: the sources section")

=== TEST 46: a source's path outside the data section, its checksum right
--- init
main::bad_store(main::patched(main::last_source_off(),
                              pack('Q<', length(main::good()))));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("offset or length outside the file: source ")

=== TEST 47: a source's time out of range, its checksum right
--- init
main::bad_store(main::patched(main::last_source_off() + 32,
                              pack('q<', -1)));
--- http_config
bulletin_store bad.blt;
--- must_die
--- error_log eval
main::refused("time out of range (1970-01-01 to 9999-12-31): source ")
