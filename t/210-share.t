#!/usr/bin/perl

# bulletin_share (issue 5): POST ?channel=NAME counts one share on that
# channel (204); 404 for an unknown id, 400 for a missing or unknown
# channel, 405 with Allow: POST for other methods, none of them counted;
# the request body read and discarded (Content-Length and chunked, the
# keep-alive connection going on); excluded agents not counted;
# $bulletin_shares; the store's channels mapped by name into a counters
# file; exact under concurrency; the README's limit_req recipe (6 quick
# shares through, the rest 503 and not counted); bulletin_share without
# bulletin_counters refused by nginx -t.

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

my ($recipe_zone, $recipe_location) = recipe();

config();
$t->run;

shares();
not_shares();
bodies();
excluded();
empty_agents();
variables();
concurrent();
limit_req();
channels_by_name();
needs_counters();


#### configuration

# The README's recipe: its limit_req_zone, and its location, verbatim.

sub recipe {
    my $readme = do {
        open my $fh, '<:raw', "$FindBin::Bin/../README.md"
            or die "README.md: $!";
        local $/;
        <$fh>;
    };

    my ($block) = $readme =~ /```nginx\n(limit_req_zone[^`]*?)```/s;

    ok(defined $block, 'README: the limit_req recipe is there')
        or return ('', '');

    my ($zone) = $block =~ /^(limit_req_zone .*;)$/m;
    my ($location) = $block =~ /^(location .*?^\})/ms;

    like($zone // '', qr/rate=1r\/s;/, 'README: the recipe: 1r/s');
    like($location // '', qr/limit_req zone=\S+ burst=5 nodelay;/,
         'README: the recipe: burst=5 nodelay');
    like($location // '', qr/bulletin_share \$bulletin_id;/,
         'README: the recipe: bulletin_share');

    return ($zone // '', $location // '');
}


sub config {
    my (%o) = @_;

    my $zone = 'bulletin_counters zone=bulletin:1m'
             . ($o{file} ? " file=$o{file}" : '') . ';';
    my $store = $o{store} // 'site.blt';

    $t->config(http => <<"EOF", server => <<'EOF');
log_format shares '\$pid \$request_method \$uri \$status \$bulletin_views '
                  '\$bulletin_shares';

bulletin_store $store;
$zone
bulletin_count_exclude "bot|spider";

$recipe_zone

# the recipe, on its own port
server {
    listen 127.0.0.1:%%PORT_2%%;
    server_name localhost;

    access_log logs/shares.log shares;

$recipe_location
}
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
