#!/usr/bin/perl

# What nginx makes of what bulletin-sync leaves in the counters file
# (issue 15), without Redis or a sidecar: the file is written here as a
# sidecar would, and as a hostile or broken one could.
#
# 1. No sidecar: the status's "fleet" is null, pages have no "fleet",
#    Prometheus has no bulletin_fleet_ line, and what pages show is this
#    node's count: as before the fleet.
# 2. Fleet counts in a slot: the page (plain and gzip), $bulletin_views,
#    $bulletin_shares, a share's $bulletin_views, the status's page and
#    ?id= objects and the fleet totals show own + the other nodes'; the
#    status's own counts and Prometheus's counters stay this node's.
# 3. The state block: each field as the status shows it; a hostile one
#    (strings without an end, quotes, backslashes, control and non-ASCII
#    bytes, times past 9999, a negative pid, a sequence number stuck odd)
#    still gives valid JSON and Prometheus text that promtool accepts.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP ();
use Test::More;
use Test::Bulletin;

use CountersTest qw(site status counts shown);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

my ($A, $B) = @CountersTest::IDS;
my $PROMTOOL = Test::Bulletin::find_in_path('promtool');

my $SLOT = 192;
my $SLOTS_AT = 4096;
my $FLEET_AT = 1024;

site($t, 'site.blt');

$t->config(http => "bulletin_store site.blt;\n"
                   . "bulletin_counters zone=bulletin:64k file=c.cnt;\n",
           server => <<'EOF')->run;
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
    add_header X-Views $bulletin_views always;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
    add_header X-Views $bulletin_views always;
    add_header X-Shares $bulletin_shares always;
}

location = /status {
    bulletin_status;
}
EOF

no_sidecar();
fleet_counts();
state_block();
hostile_block();


# 1

sub no_sidecar {
    $t->http_get("/bulletin/$A") for 1 .. 3;
    share($A, 'wechat');

    my $st = status($t);

    ok($st && exists $st->{fleet} && !defined $st->{fleet},
       'no sidecar: fleet is null');
    ok(!(grep { exists $_->{fleet} } @{ $st->{pages} }),
       'no sidecar: no page has fleet');
    is(counts($st, $A)->{views}, 3, 'no sidecar: own views');

    my $res = $t->http_get("/bulletin/$A");

    is($res->header('X-Views'), 4, 'no sidecar: $bulletin_views is own');
    is($res->header('X-Shares'), 1, 'no sidecar: $bulletin_shares is own');
    is(shown($t, "/bulletin/$A")->{views}, 4, 'no sidecar: the page');

    my $prom = prometheus();

    unlike($prom, qr/^bulletin_fleet_/m, 'no sidecar: no fleet metrics');
}


# 2: other nodes have 1000 views and 7 + 5 shares of A, 20 views of B

sub fleet_counts {
    put_slot($A, 1000, 7, 5);
    put_slot($B, 20, 0, 0);
    put_state(good_state());

    my $st = status($t);
    my $a = page($st, $A);

    is($a->{views}, 4, 'fleet: own views stay own');
    is($a->{shares}, 1, 'fleet: own shares stay own');
    is($a->{fleet}{views}, 1004, 'fleet: the page object adds the others');
    is($a->{fleet}{shares}, 13, 'fleet: shares too');
    is_deeply($a->{fleet}{shares_by_channel},
              { wechat => 8, weibo => 5, qq => 0, link => 0 },
              'fleet: by channel');
    is($st->{fleet}{totals}{views}, 1004 + 20, 'fleet totals: views');
    is($st->{fleet}{totals}{shares}, 13, 'fleet totals: shares');
    is($st->{totals}{views}, 4, 'totals stay own');

    my $one = $t->http_get("/status?id=$A");
    my $doc = JSON::PP->new->utf8->decode($one->body);

    is($doc->{fleet}{views}, 1004, '?id=: fleet counts');

    my $p = shown($t, "/bulletin/$A");

    is($p->{views}, 1004, 'the page shows own + fleet');
    is($p->{shares}, 13, 'the page shows shares own + fleet');
    is($p->{ch}{wechat}, 8, 'and by channel');

    $p = shown($t, "/bulletin/$A", gzip => 1);

    is($p->{views}, 1004, 'the gzip page too');
    is($p->{shares}, 13, 'the gzip page: shares');

    my $res = $t->http_get("/bulletin/$A");

    like($res->body, qr{<b id="views">1005</b>},
         'a view shows itself on top of the fleet');
    is($res->header('X-Views'), 1005, '$bulletin_views: own + fleet');
    is($res->header('X-Shares'), 13, '$bulletin_shares: own + fleet');

    $res = share($B, 'qq');

    is($res->header('X-Views'), 20, 'a share: $bulletin_views with fleet');

    my $prom = prometheus();

    like($prom, qr/^bulletin_views_total 5$/m,
         'Prometheus: bulletin_views_total stays this node\'s');
    like($prom, qr/^bulletin_page_views_total\{id="\Q$A\E"\} 5$/m,
         'Prometheus: page views stay this node\'s');
    promtool($prom, 'with a fleet');
}


# 3

sub state_block {
    my $st = status($t);
    my $f = $st->{fleet};

    is($f->{node}, 'web-2', 'state: node');
    is($f->{redis}, '10.0.0.5:6379/0', 'state: redis');
    is($f->{pid}, 4321, 'state: pid');
    is($f->{interval_ms}, 1000, 'state: interval');
    is($f->{started}, '2023-11-14T22:13:20Z', 'state: started');
    is($f->{tick}, '2023-11-14T22:13:29Z', 'state: tick');
    is($f->{synced}, '2023-11-14T22:13:28Z', 'state: synced');
    is($f->{lag_ms}, 250, 'state: lag');
    is($f->{nodes}, 3, 'state: nodes');
    is($f->{nodes_live}, 2, 'state: nodes_live');
    is($f->{syncs}, 17, 'state: syncs');
    is($f->{errors}, 2, 'state: errors');
    is($f->{error}, 'NOAUTH Authentication required.', 'state: error');
    is($f->{error_at}, '2023-11-14T22:13:25Z', 'state: error_at');

    my $prom = prometheus();
    my @want = (
        'bulletin_fleet_info{node="web-2",redis="10.0.0.5:6379/0"} 1',
        'bulletin_fleet_nodes 3',
        'bulletin_fleet_nodes_live 2',
        'bulletin_fleet_last_sync_timestamp_seconds 1700000008.999',
        'bulletin_fleet_last_tick_timestamp_seconds 1700000009.000',
        'bulletin_fleet_lag_seconds 0.250',
        'bulletin_fleet_syncs_total 17',
        'bulletin_fleet_sync_errors_total 2',
    );

    for my $line (@want) {
        like($prom, qr/^\Q$line\E$/m, "Prometheus: $line");
    }

    my %none = (%{ good_state() }, synced => 0, lag => -1, error => '');

    put_state(\%none);
    $f = status($t)->{fleet};

    ok(!defined $f->{synced}, 'never synced: null');
    ok(!defined $f->{lag_ms}, 'no lag: null');
    ok(!defined $f->{error}, 'no error: null');
    ok(!defined $f->{error_at}, 'no error: error_at null');
}


sub hostile_block {
    my %bad = (%{ good_state() },
               node => 'x' x 64,
               redis => qq{a"b\\c\n\x01\xff\xe4\xb8\xad},
               error => "\xff" x 256,
               started => -5,
               tick => 253402300800000,
               pid => -1,
               lag => -7);

    put_state(\%bad);

    my $res = $t->http_get('/status');
    my $doc = eval { JSON::PP->new->utf8->decode($res->body) };

    ok($doc, 'hostile state: the JSON is valid') or diag $@;
    is(length($doc->{fleet}{node}), 63, 'hostile: a node name ends inside');
    is($doc->{fleet}{redis}, 'a?b?c??????', 'hostile: cleaned');
    ok(!defined $doc->{fleet}{started}, 'hostile: negative time is null');
    ok(!defined $doc->{fleet}{tick}, 'hostile: year 10000 is null');
    is($doc->{fleet}{pid}, 0, 'hostile: pid');

    promtool(prometheus(), 'hostile state');

    # a sequence number stuck odd: a writer that died mid-way

    put_state(good_state(), 7);

    $doc = eval { JSON::PP->new->utf8->decode($t->http_get('/status')->body) };

    is($doc && $doc->{fleet}{node}, 'web-2', 'stuck odd: still read');
}


#### helpers

sub page {
    my ($st, $id) = @_;

    my ($p) = grep { $_->{id} eq $id } @{ $st->{pages} // [] };

    return $p // {};
}


sub share {
    my ($id, $channel) = @_;

    return $t->request(method => 'POST',
                       uri => "/bulletin/$id/share?channel=$channel",
                       headers => ['Sec-Fetch-Site' => 'same-origin']);
}


sub prometheus {
    return $t->http_get('/status?format=prometheus&top=all')->body // '';
}


sub promtool {
    my ($text, $name) = @_;

    SKIP: {
        skip 'no promtool (Debian package prometheus, installed by make)', 1
            unless $PROMTOOL;

        my $file = $t->write_file('promtool.txt', $text);
        my $out = `$PROMTOOL check metrics < $file 2>&1`;

        is($? >> 8, 0, "promtool check metrics: $name") or diag $out;
    }
}


# the slot holding id: its index, by the ids the slots hold

sub slot_of {
    my ($fh, $id) = @_;

    for my $i (0 .. 340) {
        sysseek($fh, $SLOTS_AT + $i * $SLOT + 128, 0) or last;
        sysread($fh, my $got, 64) == 64 or last;
        $got =~ s/\0+\z//;
        return $i if $got eq $id;
    }

    die "no slot holds $id";
}


# other nodes' counts of id: views, and shares of wechat and weibo

sub put_slot {
    my ($id, $views, $wechat, $weibo) = @_;

    open(my $fh, '+<:raw', $t->path('c.cnt')) or die "c.cnt: $!";

    my $at = $SLOTS_AT + slot_of($fh, $id) * $SLOT + 80;

    sysseek($fh, $at, 0) or die;
    syswrite($fh, pack('Q<Q<L<8', $views, $wechat + $weibo, $wechat, $weibo,
                       (0) x 6)) == 48 or die "write: $!";
    close $fh;
}


sub good_state {
    return {
        pid => 4321, started => 1700000000123, tick => 1700000009000,
        synced => 1700000008999, lag => 250, error_at => 1700000005000,
        syncs => 17, errors => 2, interval => 1000, nodes => 3,
        nodes_live => 2, node => 'web-2', redis => '10.0.0.5:6379/0',
        error => 'NOAUTH Authentication required.',
    };
}


# the state block at its place in the header, as bulletin_fleet.h lays
# it out: magic, seq, then the fields

sub put_state {
    my ($s, $seq) = @_;

    my $block = 'BLTFLEET'
        . pack('Q<q<q<q<q<q<q<Q<Q<L<L<L<L<', $seq // 2, $s->{pid},
               $s->{started}, $s->{tick}, $s->{synced}, $s->{lag},
               $s->{error_at}, $s->{syncs}, $s->{errors}, $s->{interval},
               $s->{nodes}, $s->{nodes_live}, 0)
        . fixed($s->{node}, 64) . fixed($s->{redis}, 128)
        . fixed($s->{error}, 256);

    open(my $fh, '+<:raw', $t->path('c.cnt')) or die "c.cnt: $!";
    sysseek($fh, $FLEET_AT, 0) or die;
    syswrite($fh, $block) == length($block) or die "write: $!";
    close $fh;
}


# bytes padded with NULs, not cut: a string may fill its field

sub fixed {
    my ($s, $n) = @_;

    return substr($s . ("\0" x $n), 0, $n);
}
