#!/usr/bin/perl

# bulletin_share (issue 5): POST ?channel=NAME counts one share on that
# channel (204); 404 for an unknown id, 400 for a missing or unknown
# channel, 405 with Allow: POST for other methods, none of them counted;
# the request body read and discarded (Content-Length and chunked, the
# keep-alive connection going on); excluded agents not counted;
# $bulletin_shares; the store's channels mapped by name into a counters
# file; exact under concurrency; the README's limit_req recipe (6 quick
# shares through, the rest 503 and not counted), keyed on an IPv6
# client's /64 however its addresses are written, behind realip; shares
# from other sites' pages (Sec-Fetch-Site, Origin, over http and https)
# 403 and not counted; an empty or absent User-Agent matched as "";
# bulletin_share without bulletin_counters refused by nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;
use Time::HiRes qw(time);

use CountersTest qw(:all);


my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my ($A, $B) = @CountersTest::IDS;
my $SHARE = "/bulletin/$A/share";

site($t, 'site.blt');
site($t, 'douyin.blt', channels => 'wechat,douyin');

my $NGINX_V = ($t->capture([$Test::Bulletin::NGINX, '-V'], 1))[1];
my $REALIP = $NGINX_V =~ /--with-http_realip_module/;
my $NO_SSL = ssl_setup();

my ($recipe_http, $recipe_location, $recipe_realip) = recipe();

config();
$t->run;

shares();
not_shares();
bodies();
excluded();
empty_agents();
origins();
https_origins();
variables();
concurrent();
limit_req();
limit_by_client();
channels_by_name();
needs_counters();


#### configuration

# The README's recipe, verbatim: what goes in http{} (the map and the
# limit_req_zone), its location, and its realip lines, with the test's
# own address for the proxies'.

sub recipe {
    my $readme = do {
        open my $fh, '<:raw', "$FindBin::Bin/../README.md"
            or die "README.md: $!";
        local $/;
        <$fh>;
    };

    # the recipe's block has its zone and its location (the complete
    # configuration, earlier, has them in two files' blocks)

    my @blocks = $readme =~ /^```nginx\n(.*?)^```/msg;
    my ($block) = grep { /^limit_req_zone /m && /^location /m } @blocks;
    my ($realip) = grep { /^real_ip_header /m } @blocks;

    ok(defined $block, 'README: the limit_req recipe is there')
        or return ('', '', '');

    my ($location) = $block =~ /^(location .*?^\})/ms;
    (my $http = $block) =~ s/^location .*?^\}\n?//ms;
    my ($zone) = $http =~ /^(limit_req_zone .*;)$/m;
    my ($key) = $http =~ /^map \$binary_remote_addr \$(\w+) \{$/m;

    like($zone // '', qr/rate=1r\/s;/, 'README: the recipe: 1r/s');
    ok(defined $key && ($zone // '') =~ /^limit_req_zone \$\Q$key\E /,
       'README: the recipe: keyed on its map of $binary_remote_addr');
    like($location // '', qr/limit_req zone=\S+ burst=5 nodelay;/,
         'README: the recipe: burst=5 nodelay');
    like($location // '', qr/bulletin_share(?: \$bulletin_id)?;/,
         'README: the recipe: bulletin_share');

    ok(defined $realip, 'README: the realip lines are there');
    $realip //= '';

    like($realip, qr/^real_ip_header X-Forwarded-For;$/m,
         'README: realip: X-Forwarded-For');
    like($realip, qr/^real_ip_recursive on;$/m, 'README: realip: recursive');

    $realip =~ s/^set_real_ip_from .*\n//mg;
    $realip = "set_real_ip_from 127.0.0.1;\n$realip";

    return ($http, $location // '', $REALIP ? $realip : '');
}


# A certificate for the https server, when nginx has TLS and openssl and
# curl are here: the reason why not, or ''

sub ssl_setup {
    return 'nginx without --with-http_ssl_module'
        unless $NGINX_V =~ /--with-http_ssl_module/;

    for my $tool (qw(openssl curl)) {
        return "no $tool" unless Test::Bulletin::find_in_path($tool);
    }

    my ($rc, $out) = $t->capture([
        'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=localhost', '-keyout', $t->path('key.pem'),
        '-out', $t->path('cert.pem')], 1);

    return $rc ? "openssl req: $out" : '';
}


sub config {
    my (%o) = @_;

    my $zone = 'bulletin_counters zone=bulletin:1m'
             . ($o{file} ? " file=$o{file}" : '') . ';';
    my $store = $o{store} // 'site.blt';
    my $https = $NO_SSL ? '' : <<'EOF';

server {
    listen 127.0.0.1:%%PORT_4%% ssl;
    server_name localhost;

    ssl_certificate %%PREFIX%%/cert.pem;
    ssl_certificate_key %%PREFIX%%/key.pem;

    location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
        bulletin_share $bulletin_id;
    }
}
EOF

    $t->config(http => <<"EOF", server => <<'EOF');
log_format shares '\$pid \$request_method \$uri \$status \$bulletin_views '
                  '\$bulletin_shares';

bulletin_store $store;
$zone
bulletin_count_exclude "bot|spider";

$recipe_http

# the recipe, on its own port
server {
    listen 127.0.0.1:%%PORT_2%%;
    server_name localhost;

    access_log logs/shares.log shares;

$recipe_realip
$recipe_location
}
$https
EOF
access_log logs/shares.log shares;

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}

location = /status {
    bulletin_status;
}

location ~ ^/strict/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
    bulletin_count_exclude "^$|bot";
}

location ~ ^/strict/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
    bulletin_count_exclude "^$|bot";
}
EOF
}


sub share {
    my ($uri, %args) = @_;

    return $t->request(method => $args{method} // 'POST', uri => $uri,
                       %args);
}


sub now {
    my ($id) = @_;

    my $st = status($t);

    return { page => counts($st, $id), totals => $st ? $st->{totals} : {} };
}


#### shares

sub shares {
    my $res = share("$SHARE?channel=wechat");

    is($res->status, 204, 'share: 204');
    is($res->body, '', 'share: no body');
    ok(!defined $res->header('Content-Type'), 'share: no Content-Type');

    my $n = now($A);

    is($n->{page}{shares}, 1, 'share: counted');
    is_deeply($n->{page}{ch}, { wechat => 1, weibo => 0, qq => 0, link => 0 },
              'share: on its channel');
    is($n->{page}{views}, 0, 'share: not a view');
    is($n->{totals}{shares}, 1, 'share: totals.shares');
    is($n->{totals}{shares_by_channel}{wechat}, 1,
       'share: totals.shares_by_channel');

    for my $ch (qw(weibo qq link qq)) {
        is(share("$SHARE?channel=$ch")->status, 204, "share: $ch: 204");
    }

    is(share("$SHARE?from=menu&channel=link&x=1")->status, 204,
       'share: channel among other arguments: 204');

    $n = now($A);

    is_deeply($n->{page}{ch}, { wechat => 1, weibo => 1, qq => 2, link => 2 },
              'share: each channel counted');
    is($n->{page}{shares}, 6, 'share: 6 shares');
    is(counts(status($t), $B)->{shares}, 0, 'share: other pages: none');

    for my $gzip (0, 1) {
        my $p = shown($t, "/bulletin/$A", gzip => $gzip);
        my $how = $gzip ? 'gzip' : 'plain';

        is($p->{shares}, 6, "share: the $how page shows 6 shares");
        is_deeply($p->{ch}, { wechat => 1, weibo => 1, qq => 2, link => 2 },
                  "share: the $how page's share bar");
    }
}


sub not_shares {
    my $before = now($A);
    my @cases = (
        ['an unknown id', '/bulletin/nope/share?channel=wechat', 404],
        ['no channel', $SHARE, 400],
        ['no channel, other arguments', "$SHARE?chan=wechat", 400],
        ['an empty channel', "$SHARE?channel=", 400],
        ['an unknown channel', "$SHARE?channel=facebook", 400],
        ['a channel in capitals', "$SHARE?channel=WECHAT", 400],
        ['a channel prefix', "$SHARE?channel=we", 400],
        ['a channel and more', "$SHARE?channel=wechatx", 400],
    );

    for my $case (@cases) {
        my ($what, $uri, $code) = @$case;

        is(share($uri)->status, $code, "$what: $code");
    }

    for my $method (qw(GET HEAD PUT DELETE OPTIONS)) {
        my $res = share("$SHARE?channel=wechat", method => $method);

        is($res->status, 405, "$method: 405");
        is($res->header_count('Allow'), 1, "$method: one Allow header");
        is($res->header('Allow'), 'POST', "$method: Allow: POST");
    }

    my $after = now($A);

    is_deeply($after->{page}, $before->{page},
              'errors and other methods: nothing counted');
    is_deeply($after->{totals}, $before->{totals},
              'errors and other methods: totals unchanged');
}


# The body is read and discarded: the keep-alive connection goes on with
# the next request, not with the body's bytes taken for one.

sub bodies {
    my $before = now($A)->{page}{ch}{weibo};
    my $c = $t->keepalive;

    my $res = $c->request(method => 'POST', uri => "$SHARE?channel=weibo",
                          body => "GET /bulletin/$B HTTP/1.1\r\n\r\n"
                                  . ('x' x 20000));

    is($res->status, 204, 'body (Content-Length): 204');

    $res = $c->request(method => 'POST', uri => "$SHARE?channel=weibo",
                       headers => ['Transfer-Encoding' => 'chunked'],
                       body => "5\r\nhello\r\n"
                               . sprintf("%x\r\n%s\r\n", 3000, 'y' x 3000)
                               . "0\r\n\r\n");

    is($res->status, 204, 'body (chunked): 204');

    $res = $c->request(method => 'POST', uri => "$SHARE?channel=weibo");

    is($res->status, 204, 'body: the connection goes on');

    # a body sent after the header, in pieces

    $c->send_raw("POST $SHARE?channel=weibo HTTP/1.1\r\nHost: localhost\r\n"
                 . "Content-Length: 10\r\n\r\nhello");
    select undef, undef, undef, 0.2;
    $c->send_raw("world");

    is($c->read_response(method => 'POST')->status, 204,
       'body in pieces: 204');

    # a share and a view pipelined behind a body

    $c->send_raw("POST $SHARE?channel=weibo HTTP/1.1\r\nHost: localhost\r\n"
                 . "Content-Length: 4\r\n\r\nbody"
                 . "GET /status?id=$A HTTP/1.1\r\nHost: localhost\r\n\r\n");

    is($c->read_response(method => 'POST')->status, 204,
       'pipelined: the share');

    my $st = $c->read_response;

    is($st->status, 200, 'pipelined: the request behind the body');
    like($st->body // '', qr/"wechat":1,"weibo":\Q@{[$before + 5]}\E,/,
         'pipelined: five shares counted, one for each request');

    $c->close;

    is(now($A)->{page}{views}, 0, 'bodies: no view counted from a body');
    is(now($B)->{page}{views}, 0, 'bodies: the GET inside a body is no '
       . 'request');
}


sub excluded {
    my $before = now($A);

    for my $ua ('GoogleBot/2.1', 'Baiduspider') {
        is(share("$SHARE?channel=qq", headers => ['User-Agent' => $ua])
             ->status, 204, "excluded \"$ua\": 204");
    }

    my $after = now($A);

    is($after->{page}{ch}{qq}, $before->{page}{ch}{qq},
       'excluded agents: shares not counted');

    is(share("$SHARE?channel=qq", headers => ['User-Agent' => 'Mozilla/5.0'])
         ->status, 204, 'a browser: 204');
    is(now($A)->{page}{ch}{qq}, $before->{page}{ch}{qq} + 1,
       'a browser: counted');
}


# An empty or absent User-Agent is the empty string to the expressions:
# "^$" excludes it, "bot" does not; each is sent twice, so that the
# second meets the worker's verdict on the first.

sub empty_agents {
    my @agents = (['an empty User-Agent', ['User-Agent' => '']],
                  ['no User-Agent', []]);

    for my $a (@agents) {
        my ($what, $headers) = @$a;
        my $before = now($A);

        for (1 .. 2) {
            is($t->http_get("/strict/$A", headers => $headers)->status, 200,
               "\"^\$|bot\", $what: 200");
            is(share("/strict/$A/share?channel=link", headers => $headers)
                 ->status, 204, "\"^\$|bot\", $what: share 204");
        }

        my $after = now($A);

        is($after->{page}{views}, $before->{page}{views},
           "\"^\$|bot\", $what: no view counted");
        is($after->{totals}{excluded}, $before->{totals}{excluded} + 2,
           "\"^\$|bot\", $what: counted as excluded");
        is($after->{page}{ch}{link}, $before->{page}{ch}{link},
           "\"^\$|bot\", $what: no share counted");

        for (1 .. 2) {
            $t->http_get("/bulletin/$A", headers => $headers);
            share("$SHARE?channel=link", headers => $headers);
        }

        my $plain = now($A);

        is($plain->{page}{views}, $after->{page}{views} + 2,
           "\"bot|spider\", $what: views counted");
        is($plain->{totals}{excluded}, $after->{totals}{excluded},
           "\"bot|spider\", $what: nothing excluded");
        is($plain->{page}{ch}{link}, $after->{page}{ch}{link} + 2,
           "\"bot|spider\", $what: shares counted");
    }

    my $before = now($A)->{page}{views};

    $t->http_get("/strict/$A", headers => ['User-Agent' => 'Mozilla/5.0']);
    is(now($A)->{page}{views}, $before + 1, '"^$|bot", a browser: a view');
}


# Shares from other sites' pages: 403, logged, not counted; this site's
# pages, and clients that say nothing of where they come from, counted.

sub origins {
    my $port = $t->port;
    my $from = $t->error_log_size;
    my $before = now($A);

    my @cases = (
        ['Sec-Fetch-Site: cross-site', 403, 'Sec-Fetch-Site' => 'cross-site'],
        ['cross-site, in capitals', 403, 'Sec-Fetch-Site' => 'Cross-Site'],
        ['cross-site with this site\'s Origin', 403,
         'Sec-Fetch-Site' => 'cross-site', Origin => 'http://localhost'],
        ['cross-site with a foreign Origin', 403,
         'Sec-Fetch-Site' => 'cross-site', Origin => 'https://evil.example'],
        ['same-site without Origin', 403, 'Sec-Fetch-Site' => 'same-site'],
        ['same-site with a sibling\'s Origin', 403,
         'Sec-Fetch-Site' => 'same-site', Origin => 'http://news.localhost'],
        ['a foreign Origin', 403, Origin => 'https://evil.example'],
        ['Origin: null', 403, Origin => 'null'],
        ['an Origin that begins as this site', 403,
         Origin => 'http://localhost.evil.example'],
        ['this host, another port', 403,
         Origin => "http://localhost:$port"],
        ['this host, https', 403, Origin => 'https://localhost'],
        ['an Origin with a path', 403, Origin => 'http://localhost/'],
        ['no scheme', 403, Origin => 'localhost'],
        ['two Origins', 403,
         Origin => 'http://localhost', Origin => 'http://evil.example'],
        ['two Sec-Fetch-Site', 403,
         'Sec-Fetch-Site' => 'same-origin', 'Sec-Fetch-Site' => 'cross-site'],
        ['HTTP/1.0, no Host, an Origin', 403, Host => undef,
         Origin => 'http://localhost'],

        ['same-origin', 204, 'Sec-Fetch-Site' => 'same-origin'],
        ['same-origin with this site\'s Origin', 204,
         'Sec-Fetch-Site' => 'same-origin', Origin => 'http://localhost'],
        ['none (typed by the reader)', 204, 'Sec-Fetch-Site' => 'none'],
        ['same-site with this site\'s Origin', 204,
         'Sec-Fetch-Site' => 'same-site', Origin => 'http://localhost'],
        ['this site\'s Origin', 204, Origin => 'http://localhost'],
        ['this site\'s Origin with its port', 204,
         Host => "localhost:$port", Origin => "http://localhost:$port"],
        ['this site\'s Origin, other capitals', 204,
         Host => 'LocalHost', Origin => 'HTTP://LOCALHOST'],
        ['an unknown Sec-Fetch-Site, this site\'s Origin', 204,
         'Sec-Fetch-Site' => 'same-planet', Origin => 'http://localhost'],
        ['neither header', 204],
        ['HTTP/1.0, no Host, no Origin', 204, Host => undef],
    );

    my %got = (204 => 0, 403 => 0);

    for my $case (@cases) {
        my ($what, $code, @headers) = @$case;
        my $res = share("$SHARE?channel=qq", headers => \@headers,
                        ($what =~ /HTTP\/1\.0/ ? (protocol => 'HTTP/1.0')
                                                : ()));

        is($res->status, $code, "$what: $code");
        $got{ $res->status // 0 }++;
    }

    my $after = now($A);

    is($after->{page}{ch}{qq}, $before->{page}{ch}{qq} + $got{204},
       "origins: the $got{204} shares from this site counted, the "
       . "$got{403} others not");
    is($after->{totals}{shares}, $before->{totals}{shares} + $got{204},
       'origins: totals.shares');

    my $log = $t->error_log_since($from);
    my @refused = $log =~ /\[info\].*bulletin share refused/g;

    is(scalar @refused, $got{403}, 'origins: each refusal logged at info');
    like($log, qr/refused: "Sec-Fetch-Site: cross-site"/,
         'origins: the log says Sec-Fetch-Site');
    like($log, qr/refused: "Origin: null" is not "http:\/\/localhost"/,
         'origins: the log says which Origin, and this site\'s');

    # views are not shares: a link from another site is a view

    is($t->http_get("/bulletin/$A", headers => ['Sec-Fetch-Site'
                                               => 'cross-site'])->status,
       200, 'a view from another site: 200');
    is(now($A)->{page}{views}, $after->{page}{views} + 1,
       'a view from another site: counted');
}


# Over https the site's Origin is https://HOST: curl, with the Host it
# sends, 127.0.0.1:PORT

sub https_origins {
    SKIP: {
        skip "https: $NO_SSL", 4 if $NO_SSL;

        my $port = $t->port(4);
        my $before = now($A)->{page}{ch}{weibo};
        my $post = sub {
            my (@headers) = @_;
            my ($rc, $out) = $t->capture([
                'curl', '-sk', '--max-time', '10', '-o', '/dev/null',
                '-w', '%{http_code}', '-X', 'POST',
                (map { ('-H', $_) } @headers),
                "https://127.0.0.1:$port$SHARE?channel=weibo"]);
            return $out;
        };

        is($post->("Origin: https://127.0.0.1:$port"), 204,
           'https: this site\'s Origin: 204');
        is($post->("Origin: http://127.0.0.1:$port"), 403,
           'https: the http Origin of this host: 403');
        is($post->('Sec-Fetch-Site: same-origin'), 204,
           'https: same-origin: 204');
        is(now($A)->{page}{ch}{weibo}, $before + 2,
           'https: the two shares counted');
    }
}


sub variables {
    my $views = now($A)->{page}{views};

    $t->http_get("/bulletin/$A");
    share("$SHARE?channel=link");

    my $n = now($A)->{page};
    my @lines = log_lines($t, 'logs/shares.log');
    my ($view, $share) = @lines[-3, -2];

    is("@$share[1 .. 5]",
       "POST $SHARE 204 " . ($views + 1) . " $n->{shares}",
       '$bulletin_views and $bulletin_shares of a share');
    is("@$view[1 .. 5]",
       "GET /bulletin/$A 200 " . ($views + 1) . ' ' . ($n->{shares} - 1),
       '$bulletin_views and $bulletin_shares of a view');

    my %errors;

    for my $l (@lines) {
        next unless $l->[2] =~ m{/share\z} && $l->[3] =~ /\A(?:4\d\d)\z/;
        $errors{"$l->[4] $l->[5]"}++;
    }

    is_deeply([keys %errors], ['- -'],
              '$bulletin_views and $bulletin_shares: "-" on 4xx');
}


sub concurrent {
    my $before = status($t);
    my @plan = map { [POST => "$SHARE?channel=$_"] } qw(wechat weibo qq link);

    push @plan, [POST => "/bulletin/$B/share?channel=qq"];

    my $r = load_run($t, procs => 4, requests => $t->valgrind ? 50 : 1000,
                     per_conn => 50, plan => \@plan);

    ok(!@{ $r->{errors} } && !$r->{failed}, 'concurrent: no error')
        or diag join "\n", @{ $r->{errors} };

    my $after = status($t);
    my (@bad, $sent);

    for my $key (sort keys %{ $r->{status} }) {
        my ($id, $ch) = $key =~ m{/bulletin/([^/]+)/share\?channel=(\w+)};
        my $ok = $r->{status}{$key}{204} // 0;

        $sent += $ok;

        push @bad, "$key: " . join(', ', map { "$_ x $r->{status}{$key}{$_}" }
                                         keys %{ $r->{status}{$key} })
            if $ok != $r->{sent}{$key};
    }

    for my $id ($A, $B) {
        for my $ch (qw(wechat weibo qq link)) {
            my $key = "POST /bulletin/$id/share?channel=$ch";
            my $want = counts($before, $id)->{ch}{$ch}
                       + ($r->{status}{$key}{204} // 0);
            my $got = counts($after, $id)->{ch}{$ch};

            push @bad, "$id $ch: $got, want $want" unless $got == $want;
        }
    }

    ok(!@bad, "concurrent: $sent shares, each counted once")
        or diag join "\n", @bad;
}


# The README's recipe: burst=5 nodelay at 1r/s lets the first share and
# five more through at once, and rejects the rest, uncounted.

sub limit_req {
    my $c = $t->keepalive(port => $t->port(2));
    my $before = now($A)->{page}{ch}{wechat};
    my %codes;
    my $start = time;

    for (1 .. 20) {
        my $res = $c->request(method => 'POST',
                              uri => "$SHARE?channel=wechat");

        $codes{ $res->status // 'none' }++;

        $c = $t->keepalive(port => $t->port(2))
            if ($res->header('Connection') // '') =~ /close/i;
    }

    my $took = time - $start;
    my $ok = $codes{204} // 0;

    # a token comes back every second: slower runs may pass more
    my $most = 6 + int($took);

    ok($ok >= 6 && $ok <= $most,
       "limit_req: $ok of 20 quick shares through (6 expected in "
       . sprintf('%.2f', $took) . ' s)');
    is(($codes{503} // 0) + $ok, 20, 'limit_req: the rest 503')
        or diag explain \%codes;
    is(now($A)->{page}{ch}{wechat}, $before + $ok,
       'limit_req: only those through are counted');

    if ($took < 1) {
        is($ok, 6, 'limit_req: exactly 6 through');
    }

    my @rejected = grep { $_->[3] eq '503' } log_lines($t, 'logs/shares.log');

    is(scalar @rejected, $codes{503} // 0, 'limit_req: the 503s logged');
    ok(!grep({ $_->[5] ne '-' } @rejected),
       'limit_req: $bulletin_shares "-" on a 503');

}


# A counters file keeps each channel by name: a store with other
# channels counts on in the same slots for the ones they share.

# The recipe keys an IPv6 client on its /64, whatever the text of its
# addresses, an IPv4 one on its address, an IPv4-mapped one as that
# IPv4: through realip (X-Forwarded-For from 127.0.0.1), the quick
# shares of many addresses of one /64 meet one limit, while the first
# shares of neighbours pass.

sub limit_by_client {
    my @cases = (
        ['2001:db8::/64',
         [qw(2001:db8::1 2001:db8::abcd:1 2001:DB8:0:0:1:: 2001:db8::1:0:0:1
             2001:0db8:0000:0000:ffff:ffff:ffff:ffff 2001:db8:0:0:0:0:0:2
             2001:db8::2:3:4:5)],
         [qw(2001:db8:0:1::1 2001:db8:1::1 2001:db9::1)]],
        ['::/64', [qw(::1 ::2:3:4:5 0:0:0:0:ffff:: ::abcd 0::0:1:0:1)],
         [qw(0:0:0:1::1 1::1 ::1:0:0:0:1)]],
        ['a /64 of newline bytes',
         [qw(a0a:a0a:a0a:a0a::a0a A0A:A0A:A0A:A0A:a0a:a0a:a0a:a0a
             0a0a:0a0a:0a0a:0a0a:ffff::a)],
         [qw(a0a:a0a:a0a:a0b::a0a a0a::a0a)]],
        ['192.0.2.7 as IPv4 and IPv4-mapped IPv6',
         [qw(192.0.2.7 ::ffff:192.0.2.7 ::FFFF:c000:207)],
         [qw(192.0.2.8 ::ffff:192.0.2.9 192.0.3.7)]],
    );

    SKIP: {
        skip 'nginx without the realip module', 3 * @cases unless $REALIP;

        for my $case (@cases) {
            my ($what, $same, $others) = @$case;
            my $c = $t->keepalive(port => $t->port(2));
            my %codes;
            my $start = time;

            for my $i (0 .. 19) {
                my $res = $c->request(method => 'POST',
                                      uri => "$SHARE?channel=link",
                                      headers => ['X-Forwarded-For'
                                                  => $same->[$i % @$same]]);

                $codes{ $res->status // 'none' }++;

                $c = $t->keepalive(port => $t->port(2))
                    if ($res->header('Connection') // '') =~ /close/i;
            }

            my $took = time - $start;
            my $ok = $codes{204} // 0;

            ok($ok >= 6 && $ok <= 6 + int($took),
               "$what: $ok of 20 quick shares through, as one client")
                or diag explain \%codes;
            is(($codes{503} // 0) + $ok, 20, "$what: the rest 503");

            my @others = map {
                $c->request(method => 'POST', uri => "$SHARE?channel=link",
                            headers => ['X-Forwarded-For' => $_])->status
                    // 'none'
            } @$others;

            is_deeply(\@others, [(204) x @others],
                      "$what: the neighbours' first shares pass");
            $c->close;
        }
    }
}


sub channels_by_name {
    $t->stop;
    config(file => 'ch.cnt');
    $t->run;

    share("$SHARE?channel=wechat") for 1 .. 2;
    share("$SHARE?channel=weibo");

    $t->stop;
    config(file => 'ch.cnt', store => 'douyin.blt');
    $t->run;

    my $st = status($t);

    is_deeply($st->{store}{channels}, ['wechat', 'douyin'],
              'channels: the new store\'s');

    is(share("$SHARE?channel=douyin")->status, 204, 'channels: douyin: 204');
    is(share("$SHARE?channel=weibo")->status, 400,
       'channels: weibo, not the store\'s: 400');
    is(share("$SHARE?channel=wechat")->status, 204, 'channels: wechat: 204');

    $st = status($t);

    is_deeply(counts($st, $A)->{ch},
              { wechat => 3, weibo => 1, qq => 0, link => 0, douyin => 1 },
              'channels: counted by name, the old ones kept');
    is($st->{totals}{shares}, 5, 'channels: totals.shares');

    my $p = shown($t, "/bulletin/$A");

    is_deeply($p->{ch}, { wechat => 3, douyin => 1 },
              'channels: the page\'s share bar');
    is($p->{shares}, 5, 'channels: the page shows every share');

    # and back: douyin's count stays in the file

    $t->stop;
    config(file => 'ch.cnt');
    $t->run;

    is(counts(status($t), $A)->{ch}{douyin}, 1,
       'channels: a channel the store dropped keeps its count');

    $t->stop;
}


sub needs_counters {
    my ($status, $out) = $t->test_config(http => <<'EOF', server => <<'EOF');
bulletin_store site.blt;
EOF
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}
EOF

    isnt($status, 0, 'bulletin_share without bulletin_counters: nginx -t '
         . 'fails');
    my $says = qr/"bulletin_counters" is not set, but "bulletin_share" in /;

    like($out, qr/$says\S+test\.conf:\d+ needs it/,
         'bulletin_share without bulletin_counters: says why and where');

    my ($line) = $out =~ /test\.conf:(\d+) needs it/;
    my @conf = split /\n/, $t->read_file('conf/test.conf');

    like($conf[($line // 1) - 1], qr/^\s*bulletin_share /,
         'bulletin_share without bulletin_counters: the line is '
         . 'bulletin_share\'s');

    ($status, $out) = $t->test_config(server => <<'EOF');
location = /share {
    bulletin_share bj-sociorg-2020-01;
}
EOF

    isnt($status, 0, 'bulletin_share without a store: nginx -t fails');
    like($out, qr/"bulletin_store" is not set/,
         'bulletin_share without a store: says so');

    # counters declared after the location: fine

    ($status, $out) = $t->test_config(http => <<'EOF');
server {
    listen 127.0.0.1:%%PORT_3%%;

    location = /share {
        bulletin_share bj-sociorg-2020-01;
    }
}

bulletin_store site.blt;
bulletin_counters zone=late:64k;
EOF

    is($status, 0, 'bulletin_counters after bulletin_share: nginx -t passes')
        or diag $out;

    $t->expect_errors(qr/"bulletin_counters" is not set/,
                      qr/"bulletin_store" is not set/);
}
