#!/usr/bin/perl

# Hostile requests (issue 9): very long URIs (just under and over
# large_client_header_buffers) and ids, ids with %00, "..", "/", "%2F",
# UTF-8 and percent-encoding, NUL bytes, methods and header names in odd
# cases, odd User-Agents, huge and malformed share bodies, pipelined
# requests by the hundred, slow readers and slow senders.
#
# Each gets the status nginx (or the module) must give; no worker dies
# (same worker pids before and after, no "exited on signal" in the error
# log); none touches the file system (strace -f -e trace=file on both
# workers meanwhile sees nothing but the control request for a static
# file at the end, which proves it was watching); and the status counts
# change by exactly the requests that are legitimate views, shares and
# excluded views, which the table below marks.
#
# Meanwhile forked clients (t/lib/ReliabilityTest.pm) send legitimate
# views and shares of two other pages without a pause: every one of them
# is answered right and counted too.  BULLETIN_SOAK=1 sends the table
# five times, and 4000 pipelined requests.
#
# A share is counted when its head arrives (the body is read and
# discarded after the 204): a body that never ends, or chunked garbage
# sent after the head, does not undo it.  The head's own problems (a
# 100 MB Content-Length over client_max_body_size, garbage in the same
# packet, a bad channel) leave it uncounted.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(sleep time);

use CountersTest qw(template);
use ReliabilityTest qw(:all);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

my $V = $t->valgrind;
my $SOAK = soak();
my ($A, $B, $C, $D) = @CountersTest::IDS;

# what the legitimate requests must add: views{id}, shares{id}{channel},
# excluded (the total)
my %WANT = (views => {}, shares => {}, excluded => 0);

template($t);
write_large();

my ($rc, $out, $err) = $t->build_store(
    inputs => [$CountersTest::SAMPLE, 'src'], template => 'count.html');

die "bulletin-build failed: $err" if $rc;

$t->write_file('html/control.txt', "control\n");

$t->config(http => <<'EOF', server => <<'EOF');
add_header X-Bulletin-Generation $bulletin_generation;

bulletin_store site.blt;
bulletin_counters zone=hostile:1m file=hostile.cnt;
bulletin_count_exclude "bot|spider";

large_client_header_buffers 4 8k;
client_max_body_size 1m;
client_header_timeout 3s;
client_body_timeout 1s;
keepalive_requests 10000;

server {
    listen 127.0.0.1:%%PORT_2%% sndbuf=4k;
    server_name localhost;

    location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
        bulletin_page $bulletin_id;
    }
}
EOF
# nothing else reads the file system
location / {
    return 404;
}

location = /control.txt {
    root html;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}

# any decoded id reaches the module, which must refuse it itself
location ~ ^/any/(?<bulletin_id>.*)$ {
    bulletin_page $bulletin_id;
}

location ~ ^/anyshare/(?<bulletin_id>.*)/share$ {
    bulletin_share $bulletin_id;
}

# the raw, undecoded argument
location = /by-arg {
    bulletin_page $arg_id;
}

location = /status {
    bulletin_status;
}
EOF

$t->run;

my $before = page_counts(status_doc($t));
my @workers = $t->worker_pids;
my $strace = strace_start();
my $traffic = traffic_start($t, procs => $SOAK ? 4 : 2, plan => [
    map({ ({ method => 'GET', uri => "/bulletin/$_", id => $_ },
           { method => 'GET', uri => "/bulletin/$_", id => $_, gzip => 1 },
           { method => 'POST', uri => "/bulletin/$_/share?channel=qq",
             id => $_, channel => 'qq' }) } $C, $D)
], max_seconds => 600);

cases() for 1 .. ($SOAK ? 5 : 1);
pipelined();
huge_bodies();
slow_senders();
slow_readers();

beside(traffic_stop($t, $traffic));
strace_check($strace);

is(join(' ', $t->worker_pids), join(' ', @workers),
   'the same workers serve: none died');
unlike($t->error_log_text, qr/exited on signal/,
       'error log: no worker exited on a signal');

counted();


#### the store

# A page of 100 KB of text that compresses badly (random CJK): its
# responses outgrow every socket buffer.

sub write_large {
    srand(510);

    my @blocks = map {
        { paragraph => "$_ " . join '', map { chr(0x4e00 + int rand 0x5000) }
                                        1 .. 400 }
    } 1 .. 80;

    $t->write_json('src/large.json', {
        id => 'large', title => 'large', published => '2020-06-01',
        blocks => [{ heading => 'large' }, @blocks] });
}


#### requests, one a connection

# the bytes of a request: Host and Connection: close unless given
sub req {
    my ($method, $uri, @headers) = @_;

    my %has = map { lc $_ => 1 } grep { !ref } @headers[grep { !($_ % 2) }
                                                         0 .. $#headers];
    my $raw = "$method $uri HTTP/1.1\r\n";

    $raw .= "Host: localhost\r\n" unless $has{host};
    $raw .= "Connection: close\r\n" unless $has{connection};

    while (my ($n, $v) = splice @headers, 0, 2) {
        $raw .= "$n: $v\r\n";
    }

    return "$raw\r\n";
}


sub line_of {
    my ($len, $prefix) = @_;

    my $fixed = length("GET $prefix HTTP/1.1\r\n");

    return req('GET', $prefix . 'a' x ($len - $fixed));
}


sub header_of {
    my ($len, $name, $tail) = @_;

    my $fixed = length("$name: \r\n") + length($tail // '');

    return ($name, 'x' x ($len - $fixed) . ($tail // ''));
}


# [name, raw bytes, status, what it counts]: status '0.9' is an HTTP/0.9
# answer (the body alone); counts: 'view', 'view B', 'excluded',
# 'share CHANNEL', or nothing; gzip => the answer is gzip

sub table {
    my $nul = "\0";

    return (
        # long request lines: large_client_header_buffers 4 8k holds a
        # line of 8192 bytes with its CRLF
        ['a request line of 8192 bytes (an invalid id)',
         line_of(8192, '/any/'), 404],
        ['a request line of 8193 bytes', line_of(8193, '/any/'), 414],
        ['a request line of 20000 bytes', line_of(20000, '/any/'), 414],
        ['an id of 8000 valid characters', line_of(8100, '/bulletin/'), 404],
        ['an id of 64 characters, unknown',
         req('GET', '/bulletin/' . 'a' x 64), 404],
        ['an id of 65 characters', req('GET', '/bulletin/' . 'a' x 65), 404],
        ['an argument id of 8000 characters',
         req('GET', '/by-arg?id=' . 'a' x 8000), 404],
        ['a header line of 8192 bytes',
         req('GET', "/bulletin/$A", header_of(8192, 'X-Long')), 200, 'view'],
        ['a header line of 8193 bytes',
         req('GET', "/bulletin/$A", header_of(8193, 'X-Long')), 400],
        ['a User-Agent of 8000 bytes ending in "bot"',
         req('GET', "/bulletin/$A", header_of(8000, 'User-Agent', 'bot')),
         200, 'excluded'],
        ['a User-Agent of 8000 bytes',
         req('GET', "/bulletin/$A", header_of(8000, 'User-Agent')), 200,
         'view'],
        # agents of up to 240 bytes are remembered by the worker
        (map {
            my $len = $_;
            (["a User-Agent of $len bytes ending in \"Bot\"",
              req('GET', "/bulletin/$A",
                  'User-Agent' => 'x' x ($len - 3) . 'Bot'), 200,
              'excluded'],
             ["the same again", req('GET', "/bulletin/$A",
                  'User-Agent' => 'x' x ($len - 3) . 'Bot'), 200,
              'excluded'],
             ["a User-Agent of $len bytes", req('GET', "/bulletin/$A",
                  'User-Agent' => 'y' x $len), 200, 'view'])
        } 239, 240, 241),

        # ids: NUL, "..", "/", UTF-8, percent-encoding
        ['%00 in an id', req('GET', '/any/a%00b'), 400],
        ['%00 after a valid id', req('GET', "/bulletin/$A%00"), 400],
        ['%00 in a raw argument id', req('GET', "/by-arg?id=$A%00"), 404],
        ['a valid raw argument id', req('GET', "/by-arg?id=$A"), 200,
         'view'],
        ['a percent-encoded raw argument id',
         req('GET', '/by-arg?id=bj%2Dsociorg-2020-01'), 404],
        ['a NUL byte in the request line', req('GET', "/bulletin/$A$nul"),
         400],
        ['a NUL byte in the arguments', req('GET', "/bulletin/$A?$nul"), 400],
        ['".." as the id', req('GET', '/any/..'), 404],
        ['"%2e%2e" as the id', req('GET', '/any/%2e%2e'), 404],
        ['".." out of the root', req('GET', '/../bulletin/x'), 400],
        ['"%2e%2e%2f" out of the root',
         req('GET', '/any/%2e%2e%2f%2e%2e%2fetc%2fpasswd'), 400],
        ['".." back into a page', req('GET', "/any/../bulletin/$A"), 200,
         'view'],
        ['"/" in an id (%2F)', req('GET', '/any/a%2Fb'), 404],
        ['"/" in an id', req('GET', '/any/a/b'), 404],
        ['%2F in a page URI', req('GET', "/bulletin/a%2F$A"), 404],
        ['an id in UTF-8', req('GET', "/any/\xe5\x8c\x97\xe4\xba\xac"), 404],
        ['an id in percent-encoded UTF-8',
         req('GET', '/any/%E5%8C%97%E4%BA%AC'), 404],
        ['an id of invalid UTF-8', req('GET', '/any/%FF%FE%C0%AF'), 404],
        ['a valid id percent-encoded', req('GET', '/bulletin/bj%2Dsociorg'
                                                  . '-2020-01'), 200, 'view'],
        ['a valid id in upper case', req('GET', '/bulletin/'
                                                . uc $A), 404],
        ['a valid id with a space', req('GET', "/any/$A%20"), 404],
        # PCRE's "$" matches before a final newline: the location's
        # capture is the id without it, as for the README's location
        ['a valid id with a newline', req('GET', "/any/$A%0A"), 200, 'view'],
        ['a valid id with a newline, the README\'s location',
         req('GET', "/bulletin/$A%0A"), 200, 'view'],
        ['a valid id with two newlines', req('GET', "/any/$A%0A%0A"), 404],
        ['"//" before an id', req('GET', "/bulletin//$A"), 200, 'view'],
        ['"./" before an id', req('GET', "/bulletin/./$A"), 200, 'view'],
        ['an absolute URI', req('GET', "http://localhost/bulletin/$A"), 200,
         'view'],

        # methods
        ['"get"', req('get', "/bulletin/$A"), 400],
        ['"Get"', req('Get', "/bulletin/$A"), 400],
        ['"head"', req('head', "/bulletin/$A"), 400],
        ['HEAD', req('HEAD', "/bulletin/$A"), 200],
        (map { [$_, req($_, "/bulletin/$A"), 405] }
             qw(POST PUT DELETE OPTIONS PATCH PROPFIND FOO TRACE)),
        ['GET of a share', req('GET', "/bulletin/$A/share?channel=qq"), 405],
        ['HEAD of a share', req('HEAD', "/bulletin/$A/share?channel=qq"),
         405],
        ['"post" of a share', req('post', "/bulletin/$A/share?channel=qq"),
         400],

        # headers in odd cases, odd values
        ['"user-agent: GoogleBot"', req('GET', "/bulletin/$A",
                                        'user-agent' => 'GoogleBot'), 200,
         'excluded'],
        ['"USER-AGENT: A SPIDER"', req('GET', "/bulletin/$A",
                                       'USER-AGENT' => 'A SPIDER'), 200,
         'excluded'],
        ['a User-Agent of invalid UTF-8 with "bot"',
         req('GET', "/bulletin/$A", 'User-Agent' => "Mozilla\xff\xfe bot"),
         200, 'excluded'],
        ['a User-Agent with control bytes', req('GET', "/bulletin/$A",
            'User-Agent' => "Mozilla\x01\x7f"), 200, 'view'],
        ['an empty User-Agent', req('GET', "/bulletin/$A",
                                    'User-Agent' => ''), 200, 'view'],
        ['two User-Agents, "bot" first (nginx keeps the first)',
         req('GET', "/bulletin/$A", 'User-Agent' => 'bot',
             'User-Agent' => 'Mozilla'), 200, 'excluded'],
        ['two User-Agents, "bot" second', req('GET', "/bulletin/$A",
            'User-Agent' => 'Mozilla', 'User-Agent' => 'bot'), 200, 'view'],
        ['"sec-purpose: PREFETCH"', req('GET', "/bulletin/$A",
                                        'sec-purpose' => 'PREFETCH'), 200],
        ['"ACCEPT-ENCODING: GZIP"', req('GET', "/bulletin/$A",
                                        'ACCEPT-ENCODING' => 'GZIP'), 200,
         'view', gzip => 1],
        ['"Accept-Encoding: gzip;q=0"', req('GET', "/bulletin/$A",
            'Accept-Encoding' => 'gzip;q=0'), 200, 'view'],
        ['"Accept-Encoding: br, deflate"', req('GET', "/bulletin/$A",
            'Accept-Encoding' => 'br, deflate'), 200, 'view'],
        ['"If-None-Match: *"', req('GET', "/bulletin/$A",
                                   'If-None-Match' => '*'), 304, 'view'],
        ['If-Modified-Since of garbage', req('GET', "/bulletin/$A",
            'If-Modified-Since' => "garbage\xff"), 200, 'view'],
        ['a Range of nonsense', req('GET', "/bulletin/$A",
                                    'Range' => 'bytes=-1,0-,5-3'), 200,
         'view'],
        ['a NUL byte in a header value', req('GET', "/bulletin/$A",
                                             'User-Agent' => "a${nul}bot"),
         400],
        ['a NUL byte in a header name', req('GET', "/bulletin/$A",
                                            "X-$nul" => 'a'), 400],
        ['no Host in HTTP/1.1',
         "GET /bulletin/$A HTTP/1.1\r\nConnection: close\r\n\r\n", 400],
        ['two Hosts', req('GET', "/bulletin/$A", Host => 'a', Host => 'b'),
         400],
        ['HTTP/1.0 without Host', "GET /bulletin/$A HTTP/1.0\r\n\r\n", 200,
         'view'],
        ['HTTP/0.9', "GET /bulletin/$A\r\n", '0.9', 'view'],
        ['HTTP/2.0 in the request line',
         "GET /bulletin/$A HTTP/2.0\r\nHost: x\r\n\r\n", 505],

        # shares
        ['a share', req('POST', "/bulletin/$A/share?channel=qq"), 204,
         'share qq'],
        ['a share of a channel in upper case',
         req('POST', "/bulletin/$A/share?channel=WECHAT"), 400],
        ['a share of a percent-encoded channel',
         req('POST', "/bulletin/$A/share?channel=%77echat"), 400],
        ['a share of a channel with %00',
         req('POST', "/bulletin/$A/share?channel=wechat%00"), 400],
        ['a share of an empty channel',
         req('POST', "/bulletin/$A/share?channel="), 400],
        ['a share without arguments', req('POST', "/bulletin/$A/share"), 400],
        ['a share of a channel of 7000 bytes',
         req('POST', "/bulletin/$A/share?channel=" . 'w' x 7000), 400],
        ['a share of two channels (the first counts)',
         req('POST', "/bulletin/$A/share?channel=weibo&channel=qq"), 204,
         'share weibo'],
        ['a share of an unknown id',
         req('POST', '/bulletin/nope/share?channel=qq'), 404],
        ['a share of an id with %00',
         req('POST', '/anyshare/a%00b/share?channel=qq'), 400],
        ['a share of an id with %2F',
         req('POST', "/anyshare/a%2F$A/share?channel=qq"), 404],
        ['a share of an id in UTF-8',
         req('POST', "/anyshare/\xe5\x8c\x97/share?channel=qq"), 404],
        ['a share by an excluded agent',
         req('POST', "/bulletin/$A/share?channel=qq", 'user-agent' => 'BOT'),
         204],
        ['a share with Content-Length: -1',
         req('POST', "/bulletin/$A/share?channel=qq",
             'Content-Length' => -1), 400],
        ['a share with two Content-Lengths',
         req('POST', "/bulletin/$A/share?channel=qq", 'Content-Length' => 1,
             'Content-Length' => 1) . 'x', 400],
        ['a share with a Content-Length of 23 digits',
         req('POST', "/bulletin/$A/share?channel=qq",
             'Content-Length' => '9' x 23), 400],
        ['a share with Content-Length and chunked',
         req('POST', "/bulletin/$A/share?channel=qq", 'Content-Length' => 5,
             'Transfer-Encoding' => 'chunked') . "0\r\n\r\n", 400],
        ['a share with Transfer-Encoding: gzip',
         req('POST', "/bulletin/$A/share?channel=qq",
             'Transfer-Encoding' => 'gzip'), 501],
        ['a share with chunked garbage',
         req('POST', "/bulletin/$A/share?channel=qq",
             'Transfer-Encoding' => 'chunked') . "zzz\r\nxx\r\n", 400],
        ['a share with a chunk of 2^80 bytes',
         req('POST', "/bulletin/$A/share?channel=qq",
             'Transfer-Encoding' => 'chunked') . 'f' x 20 . "\r\n", 400],
        ['a share with a body of 900 KB (discarded, no temporary file)',
         req('POST', "/bulletin/$A/share?channel=link",
             'Content-Length' => 900 * 1024) . 'b' x (900 * 1024), 204,
         'share link'],
        ['a share with a chunked body of 900 KB',
         req('POST', "/bulletin/$A/share?channel=link",
             'Transfer-Encoding' => 'chunked')
         . join('', map { sprintf("%x\r\n", 9000) . 'c' x 9000 . "\r\n" }
                    1 .. 100) . "0\r\n\r\n", 204, 'share link'],
        ['a page GET with a body of 900 KB',
         req('GET', "/bulletin/$B", 'Content-Length' => 900 * 1024)
         . 'g' x (900 * 1024), 200, 'view B'],
    );
}


sub cases {
    for my $case (table()) {
        my ($what, $raw, $status, $counts, %o) = @$case;
        my $res = $t->request(raw => $raw);

        if ($status eq '0.9') {
            like($res->raw, qr/\A<!doctype html>.*<b id="views">\d+<\/b>/s,
                 "$what: the page alone");
        } elsif (!defined $res->status) {
            fail("$what: $status") or diag $res->error;
        } else {
            my $ok = $res->status == $status;

            if ($ok && $status == 200 && $raw =~ /\A(?:GET)/) {
                my $body = $res->body // '';

                if ($o{gzip}) {
                    $ok = ($res->header('Content-Encoding') // '') eq 'gzip';
                    ($body) = Test::Bulletin::gunzip($body);
                    $body //= '';
                } else {
                    $ok = !defined $res->header('Content-Encoding');
                }

                $ok &&= $body =~ m{<b id="views">\d+</b>};
            }

            ok($ok, "$what: $status") or diag $res->head;
        }

        want($counts);
    }
}


sub want {
    my ($counts) = @_;

    return unless $counts;

    if ($counts =~ /\Aview(?: (\w))?\z/) {
        $WANT{views}{ $1 ? $B : $A }++;
    } elsif ($counts eq 'excluded') {
        $WANT{excluded}++;
    } elsif ($counts =~ /\Ashare (\w+)\z/) {
        $WANT{shares}{$A}{$1}++;
    } else {
        die "unknown count \"$counts\"";
    }
}


#### pipelined

# 400 requests (4000 in the soak) in one write on one connection; the
# last one, a 400, ends the connection.

sub pipelined {
    my @cycle = (
        ['GET', "/bulletin/$A", [], 200, 'view'],
        ['HEAD', "/bulletin/$A", [], 200],
        ['GET', '/bulletin/nope', [], 404],
        ['DELETE', "/bulletin/$A", [], 405],
        ['POST', "/bulletin/$A/share?channel=wechat", [], 204,
         'share wechat'],
        ['GET', "/bulletin/$A", ['User-Agent' => 'spider'], 200, 'excluded'],
        ['GET', '/any/%FF', [], 404],
        ['POST', '/bulletin/nope/share?channel=qq', ['Content-Length' => 3],
         404],
        ['GET', "/bulletin/$B", ['Accept-Encoding' => 'gzip'], 200,
         'view B'],
        ['GET', "/bulletin/$A", ['Sec-Purpose' => 'prefetch'], 200],
    );
    my @reqs = map { $cycle[$_ % @cycle] } 0 .. ($SOAK ? 3999 : 399);

    push @reqs, ['POST', "/bulletin/$A/share?channel=nope", [], 400];

    my $bytes = join '', map {
        my ($m, $u, $h) = @$_;
        Test::Bulletin::HTTP::build_request(
            method => $m, uri => $u, keepalive => 1, headers => $h,
            ($m eq 'POST' && grep({ $_ eq 'Content-Length' } @$h)
             ? (body => 'abc') : ()));
    } @reqs;

    my $c = $t->keepalive;
    my $err = $c->send_raw($bytes);
    my @bad;

    push @bad, "send: $err" if defined $err;

    for my $i (0 .. $#reqs) {
        my ($m, $u, $h, $status, $counts) = @{ $reqs[$i] };
        my $res = $c->read_response(method => $m);

        unless (($res->status // 0) == $status) {
            push @bad, "request $i ($m $u): " . ($res->status // 'none')
                . ", want $status";
            last unless defined $res->status;
        }

        want($counts);
    }

    ok($c->closed_by_peer(5), 'pipelined: the 400 at the end closes the '
       . 'connection');
    ok(!@bad, 'pipelined: ' . @reqs . ' requests on one connection, each '
       . 'answered in order')
        or diag join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)];
}


#### huge bodies, sent slowly

sub connect_raw {
    my ($port, $rcvbuf) = @_;

    my $sock = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";

    setsockopt($sock, SOL_SOCKET, SO_RCVBUF, $rcvbuf) if $rcvbuf;
    $sock->connect(pack_sockaddr_in($port // $t->port(1),
                                    inet_aton('127.0.0.1')))
        or die "connect: $!";
    $sock->autoflush(1);

    return $sock;
}


# Sends $head, then $chunk every $every seconds until the server answers
# or closes, at most $seconds: (the bytes received, the bytes sent, the
# seconds it took).

sub send_slowly {
    my ($head, $chunk, $every, $seconds) = @_;

    my $sock = connect_raw();
    my $select = IO::Select->new($sock);
    my $t0 = time;
    my ($got, $sent) = ('', 0);

    local $SIG{PIPE} = 'IGNORE';

    syswrite $sock, $head;

    while (time - $t0 < $seconds) {
        if ($select->can_read($every)) {
            my $n = sysread $sock, $got, 65536, length $got;
            last if !$n || $got =~ /\r\n\r\n/;
            next;
        }

        my $n = syswrite $sock, $chunk;
        last unless defined $n;
        $sent += $n;
    }

    my $took = time - $t0;

    close $sock;

    return ($got, $sent, $took);
}


sub huge_bodies {
    my $head = req('POST', "/bulletin/$A/share?channel=weibo",
                   'Content-Length' => 100 * 1024 * 1024);
    my ($got, $sent, $took) = send_slowly($head, 'x' x 1024, 0.02,
                                          10 * ($V ? 5 : 1));

    like($got, qr{\AHTTP/1\.1 413 }, 'a share of 100 MB sent slowly: 413');
    ok($sent < 1024 * 1024, "a share of 100 MB sent slowly: answered after "
       . "$sent bytes, in " . sprintf('%.2f', $took) . ' s');

    $head = req('GET', "/bulletin/$A", 'Content-Length' => 100 * 1024 * 1024);
    ($got) = send_slowly($head, 'x' x 1024, 0.02, 10 * ($V ? 5 : 1));

    like($got, qr{\AHTTP/1\.1 413 }, 'a page GET with 100 MB sent slowly: '
         . '413');

    # the head is a share: the 204 goes out before the body, whatever
    # comes of the body after it

    $head = req('POST', "/bulletin/$A/share?channel=wechat",
                'Transfer-Encoding' => 'chunked');
    ($got) = send_slowly($head, "zzz\r\ngarbage\r\n", 0.2, 2);

    like($got, qr{\AHTTP/1\.1 204 }, 'a share with chunked garbage after '
         . 'its head: 204 before the garbage');
    want('share wechat');

    $head = req('POST', "/bulletin/$A/share?channel=wechat",
                'Content-Length' => 1000) . 'abc';
    ($got) = send_slowly($head, '', 0.5, 1);

    like($got, qr{\AHTTP/1\.1 204 }, 'a share whose body never ends: 204');
    want('share wechat');
}


#### slow senders

sub slow_send {
    my ($what, $raw, $status, $counts) = @_;

    my $sock = connect_raw();
    my $gap = 1 / length $raw;          # a second for the whole request

    for my $i (0 .. length($raw) - 1) {
        syswrite $sock, substr($raw, $i, 1);
        sleep $gap;
    }

    my $got = '';
    my $select = IO::Select->new($sock);

    while ($select->can_read(10 * ($V ? 5 : 1))) {
        last unless sysread $sock, $got, 65536, length $got;
    }

    close $sock;

    like($got, qr{\AHTTP/1\.1 $status }, "$what: $status");
    want($counts);
}


sub slow_senders {
    slow_send('a page GET sent a byte at a time',
              req('GET', "/bulletin/$A", 'User-Agent' => 'slow'), 200,
              'view');
    slow_send('a share sent a byte at a time',
              req('POST', "/bulletin/$A/share?channel=link",
                  'Content-Length' => 10) . '0123456789', 204, 'share link');

    # a head that never ends: closed at client_header_timeout, unanswered

    my $sock = connect_raw();
    my $t0 = time;

    syswrite $sock, "GET /bulletin/$A HTTP/1.1\r\nHost: localhost\r\n";

    my $select = IO::Select->new($sock);
    my $got = '';

    while ($select->can_read(10 * ($V ? 5 : 1))) {
        last unless sysread $sock, $got, 65536, length $got;
    }

    my $took = time - $t0;

    close $sock;

    ok($got eq '' && $took > 2 && $took < 8 * ($V ? 5 : 1),
       'a head that never ends: closed unanswered after '
       . sprintf('%.1f', $took) . ' s');
}


#### slow readers

# The large page, read through a small receive buffer from the listener
# with a small send buffer: a byte at a time, then 64 bytes at a time
# with pauses; the body is the page whole (gunzipped strictly), with the
# count this view made.

sub slow_read {
    my ($what, $gzip) = @_;

    my $sock = connect_raw($t->port(2), 2048);

    print $sock "GET /bulletin/large HTTP/1.1\r\nHost: localhost\r\n"
              . ($gzip ? "Accept-Encoding: gzip\r\n" : '')
              . "Connection: close\r\n\r\n";

    my ($buf, $reads) = ('', 0);
    my $select = IO::Select->new($sock);
    my $t0 = time;

    while ($select->can_read(10 * ($V ? 5 : 1))) {
        my $n = sysread $sock, $buf, $reads < 3000 ? 1 : 64, length $buf;
        last unless $n;
        $reads++;
        sleep 0.0003 if $reads % 4 == 0;
    }

    close $sock;

    my ($head, $body) = split /\r\n\r\n/, $buf, 2;

    $body //= '';

    if ($gzip) {
        my ($plain, $err) = Test::Bulletin::gunzip($body);
        diag "$what: gunzip: $err" unless defined $plain;
        $body = $plain // '';
    }

    my $quick = $t->http_get('/bulletin/large',
                             headers => ['Sec-Purpose' => 'prefetch']);

    ok(length($body) > 90_000 && mask($body) eq mask($quick->body // ''),
       "$what: the page whole, " . length($body) . " bytes in $reads reads, "
       . sprintf('%.1f', time - $t0) . ' s');

    $WANT{views}{large}++;
}


sub slow_readers {
    slow_read('a slow reader of the gzip page', 1);
    slow_read('a slow reader of the plain page', 0);
}


#### the legitimate traffic beside

sub beside {
    my ($r) = @_;

    traffic_ok('the legitimate traffic beside', $r);

    for my $id ($C, $D) {
        $WANT{views}{$id} += $r->{ok}{"GET $id"} // 0;
        $WANT{shares}{$id}{qq} += $r->{ok}{"POST $id qq"} // 0;
    }
}


#### strace: nothing touches the file system

sub strace_start {
    return { why => 'valgrind mode' } if $V;

    my $strace = Test::Bulletin::find_in_path('strace')
        or return { why => 'no strace (the Makefile installs it)' };

    my $log = $t->path('strace.log');
    my $err = $t->path('strace.err');
    my @workers = $t->worker_pids;
    my $pid = fork;

    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $err;
        exec($strace, '-f', '-e', 'trace=file', '-o', $log,
             map({ ('-p', $_) } @workers)) or POSIX::_exit(127);
    }

    my $deadline = time + 10;

    while (time < $deadline) {
        my $text = -e $err ? $t->read_file($err) : '';
        my $attached = () = $text =~ /Process \d+ attached/g;

        return { pid => $pid, log => $log, err => $err }
            if $attached >= @workers;

        last if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.05;
    }

    kill 'INT', $pid;
    waitpid $pid, 0;

    return { why => 'strace could not attach to the workers: '
                    . (-e $err ? $t->read_file($err) : '') };
}


sub strace_check {
    my ($s) = @_;

    SKIP: {
        skip "file system calls: $s->{why}", 2 if $s->{why};

        # the control: a static file, opened by a worker
        my $res = $t->http_get('/control.txt');

        is($res->body, "control\n", 'strace: the control file served');

        sleep 0.2;
        kill 'INT', $s->{pid};
        waitpid $s->{pid}, 0;

        my @calls = grep { /^\d+\s+[a-z_0-9]+\(/ } split /\n/,
                    $t->read_file($s->{log});
        # the control's open, and its fstat (newfstatat of the fd it got)
        my @fds = map { /control\.txt".*= (\d+)$/ ? $1 : () } @calls;
        my $fds = join '|', @fds, 'none';
        my @control = grep {
            /control\.txt/ || /^\d+\s+newfstatat\((?:$fds), "",/
        } @calls;
        my @other = grep {
            !/control\.txt/ && !/^\d+\s+newfstatat\((?:$fds), "",/
        } @calls;

        ok(@control && !@other, 'strace: no request but the control '
           . 'touched the file system (' . @control . ' calls for the '
           . 'control)')
            or diag join "\n", 'other calls:', @other[0 .. ($#other > 19
                                                           ? 19 : $#other)];
    }
}


#### the counts

sub counted {
    my $after = page_counts(status_doc($t));
    my @bad;

    for my $id (@CountersTest::IDS, 'large') {
        my $b = $before->{$id};
        my $a = $after->{$id};
        my $views = $b->{views} + ($WANT{views}{$id} // 0);

        push @bad, "$id: $a->{views} views, want $views"
            unless $a->{views} == $views;

        for my $ch (qw(wechat weibo qq link)) {
            my $n = $b->{ch}{$ch} + ($WANT{shares}{$id}{$ch} // 0);

            push @bad, "$id: $a->{ch}{$ch} $ch shares, want $n"
                unless $a->{ch}{$ch} == $n;
        }
    }

    my $excluded = $before->{_totals}{excluded} + $WANT{excluded};

    push @bad, "totals.excluded $after->{_totals}{excluded}, want $excluded"
        unless $after->{_totals}{excluded} == $excluded;

    my $views = 0;
    my $shares = 0;

    $views += $_ for values %{ $WANT{views} };
    $shares += $_ for map { values %$_ } values %{ $WANT{shares} };

    ok(!@bad, "counts: only the legitimate requests counted ($views views, "
       . "$shares shares, $WANT{excluded} excluded views)")
        or diag join "\n", @bad;
}
