#!/usr/bin/perl

# Reliability under load (issue 9): reloads, stops, binary upgrades and
# kill -9 while forked clients send page GETs (plain, gzip, HEAD) and
# share POSTs without a pause, with file= counters.
#
# 1. Reloads: the store is rebuilt (bulletin-build writes it beside and
#    renames it into place; every generation changes the text of every
#    page, and brings a new id while the last one leaves) and nginx is
#    reloaded N times (5 here, 20 with BULLETIN_SOAK=1).  Every reload
#    makes new workers, and the status names the new generation.  Zero
#    failed or wrong responses: every GET body (gunzipped strictly when
#    it is gzip) with its count digits removed is byte for byte the page
#    of the generation its X-Bulletin-Generation header names, as
#    t/tools/store-dump.c prints it from that generation's store.  The
#    counts in the status equal the successful requests, id by id and
#    channel by channel.
#
#    Clients: half use Connection: close; half keep-alive connections,
#    and send a request again only when it went on a reused connection
#    and got no byte of response back (the idle connection that an
#    exiting worker closes, which browsers retry).  A request on a new
#    connection that gets nothing, or part of a response, is a failure.
#
# 2. Restarts with file= counters, M times each (1 here, 5 in the soak),
#    under the same traffic: a graceful stop and a start, a binary
#    upgrade (USR2, then QUIT to the old master), kill -9 of every nginx
#    process then a start.  While nginx is down the clients try again;
#    a request that got nothing or part of a response is sent again and
#    counted as "in doubt".  Stop and upgrade: the counts equal the
#    successful requests exactly.  kill -9: nothing lost (counts >= the
#    successful requests) and nothing made up (counts <= successful + in
#    doubt: a worker killed between its count and its response).
#
# 3. A slow reader across a reload: the old worker finishes the page of
#    the old generation, whole, from the old mapping.
#
# What 200-counters.t covers already (one reload, one resize, one
# upgrade under traffic, kill -9 after traffic, corrupt files) is not
# repeated.  Under valgrind (one process, no master) the reloads, the
# upgrade and kill -9 are skipped: the traffic checks run on one
# generation, with a stop and a start.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::MD5 qw(md5_hex);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(sleep time);

use CountersTest qw(template);
use ReliabilityTest qw(:all);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;
Test::Bulletin::skip_all_unless(Test::Bulletin::find_in_path('cc'),
                                'no cc to build t/tools/store-dump.c');

my $V = $t->valgrind;
my $SOAK = soak();

my $RELOADS = $SOAK ? 20 : 5;
my $GAP = $SOAK ? 1.0 : 0.4;            # seconds of traffic a generation
my $RESTARTS = $SOAK ? 5 : 1;
my $PROCS = 4;

my @IDS = @CountersTest::IDS;
my @CHANNELS = qw(wechat weibo qq link);

# generation => {id => md5 of the page with its slots empty}
my %EXPECT;
my @GENS;

# totals over the whole file, for the summary
my %SUM = (requests => 0, failures => 0, lost => 0, reloads => 0,
           retries => 0, in_doubt => 0, events => 0);

template($t);
store_dump_build($t);

$t->write_file('conf/locations.conf', <<'EOF');
add_header X-Bulletin-Generation $bulletin_generation;
add_header X-Pid $pid;

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}

location = /status {
    bulletin_status;
}
EOF

$t->config(http => <<'EOF', server => <<'EOF');
bulletin_store site.blt;
bulletin_counters zone=reload:1m file=reload.cnt;

server {
    listen 127.0.0.1:%%PORT_2%% sndbuf=4k;
    server_name localhost;

    include locations.conf;
}
EOF
include locations.conf;
EOF

generation(0);
$t->run;

reloads();
slow_reader();
restarts();

diag sprintf 'summary: %d requests, %d failed, %d counts lost, %d reloads, '
             . '%d restarts, %d keep-alive retries, %d in doubt at kill -9',
             @SUM{qw(requests failures lost reloads events retries
                     in_doubt)};


#### the store, generation by generation

# The sample bulletins with a paragraph of this generation's own; a
# large page (for the slow reader); an id of this generation only.

sub generation {
    my ($k) = @_;

    my $json = JSON::PP->new->utf8;

    # the sample's bulletins; its site.json is the site file, no bulletin

    for my $file (grep { !m{/site\.json\z} }
                  glob "$CountersTest::SAMPLE/*.json") {
        open my $fh, '<:raw', $file or die "$file: $!";
        local $/;
        my $b = $json->decode(<$fh>);
        close $fh;

        push @{ $b->{blocks} }, { paragraph => "generation $k: " . 'x' x $k };
        $t->write_json("src/$b->{id}.json", $b);
    }

    srand(500);

    my @blocks = map {
        { paragraph => "$_ " . join '', map { chr(0x4e00 + int rand 0x5000) }
                                        1 .. 400 }
    } 1 .. 100;

    $t->write_json('src/large.json', {
        id => 'large', title => "large $k", published => '2020-06-01',
        blocks => [{ heading => "generation $k" }, @blocks] });

    unlink $t->path('src/extra-' . ($k - 1) . '.json');
    $t->write_json("src/extra-$k.json", {
        id => "extra-$k", title => "extra $k", published => '2020-06-01',
        blocks => [{ paragraph => "extra $k" }] });

    my ($rc, $out, $err) = $t->build_store(inputs => ['src'],
                                           template => 'count.html');

    die "bulletin-build failed: $err" if $rc;

    my ($gen, $md5) = page_digests($t, 'site.blt', @IDS, 'large');

    die "generation $k: the store's generation $gen is not new\n"
        if $EXPECT{$gen};

    $EXPECT{$gen} = $md5;
    push @GENS, $gen;

    return $gen;
}


sub traffic_plan {
    my @plan;

    for my $i (0 .. $#IDS) {
        my $id = $IDS[$i];

        push @plan, { method => 'GET', uri => "/bulletin/$id", id => $id },
                    { method => 'GET', uri => "/bulletin/$id", id => $id,
                      gzip => 1 },
                    { method => 'POST', id => $id,
                      channel => $CHANNELS[$i % 4],
                      uri => "/bulletin/$id/share?channel=$CHANNELS[$i % 4]",
                      $i % 2 ? (body => 'x' x 100) : () },
                    { method => 'GET', uri => "/bulletin/$id", id => $id,
                      gzip => 1 };

        push @plan, { method => 'HEAD', uri => "/bulletin/$id", id => $id }
            if $i == 0;
    }

    return \@plan;
}


#### checks

# Every page body is the page of the generation its header named.

sub pages_right {
    my ($what, $r) = @_;

    my (@bad, %by_gen);

    for my $key (sort keys %{ $r->{pages} }) {
        my ($gen, $id, $md5) = split /\t/, $key;
        my $n = $r->{pages}{$key};

        $by_gen{$gen} += $n;

        if (!$EXPECT{$gen}) {
            push @bad, "$n bodies of an unknown generation $gen ($id)";
        } elsif (($EXPECT{$gen}{$id} // '') ne $md5) {
            push @bad, "$n bodies of $id are not the page of generation $gen";
        }
    }

    my $bodies = 0;

    $bodies += $_ for values %by_gen;

    ok(!@bad && $bodies > 0, "$what: every one of $bodies page bodies is "
       . 'the page of its generation, byte for byte')
        or diag join "\n", @bad;

    return \%by_gen;
}


# status counts after - before == the successful requests; with a
# doubt, between them and them plus the doubt.  Returns the counts lost.

sub counted {
    my ($what, $before, $after, $r, $doubt) = @_;

    my @bad;
    my ($lost, $extra, $sent, $got) = (0, 0, 0, 0);

    unless ($before && $after) {
        fail("$what: counts (no status)");
        return 0;
    }

    for my $id (@IDS) {
        my $b = $before->{$id} // { views => 0, ch => {} };
        my $a = $after->{$id} // { views => 0, ch => {} };
        my @pairs = (['views', $a->{views} - $b->{views},
                      $r->{ok}{"GET $id"} // 0]);

        push @pairs, map {
            [$_, ($a->{ch}{$_} // 0) - ($b->{ch}{$_} // 0),
             $r->{ok}{"POST $id $_"} // 0]
        } @CHANNELS;

        for my $p (@pairs) {
            my ($kind, $n, $want) = @$p;

            $sent += $want;
            $got += $n;

            if ($n < $want) {
                $lost += $want - $n;
                push @bad, "$id $kind: $n counted, $want answered";
            } elsif ($n > $want) {
                $extra += $n - $want;
                push @bad, "$id $kind: $n counted, $want answered"
                    unless $doubt;
            }
        }
    }

    push @bad, "$extra counted beyond the $doubt requests in doubt"
        if $doubt && $extra > $doubt;

    ok(!@bad, "$what: $sent successful views and shares, $got counted"
       . ($doubt ? " ($doubt in doubt, $extra of them counted)" : ''))
        or diag join "\n", @bad;

    $SUM{lost} += $lost;

    return $lost;
}


sub summed {
    my ($r) = @_;

    $SUM{requests} += $r->{requests};
    $SUM{failures} += $r->{failures};
    $SUM{retries} += $r->{retries_reused};
}


#### 1. reloads under load

sub reloads {
    my $before = page_counts(status_doc($t));
    my $t0 = time;
    my $tr = traffic_start($t, procs => $PROCS, plan => traffic_plan(),
                           max_seconds => 600);

    sleep $GAP;

    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 3);

        my (@bad, $done);

        for my $k (1 .. $RELOADS) {
            my $gen = generation($k);
            my %old = map { $_ => 1 } $t->worker_pids;
            my @new = eval { $t->reload };

            unless (@new) {
                push @bad, "reload $k: $@";
                last;
            }

            push @bad, "reload $k: old workers left (@new)"
                if grep { $old{$_} } @new;

            my $st = status_doc($t);

            push @bad, "reload $k: the status says generation "
                . ($st ? $st->{store}{generation} : '?') . ", not $gen"
                unless $st && $st->{store}{generation} eq $gen;

            $done++;

            sleep $GAP;
        }

        $SUM{reloads} += $done // 0;

        ok(!@bad && $done == $RELOADS, "reloads: $RELOADS reloads, each "
           . 'with new workers and the new generation in the status')
            or diag join "\n", @bad;

        my $r = traffic_stop($t, $tr);
        my $took = time - $t0;

        $tr = undef;
        check_reloads($r, $before, $took);
    }

    if ($tr) {
        sleep 2;

        my $r = traffic_stop($t, $tr);

        traffic_ok('one generation', $r);
        pages_right('one generation', $r);
        counted('one generation', $before, page_counts(status_doc($t)), $r);
        summed($r);
    }
}


sub check_reloads {
    my ($r, $before, $took) = @_;

    traffic_ok('reloads', $r);
    summed($r);

    is($r->{retries_fresh} + $r->{partial}, 0,
       'reloads: no request on a new connection went unanswered');

    note sprintf 'reloads: %d requests in %.1f s (close: %d, keep-alive: '
                 . '%d), %d retried on an idle keep-alive connection that '
                 . 'an old worker closed', $r->{requests}, $took,
                 $r->{by_mode}{close} // 0, $r->{by_mode}{keepalive} // 0,
                 $r->{retries_reused};

    my $by_gen = pages_right('reloads', $r);
    my @unseen = grep { !$by_gen->{$_} } @GENS;

    # the workers of every generation served: each reload took effect
    # under traffic
    ok(!@unseen, 'reloads: each of the ' . @GENS . ' generations served '
       . 'pages (workers: ' . keys(%{ $r->{pids} }) . ')')
        or diag "never served: @unseen";

    my $after = page_counts(status_doc($t));

    counted('reloads', $before, $after, $r);

    is($after->{_totals}{views}, $before->{_totals}{views}
       + sum(map { $r->{ok}{"GET $_"} // 0 } @IDS),
       'reloads: totals.views');
}


sub sum {
    my $n = 0;

    $n += $_ for @_;

    return $n;
}


#### 3. a slow reader across a reload

sub slow_reader {
    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 5);

        my $old_gen = $GENS[-1];
        my $sock = IO::Socket::INET->new(Proto => 'tcp')
            or die "socket: $!";

        setsockopt($sock, SOL_SOCKET, SO_RCVBUF, 2048);
        $sock->connect(pack_sockaddr_in($t->port(2), inet_aton('127.0.0.1')))
            or die "connect: $!";

        print $sock "GET /bulletin/large HTTP/1.1\r\nHost: localhost\r\n"
                  . "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n";

        # a few bytes now: the response is under way in the old worker

        my $buf = '';

        sysread($sock, $buf, 1, length $buf) for 1 .. 200;

        my @old = $t->worker_pids;
        my $new_gen = generation($RELOADS + 1);
        my @new = $t->reload;

        $SUM{reloads}++;

        my $select = IO::Select->new($sock);
        my $deadline = time + 60;

        while (time < $deadline) {
            last unless $select->can_read(10);
            my $n = sysread $sock, $buf, 64, length $buf;
            last unless $n;
            sleep 0.0005;
        }

        close $sock;

        my ($head, $body) = split /\r\n\r\n/, $buf, 2;
        my ($gen) = $head =~ /^X-Bulletin-Generation: (\S+)/mi;
        my ($plain, $err) = Test::Bulletin::gunzip($body // '');

        is($gen, $old_gen, 'slow reader: the page of the old generation');
        ok(defined $plain, 'slow reader: a whole gzip body ('
           . length($body // '') . ' bytes)') or diag $err;
        is(md5_hex(mask($plain // '')), $EXPECT{$old_gen}{large},
           'slow reader: byte for byte, from the old mapping');
        ok($t->wait_gone(\@old, 10), 'slow reader: the old workers exit');
        isnt($new_gen, $old_gen, 'slow reader: a new generation meanwhile');
    }
}


#### 2. restarts under traffic

sub restarts {
    $t->stop;

    for my $m (1 .. $RESTARTS) {
        if ($V) {
            $t->run;
        } else {
            $t->run(daemon => 1);
        }

        event("stop and start $m", sub {
            $t->stop;
            $V ? $t->run : $t->run(daemon => 1);
            return 0;
        });

        SKIP: {
            $t->skip_if_valgrind('a binary upgrade needs a master', 5);

            event("binary upgrade $m", sub {
                my @old_workers = $t->worker_pids;
                my ($new, $old) = $t->upgrade;

                sleep 0.2;
                kill 'QUIT', $old;
                $t->wait_gone([$old, @old_workers], 30)
                    or die "the old master did not quit\n";
                return 0;
            });
        }

        SKIP: {
            $t->skip_if_valgrind('kill -9 under valgrind', 5);

            event("kill -9 $m", sub {
                my ($masters, $workers) = $t->nginx_processes;

                kill 'KILL', @$masters, @$workers;
                $t->wait_gone([@$masters, @$workers], 10)
                    or die "processes left after kill -9\n";
                $t->stop;
                $t->run(daemon => 1);
                return 1;
            });
        }

        $t->stop;
    }
}


# Traffic, then $change (returns 1 when requests may be in doubt), then
# more traffic; the counts against the answers.

sub event {
    my ($what, $change) = @_;

    my $before = page_counts(status_doc($t));
    my %old = map { $_ => 1 } $t->worker_pids;
    my $tr = traffic_start($t, procs => $PROCS, plan => traffic_plan(),
                           restart => 1, max_seconds => 300);

    sleep $V ? 2 : $GAP;

    my $doubt = eval { $change->() };

    unless (defined $doubt) {
        fail("$what: $@");
        traffic_stop($t, $tr);
        $t->stop;
        $V ? $t->run : $t->run(daemon => 1);
        return;
    }

    my %new = map { $_ => 1 } $t->worker_pids;

    sleep $V ? 2 : $GAP;

    my $r = traffic_stop($t, $tr);

    $SUM{events}++;
    summed($r);
    $SUM{in_doubt} += $r->{in_doubt} if $doubt;

    traffic_ok($what, $r);
    pages_right($what, $r);

    my @before = grep { $old{$_} } keys %{ $r->{pids} };
    my @after = grep { $new{$_} } keys %{ $r->{pids} };

    ok(@before && @after, "$what: the traffic spanned it (old workers "
       . "@before, new @after)");

    is($r->{partial}, 0, "$what: no partial response")
        unless $doubt;

    note sprintf '%s: %d requests, %d connections refused, %d retried, '
                 . '%d in doubt', $what, $r->{requests},
                 $r->{connect_retries},
                 $r->{retries_reused} + $r->{retries_fresh}, $r->{in_doubt};

    counted($what, $before, page_counts(status_doc($t)), $r,
            $doubt ? $r->{in_doubt} : 0);
}
