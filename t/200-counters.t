#!/usr/bin/perl

# Views counted in the counters zone (issue 5): exact under tens of
# thousands of concurrent keep-alive requests spread over both workers;
# what is not a view (HEAD, errors, 412, excluded agents, prefetches,
# subrequests); the page's count slots and $bulletin_views; with file=,
# counts kept across reloads, a resize, a stop, a binary upgrade under
# traffic and kill -9; the file never reset (corrupt files refused, nginx
# -t writes nothing); without file=, counts kept across reloads and
# copied on a resize; a zone too small for the store.
#
# Counts are read from the status JSON and from the pages themselves,
# and checked against what the forked client (t/lib/CountersTest.pm) got
# answers for.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;
use Time::HiRes qw(sleep time);

use CountersTest qw(:all);


my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my $V = $t->valgrind;

my ($A, $B, $C, $D) = @CountersTest::IDS;
my @CHANNELS = qw(wechat weibo qq link);

# requests of the exactness test: procs x per process
my ($PROCS, $PER_PROC) = $V ? (4, 500) : (8, 4000);

$t->write_file('conf/locations.conf', <<'EOF');
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}

location = /status {
    bulletin_status;
}

location = /ssi.html {
    ssi on;
}

location = /auth {
    auth_request /bulletin/bj-sociorg-2020-03;
    return 200 "auth passed\n";
}
EOF

$t->write_file('html/ssi.html',
               "before\n<!--# include virtual=\"/bulletin/$C\" -->\nafter\n");

site($t, 'site.blt');

exactness();
not_counted();
durable();
upgrade();
killed();
corrupt();
test_writes_nothing();
ids_leave();
shared_memory();
too_small();


#### configuration

# zone => 'NAME:SIZE', file => PATH (none: shared memory), store

sub conf {
    my (%o) = @_;

    my $zone = 'bulletin_counters zone=' . ($o{zone} // 'bulletin:1m')
             . ($o{file} ? " file=$o{file}" : '') . ';';
    my $store = $o{store} // 'site.blt';

    # reuseport spreads connections over the workers; with one process
    # (valgrind) the clone of the second worker would take half of them
    # and never answer
    my $reuseport = $V ? '' : ' reuseport';

    $t->config(main => $o{main} // '', http => <<"EOF", server => <<"EOF");
log_format counts '\$pid \$request_method \$uri \$status \$bulletin_views '
                  '\$bulletin_shares \$http_sec_purpose';

bulletin_store $store;
$zone
bulletin_count_exclude "bot|spider";

server {
    listen 127.0.0.1:%%PORT_2%%$reuseport;
    server_name localhost;

    access_log logs/counts.log counts;

    include locations.conf;
}
EOF
access_log logs/counts.log counts;

include locations.conf;
EOF

    return $t;
}


sub restart {
    my (%o) = @_;

    $t->stop;
    conf(%o);
    unlink $t->path('logs/counts.log');
    $t->run;
}


#### counting helpers

# what a load's answers say was counted: {id => {views, ch => {}}}

sub expected {
    my ($r) = @_;

    my %e;

    for my $key (keys %{ $r->{status} }) {
        my $st = $r->{status}{$key};

        if ($key =~ m{\AGET /bulletin/([^/?]+)\z}) {
            $e{$1}{views} += $st->{200} // 0;
            $e{$1}{views} += $st->{304} // 0;

        } elsif ($key =~ m{\APOST /bulletin/([^/]+)/share\?channel=(\w+)\z}) {
            $e{$1}{ch}{$2} += $st->{204} // 0;
        }
    }

    return \%e;
}


# every answer as planned: 200 for pages, 204 for shares

sub all_answered {
    my ($what, $r) = @_;

    my @bad;

    for my $key (sort keys %{ $r->{status} }) {
        my $want = $key =~ /\APOST/ ? 204 : 200;

        for my $code (sort keys %{ $r->{status}{$key} }) {
            push @bad, "$key: $r->{status}{$key}{$code} x $code"
                if $code != $want;
        }
    }

    push @bad, @{ $r->{errors} };
    push @bad, "$r->{failed} clients failed" if $r->{failed};

    ok(!@bad, "$what: every request answered as planned")
        or diag join "\n", @bad;
}


sub sent_total {
    my ($r) = @_;

    my $n = 0;

    $n += $_ for values %{ $r->{sent} };

    return $n;
}


# status counts now == before + what the loads made, page by page

sub counted {
    my ($what, $before, $after, @loads) = @_;

    my (%want, @bad);

    for my $r (@loads) {
        my $e = expected($r);

        for my $id (keys %$e) {
            $want{$id}{views} += $e->{$id}{views} // 0;
            $want{$id}{ch}{$_} += $e->{$id}{ch}{$_}
                for keys %{ $e->{$id}{ch} // {} };
        }
    }

    unless ($after) {
        fail("$what: counts (no status)");
        return;
    }

    my ($sent, $got) = (0, 0);

    for my $id (@CountersTest::IDS) {
        my $b = counts($before, $id) // { views => 0, ch => {} };
        my $a = counts($after, $id);

        unless ($a) {
            push @bad, "$id: not in the status";
            next;
        }

        my $views = ($b->{views} // 0) + ($want{$id}{views} // 0);

        push @bad, "$id: $a->{views} views, want $views"
            unless $a->{views} == $views;

        $sent += $want{$id}{views} // 0;
        $got += $a->{views} - ($b->{views} // 0);

        for my $ch (@CHANNELS) {
            my $n = ($b->{ch}{$ch} // 0) + ($want{$id}{ch}{$ch} // 0);

            push @bad, "$id: $a->{ch}{$ch} $ch shares, want $n"
                unless ($a->{ch}{$ch} // -1) == $n;

            $sent += $want{$id}{ch}{$ch} // 0;
            $got += ($a->{ch}{$ch} // 0) - ($b->{ch}{$ch} // 0);
        }
    }

    ok(!@bad, "$what: counted exactly ($sent sent, $got counted)")
        or diag join "\n", @bad;

    note "$what: $sent sent, $got counted";
}


sub views_of {
    my ($id) = @_;

    my $c = counts(status($t), $id);

    return $c ? $c->{views} : undef;
}


# a load in the background, of views and shares of A and B

sub traffic {
    my (%args) = @_;

    return load_start($t, procs => 4, requests => $args{requests} // 4000,
                      per_conn => 20, port => $t->port(2),
                      plan => [[GET => "/bulletin/$A"],
                               [GET => "/bulletin/$B",
                                ['Accept-Encoding' => 'gzip']],
                               [POST => "/bulletin/$A/share?channel=link"],
                               [GET => "/bulletin/$A"]]);
}


# Who served the requests logged since a byte offset of counts.log:
# {pid => requests}.

sub served_since {
    my ($from) = @_;

    my $text = substr $t->read_file('logs/counts.log'), $from;
    my %pids;

    $pids{$1}++ while $text =~ /^(\d+) /mg;

    return \%pids;
}


# The traffic went on across a change: old and new workers served it.

sub spanned {
    my ($what, $from, $old, $new) = @_;

    my $by = served_since($from);
    my @old = grep { $by->{$_} } @$old;
    my @new = grep { $by->{$_} } @$new;

    ok(@old && @new, "$what: the traffic spanned it (old workers: "
       . join(', ', map { "$_ $by->{$_}" } @old) . '; new: '
       . join(', ', map { "$_ $by->{$_}" } @new) . ')');
}


# A reload: the new workers' pids, or () after a failure, diagnosed, and
# nginx killed and started again so that the file can go on (counts
# with file= survive it).

sub reload_or_recover {
    my ($what) = @_;

    my $master = $t->master_pid;
    my @old = $t->worker_pids;
    my @new = eval { $t->reload };

    if (@new) {
        my %old = map { $_ => 1 } @old;

        ok(!grep({ $old{$_} } @new) && @new == 2,
           "$what: the reload made new workers (@old -> @new)");
        return @new;
    }

    fail("$what: the reload made new workers");
    diag brief($@) . "master $master sleeps in " . wchan($master)
        . "\n/proc/locks:\n" . locks();

    recover();

    return ();
}


# a harness error without the info lines of the error log it quotes

sub brief {
    my ($err) = @_;

    return join '', grep { !/\[info\]/ } split /^/m, $err // '';
}


sub locks {
    open my $fh, '<', '/proc/locks' or return '';
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text;
}


# kill -9 every nginx process of the prefix, start again

sub recover {
    my ($masters, $workers) = $t->nginx_processes;

    kill 'KILL', @$masters, @$workers;
    $t->wait_gone([@$masters, @$workers], 10);
    $t->stop;
    $t->run;

    diag "nginx killed and started again";
}


#### exactness

sub exactness {
    restart(file => 'exact.cnt');

    my $before = status($t);

    is(counts($before, $A)->{views}, 0, 'exactness: a new file counts 0');

    my $t0 = time;
    my $r = load_run($t, procs => $PROCS, requests => $PER_PROC,
                     per_conn => 100, port => $t->port(2),
                     plan => [[GET => "/bulletin/$A"],
                              [GET => "/bulletin/$A",
                               ['Accept-Encoding' => 'gzip']],
                              [GET => "/bulletin/$B"],
                              [POST => "/bulletin/$A/share?channel=wechat"],
                              [GET => "/bulletin/$C",
                               ['Accept-Encoding' => 'gzip']],
                              [POST => "/bulletin/$A/share?channel=weibo"],
                              [POST => "/bulletin/$B/share?channel=qq",
                               [], 'x' x 100],
                              [GET => "/bulletin/$A"]]);
    my $took = time - $t0;

    is(sent_total($r), $PROCS * $PER_PROC,
       "exactness: $PROCS clients sent " . $PROCS * $PER_PROC
       . " requests");
    all_answered('exactness', $r);
    note sprintf "exactness: %d requests in %.1f s, %d retried",
                 sent_total($r), $took, $r->{retries};

    my $after = status($t);

    counted('exactness', $before, $after, $r);

    my $e = expected($r);
    my $views = $e->{$A}{views};
    my $total = 0;

    $total += $e->{$_}{views} // 0 for keys %$e;

    is($after->{totals}{views}, $total, "exactness: totals.views $total");
    is($after->{totals}{shares_by_channel}{wechat}, $e->{$A}{ch}{wechat},
       'exactness: totals.shares_by_channel');
    is($after->{totals}{shares},
       $e->{$A}{ch}{wechat} + $e->{$A}{ch}{weibo} + $e->{$B}{ch}{qq},
       'exactness: totals.shares');
    is($after->{totals}{excluded}, 0, 'exactness: nothing excluded');

    # the page's own slots: a prefetch shows the count and makes none

    my $shares = $e->{$A}{ch}{wechat} + $e->{$A}{ch}{weibo};

    for my $gzip (0, 1) {
        my $p = shown($t, "/bulletin/$A", gzip => $gzip);
        my $how = $gzip ? 'gzip' : 'plain';

        is($p->{views}, $views, "exactness: the $how page shows $views views");
        is($p->{shares}, $shares, "exactness: the $how page shows $shares "
           . "shares");
        is_deeply($p->{ch}, { wechat => $e->{$A}{ch}{wechat},
                              weibo => $e->{$A}{ch}{weibo},
                              qq => 0, link => 0 },
                  "exactness: the $how page's share bar");
    }

    my $p = shown($t, "/bulletin/$A", headers => []);

    is($p->{views}, $views + 1, 'exactness: the next view shows '
       . ($views + 1));
    is(views_of($A), $views + 1, 'exactness: and is counted');

    # the access log: both workers served; $bulletin_views of the views
    # of A are exactly 1 .. N, each once (the atomic add's result)

    my @lines = log_lines($t, 'logs/counts.log');
    my (%pids, %seen, @bad);

    for my $l (@lines) {
        my ($pid, $method, $uri, $status, $v, $s) = @$l;

        next unless $uri eq "/bulletin/$A" && $method eq 'GET'
                    && $l->[6] eq '-';

        $pids{$pid}++;
        push @bad, "view $v logged twice" if $seen{$v}++;
    }

    my @missing = grep { !$seen{$_} } 1 .. $views + 1;

    ok(!@bad && !@missing && keys %seen == $views + 1,
       'exactness: $bulletin_views of the views of A: 1 .. ' . ($views + 1)
       . ', each once')
        or diag join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)],
                "missing: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]";

    my @shares = map { $_->[5] }
                 grep { $_->[1] eq 'POST' && $_->[2] eq "/bulletin/$A/share" }
                 @lines;
    my $max = 0;

    $max = $_ > $max ? $_ : $max for @shares;

    is(scalar @shares, $shares, 'exactness: every share of A logged');
    is($max, $shares, 'exactness: the last $bulletin_shares of A is the '
       . 'count');
    ok(!grep({ !/\A\d+\z/ } @shares), 'exactness: $bulletin_shares is a '
       . 'number on every share');

    SKIP: {
        $t->skip_if_valgrind('one process serves', 1);

        my @workers = $t->worker_pids;

        ok(@workers == 2 && !grep({ !$pids{$_} } @workers),
           'exactness: both workers served ('
           . join(', ', map { "$_: " . ($pids{$_} // 0) } sort keys %pids)
           . ')');
    }
}


#### what is not a view

sub not_counted {
    restart(zone => 'bulletin:64k');

    my $uri = "/bulletin/$B";
    my $n = views_of($B);
    my $x = status($t)->{totals}{excluded};

    my $res = $t->request(method => 'HEAD', uri => $uri);
    is($res->status, 200, 'HEAD: 200');
    is(views_of($B), $n, 'HEAD: not a view');

    my $etag = $res->header('ETag');
    my $lm = $res->header('Last-Modified');

    is($t->http_get('/bulletin/nope')->status, 404, '404: unknown id');
    is($t->http_get('/bulletin/-bad')->status, 404, '404: invalid id');
    is($t->request(method => 'POST', uri => $uri)->status, 405,
       '405: POST to a page');
    is(views_of($B), $n, '404 and 405: not views');

    is($t->http_get($uri, headers => ['If-Match' => '"nope"'])->status, 412,
       '412: If-Match "nope"');
    is(views_of($B), $n, '412 (If-Match): not a view');

    is($t->http_get($uri, headers => ['If-Unmodified-Since' =>
                                      'Mon, 01 Jan 2001 00:00:00 GMT'])
         ->status, 412, '412: If-Unmodified-Since in the past');
    is(views_of($B), $n, '412 (If-Unmodified-Since): not a view');

    for my $ua ('GoogleBot/2.1', 'Mozilla/5.0 (compatible; bingbot/2.0)',
                'a SPIDER', 'Baiduspider')
    {
        is($t->http_get($uri, headers => ['User-Agent' => $ua])->status,
           200, "excluded \"$ua\": served");
    }

    my $st = status($t);

    is(counts($st, $B)->{views}, $n, 'excluded agents: not views');
    is($st->{totals}{excluded}, $x + 4,
       'excluded agents: counted apart in totals.excluded');

    for my $h (['Sec-Purpose' => 'prefetch'],
               ['Sec-Purpose' => 'prefetch;prerender'],
               ['Purpose' => 'prefetch'],
               ['purpose' => 'Prefetch'])
    {
        my $p = shown($t, $uri, headers => $h);

        is($p->{status}, 200, "prefetch \"@$h\": served");
        is($p->{views}, $n, "prefetch \"@$h\": shows $n views");
    }

    is(views_of($B), $n, 'prefetches: not views');
    is(status($t)->{totals}{excluded}, $x + 4,
       'prefetches: not counted as excluded');

    # what is a view

    is($t->http_get($uri, headers => ['If-None-Match' => $etag])->status,
       304, '304: If-None-Match');
    is(views_of($B), $n + 1, '304 (If-None-Match): a view');

    is($t->http_get($uri, headers => ['If-Modified-Since' => $lm])->status,
       304, '304: If-Modified-Since');
    is(views_of($B), $n + 2, '304 (If-Modified-Since): a view');

    is($t->http_get($uri, headers => ['If-Match' => $etag])->status, 200,
       'If-Match with the ETag: 200');
    is(views_of($B), $n + 3, 'If-Match with the ETag: a view');

    is($t->http_get($uri, headers => ['Range' => 'bytes=0-9'])->status,
       200, 'Range: the whole 200');
    is(views_of($B), $n + 4, 'Range: a view');

    is($t->http_get($uri, headers => ['User-Agent' => 'Mozilla/5.0'])
         ->status, 200, 'a browser: 200');
    is(views_of($B), $n + 5, 'a browser: a view');

    $n += 5;

    # subrequests

    $res = $t->http_get('/ssi.html');

    my $views = views_of($C);

    SKIP: {
        skip 'ssi did not include the page', 2
            unless ($res->body // '') =~ /<b id="views">/;

        like($res->body, qr/\Abefore\n.*<b id="views">\d+<.*after\n\z/s,
             'subrequest (ssi): the page included');
        $t->http_get('/ssi.html');
        is(views_of($C), $views, 'subrequest (ssi): not a view');
    }

    is($t->http_get('/auth')->status, 200, 'subrequest (auth_request): 200');
    is(views_of($C), $views, 'subrequest (auth_request): not a view');

    # $bulletin_views and $bulletin_shares in the access log

    my @lines = grep { $_->[2] eq $uri } log_lines($t, 'logs/counts.log');
    my @want = (
        [HEAD => 200, $n - 5],
        [POST => 405, '-'],
        [GET => 412, $n - 5],
        [GET => 412, $n - 5],
        (map { [GET => 200, $n - 5] } 1 .. 4),
        (map { [GET => 200, $n - 5] } 1 .. 4),
        [GET => 304, $n - 4],
        [GET => 304, $n - 3],
        [GET => 200, $n - 2],
        [GET => 200, $n - 1],
        [GET => 200, $n],
    );

    # a 412 is an error page, for which nginx clears the modules'
    # contexts: "-" is as right as the count there

    is_deeply([map { "$_->[1] $_->[3] "
                     . ($_->[3] == 412 && $_->[4] eq '-' ? $n - 5 : $_->[4]) }
               @lines],
              [map { "@$_" } @want],
              '$bulletin_views: the count after each request');

    ok(!grep({ $_->[5] ne '0' && $_->[5] ne '-' } @lines),
       '$bulletin_shares: 0 on the views of a page never shared');

    my @none = grep { $_->[2] eq '/bulletin/nope' } log_lines($t,
                                                      'logs/counts.log');

    is(join(' ', map { "$_->[4] $_->[5]" } @none), '- -',
       '$bulletin_views and $bulletin_shares: "-" for an unknown id');
}


#### with file=: reloads, a resize, a stop

sub durable {
    restart(file => 'durable.cnt', zone => 'bulletin:64k');

    my $since = status($t)->{zone}{since};
    my @loads;

    is(-s $t->path('durable.cnt'), 65536, 'file: created with SIZE bytes');

    my $before = status($t);

    push @loads, load_run($t, procs => 4, requests => $V ? 200 : 500,
                          port => $t->port(2),
                          plan => [[GET => "/bulletin/$A"],
                                   [POST => "/bulletin/$A/share?channel=qq"],
                                   [GET => "/bulletin/$D"]]);
    all_answered('file', $loads[-1]);
    counted('file', $before, status($t), @loads);

    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 12);

        # a reload under traffic

        my @old = $t->worker_pids;
        my $from = -s $t->path('logs/counts.log');
        my $load = traffic();

        sleep 0.3;
        my @new = reload_or_recover('file: reload under traffic');

        push @loads, load_finish($t, $load);
        all_answered('file: reload under traffic', $loads[-1]);
        spanned('file: reload under traffic', $from, \@old, \@new);
        counted('file: reload under traffic', $before, status($t), @loads);

        # a bigger SIZE, under traffic

        conf(file => 'durable.cnt', zone => 'bulletin:256k');

        @old = $t->worker_pids;
        $from = -s $t->path('logs/counts.log');
        $load = traffic();

        sleep 0.3;
        @new = reload_or_recover('file: reload with a bigger SIZE');

        push @loads, load_finish($t, $load);
        all_answered('file: bigger SIZE', $loads[-1]);
        spanned('file: bigger SIZE', $from, \@old, \@new);

        my $st = status($t);

        counted('file: bigger SIZE', $before, $st, @loads);
        is($st->{zone}{size}, 262144, 'file: bigger SIZE: zone.size');
        is($st->{zone}{slots_total}, int((262144 - 4096) / 192),
           'file: bigger SIZE: slots_total');
        is(-s $t->path('durable.cnt'), 262144,
           'file: bigger SIZE: the file grew');
        is($st->{zone}{since}, $since, 'file: bigger SIZE: since kept');
    }

    # a stop and a start

    $t->stop;

    my $bytes = file_bytes($t, 'durable.cnt');

    $t->run;

    my $st = status($t);

    counted('file: stop and start', $before, $st, @loads);
    is($st->{zone}{since}, $since, 'file: stop and start: since kept');
    is($st->{zone}{slots_used}, 5, 'file: stop and start: 5 slots used');

    # the counts are in the file: the views of A in its slot

    my $views = counts($st, $A)->{views};

    is(slot_views($bytes, $A), $views, "file: A's slot holds its $views "
       . 'views');
}


# the views in the slot of an id, read from the file's bytes

sub slot_views {
    my ($bytes, $id) = @_;

    for (my $at = 4096; $at + 192 <= length $bytes; $at += 192) {
        (my $slot_id = substr $bytes, $at + 128, 64) =~ s/\0.*//s;

        return unpack 'Q<', substr $bytes, $at, 8 if $slot_id eq $id;
    }

    return undef;
}


#### a binary upgrade under traffic

sub upgrade {
    SKIP: {
        $t->skip_if_valgrind('a binary upgrade needs a master process', 7);

        $t->stop;
        conf(file => 'upgrade.cnt');
        $t->run(daemon => 1);

        my $before = status($t);
        my @old_workers = $t->worker_pids;
        my $from = -s $t->path('logs/counts.log');
        my $load = traffic();

        sleep 0.3;

        my ($new, $old) = eval { $t->upgrade };

        ok($new, 'upgrade: a new master started')
            or diag brief($@) . "the new master sleeps in "
                    . join(', ', map { "$_: " . wchan($_) }
                           upgrade_masters($t->master_pid))
                    . "\n/proc/locks:\n" . locks();

        my $extra = { status => {} };
        my @new_workers = $new ? $t->worker_pids : ();

        if ($new) {
            my $served = $t->http_get("/bulletin/$D", port => $t->port(2));

            is($served->status, 200, 'upgrade: both masters serve');
            $extra->{status}{"GET /bulletin/$D"}{ $served->status } = 1;

            kill 'QUIT', $old;

            ok($t->wait_gone([$old, @old_workers], 20),
               'upgrade: the old master and its workers quit');
        } else {
            # the old master goes on, the new one is stuck: kill it
            my @stuck = upgrade_masters($t->master_pid);

            kill 'KILL', @stuck;
            $t->wait_gone(\@stuck, 10);
            $t->expect_errors(qr/new binary process \d+ exited on signal 9/);
            fail('upgrade: both masters serve');
            fail('upgrade: the old master and its workers quit');
        }

        my $r = load_finish($t, $load);

        all_answered('upgrade', $r);
        spanned('upgrade', $from, \@old_workers, \@new_workers);

        counted('upgrade under traffic', $before, status($t), $r, $extra);

        is($t->http_get("/bulletin/$B")->status, 200,
           'upgrade: nginx serves after it');

        $t->stop;
    }
}


# masters of this prefix other than $pid (a binary upgrade's new one)

sub upgrade_masters {
    my ($pid) = @_;

    my ($masters) = $t->nginx_processes;

    return grep { $_ != $pid } @$masters;
}


#### kill -9 of master and workers

sub killed {
    SKIP: {
        $t->skip_if_valgrind('kill -9 of a process under valgrind', 4);

        $t->stop;
        conf(file => 'killed.cnt');
        $t->run;

        my $before = status($t);
        my $r = load_run($t, procs => 4, requests => 1000,
                         port => $t->port(2),
                         plan => [[GET => "/bulletin/$A"],
                                  [POST => "/bulletin/$B/share?channel=weibo"],
                                  [GET => "/bulletin/$C",
                                   ['Accept-Encoding' => 'gzip']]]);

        all_answered('kill -9', $r);
        counted('kill -9: before', $before, status($t), $r);

        my @pids = ($t->master_pid, $t->worker_pids);

        kill 'KILL', @pids;
        ok($t->wait_gone(\@pids, 10), 'kill -9: master and workers gone');

        $t->stop;
        $t->run;

        counted('kill -9 and a start: zero lost', $before, status($t), $r);

        $t->stop;
    }
}


#### the file is never reset

sub corrupt {
    my $good;

    $t->stop;
    conf(file => 'c.cnt', zone => 'bulletin:64k');
    $t->run;

    $t->http_get("/bulletin/$A") for 1 .. 3;
    is(views_of($A), 3, 'corrupt: 3 views before');

    $t->stop;

    # a file nginx started with once (one commit)

    my $once = file_bytes($t, 'c.cnt');

    # and once more: both state copies cover the five ids

    $t->run;
    $t->stop;

    $good = file_bytes($t, 'c.cnt');

    my $path = $t->path('c.cnt');
    my @cases = (
        ['cut inside the header', substr($good, 0, 2000)],
        ['cut to nothing but the header', substr($good, 0, 4096)],
        ['cut inside the used slots', substr($good, 0, 4096 + 2 * 192)],
        ['a changed header byte (created)', patch($good, 24, "\x55")],
        ['a changed state byte in both copies',
         patch(patch($good, 64 + 8, "\x07"), 216 + 8, "\x07")],
        ['a changed id', patch($good, 4096 + 128 + 3, 'Q')],
        ['another magic', patch($good, 0, 'X')],
        ['another version', patch($good, 8, pack('V', 2))],
        ['another byte order', patch($good, 12, pack('N', 0x01020304))],
        ['another slot size', patch($good, 20, pack('V', 128))],
        ['a store', $t->read_file('site.blt')],
        ['a file started once, cut inside the used slots',
         substr($once, 0, 4096 + 192)],
    );

    for my $case (@cases) {
        my ($what, $bytes) = @$case;

        $t->write_file('c.cnt', $bytes);

        my $mtime = mtime($t, 'c.cnt');
        my ($status, $out) = $t->test_config;

        isnt($status, 0, "corrupt: $what: nginx -t fails");
        like($out, qr/\Q$path\E/, "corrupt: $what: nginx -t names the file");
        ok(file_bytes($t, 'c.cnt') eq $bytes
           && mtime($t, 'c.cnt') eq $mtime,
           "corrupt: $what: nginx -t left the file as it was");

        my $from = $t->error_log_size;
        my $started = eval { $t->run; 1 };

        ok(!$started, "corrupt: $what: nginx does not start");
        like($@, qr/\Q$path\E/, "corrupt: $what: the error names the file");
        ok(file_bytes($t, 'c.cnt') eq $bytes,
           "corrupt: $what: the file is left as it was");

        if ($started) {
            is(views_of($A), 3, "corrupt: $what: started, and A lost its "
               . 'views');
            $t->stop;
        }

        $t->expect_log_range($from);
    }

    $t->expect_errors(qr/counters file "\Q$path\E" .*is refused/);

    # the good file: every count is still there

    $t->write_file('c.cnt', $good);
    $t->run;

    is(views_of($A), 3, 'corrupt: the good file still holds its counts');

    $t->stop;
}


sub patch {
    my ($bytes, $at, $with) = @_;

    substr($bytes, $at, length $with) = $with;

    return $bytes;
}


#### nginx -t writes nothing

sub test_writes_nothing {
    $t->stop;

    # no file yet: nginx -t creates none

    conf(file => 'none.cnt');

    my ($status, $out) = $t->test_config;

    is($status, 0, 'nginx -t: passes with no counters file yet')
        or diag $out;
    ok(!-e $t->path('none.cnt'), 'nginx -t: creates no counters file');

    # an existing file, a store with a new id and a bigger SIZE: nginx -t
    # appends nothing, grows nothing

    conf(file => 'nt.cnt', zone => 'bulletin:64k');
    $t->run;
    $t->http_get("/bulletin/$A");
    $t->stop;

    bulletins($t, 'more', 'new', 1);
    site($t, 'more.blt', inputs => [sample(), $t->path('more')]);

    my $bytes = file_bytes($t, 'nt.cnt');
    my $mtime = mtime($t, 'nt.cnt');

    conf(file => 'nt.cnt', zone => 'bulletin:128k', store => 'more.blt');

    ($status, $out) = $t->test_config;

    is($status, 0, 'nginx -t: passes with a new id and a bigger SIZE')
        or diag $out;
    ok(file_bytes($t, 'nt.cnt') eq $bytes, 'nginx -t: the file\'s bytes '
       . 'are unchanged');
    is(mtime($t, 'nt.cnt'), $mtime, 'nginx -t: the file\'s mtime is '
       . 'unchanged');
    is(-s $t->path('nt.cnt'), 65536, 'nginx -t: the file is not grown');

    # a start does append the new id, and keeps the counts

    $t->run;

    my $st = status($t);

    is($st->{zone}{slots_used}, 6, 'start: the new id appended');
    is(counts($st, $A)->{views}, 1, 'start: the counts kept');
    is(counts($st, 'new-1')->{views}, 0, 'start: the new id counts 0');
    is(-s $t->path('nt.cnt'), 131072, 'start: the file grown to SIZE');

    $t->stop;
}


#### ids that leave the store keep their slots

sub ids_leave {
    $t->stop;

    bulletins($t, 'other', 'other', 2);
    site($t, 'other.blt', inputs => [$t->path('other'),
                                     "$CountersTest::SAMPLE/$B.json"]);

    conf(file => 'leave.cnt');
    $t->run;

    $t->http_get("/bulletin/$A") for 1 .. 3;
    $t->http_get("/bulletin/$B");

    $t->stop;
    conf(file => 'leave.cnt', store => 'other.blt');
    $t->run;

    my $st = status($t);

    is($st->{zone}{slots_used}, 7, 'ids leave: 5 slots kept, 2 appended');
    ok(!counts($st, $A), 'ids leave: A is no page of the store');
    is($st->{totals}{views}, 4, 'ids leave: the totals count A\'s views');
    is(counts($st, $B)->{views}, 1, 'ids leave: B kept its count');

    $t->http_get("/bulletin/other-1") for 1 .. 2;
    is($t->http_get("/bulletin/$A")->status, 404, 'ids leave: A is 404');

    $t->stop;
    conf(file => 'leave.cnt');
    $t->run;

    $st = status($t);

    is(counts($st, $A)->{views}, 3, 'ids leave: A back, with its views');
    is($st->{zone}{slots_used}, 7, 'ids leave: no slot given twice');
    is($st->{totals}{views}, 6, 'ids leave: the totals count other-1');

    $t->stop;
}


#### without file=

sub shared_memory {
    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 16);

        restart(zone => 'shm:64k');

        my $r = load_run($t, procs => 4, requests => 250,
                         port => $t->port(2),
                         plan => [[GET => "/bulletin/$A"],
                                  [POST => "/bulletin/$B/share?channel=wechat"],
                                  [GET => "/bulletin/$B"]]);
        my $before = { pages => [] };
        my $st = status($t);
        my $size = $st->{zone}{size};

        all_answered('shared memory', $r);
        counted('shared memory', $before, $st, $r);
        ok(!defined $st->{zone}{file}, 'shared memory: zone.file is null');
        is($size, 65536, 'shared memory: zone.size, as configured');

        my @new = eval { $t->reload };

        ok(@new == 2, 'shared memory: reloaded') or diag $@;
        counted('shared memory: reload', $before, $st = status($t), $r);
        is($st->{zone}{size}, $size, 'shared memory: reload: same size');

        # a new SIZE: a new zone, the counts copied by id

        my $from = $t->error_log_size;

        conf(zone => 'shm:256k');
        @new = eval { $t->reload };

        ok(@new == 2, 'shared memory: reloaded with a bigger SIZE')
            or diag $@;

        $st = status($t);

        counted('shared memory: bigger SIZE', $before, $st, $r);
        is($st->{zone}{size}, 262144, 'shared memory: bigger SIZE: zone.size');
        like($t->error_log_since($from),
             qr/counters zone "shm" resized .* counts of 5 ids copied/,
             'shared memory: bigger SIZE: the copy logged');

        # and a smaller one again

        conf(zone => 'shm:48k');
        @new = eval { $t->reload };

        ok(@new == 2, 'shared memory: reloaded with a smaller SIZE')
            or diag $@;

        $st = status($t);

        counted('shared memory: smaller SIZE', $before, $st, $r);
        is($st->{zone}{size}, 49152, 'shared memory: smaller SIZE: zone.size');

        # counting goes on in the new zone

        $t->http_get("/bulletin/$A");
        is(views_of($A), expected($r)->{$A}{views} + 1,
           'shared memory: counting goes on after the resizes');

        # a stop loses them, as the README says

        $t->stop->run;

        is(views_of($A), 0, 'shared memory: a stop loses the counts');
    }
}


#### a zone too small

sub too_small {
    $t->stop;

    # 200 bulletins and their list pages (_index, _index-2, ...: 210 ids
    # at 20 a page), 4096 + 192 bytes an id

    bulletins($t, 'big', 'big', 200);
    site($t, 'big.blt', inputs => [$t->path('big')]);

    my $ids = () = store_ids($t, 'big.blt');

    is($ids, 200 + 10, 'too small: 200 bulletins and 10 list pages');

    my $need = 4096 + $ids * 192;

    for my $file ('small.cnt', undef) {
        my $how = $file ? 'file' : 'shared memory';

        conf(file => $file, zone => 'bulletin:32k', store => 'big.blt');

        my ($status, $out) = $t->test_config;

        isnt($status, 0, "too small ($how): nginx -t fails");
        like($out, qr/too small.*\b$ids slots.*at least \d+k/,
             "too small ($how): nginx -t says the size needed");

        my ($k) = $out =~ /at least (\d+)k/;

        $k //= 0;

        ok($k * 1024 >= $need && $k * 1024 < $need + 128 * 1024,
           "too small ($how): at least ${k}k holds $need bytes");

        conf(file => $file, zone => "bulletin:${k}k", store => 'big.blt');

        ($status, $out) = $t->test_config;

        is($status, 0, "too small ($how): nginx -t passes with ${k}k")
            or diag $out;

        if ($file) {
            conf(file => $file, zone => 'bulletin:' . ($k - 1) . 'k',
                 store => 'big.blt');

            ($status, $out) = $t->test_config;

            isnt($status, 0, "too small ($how): and fails with "
                 . ($k - 1) . 'k');
            ok(!-e $t->path($file), "too small ($how): no file created");
        }
    }

    $t->expect_errors(qr/is too small: the store and the ids/);

    grown_past();
}


# A zone holding ids, and a store with as many new ones as fit alone:
# refused at reload, the old configuration counting on.

sub grown_past {
    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 11);

        for my $file ('grow.cnt', undef) {
            my $how = $file ? 'file' : 'shared memory';

            restart(file => $file, zone => 'bulletin:32k');

            my $cap = status($t)->{zone}{slots_total};

            # cap - 2 bulletins and one list page (a site file's page_size
            # takes them all): fit a new zone alone

            my $dir = 'grow' . ($file ? 'f' : 's');

            bulletins($t, $dir, $dir, $cap - 2);
            $t->write_json("$dir.json", { page_size => 1000 });
            site($t, "$dir.blt", inputs => [$t->path($dir)],
                 options => ['--site', $t->path("$dir.json")]);

            is(scalar(() = store_ids($t, "$dir.blt")), $cap - 1,
               "grown past ($how): the store has @{[$cap - 1]} pages");

            conf(file => $file, zone => 'bulletin:32k', store => "$dir.blt");

            my ($status, $out) = $t->test_config;

            if ($file) {
                isnt($status, 0, "grown past ($how): nginx -t fails");
                like($out, qr/too small.*need \Q@{[$cap + 3]}\E slots/,
                     "grown past ($how): the store and the zone's ids need "
                     . ($cap + 3) . ' slots');
            } else {
                is($status, 0, "grown past ($how): nginx -t passes (a new "
                   . "zone)");
            }

            $t->http_get("/bulletin/$A");

            my $text = eval { $t->reload_refused };

            ok(defined $text, "grown past ($how): the reload is refused")
                or do {
                    diag brief($@) . 'master sleeps in '
                         . wchan($t->master_pid)
                         . "\n/proc/locks:\n" . locks();
                    conf(file => $file, zone => 'bulletin:32k');
                    recover();
                };

            like($text // '', qr/too small/,
                 "grown past ($how): the zone is too small");

            $t->http_get("/bulletin/$A");
            is(views_of($A), 2,
               "grown past ($how): the old configuration counts on");

            $t->stop;
            $t->expect_errors(qr/is too small: the store and the ids/);
        }
    }
}
