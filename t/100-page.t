#!/usr/bin/perl

# bulletin_page: pages served from the mapped store (issue 4).
#
# The store is built once, before the blocks, from the sample bulletins
# and two of this file's own (4-byte UTF-8; a page over 160 KB).  What
# the builder rendered is read back by t/tools/store-dump.c, which this
# file compiles against the pure library: for every page its plain
# segments in a row (the slots empty), and bulletin_body()'s plain and
# gzip bodies with no counts.  No counters zone is configured here, so
# the slots show nothing and a response must equal those bytes exactly.
#
# The data blocks share one configuration ($HTTP, $SERVER below: one
# location a feature, the blocks' defaults) so that nginx starts once; the imperative part
# checks the bodies of every page byte for byte, the 160 KB page with
# sendfile on and off and with a small send buffer, HEAD on the wire,
# keep-alive, the access log variable and HTTP/2 (through curl).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode qw(decode_utf8);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);
use Test::More;
use Test::Bulletin;


my $ROOT = "$FindBin::Bin/..";
my $ID = 'bj-sociorg-2020-01';

my $t = Test::Bulletin->new;

$t->skip_unless_builder;
Test::Bulletin::skip_all_unless(Test::Bulletin::find_in_path('cc'),
                                'no cc to build t/tools/store-dump.c');

our (%PLAIN, %SEGMENTS, %GZIP, %ETAG, %LM, @IDS, $GENERATION);

our $HTTP = <<'EOF';
bulletin_store site.blt;

limit_req_zone $binary_remote_addr zone=pages:1m rate=1000r/s;
log_format generation '$uri $status $bulletin_generation';

# a map of one letter: recoding the pages from utf-8 to windows-1251
# turns every other non-ASCII character into "&#N;", which is predictable
charset_map windows-1251 utf-8 {
    C0 D090;
}
EOF

# HTTP/2 on the second port ($t->h2_listen)

our $SERVER = $t->h2_listen . <<'EOF';
listen 127.0.0.1:%%PORT_3%% sndbuf=8k;

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

# any id reaches the module, which must refuse the invalid ones itself
location ~ ^/any/(?<bulletin_id>[^/]*)$ {
    bulletin_page $bulletin_id;
}
location ~ ^/nolog/(?<bulletin_id>[^/]*)$ {
    log_not_found off;
    bulletin_page $bulletin_id;
}

# ids from other variables, or from no variable at all
location = /by-arg {
    bulletin_page $arg_id;
}
location ~ ^/issue/(\d+)/(\d+)$ {
    bulletin_page bj-sociorg-$1-$2;
}
location = /literal {
    bulletin_page bj-sociorg-2020-02;
}

location ~ ^/plain/(?<bulletin_id>[^/]*)$ {
    bulletin_gzip off;
    bulletin_page $bulletin_id;
}
location ~ ^/gzip-on/(?<bulletin_id>[^/]*)$ {
    gzip on;
    gzip_min_length 0;
    bulletin_page $bulletin_id;
}
location ~ ^/gzip-filter/(?<bulletin_id>[^/]*)$ {
    gzip on;
    gzip_min_length 0;
    bulletin_gzip off;
    bulletin_page $bulletin_id;
}
location ~ ^/gzip-vary/(?<bulletin_id>[^/]*)$ {
    gzip_vary on;
    bulletin_page $bulletin_id;
}
location ~ ^/gzip-vary-on/(?<bulletin_id>[^/]*)$ {
    gzip on;
    gzip_vary on;
    gzip_min_length 0;
    bulletin_page $bulletin_id;
}
location ~ ^/gzip-vary-filter/(?<bulletin_id>[^/]*)$ {
    gzip on;
    gzip_vary on;
    gzip_min_length 0;
    bulletin_gzip off;
    bulletin_page $bulletin_id;
}

location ~ ^/gzip-disable/(?<bulletin_id>[^/]*)$ {
    gzip_disable "OldBrowser";
    bulletin_page $bulletin_id;
}

# a server of legacy koi8-r files: pages keep the charset they have
location ~ ^/charset/(?<bulletin_id>[^/]*)$ {
    charset koi8-r;
    source_charset koi8-r;
    bulletin_page $bulletin_id;
}
location ~ ^/charset-utf8/(?<bulletin_id>[^/]*)$ {
    charset utf-8;
    source_charset utf-8;
    override_charset on;
    bulletin_page $bulletin_id;
}
location ~ ^/recode/(?<bulletin_id>[^/]*)$ {
    charset windows-1251;
    source_charset utf-8;
    override_charset on;
    bulletin_page $bulletin_id;
}

location ~ ^/expires/(?<bulletin_id>[^/]*)$ {
    expires 1h;
    bulletin_page $bulletin_id;
}
location ~ ^/add-cache-control/(?<bulletin_id>[^/]*)$ {
    add_header Cache-Control "max-age=60";
    bulletin_page $bulletin_id;
}
location ~ ^/generation/(?<bulletin_id>[^/]*)$ {
    add_header X-Gen $bulletin_generation always;
    access_log logs/generation.log generation;
    bulletin_page $bulletin_id;
}

location ~ ^/custom/(?<bulletin_id>[^/]*)$ {
    error_page 404 /custom404.html;
    bulletin_page $bulletin_id;
}
location = /custom404.html {
    internal;
}
location ~ ^/fallback/(?<bulletin_id>[^/]*)$ {
    error_page 404 = @list;
    bulletin_page $bulletin_id;
}
location @list {
    bulletin_page _index;
}

location ~ ^/limited/(?<bulletin_id>[^/]*)$ {
    limit_req zone=pages burst=5;
    bulletin_page $bulletin_id;
}

location ~ ^/sub/(?<bulletin_id>[^/]*)$ {
    bulletin_gzip off;
    sub_filter '</body>' '<p id="sub">sub_filter</p></body>';
    bulletin_page $bulletin_id;
}
location = /ssi.html {
    ssi on;
}

location ~ ^/sendfile-on/(?<bulletin_id>[^/]*)$ {
    sendfile on;
    bulletin_page $bulletin_id;
}
location ~ ^/sendfile-off/(?<bulletin_id>[^/]*)$ {
    sendfile off;
    bulletin_page $bulletin_id;
}
EOF


setup();

$t->block_defaults(http_config => $HTTP, config => $SERVER)->run_blocks;

every_page();
gzip_filter();
slots_empty();
utf8();
large_page();
client_gone();
head_on_the_wire();
not_modified_on_the_wire();
keepalive();
add_header_cache_control();
access_log_generation();
http2();


#### the store and what it holds

sub setup {
    my $dump = $t->path('store-dump');
    my @cc = ('cc', '-std=gnu99', '-O2', '-Wall', '-Wextra',
              '-Wno-unused-parameter', '-Werror', "-I$ROOT/src", '-o', $dump,
              "$ROOT/t/tools/store-dump.c",
              "$Test::Bulletin::BUILD/libbulletin.a", '-lz');

    system(@cc) == 0 or die "can't build t/tools/store-dump.c: @cc\n";

    write_bulletins();

    my ($rc, $out, $err) = $t->build_store(
        inputs => ["$ROOT/sample", 'bulletins']);

    die "bulletin-build failed ($rc): $err" unless $rc == 0;

    ($GENERATION) = $out =~ /\bgeneration ([0-9a-f]{16})\b/
        or die "no generation in the builder's summary: $out";

    my ($list, $status) = dump_store();

    die "store-dump failed ($status)\n" if $status;

    my ($gen, @pages) = split /\n/, $list;

    is($gen, "generation $GENERATION",
       'store-dump reads the generation the builder reported');

    for my $line (@pages) {
        my ($id, $etag, $lm, $plain_len, $gzip_len) = split /\t/, $line;

        push @IDS, $id;
        $ETAG{$id} = $etag;
        $LM{$id} = http_date($lm);
        $SEGMENTS{$id} = dump_store($id, 'segments');
        $PLAIN{$id} = dump_store($id, 'plain');
        $GZIP{$id} = dump_store($id, 'gzip');

        die "$id: store-dump lengths differ\n"
            unless length $PLAIN{$id} == $plain_len
                   && length $GZIP{$id} == $gzip_len;
    }

    # bulletin_body() with no counts is the plain segments in a row
    ok(!grep({ $PLAIN{$_} ne $SEGMENTS{$_} } @IDS),
       'store-dump: plain bodies are the pages\' plain segments');

    # every sample bulletin, and the list page, is in the store
    my @want = ('_index', 'utf8-wide', 'large-page', map { source_id($_) }
                grep { !/\/site\.json\z/ } glob "$ROOT/sample/*.json");

    is_deeply([sort @IDS], [sort @want], 'the store has every page');

    $t->write_file('html/custom404.html', "custom 404\n");
    $t->write_file('html/ssi.html', "<p>before</p>\n"
                   . "<!--# include virtual=\"/bulletin/$ID\" -->"
                   . "<p>after</p>\n");
}


# Bulletins of this file's own, written into the prefix: 4-byte UTF-8
# (outside the BMP) beside Chinese, and a page of more than 160 KB of
# text that compresses badly (random CJK), so that both of its variants
# are large.

sub write_bulletins {
    my $wide = decode_utf8("\xf0\xa0\x80\x80");     # U+20000
    my $emoji = decode_utf8("\xf0\x9f\x98\x80");    # U+1F600

    $t->write_json('bulletins/utf8-wide.json', {
        id => 'utf8-wide',
        title => decode_utf8('四字节字符') . " $wide $emoji",
        category => decode_utf8('活动简报'),
        published => '2020-06-01',
        source => decode_utf8('北京市社会组织管理中心') . " $emoji",
        blocks => [
            { heading => decode_utf8('首都社会组织') . " $wide" },
            { paragraph => decode_utf8('为推进首都社会组织') . " $wide$emoji "
                           . decode_utf8('发挥积极作用。') },
        ],
    });

    srand(160);

    my @blocks;

    for my $i (1 .. 200) {
        my $text = join '', map { chr(0x4e00 + int rand 0x5000) } 1 .. 300;
        push @blocks, { paragraph => "$i. $text $wide" };
    }

    $t->write_json('bulletins/large-page.json', {
        id => 'large-page',
        title => decode_utf8('长页面'),
        published => '2020-06-02',
        blocks => [{ heading => decode_utf8('长页面') }, @blocks],
    });
}


sub source_id {
    my ($file) = @_;

    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $json = <$fh>;
    close $fh;

    return JSON::PP->new->utf8->decode($json)->{id};
}


# store-dump's stdout; in list context also its exit status.

sub dump_store {
    my (@args) = @_;

    open my $fh, '-|', $t->path('store-dump'), $t->path('site.blt'), @args
        or die "store-dump: $!";
    binmode $fh;
    local $/;
    my $out = <$fh> // '';
    close $fh;

    die "store-dump @args: exit status $?\n" if $? && !wantarray;

    return wantarray ? ($out, $? >> 8) : $out;
}


sub http_date {
    my ($time) = @_;

    my @day = qw(Sun Mon Tue Wed Thu Fri Sat);
    my @month = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
    my ($s, $m, $h, $d, $mon, $y, $wday) = gmtime $time;

    return sprintf '%s, %02d %s %04d %02d:%02d:%02d GMT',
                   $day[$wday], $d, $month[$mon], $y + 1900, $h, $m, $s;
}


#### helpers for the blocks (they run in package main)

sub plain { $PLAIN{ $_[0] } }
sub gz    { $GZIP{ $_[0] } }
sub etag  { $ETAG{ $_[0] } }
sub lm    { $LM{ $_[0] } }


# The headers of a 200 of page $id: exactly once each, with its values.

sub page_headers {
    my ($id, $gzip, @more) = @_;

    my $len = length($gzip ? $GZIP{$id} : $PLAIN{$id});

    return [
        'Content-Type: text/html; charset=utf-8',
        "Content-Length: $len",
        "ETag: $ETAG{$id}",
        "Last-Modified: $LM{$id}",
        'Cache-Control: no-cache',
        'Vary: Accept-Encoding',
        $gzip ? 'Content-Encoding: gzip' : '!Content-Encoding',
        '!Accept-Ranges',
        '!Content-Range',
        '!Transfer-Encoding',
        @more,
    ];
}


sub not_modified_headers {
    my ($id, @more) = @_;

    return [
        "ETag: $ETAG{$id}",
        "Last-Modified: $LM{$id}",
        'Cache-Control: no-cache',
        'Vary: Accept-Encoding',
        '!Content-Length',
        '!Content-Type',
        '!Content-Encoding',
        @more,
    ];
}


# The page as nginx's charset filter recodes it from utf-8 to a charset
# whose map knows none of its non-ASCII characters.

sub recoded {
    my ($id) = @_;

    (my $text = decode_utf8($PLAIN{$id}))
        =~ s/([^\x00-\x7f])/'&#' . ord($1) . ';'/ge;

    return $text;
}


sub sub_filtered {
    my ($id) = @_;

    (my $text = $PLAIN{$id})
        =~ s{</body>}{<p id="sub">sub_filter</p></body>};

    return $text;
}


#### checks

# ok when $got is exactly $want; otherwise says where they first differ
# (rather than printing two pages).

sub same_bytes {
    my ($got, $want, $name) = @_;

    if (defined $got && $got eq $want) {
        pass($name);
        return 1;
    }

    fail($name);

    unless (defined $got) {
        diag 'got no body';
        return 0;
    }

    my $at = 0;
    my $n = length $got < length $want ? length $got : length $want;

    $at++ while $at < $n && substr($got, $at, 1) eq substr($want, $at, 1);

    diag sprintf 'got %d bytes, want %d; first difference at byte %d: '
                 . 'got %s, want %s', length $got, length $want, $at,
                 printable(substr $got, $at, 24),
                 printable(substr $want, $at, 24);

    return 0;
}


sub printable {
    my ($s) = @_;

    return '(end)' unless length $s;

    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;

    return "\"$s\"";
}


# A response read to the end of a Connection: close: the body is as long
# as Content-Length says, and nothing follows it.

sub whole {
    my ($res, $name) = @_;

    my $raw = $res->raw // '';
    my $head = index $raw, "\r\n\r\n";
    my $len = $res->header('Content-Length');

    ok($head >= 0 && defined $len && $head + 4 + $len == length $raw,
       "$name: Content-Length is the body's length, nothing after it")
        or diag(($res->error // '') . "\n" . $res->head . 'received '
                . ($head >= 0 ? length($raw) - $head - 4 : 0)
                . ' body bytes');
}


# `gzip -t` reads the body from a pipe.

sub gzip_t {
    my ($bytes, $name) = @_;

    local $SIG{PIPE} = 'IGNORE';

    my $ok = open my $pipe, '|-', 'gzip -t 2>/dev/null';

    if ($ok) {
        binmode $pipe;
        print $pipe $bytes;
        $ok = close($pipe) && $? == 0;
    }

    ok($ok, "$name: gzip -t");
}


sub get {
    my ($uri, @headers) = @_;

    return $t->http_get($uri, headers => \@headers);
}


#### every page, byte for byte

sub every_page {
    for my $id (@IDS) {
        my $res = get("/any/$id");

        is($res->status, 200, "$id plain: 200");
        same_bytes($res->body, $SEGMENTS{$id},
                   "$id plain: the builder's bytes");
        whole($res, "$id plain");
        is($res->header('ETag'), $ETAG{$id}, "$id plain: ETag");
        is($res->header('Last-Modified'), $LM{$id}, "$id plain: Last-Modified");

        $res = get("/any/$id", 'Accept-Encoding' => 'gzip');

        is($res->status, 200, "$id gzip: 200");
        is($res->header('Content-Encoding'), 'gzip', "$id gzip: encoded");
        same_bytes($res->body, $GZIP{$id}, "$id gzip: bulletin_body()'s bytes");
        whole($res, "$id gzip");
        gzip_t($res->body // '', "$id gzip");

        my ($plain, $err) = Test::Bulletin::gunzip($res->body);

        ok(!defined $err, "$id gzip: one valid gzip member, CRC and size")
            or diag $err;
        same_bytes($plain, $SEGMENTS{$id},
                   "$id gzip: inflates to the builder's bytes");
        is($res->header('ETag'), $ETAG{$id}, "$id gzip: same ETag");
    }
}


# With bulletin_gzip off and gzip on, nginx's gzip filter compresses the
# plain page (from the mapping, which it must only read): a valid gzip
# stream, `gzip -t` clean, of the page's bytes.

sub gzip_filter {
    for my $loc (qw(gzip-filter gzip-vary-filter)) {
        for my $id ($ID, 'large-page') {
            my $name = "$loc, $id";
            my $res = get("/$loc/$id", 'Accept-Encoding' => 'gzip');

            is($res->header('Content-Encoding'), 'gzip',
               "$name: compressed by nginx's gzip filter");
            is($res->header_count('Vary'), 1, "$name: Vary once");
            gzip_t($res->body // '', $name);
            same_bytes($res->gunzipped, $PLAIN{$id},
                       "$name: inflates to the page");
        }
    }
}


# With no counters zone, the slots show nothing: the views slot of the
# meta line is empty on the wire, in both variants.

sub slots_empty {
    my $empty = '<span class="bulletin-views"></span>';

    like($SEGMENTS{$ID}, qr/\Q$empty\E/,
         'the default template has a views slot');
    like(get("/bulletin/$ID")->body, qr/\Q$empty\E/,
         'no counters: the views slot shows nothing (plain)');
    like(get("/bulletin/$ID", 'Accept-Encoding' => 'gzip')->gunzipped // '',
         qr/\Q$empty\E/, 'no counters: the views slot shows nothing (gzip)');
}


# Chinese and characters outside the BMP, as UTF-8 bytes on the wire.

sub utf8 {
    my %text = (
        'U+20000' => "\xf0\xa0\x80\x80",
        'U+1F600' => "\xf0\x9f\x98\x80",
        'Chinese title' => '四字节字符',
        'Chinese paragraph' => '为推进首都社会组织',
    );

    my $plain = get('/bulletin/utf8-wide')->body // '';
    my $gzip = get('/bulletin/utf8-wide', 'Accept-Encoding' => 'gzip')
        ->gunzipped // '';

    for my $name (sort keys %text) {
        like($plain, qr/\Q$text{$name}\E/, "utf8-wide plain: $name intact");
        like($gzip, qr/\Q$text{$name}\E/, "utf8-wide gzip: $name intact");
    }

    ok(utf8::decode(my $copy = $plain), 'utf8-wide plain: valid UTF-8');
    like(get("/bulletin/$ID")->body // '', qr/北京市社会组织工作动态【第1期】/,
         "$ID: the Chinese title");
}


# A page over 160 KB, whole, plain and gzip, with sendfile on and off,
# and through a listening socket of an 8 KB send buffer read late, so
# that nginx must wait for the socket to drain between writes.

sub large_page {
    my $id = 'large-page';

    cmp_ok(length $PLAIN{$id}, '>', 160 * 1024, "$id: over 160 KB plain");
    cmp_ok(length $GZIP{$id}, '>', 64 * 1024, "$id: over 64 KB gzip");

    for my $loc (qw(sendfile-on sendfile-off)) {
        for my $gzip (0, 1) {
            my $name = "$id, $loc, " . ($gzip ? 'gzip' : 'plain');
            my $res = get("/$loc/$id", $gzip ? ('Accept-Encoding' => 'gzip')
                                             : ());

            is($res->status, 200, "$name: 200");
            same_bytes($res->body, $gzip ? $GZIP{$id} : $PLAIN{$id},
                       "$name: every byte");
            whole($res, $name);
        }
    }

    for my $gzip (0, 1) {
        my $name = "$id, 8 KB sndbuf, " . ($gzip ? 'gzip' : 'plain');
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $t->port(3))
            or die "connect: $!";

        print $sock Test::Bulletin::HTTP::build_request(
            uri => "/bulletin/$id",
            headers => [$gzip ? ('Accept-Encoding' => 'gzip') : ()]);

        sleep 0.5;      # nginx fills the socket buffers and waits

        $sock->blocking(0);

        my ($raw) = Test::Bulletin::HTTP::read_more($sock, '',
                                                    time + $t->timeout, 1);
        close $sock;

        my $res = Test::Bulletin::Response->parse($raw // '', 'GET', 1);

        is($res->status, 200, "$name: 200");
        same_bytes($res->body, $gzip ? $GZIP{$id} : $PLAIN{$id},
                   "$name: every byte");
        whole($res, $name);
    }
}


# Clients that close the connection in the middle of the large page, or
# before reading anything: nginx goes on serving the others (a crashed
# worker would leave an [alert] that the end of the file reports).

sub client_gone {
    for my $read (0, 100) {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $t->port(3))
            or die "connect: $!";

        print $sock Test::Bulletin::HTTP::build_request(
            uri => '/bulletin/large-page');

        if ($read) {
            sleep 0.2;
            sysread($sock, my $buf, $read);
        }

        close $sock;
    }

    sleep 0.2;

    my $res = get('/bulletin/large-page', 'Accept-Encoding' => 'gzip');

    is($res->status, 200, 'clients gone: the next one is served');
    same_bytes($res->body, $GZIP{'large-page'}, 'clients gone: every byte');
}


# HEAD: the headers a GET would have, and not one byte of body on the
# wire (the harness reads a HEAD's body as empty whatever comes).

sub head_on_the_wire {
    for my $gzip (0, 1) {
        my $name = 'HEAD ' . ($gzip ? 'gzip' : 'plain');
        my $res = $t->request(method => 'HEAD', uri => "/bulletin/$ID",
                              headers => [$gzip ? ('Accept-Encoding' => 'gzip')
                                                : ()]);
        my $raw = $res->raw // '';

        is($res->status, 200, "$name: 200");
        is($res->header('Content-Length'),
           length($gzip ? $GZIP{$ID} : $PLAIN{$ID}),
           "$name: Content-Length of the GET's body");
        is(length($raw) - index($raw, "\r\n\r\n") - 4, 0,
           "$name: no body bytes");
    }
}


sub not_modified_on_the_wire {
    my $res = get("/bulletin/$ID", 'If-None-Match' => $ETAG{$ID},
                  'Accept-Encoding' => 'gzip');
    my $raw = $res->raw // '';

    is($res->status, 304, '304 on the wire');
    is(length($raw) - index($raw, "\r\n\r\n") - 4, 0, '304: no body bytes');
}


# Several requests on one keep-alive connection, each read to its exact
# length: nothing of one response spills into the next.

sub keepalive {
    my $c = $t->keepalive;
    my @seq = (
        ["/bulletin/$ID", [], 200, $PLAIN{$ID}],
        ["/bulletin/$ID", ['Accept-Encoding' => 'gzip'], 200, $GZIP{$ID}],
        ['/bulletin/no-such-page', [], 404, undef],
        ['/any/_index', ['Accept-Encoding' => 'gzip'], 200, $GZIP{_index}],
        ["/bulletin/$ID", ['If-None-Match' => $ETAG{$ID}], 304, ''],
        ["/bulletin/$ID", [], 200, '', 'HEAD'],
        ["/bulletin/$ID", ['Accept-Encoding' => 'gzip'], 200, '', 'HEAD'],
        ['/bulletin/large-page', [], 200, $PLAIN{'large-page'}],
        ["/bulletin/$ID", [], 200, $PLAIN{$ID}],
    );
    my $n = 0;

    for my $s (@seq) {
        my ($uri, $headers, $status, $body, $method) = @$s;
        my $name = 'keep-alive request ' . ++$n;
        my $res = $c->request(method => $method // 'GET', uri => $uri,
                              headers => $headers);

        is($res->status, $status, "$name: $status");
        same_bytes($res->body, $body, "$name: body") if defined $body;
    }

    ok(!$c->closed_by_peer(0.2), 'keep-alive: the connection stays open');
    $c->close;
}


# DESIGN.md: "expires or add_header can override it": the module's
# no-cache is added after nginx's headers filter, only where neither set
# Cache-Control.

sub add_header_cache_control {
    my $res = get("/add-cache-control/$ID");

    is($res->status, 200, 'add_header Cache-Control: 200');
    is(join(' | ', $res->header_values('Cache-Control')), 'max-age=60',
       'add_header Cache-Control replaces no-cache');
}


sub access_log_generation {
    get("/generation/$ID");

    my $log = $t->read_file('logs/generation.log');

    like($log, qr{^/generation/\Q$ID\E 200 $GENERATION$}m,
         'log_format: $bulletin_generation is the store\'s generation');
}


#### HTTP/2, through curl (no HTTP/2 client in Perl's core)

# h2c with prior knowledge on the server's second port, through curl
# ($t->h2); without a curl that speaks it the HTTP/2 checks are skipped,
# saying why.

sub http2 {
    SKIP: {
        skip 'no curl with HTTP/2 for h2c with prior knowledge', 32
            unless $t->curl_h2;

        h2_page();
    }
}


sub h2_page {
    for my $s (['GET', "/bulletin/$ID"],
               ['GET', "/bulletin/$ID", 'Accept-Encoding: gzip'],
               ['GET', '/bulletin/large-page'],
               ['GET', '/bulletin/large-page', 'Accept-Encoding: gzip'])
    {
        my ($method, $uri, @headers) = @$s;
        my $gzip = @headers ? 1 : 0;
        my ($id) = $uri =~ m{([^/]+)\z};
        my $name = "HTTP/2 $uri" . ($gzip ? ' gzip' : '');
        my $res = $t->h2($method, $uri, @headers);

        is($res->{rc}, 0, "$name: curl succeeds");
        is("$res->{protocol} $res->{status}", 'HTTP/2 200', "$name: 200");
        same_bytes($res->{body}, $gzip ? $GZIP{$id} : $PLAIN{$id},
                   "$name: every byte");
        is(join(' | ', $t->h2_values($res, 'content-length')),
           length($gzip ? $GZIP{$id} : $PLAIN{$id}), "$name: content-length");
        is(join(' | ', $t->h2_values($res, 'vary')), 'Accept-Encoding',
           "$name: vary once");
        is(join(' | ', $t->h2_values($res, 'content-encoding')),
           $gzip ? 'gzip' : '', "$name: content-encoding");
    }

    my $res = $t->h2('HEAD', "/bulletin/$ID");

    is($res->{status}, 200, 'HTTP/2 HEAD: 200');
    is(join(' | ', $t->h2_values($res, 'content-length')), length $PLAIN{$ID},
       'HTTP/2 HEAD: content-length');
    is($res->{body}, '', 'HTTP/2 HEAD: no body');

    $res = $t->h2('GET', "/bulletin/$ID", "If-None-Match: $ETAG{$ID}");

    is($res->{status}, 304, 'HTTP/2 If-None-Match: 304');
    is(join(' | ', $t->h2_values($res, 'vary')), 'Accept-Encoding',
       'HTTP/2 304: vary once');

    $res = $t->h2('POST', "/bulletin/$ID");

    is($res->{status}, 405, 'HTTP/2 POST: 405');
    is(join(' | ', $t->h2_values($res, 'allow')), 'GET, HEAD',
       'HTTP/2 POST: allow');

    is($t->h2('GET', '/bulletin/no-such-page')->{status}, 404,
       'HTTP/2 unknown id: 404');
}


__DATA__

=== TEST 1: a page, plain: its type, length, validators, no-cache, one Vary
--- request
GET /bulletin/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')
--- no_error_log
[warn]
[error]

=== TEST 2: a page, gzip, for a browser's Accept-Encoding
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip, deflate, br
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')
--- no_error_log
[warn]
[error]

=== TEST 3: gzip, inflated, is the plain page
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_body_gunzip
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 4: gzip;q=0 is a refusal: plain
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip;q=0, deflate
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 5: no gzip among the encodings: plain
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: deflate, br
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)

=== TEST 6: HTTP/1.0 gets plain (ngx_http_gzip_ok: gzip_http_version 1.1)
--- request
GET /bulletin/bj-sociorg-2020-01 HTTP/1.0
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 7: bulletin_gzip off: plain to a gzip client, Vary once
--- request
GET /plain/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 8: gzip on in the location does not compress the stored gzip again
--- request
GET /gzip-on/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 9: gzip on in the location, a client without gzip: plain, Vary once
--- request
GET /gzip-on/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 10: bulletin_gzip off with gzip on: nginx's filter compresses, Vary once
--- request
GET /gzip-filter/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Type: text/html; charset=utf-8
Content-Encoding: gzip
Vary: Accept-Encoding
Cache-Control: no-cache
!Content-Length
--- response_body_gunzip
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 11: gzip_vary on, gzip off, plain: Vary once
--- request
GET /gzip-vary/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)

=== TEST 12: gzip_vary on, gzip off, gzip: Vary once
--- request
GET /gzip-vary/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 13: gzip_vary on, gzip on, gzip: Vary once, not compressed again
--- request
GET /gzip-vary-on/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 14: gzip_vary on, gzip on, plain: Vary once
--- request
GET /gzip-vary-on/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)

=== TEST 15: gzip_vary on, gzip on, bulletin_gzip off: nginx compresses, Vary once
--- request
GET /gzip-vary-filter/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
Vary: Accept-Encoding
--- response_body_gunzip
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 16: If-None-Match with the weak tag: 304
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')
--- response_body chomp

=== TEST 17: If-None-Match with the tag without W/ (weak comparison): 304
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . substr(etag('bj-sociorg-2020-01'), 2)
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 18: If-None-Match with a list holding the tag: 304
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: "0000000000000000", W/"1111111111111111", '
. etag('bj-sociorg-2020-01') . ', "2222222222222222"'
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 19: If-None-Match: * is a match
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
If-None-Match: *
--- error_code: 304

=== TEST 20: If-None-Match of another page's tag: 200
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . etag('bj-sociorg-2020-02')
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 21: 304 to a gzip client, gzip on and gzip_vary on: Vary once
--- request
GET /gzip-vary-on/bj-sociorg-2020-01
--- more_headers eval
"Accept-Encoding: gzip\nIf-None-Match: " . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 22: 304 with gzip_vary on, gzip off: Vary once
--- request
GET /gzip-vary/bj-sociorg-2020-01
--- more_headers eval
"Accept-Encoding: gzip\nIf-None-Match: " . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 23: 304 with bulletin_gzip off and gzip on: Vary once
--- request
GET /gzip-filter/bj-sociorg-2020-01
--- more_headers eval
"Accept-Encoding: gzip\nIf-None-Match: " . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 24: If-Modified-Since the page's Last-Modified: 304
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-Modified-Since: ' . lm('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 25: If-Modified-Since another date: 200 (if_modified_since exact)
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
If-Modified-Since: Thu, 01 Jan 2004 00:00:00 GMT
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)

=== TEST 26: If-Match with a strong tag: 412 through the not modified filter
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
If-Match: "0000000000000000"
--- error_code: 412

=== TEST 27: Range gets the whole page, no Accept-Ranges
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Range: bytes=0-10
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 28: Range with gzip gets the whole gzip page
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
Range: bytes=-100
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 29: HEAD: a GET's headers
--- request
HEAD /bulletin/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)

=== TEST 30: HEAD with gzip: the gzip GET's headers
--- request
HEAD /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)

=== TEST 31: POST: 405 with Allow
--- request
POST /bulletin/bj-sociorg-2020-01
--- request_body
a=1&b=2
--- error_code: 405
--- response_headers
Allow: GET, HEAD
!ETag
!Content-Encoding

=== TEST 32: PUT: 405 with Allow
--- request
PUT /bulletin/bj-sociorg-2020-01
--- error_code: 405
--- response_headers
Allow: GET, HEAD

=== TEST 33: DELETE: 405 with Allow
--- request
DELETE /bulletin/bj-sociorg-2020-01
--- error_code: 405
--- response_headers
Allow: GET, HEAD

=== TEST 34: OPTIONS: 405 with Allow
--- request
OPTIONS /bulletin/bj-sociorg-2020-01
--- error_code: 405
--- response_headers
Allow: GET, HEAD

=== TEST 35: an unknown id: 404, logged at info
--- request
GET /bulletin/no-such-page
--- error_code: 404
--- response_headers
!ETag
!Cache-Control
--- error_log
/\[info\] .*bulletin "no-such-page" not found/
--- no_error_log
[error]

=== TEST 36: an unknown id with log_not_found off: 404, nothing logged
--- request
GET /nolog/no-such-page
--- error_code: 404
--- no_error_log
not found
[error]

=== TEST 37: an invalid id with log_not_found off: 404, nothing logged
--- request
GET /nolog/no.such.page
--- error_code: 404
--- no_error_log
invalid bulletin id
[error]

=== TEST 38: an id of 65 characters is invalid
--- request eval
'GET /any/' . ('a' x 65)
--- error_code: 404
--- error_log
/\[info\] .*invalid bulletin id of 65 bytes/

=== TEST 39: an id of 64 characters is valid, and unknown
--- request eval
'GET /any/' . ('a' x 64)
--- error_code: 404
--- error_log eval
[qr/\[info\] .*bulletin "${\ ('a' x 64)}" not found/]

=== TEST 40: a dot is not an id character
--- request
GET /any/bj-sociorg-2020-01.html
--- error_code: 404
--- error_log
/\[info\] .*invalid bulletin id of 23 bytes/

=== TEST 41: an id may not begin with a hyphen
--- request
GET /any/-bj-sociorg-2020-01
--- error_code: 404
--- error_log
invalid bulletin id of 19 bytes

=== TEST 42: a space (decoded %20) is not an id character
--- request
GET /any/bj-sociorg%202020-01
--- error_code: 404
--- error_log
invalid bulletin id of 18 bytes

=== TEST 43: Chinese (decoded UTF-8) is not an id
--- request
GET /any/%E7%AE%80%E6%8A%A5
--- error_code: 404
--- error_log
invalid bulletin id of 6 bytes

=== TEST 44: an empty id
--- request
GET /any/
--- error_code: 404
--- error_log
invalid bulletin id of 0 bytes

=== TEST 45: an id that differs in case is another id
--- request
GET /any/BJ-sociorg-2020-01
--- error_code: 404
--- error_log
bulletin "BJ-sociorg-2020-01" not found

=== TEST 46: the reserved _index is a valid id
--- request
GET /any/_index
--- response_headers eval
page_headers('_index', 0)
--- response_body eval
plain('_index')

=== TEST 47: error_page 404 for an unknown id
--- request
GET /custom/no-such-page
--- error_code: 404
--- response_body
custom 404

=== TEST 48: error_page 404 for an invalid id
--- request
GET /custom/no.such.page
--- error_code: 404
--- response_body
custom 404

=== TEST 49: error_page 404 = @list: the list page, by a literal id
--- request
GET /fallback/no-such-page
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('_index', 1)
--- response_body eval
gz('_index')

=== TEST 50: limit_req in the location still serves
--- request
GET /limited/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 51: expires 1h replaces no-cache: one Cache-Control
--- request
GET /expires/bj-sociorg-2020-01
--- response_headers
Cache-Control: max-age=3600
Expires
Vary: Accept-Encoding
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 52: expires 1h on the gzip variant: one Cache-Control
--- request
GET /expires/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers
Cache-Control: max-age=3600
Content-Encoding: gzip
Vary: Accept-Encoding

=== TEST 53: expires 1h on a 304: one Cache-Control
--- request
GET /expires/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers
Cache-Control: max-age=3600
Vary: Accept-Encoding

=== TEST 54: add_header with $bulletin_generation: the builder's generation
--- request
GET /generation/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0, "X-Gen: $::GENERATION")

=== TEST 55: $bulletin_generation on a 304
--- request
GET /generation/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
["X-Gen: $::GENERATION"]

=== TEST 56: $bulletin_generation on a 404
--- request
GET /generation/no-such-page
--- error_code: 404
--- response_headers eval
["X-Gen: $::GENERATION"]

=== TEST 57: charset koi8-r does not recode a page that has its charset
--- request
GET /charset/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')
--- no_error_log
[error]

=== TEST 58: charset utf-8 with override_charset: one charset, same bytes
--- request
GET /charset-utf8/bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')
--- no_error_log
[error]

=== TEST 59: override_charset recodes the plain page (the charset set the nginx way)
--- request
GET /recode/bj-sociorg-2020-01
--- response_headers
Content-Type: text/html; charset=windows-1251
!Content-Length
!Content-Encoding
Vary: Accept-Encoding
--- response_body eval
recoded('bj-sociorg-2020-01')
--- no_error_log
[error]

=== TEST 60: override_charset leaves the gzip variant alone
--- request
GET /recode/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')
--- no_error_log
[error]

=== TEST 61: sub_filter with bulletin_gzip off sees the plain page
--- request
GET /sub/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
--- response_headers
!Content-Encoding
Vary: Accept-Encoding
--- response_body eval
sub_filtered('bj-sociorg-2020-01')

=== TEST 62: a page in an SSI include (a subrequest) is plain
--- request
GET /ssi.html
--- more_headers
Accept-Encoding: gzip
--- response_body eval
"<p>before</p>\n" . plain('bj-sociorg-2020-01') . "<p>after</p>\n"
--- no_error_log
[error]

=== TEST 63: a 4-byte UTF-8 character in the title, plain
--- request
GET /bulletin/utf8-wide
--- response_body_like
<title>四字节字符 𠀀 😀 - 社会组织服务平台</title>

=== TEST 64: a 4-byte UTF-8 character in the title, gzip
--- request
GET /bulletin/utf8-wide
--- more_headers
Accept-Encoding: gzip
--- response_body_gunzip
--- response_body_like
<title>四字节字符 𠀀 😀 - 社会组织服务平台</title>

=== TEST 65: a request from a proxy (Via) gets plain: gzip_proxied off
--- request
GET /bulletin/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
Via: 1.1 cache.example.com
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 66: gzip_disable matches the User-Agent: plain
--- request
GET /gzip-disable/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
User-Agent: OldBrowser/1.0
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 67: gzip_disable, another User-Agent: gzip
--- request
GET /gzip-disable/bj-sociorg-2020-01
--- more_headers
Accept-Encoding: gzip
User-Agent: NewBrowser/2.0
--- response_headers eval
page_headers('bj-sociorg-2020-01', 1)
--- response_body eval
gz('bj-sociorg-2020-01')

=== TEST 68: a query string does not change the page
--- request
GET /bulletin/bj-sociorg-2020-01?from=timeline&id=other
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 69: HEAD with If-None-Match: 304
--- request
HEAD /bulletin/bj-sociorg-2020-01
--- more_headers eval
'If-None-Match: ' . etag('bj-sociorg-2020-01')
--- error_code: 304
--- response_headers eval
not_modified_headers('bj-sociorg-2020-01')

=== TEST 70: an id of 4000 characters: 404
--- request eval
'GET /any/' . ('a' x 4000)
--- error_code: 404
--- error_log
invalid bulletin id of 4000 bytes

=== TEST 71: the id from an argument
--- request
GET /by-arg?id=bj-sociorg-2020-01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
--- response_body eval
plain('bj-sociorg-2020-01')

=== TEST 72: the id from a missing argument: 404
--- request
GET /by-arg
--- error_code: 404
--- error_log
invalid bulletin id of 0 bytes

=== TEST 73: the id made of two captures
--- request
GET /issue/2020/03
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
page_headers('bj-sociorg-2020-03', 1)
--- response_body eval
gz('bj-sociorg-2020-03')

=== TEST 74: a literal id
--- request
GET /literal
--- response_headers eval
page_headers('bj-sociorg-2020-02', 0)
--- response_body eval
plain('bj-sociorg-2020-02')

=== TEST 75: a percent-encoded id is decoded first
--- request
GET /bulletin/bj%2Dsociorg%2D2020%2D01
--- response_headers eval
page_headers('bj-sociorg-2020-01', 0)
