#!/usr/bin/perl

# Tests of the test harness itself (t/lib/Test/Bulletin.pm) against
# plain nginx features: its pure helpers, the data blocks below, and the
# imperative API (keep-alive, nginx -t, failed starts, reloads, stop).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Compress::Gzip qw(gzip);
use Test::More;
use Test::Bulletin qw(gunzip);


my $t = Test::Bulletin->new;

helpers();
$t->run_blocks;
responses();
keepalive();
nginx_t();
failed_start();
reload();
upgrade();
stop();
builder();


sub helpers {
    my ($plain, $err) = gunzip(gzipped("hello\n"));
    is($plain, "hello\n", 'gunzip: a valid member');

    (undef, $err) = gunzip("hello\n");
    ok(defined $err, 'gunzip: plain text is an error');

    my $bad = gzipped("hello\n");
    substr($bad, -8, 1) ^= "\x01";
    (undef, $err) = gunzip($bad);
    ok(defined $err, 'gunzip: a wrong CRC-32 is an error');

    (undef, $err) = gunzip(gzipped("hello\n") . 'x');
    like($err // '', qr/after the gzip member/, 'gunzip: trailing bytes');

    (undef, $err) = gunzip(substr gzipped("hello\n"), 0, -4);
    ok(defined $err, 'gunzip: a truncated member is an error');

    my ($body) = Test::Bulletin::HTTP::dechunk("5\r\nhello\r\n0\r\n\r\n", 0);
    is($body, 'hello', 'dechunk: body');
    is_deeply([Test::Bulletin::HTTP::dechunk("5\r\nhel", 0)], [],
              'dechunk: incomplete');
    ok(!eval { Test::Bulletin::HTTP::dechunk("zz\r\n", 0); 1 },
       'dechunk: malformed size dies');

    parsing();
}


sub gzipped {
    my ($data) = @_;

    gzip(\$data => \my $out) or die "gzip failed";

    return $out;
}


sub parsing {
    my @b = Test::Bulletin::Blocks::parse(<<'EOF');
comment before the first block
=== TEST 1: one
--- request
GET /a
--- error_code: 404
--- response_body chomp
x

=== TEST 2: two
--- ONLY
EOF

    is(scalar @b, 2, 'blocks: two blocks');
    is($b[0]{name}, 'TEST 1: one', 'blocks: name');
    is($b[0]{raw}{request}{value}, "GET /a\n", 'blocks: value');
    is($b[0]{raw}{error_code}{value}, '404', 'blocks: inline value');
    is($b[0]{raw}{response_body}{value}, "x\n",
       'blocks: trailing blank lines dropped');
    is_deeply($b[0]{raw}{response_body}{mods}, ['chomp'], 'blocks: mods');
    ok($b[1]{raw}{ONLY}, 'blocks: flag section');

    ok(!eval { Test::Bulletin::Blocks::parse("=== T\n--- reqest\n"); 1 },
       'blocks: an unknown section is an error');
    like($@, qr/unknown section "reqest"/, 'blocks: error names it');
}


# The response object: duplicate headers are seen, counted, and fail a
# response_headers line.

sub responses {
    $t->stop->config(server => <<'EOF')->run;
location / {
    add_header X-Dup a;
    add_header X-Dup b;
    add_header X-One one;
    return 200 "dup\n";
}
EOF

    my $res = $t->http_get('/');

    is($res->status, 200, 'response: status');
    is($res->header_count('x-dup'), 2, 'response: duplicate counted');
    is_deeply([$res->header_values('X-DUP')], ['a', 'b'],
              'response: all values, in order');
    is(scalar $res->header('x-one'), 'one', 'response: header()');
    like($res->raw, qr/\AHTTP\/1\.1 200 OK\r\n/, 'response: raw');

    my ($ok, $why) = Test::Bulletin::Blocks::header_check($res, 'X-Dup: a');
    ok(!$ok, 'response_headers: a duplicate fails "Name: value"');
    like($why // '', qr/appears 2 times/, 'response_headers: says why');
    ok(!(Test::Bulletin::Blocks::header_check($res, '!X-One'))[0],
       'response_headers: "!Name" fails when present');
    ok((Test::Bulletin::Blocks::header_check($res, 'x-one: one'))[0],
       'response_headers: names are case-insensitive');
}


sub keepalive {
    my $c = $t->keepalive;

    my $r1 = $c->request(uri => '/');
    my $r2 = $c->request(method => 'HEAD', uri => '/');
    my $r3 = $c->request(uri => '/', headers => [Connection => 'close']);

    is($r1->body, "dup\n", 'keepalive: first response');
    is($r2->status, 200, 'keepalive: HEAD on the same connection');
    is($r2->body, '', 'keepalive: HEAD has no body');
    is($r3->body, "dup\n", 'keepalive: third response');
    ok($c->closed_by_peer(5), 'keepalive: closed after Connection: close');
}


sub nginx_t {
    my ($status, $out) = $t->test_config;

    is($status, 0, 'nginx -t: passes');
    like($out, qr/test is successful/, 'nginx -t: output');

    ($status, $out) = $t->test_config(server => 'bulletin_nonsense;');

    isnt($status, 0, 'nginx -t: refuses an unknown directive');
    like($out, qr/unknown directive "bulletin_nonsense"/,
         'nginx -t: names it');

    $t->expect_errors(qr/unknown directive "bulletin_nonsense"/);
}


sub failed_start {
    $t->stop->config(server => 'bulletin_bad_start;');

    ok(!eval { $t->run; 1 }, 'run: dies when nginx does not start');
    like($@, qr/unknown directive "bulletin_bad_start"/,
         'run: the error log says why');
    ok(!$t->running, 'run: not running after a failed start');

    $t->expect_errors(qr/unknown directive "bulletin_bad_start"/);
}


sub reload {
    $t->config(server => 'location / { return 200 "one\n"; }')->run;

    my @old = $t->worker_pids;
    my $master = $t->master_pid;

    is($t->http_get('/')->body, "one\n", 'reload: first configuration');

    SKIP: {
        $t->skip_if_valgrind('reload needs a master process', 7);

        is(scalar @old, 2, 'reload: two workers');

        $t->config(server => 'location / { return 200 "two\n"; }');

        my @new = $t->reload;
        my %old = map { $_ => 1 } @old;

        is(scalar @new, 2, 'reload: two new workers');
        ok(!grep({ $old{$_} } @new), 'reload: every worker is new');
        is($t->master_pid, $master, 'reload: same master');
        is($t->http_get('/')->body, "two\n", 'reload: new response');

        $t->config(server => 'bulletin_bad_reload;');

        like($t->reload_refused, qr/unknown directive "bulletin_bad_reload"/,
             'reload_refused: the refusal');
        is($t->http_get('/')->body, "two\n",
           'reload_refused: previous configuration still serves');
    }
}


sub upgrade {
    SKIP: {
        $t->skip_if_valgrind('a binary upgrade needs a master process', 4);

        $t->stop->config(server => 'location / { return 200 "up\n"; }')
          ->run(daemon => 1);

        my @old_workers = $t->worker_pids;
        my ($new, $old) = $t->upgrade;

        isnt($new, $old, 'upgrade: a new master');
        is(scalar(my @w = $t->worker_pids), 2, 'upgrade: its two workers');

        kill 'QUIT', $old;

        ok($t->wait_gone([$old, @old_workers], 10),
           'upgrade: the old master quits');
        is($t->http_get('/')->body, "up\n", 'upgrade: the new master serves');
    }
}


sub stop {
    my @pids = ($t->master_pid, $t->worker_pids);

    $t->stop;

    ok(!$t->running, 'stop: not running');
    ok(!grep({ -e "/proc/$_" } @pids), 'stop: master and workers gone');
}


# The builder is run with the prefix's paths, or reported missing.

sub builder {
    if (!-x $Test::Bulletin::BUILDER) {
        ok(!eval { $t->build_store(inputs => ['none.json']); 1 },
           'build_store: dies without a builder');
        like($@, qr/no builder at/, 'build_store: says so');
        return;
    }

    my ($status, $out, $err) = $t->build_store(inputs => ['none.json']);

    isnt($status, 0, 'build_store: a missing input fails');
    like($err, qr/none\.json/, 'build_store: stderr names the input');
}


__DATA__

=== TEST 1: return 200 with a body
--- config
location = /hello {
    return 200 "hello, world\n";
}
--- request
GET /hello
--- response_headers
Content-Type: text/plain
Content-Length: 13
!Content-Encoding
--- response_body
hello, world
--- no_error_log
[error]

=== TEST 2: a custom header with add_header
--- config
location = /hello {
    add_header X-Bulletin "yes";
    return 200 "hello, world\n";
}
--- request
GET /hello
--- response_headers
X-Bulletin: yes
--- response_headers_like
Server: ^nginx
Date: GMT$

=== TEST 3: HEAD has the headers and no body
--- config
location = /hello {
    add_header X-Bulletin "yes";
    return 200 "hello, world\n";
}
--- request
HEAD /hello
--- response_headers
Content-Length: 13
X-Bulletin: yes
--- response_body chomp

=== TEST 4: a 404, logged
--- config
location / {
}
--- request
GET /no-such-page
--- error_code: 404
--- error_log
/open\(\) ".*\/html\/no-such-page" failed \(2: No such file/
--- no_error_log
[alert]

=== TEST 5: gzip on, a long body, gunzipped
--- http_config
gzip on;
gzip_types text/plain;
--- config
location / {
}
--- init
$t->write_file('html/long.txt', join '', map { "line $_\n" } 1 .. 2000);
--- request
GET /long.txt
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
Transfer-Encoding: chunked
!Content-Length
--- response_body_gunzip
--- response_body eval
join '', map { "line $_\n" } 1 .. 2000

=== TEST 6: an unknown directive is refused, and named
--- config
location / {
    bulletin_no_such_directive on;
}
--- must_die
--- error_log
unknown directive "bulletin_no_such_directive"
/in \S+\/conf\/test\.conf:\d+/

=== TEST 7: POST with a body, arguments and more headers
--- config
location /x/ {
    return 200 "$request_method $arg_channel $content_length $http_x_custom\n";
}
--- request
POST /x/share?channel=qq
--- request_body: abc
--- more_headers
X-Custom: value
--- response_body
POST qq 3 value

=== TEST 8: a raw HTTP/1.0 request
--- config
location /x/ {
    return 200 "$request_method $arg_channel $content_length $http_x_custom\n";
}
--- raw_request eval
"GET /x/a?channel=raw HTTP/1.0\r\nX-Custom: r\r\n\r\n"
--- response_body
GET raw  r

=== TEST 9: a connection closed without a response
--- config
location / {
    return 444;
}
--- request
GET /
--- error_code:

=== TEST 10: a skipped block
--- skip: shows that skip works
--- request
GET /
