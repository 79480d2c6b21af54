#!/usr/bin/perl

# A fleet on one machine (issue 15): three nginx nodes, each counting its
# own views in its own counters file, a bulletin-sync beside each
# (--interval 200), one Redis.  Traffic (views, gzip views, shares on
# every channel, same-origin) is spread over the nodes, and after each
# fault, once quiet (at most 15 s), every node shows exactly the sum of
# what was sent to all nodes: in its status (each page's "fleet" counts
# and the fleet totals), in the page bodies, and in $bulletin_views and
# the page a counted GET gets (one more view); the sum of the nodes' own
# counts is what was sent.  All along, what a reader of each node sees
# (page bodies, the status's fleet counts) never goes down.
#
#  1. baseline: exact everywhere; the status's fleet object (node, redis,
#     pid, interval, nodes, times) and Prometheus's fleet lines.
#  1b. a second sidecar on a node's file, while the first runs, or under
#     another name (which would count the file twice): refused, naming
#     the file, and nothing changes.
#  2. kill -9 of a sidecar mid-traffic, then a new one.
#  3. Redis restarted empty (no persistence) mid-traffic: the sidecars
#     publish again.
#  4. Redis unreachable for 3 s, twice, traffic going on: the nodes serve
#     and count, the status shows fleet.errors growing and fleet.error;
#     Redis back with its dump, then back empty.
#  5. an nginx node stopped and started, another kill -9'd (master and
#     workers) and started, with traffic on the others meanwhile.
#  6. a fourth node (new counters file): it shows the fleet's sums, and
#     its own views count in the others'.
#  7. a node without a sidecar: as before the fleet (fleet null, own
#     counts everywhere, no bulletin_fleet_ metric).
#  8. Redis with requirepass: sidecars with --password-file (0600) sync;
#     a wrong password is an error in fleet.error, nginx serving on.
#  9. a real Prometheus scraping the nodes' status: sum of
#     bulletin_views_total is the views sent, one store generation;
#     promtool check metrics passes on each node's text.
#
# Self-check: BULLETIN_FLEET_NO_SYNC=1 starts no sidecar (and needs no
# build/bulletin-sync); the exactness checks must then fail.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;
use Test::Bulletin::Fleet;
use Time::HiRes qw(time);

use CountersTest qw(shown);


my $NO_SYNC = $ENV{BULLETIN_FLEET_NO_SYNC} ? 1 : 0;
my $f = Test::Bulletin::Fleet->new(sync => !$NO_SYNC);

diag 'BULLETIN_FLEET_NO_SYNC: no sidecar; the exactness checks must fail'
    if $NO_SYNC;

my @IDS = @Test::Bulletin::Fleet::IDS;
my @CHANNELS = @Test::Bulletin::Fleet::CHANNELS;
my $QUIET = 15;                         # seconds, a wait for exactness
my $T0 = time;

my $r = $f->redis_start;
my @fleet = map { $f->node_start(name => "n$_", redis => $r) } 1 .. 3;

subtest 'baseline' => \&baseline;
subtest 'one sidecar a file, one name' => \&one_claim;
subtest 'kill -9 of a sidecar mid-traffic' => \&sidecar_killed;
subtest 'Redis restarted empty' => \&redis_restarted;
subtest 'Redis unreachable' => \&redis_unreachable;
subtest 'nginx stopped, nginx killed' => \&nginx_restarts;
subtest 'a node added' => \&node_added;
subtest 'a node without a sidecar' => \&no_sidecar;
subtest 'Redis with a password' => \&password;
subtest 'Prometheus' => \&prometheus;

diag sprintf 'fleet: %.1f s; sidecars restarted after exit 75: %d',
             time - $T0, $f->restarts;


#### the checks

# traffic's answers: no error, only 200 and 204, and some of each

sub served {
    my ($what, $res) = @_;

    is_deeply($res->{errors}, [], "$what: every request answered")
        or diag explain $res->{errors};
    is_deeply([sort keys %{ $res->{status} }], [200, 204],
              "$what: 200s and 204s only ($res->{views} views, "
              . "$res->{shares} shares)")
        or diag explain $res->{status};
}


# After a fault, once quiet: every node of @nodes (default: the fleet's
# running nodes) shows exactly the expected counts, and nothing went down.

sub exact {
    my ($what, @nodes) = @_;

    # the fleet's nodes, running or not (their counts are in their files)
    my @members = @nodes ? @nodes : grep { !$_->{removed} } @fleet;

    @nodes = grep { $_->{up} } @fleet unless @nodes;

    my $t0 = time;
    my $ok = $f->wait_until(sub { $f->all_exact(@nodes) }, $QUIET);

    ok($ok, sprintf '%s: every node exact (%s) within %d s (%.1f s)',
       $what, join(',', map { $_->{name} } @nodes), $QUIET, time - $t0);

    my $want = $f->want;

    for my $n (@nodes) {
        my $st = $f->status($n);

        is_deeply($f->got($st), $want,
                  "$what: $n->{name}: the status's fleet counts, each page "
                  . 'and the totals');

        # the page bodies: a prefetch counts nothing, a plain and a gzip one
        my (%shown, %shown_gz, %expect);

        for my $id (@IDS) {
            my $w = $want->{pages}{$id};

            $expect{$id} = { views => $w->{views}, shares => $w->{shares},
                             ch => $w->{shares_by_channel} };

            for ([\%shown, 0], [\%shown_gz, 1]) {
                my ($into, $gz) = @$_;
                my $p = shown($n->{t}, "/bulletin/$id", gzip => $gz);

                $into->{$id} = { views => $p->{views},
                                 shares => $p->{shares}, ch => $p->{ch} };
            }
        }

        is_deeply(\%shown, \%expect, "$what: $n->{name}: the pages show them");
        is_deeply(\%shown_gz, \%expect,
                  "$what: $n->{name}: the gzip pages show them");
    }

    # the accounting: the nodes' own counts add up to what was sent

    my $sum = $f->local_sum(@members);
    my %want_local = map {
        $_ => { views => $want->{pages}{$_}{views},
                shares => $want->{pages}{$_}{shares},
                ch => $want->{pages}{$_}{shares_by_channel} }
    } @IDS;

    is_deeply($sum, \%want_local,
              "$what: the nodes' own counts add up to what was sent");

    # a counted GET on each node, each of another page: its own view on
    # top of the fleet's, in the body and in $bulletin_views

    for my $i (0 .. $#nodes) {
        my $n = $nodes[$i];
        my $id = $IDS[$i % @IDS];
        my $e = $f->expected->{$id};
        my ($views, $shares) = ($e->{views} + 1, $e->{shares});
        my $res = $f->view($n, $id);
        my ($body) = ($res->body // '') =~ m{<b id="views">(\d+)</b>};

        is($body, $views, "$what: $n->{name}: a view of $id shows $views");
        is($res->header('X-Views'), $views,
           "$what: $n->{name}: \$bulletin_views $views");
        is($res->header('X-Shares'), $shares,
           "$what: $n->{name}: \$bulletin_shares $shares");
    }

    steady($what);
}


# nothing went down; no sidecar died

sub steady {
    my ($what) = @_;

    $f->watch;

    my @down = $f->decreases;

    is_deeply(\@down, [], "$what: no count a reader sees went down")
        or diag join "\n", @down[0 .. ($#down > 20 ? 20 : $#down)];

    my @exits = $f->sidecar_exits;

    is_deeply(\@exits, [], "$what: no sidecar died") or diag @exits;
}


sub fleet_of {
    my ($n) = @_;

    my $st = $f->status($n) or return {};

    return $st->{fleet} // {};
}


#### 1

sub one_claim {
    SKIP: {
        skip 'BULLETIN_FLEET_NO_SYNC: no sidecar', 6 if $NO_SYNC;

        my $n = $fleet[0];
        my $file = $n->{t}->path('c.cnt');

        my $second = $f->sync_command($n);
        my ($status, $out) = $n->{t}->capture([@$second, '--once'], 1, 30);

        is($status, 1, 'a second sidecar while the first runs: refused');
        like($out, qr/counters file "\Q$file\E": another bulletin-sync/,
             'it says why, naming the file');

        # the first stopped: another name is refused all the same

        $f->sync_stop($n);

        my $other = $f->sync_command($n);
        $_ eq $n->{name} and $_ = 'renamed' for @$other;

        ($status, $out) = $n->{t}->capture([@$other, '--once'], 1, 30);

        is($status, 1, 'another node name on the file: refused');
        like($out, qr/is synced as node "\Q$n->{name}\E", not "renamed"/,
             'it says why');

        # under its own name it syncs, at once

        ($status, $out) = $n->{t}->capture([@$second, '--once'], 1, 30);

        is($status, 0, 'its own name: one tick syncs') or diag $out;

        $f->sync_start($n);
        exact('one sidecar a file');
    }
}


sub baseline {
    my $load = $f->traffic_start(\@fleet, seconds => 1.5);

    $f->pause(1.5);
    served('baseline', $f->traffic_finish($load));
    exact('baseline');

    my $iso = qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;

    for my $n (@fleet) {
        my $st = $f->status($n);
        my $fl = $st->{fleet} // {};
        my $name = $n->{name};

        is($fl->{node}, $name, "fleet: $name: node");
        is($fl->{redis}, "127.0.0.1:$r->{port}/0", "fleet: $name: redis");
        is($fl->{pid}, $n->{sync}, "fleet: $name: the sidecar's pid");
        is($fl->{interval_ms}, 200, "fleet: $name: interval_ms");
        is($fl->{nodes}, 3, "fleet: $name: 3 nodes");
        is($fl->{nodes_live}, 3, "fleet: $name: 3 live");
        ok(($fl->{syncs} // 0) > 0, "fleet: $name: syncs");
        is($fl->{errors}, 0, "fleet: $name: no error");
        ok(!defined $fl->{error}, "fleet: $name: error null");
        like($fl->{$_} // '', $iso, "fleet: $name: $_") for qw(started tick
                                                              synced);
        ok(!defined $fl->{lag_ms}
           || ($fl->{lag_ms} >= 0 && $fl->{lag_ms} < 10_000),
           "fleet: $name: lag_ms null (none new) or under 10 s");

        my $prom = $f->prometheus_text($n) // '';

        like($prom, qr/^bulletin_fleet_info\{node="$name",redis="127\.0\.0\.1:$r->{port}\/0"\} 1$/m,
             "Prometheus: $name: bulletin_fleet_info");
        like($prom, qr/^bulletin_fleet_nodes 3$/m,
             "Prometheus: $name: bulletin_fleet_nodes");
        like($prom, qr/^bulletin_fleet_syncs_total [1-9]\d*$/m,
             "Prometheus: $name: bulletin_fleet_syncs_total");

        my $own = 0;

        $own += $_->{views} for @{ $st->{pages} // [] };

        like($prom, qr/^bulletin_views_total $own$/m,
             "Prometheus: $name: bulletin_views_total is own ($own)");
    }

    # what the sidecars keep in Redis: under the hash tag

    my (undef, $keys) = $f->redis_cli($r, '--scan');
    my @keys = split /\n/, $keys // '';

    ok(@keys && !grep({ !/\A\{bulletin\}:/ } @keys),
       'Redis: every key under {bulletin}: (' . scalar(@keys) . ' keys)')
        or diag $keys;
}


#### 2

sub sidecar_killed {
    my $n = $fleet[1];
    my $load = $f->traffic_start(\@fleet);

    $f->pause(0.7);

    my $old = $n->{sync};
    my $status = $f->sync_kill($n);

    is($status, 128 + 9, "$n->{name}'s sidecar killed");
    $f->pause(1);
    $f->sync_start($n);
    $f->pause(0.7);
    served('sidecar killed', $f->traffic_finish($load));
    exact('sidecar killed');

    isnt(fleet_of($n)->{pid}, $old, 'the status shows the new sidecar');
    is(fleet_of($n)->{pid}, $n->{sync}, 'its pid');
}


#### 3

sub redis_restarted {
    my $load = $f->traffic_start(\@fleet);

    $f->pause(0.7);
    $f->redis_restart($r, data => 0);

    my (undef, $dbsize) = $f->redis_cli($r, 'dbsize');

    diag "Redis restarted empty: dbsize $dbsize";

    $f->pause(1.5);
    served('Redis restarted', $f->traffic_finish($load));
    exact('Redis restarted empty');

    for my $n (@fleet) {
        is(fleet_of($n)->{nodes}, 3, "$n->{name}: 3 nodes again");
    }
}


#### 4

sub redis_unreachable {
    my %errors = map { $_->{name} => fleet_of($_)->{errors} // 0 } @fleet;
    my $load = $f->traffic_start(\@fleet);

    $f->pause(0.5);

    for my $outage ([data => 1, 'back with its dump'],
                    [data => 0, 'back empty'])
    {
        my ($k, $v, $how) = @$outage;
        my $t0 = time;

        $f->redis_stop($r, how => $v ? 'save' : 'nosave');

        # the sidecars fail their ticks; the status says so

        my $seen = $f->wait_until(sub {
            !grep {
                my $fl = fleet_of($_);
                !(($fl->{errors} // 0) > $errors{ $_->{name} }
                  && defined $fl->{error});
            } @fleet;
        }, 2.5);

        ok($seen, "Redis down: every node's fleet.errors grew and "
           . 'fleet.error is set') or diag explain [map { fleet_of($_) } @fleet];

        for my $n (@fleet) {
            my $fl = fleet_of($n);

            diag "$n->{name}: errors $fl->{errors}: $fl->{error}"
                if $n == $fleet[0] && defined $fl->{error};
            $errors{ $n->{name} } = $fl->{errors} // 0;
        }

        # the nodes serve and count meanwhile

        for my $n (@fleet) {
            my $e = $f->expected->{ $IDS[3] }{views};
            my $res = $f->view($n, $IDS[3]);

            is($res->status, 200, "Redis down: $n->{name} serves");
        }

        $f->pause(3 - (time - $t0));

        File::Path::remove_tree($r->{dir}) unless $v;
        $f->redis_start(redis => $r);
        $f->pause(1);

        pass("Redis $how");
    }

    served('Redis unreachable', $f->traffic_finish($load));
    exact('Redis unreachable');
}


#### 5

sub nginx_restarts {
    my ($a, $b, $c) = @fleet;

    my $load = $f->traffic_start([$b, $c]);

    $f->pause(0.5);
    $f->node_restart($a);
    $f->pause(0.5);
    served('nginx stopped: the others', $f->traffic_finish($load));
    exact('nginx stopped and started');

    $load = $f->traffic_start([$a, $c]);
    $f->pause(0.5);

    my $killed = $f->node_kill9($b);

    ok($killed >= 2, "nginx of $b->{name} kill -9'd ($killed processes)");
    $f->pause(0.5);
    served('nginx killed: the others', $f->traffic_finish($load));
    exact('nginx kill -9 and started');
}


#### 6

sub node_added {
    my $d = $f->node_start(name => 'n4', redis => $r);

    push @fleet, $d;

    exact('a node added: it shows the fleet');

    my $load = $f->traffic_start([$d]);

    $f->pause(1);
    served('a node added', $f->traffic_finish($load));

    $load = $f->traffic_start(\@fleet);
    $f->pause(1);
    served('a node added: all', $f->traffic_finish($load));
    exact('a node added: its views count in the others');

    for my $n (@fleet) {
        is(fleet_of($n)->{nodes}, 4, "$n->{name}: 4 nodes");
    }
}


#### 7

sub no_sidecar {
    local $f->{expected} = Test::Bulletin::Fleet::zero();

    my $s = $f->node_start(name => 'solo');
    my $load = $f->traffic_start([$s], seconds => 0.5);

    $f->pause(0.5);
    served('no sidecar', $f->traffic_finish($load));

    my $st = $f->status($s);

    ok($st && exists $st->{fleet} && !defined $st->{fleet},
       'no sidecar: fleet is null');
    ok(!grep({ exists $_->{fleet} } @{ $st->{pages} // [] }),
       'no sidecar: no page has fleet');

    my $want = $f->want;
    my %own = map { $_->{id} => { views => $_->{views},
                                  shares => $_->{shares},
                                  shares_by_channel => $_->{shares_by_channel} } }
              grep { $f->expected->{ $_->{id} } } @{ $st->{pages} // [] };

    is_deeply(\%own, $want->{pages}, 'no sidecar: the status counts own');
    is_deeply($st->{totals}, { %{ $want->{totals} }, excluded => 0 },
              'no sidecar: the totals are own');

    my %shown = map {
        my $p = shown($s->{t}, "/bulletin/$_");
        $_ => { views => $p->{views}, shares => $p->{shares},
                shares_by_channel => $p->{ch} };
    } @IDS;

    is_deeply(\%shown, $want->{pages}, 'no sidecar: the pages show own');

    my $e = $f->expected->{ $IDS[0] };
    my $res = $f->view($s, $IDS[0]);

    is($res->header('X-Views'), $e->{views},
       'no sidecar: $bulletin_views own');

    unlike($f->prometheus_text($s) // 'x', qr/^bulletin_fleet_/m,
           'no sidecar: no bulletin_fleet_ metric');

    $f->node_remove($s);
    steady('no sidecar');
}


#### 8

sub password {
    local $f->{expected} = Test::Bulletin::Fleet::zero();

    my $secret = 'pw-' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 16;
    my $pr = $f->redis_start(password => $secret, persist => 1);
    my $base = $f->base;
    my $good = $base->write_file('redis.pw', "$secret\n");
    my $bad = $base->write_file('redis-wrong.pw', "not-$secret\n");

    chmod 0600, $good, $bad;

    my ($rc, $out) = $f->redis_cli({ port => $pr->{port} }, 'ping');

    unlike($out, qr/PONG/, 'Redis with requirepass: no password, no PONG');

    my @pw = map { $f->node_start(name => "p$_", redis => $pr,
                                  password_file => $good) } 1 .. 2;
    my $load = $f->traffic_start(\@pw);

    $f->pause(1);
    served('password', $f->traffic_finish($load));
    exact('password', @pw);

    my $n = $pw[1];

    $f->sync_kill($n);
    $f->sync_start($n, password_file => $bad);

    my $fl = {};
    my $seen = $f->wait_until(sub {
        $fl = fleet_of($n);
        ($fl->{pid} // 0) == $n->{sync} && defined $fl->{error};
    }, 10);

    ok($seen, 'a wrong password: fleet.error is set');
    like($fl->{error} // '', qr/WRONGPASS|NOAUTH|auth|password/i,
         'a wrong password: fleet.error says so')
        or diag explain $fl;
    ok(($fl->{errors} // 0) > 0, 'a wrong password: fleet.errors');

    my $e = $f->expected->{ $IDS[1] };
    my $views = $e->{views} + 1;
    my $res = $f->view($n, $IDS[1]);

    is($res->status, 200, 'a wrong password: nginx serves');
    is($res->header('X-Views'), $views,
       'a wrong password: and counts, as it last knew the fleet');

    $f->node_remove($_) for @pw;
    $f->redis_stop($pr);
    steady('password');
}


#### 9

sub prometheus {
    SKIP: {
        skip "no Prometheus at $Test::Bulletin::Fleet::PROMETHEUS", 1
            unless -x $Test::Bulletin::Fleet::PROMETHEUS;

        my @nodes = grep { $_->{up} } @fleet;
        my $p = $f->prometheus_start(@nodes);
        my $views = $f->want->{totals}{views};
        my $got;
        my $t0 = time;
        my $ok = $f->wait_until(sub {
            ($got) = $f->prom_query($p, 'sum(bulletin_views_total)');
            defined $got && $got == $views;
        }, 20);

        ok($ok, sprintf 'Prometheus: sum(bulletin_views_total) = %d, the '
           . 'views sent (%.1f s)', $views, time - $t0)
            or diag "got " . ($got // 'nothing');

        my ($gens) = $f->prom_query($p,
            'count(count by (generation) (bulletin_store_info))');

        is($gens, 1, 'Prometheus: one store generation');

        my ($up) = $f->prom_query($p, 'count(up == 1)');

        is($up, scalar @nodes, 'Prometheus: every node up');

        my ($nodes) = $f->prom_query($p, 'min(bulletin_fleet_nodes)');

        is($nodes, scalar @nodes, 'Prometheus: bulletin_fleet_nodes');

        for my $n (@nodes) {
            my ($rc, $out) = $f->promtool($f->prometheus_text($n) // '');

            is($rc, 0, "promtool check metrics: $n->{name}") or diag $out;
        }

        $f->prometheus_stop($p);
    }
}
