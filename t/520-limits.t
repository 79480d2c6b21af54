#!/usr/bin/perl

# Limits (issue 9).
#
# 1. Counts near 2^63 and 2^64 - 1: with nginx stopped, large values are
#    written into the slots of a counters file (src/bulletin_counters.h:
#    a 4096-byte header, 192-byte slots, views at offset 0, excluded at 8,
#    shares[8] at 16, the id at 128; the header's checksum covers the ids,
#    not the counts), then nginx starts and a view, a share and an
#    excluded view carry them across 2^63, up to 2^64 - 1, and from 19
#    digits to 20.  The page shows them (plain, and gzip: strict gunzip and
#    gzip -t), with a Content-Length that is the body's; the status shows
#    them in JSON (as exact integers: page, ?id= and totals) and in
#    Prometheus text (promtool check metrics); $bulletin_views and
#    $bulletin_shares log them.
#
# 2. A full disk: the counters file lives on a small tmpfs mounted in the
#    prefix (skipped with the reason when mounting is not permitted).
#    Its space is reserved at the start (stat: blocks * 512 >= size);
#    the file system is then filled, and views and shares go on counting
#    exactly, no worker faults (same pids, no "exited on signal").  A
#    reload that grows the zone on the full disk is refused, naming the
#    file, and the old configuration counts on; a start with too little
#    space fails, naming the file.  A file whose reserved space has holes
#    (a sparse copy of it, as cp --sparse=always, rsync -S or tar -S make):
#    a start on a full disk fails cleanly, naming the file, never of
#    SIGBUS; a start with room fills the holes, so that a reload that
#    then appends ids on a full disk writes into reserved space.
#
# A store that grows past the zone on a reload is t/200-counters.t's
# ("grown past"): not repeated here.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Math::BigInt;
use POSIX ();
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(sleep time);

use CountersTest qw(site bulletins shown log_lines store_ids);
use ReliabilityTest qw(:all);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

my $V = $t->valgrind;
my ($A, $B) = @CountersTest::IDS;
my $PROMTOOL = Test::Bulletin::find_in_path('promtool');
my $DISK = $t->path('disk');
my $MOUNTED;

sub big { Math::BigInt->new($_[0]) }

my $MAX = big(2)**64 - 1;
my $HALF = big(2)**63;
my $E19 = big(10)**19;

use constant { HEADER => 4096, SLOT => 192, VIEWS => 0, EXCLUDED => 8,
               SHARES => 16, ID => 128 };

site($t, 'site.blt');

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
EOF

big_counts();
full_disk();


#### configuration

sub conf {
    my (%o) = @_;

    my $file = $o{file} // 'limits.cnt';
    my $zone = $o{zone} // '64k';
    my $store = $o{store} // 'site.blt';

    $t->config(http => <<"EOF", server => <<'EOF');
log_format counts '\$request_method \$uri \$status \$bulletin_views '
                  '\$bulletin_shares';

bulletin_store $store;
bulletin_counters zone=limits:$zone file=$file;
bulletin_count_exclude "bot";
EOF
access_log logs/counts.log counts;

include locations.conf;
EOF
}


#### 1. big counts


# A counters file with A's slot set to %set ({views, excluded, wechat,
# weibo, qq, link}), made by nginx and written while it is stopped.

sub counters_file {
    my ($name, %set) = @_;

    $t->stop;
    unlink $t->path($name);
    conf(file => $name);
    $t->run;
    $t->stop;

    my $path = $t->path($name);
    my $bytes = $t->read_file($name);
    my $slot = slot_of($bytes, $A) // die "$name: no slot for $A\n";
    my %ch = channels($bytes);

    open my $fh, '+<:raw', $path or die "$path: $!";

    for my $what (sort keys %set) {
        my $at = $what eq 'views' ? VIEWS
               : $what eq 'excluded' ? EXCLUDED
               : SHARES + 8 * ($ch{$what} // die "no channel $what\n");

        sysseek $fh, $slot + $at, 0 or die "seek: $!";
        syswrite $fh, pack('Q<', "$set{$what}") or die "write: $!";
    }

    close $fh or die "$path: $!";

    $t->run;
}


# the offset of an id's slot
sub slot_of {
    my ($bytes, $id) = @_;

    for (my $at = HEADER; $at + SLOT <= length $bytes; $at += SLOT) {
        (my $slot_id = substr $bytes, $at + ID, 64) =~ s/\0.*//s;
        return $at if $slot_id eq $id;
    }

    return undef;
}


# {channel => index} from the newer of the header's two state copies
# (at 64 and 216: seq, used, nchannels, channels[8][16])
sub channels {
    my ($bytes) = @_;

    my ($best, $seq) = (undef, -1);

    for my $at (64, 216) {
        my ($s, undef, $n) = unpack 'Q< V V', substr $bytes, $at, 16;
        ($best, $seq) = ($at, $s) if $s > $seq && $n <= 8;
    }

    my (undef, undef, $n) = unpack 'Q< V V', substr $bytes, $best, 16;
    my %ch;

    for my $k (0 .. $n - 1) {
        (my $name = substr $bytes, $best + 16 + 16 * $k, 16) =~ s/\0.*//s;
        $ch{$name} = $k;
    }

    return %ch;
}


# What the page shows, and checks of the response itself: the
# Content-Length is the body's; gzip bodies pass a strict gunzip and
# gzip -t.

sub page {
    my ($what, %args) = @_;

    my $p = shown($t, "/bulletin/$A", %args);
    my $res = $t->http_get("/bulletin/$A",
                           headers => ['Sec-Purpose' => 'prefetch',
                                       $args{gzip}
                                       ? ('Accept-Encoding' => 'gzip') : ()]);
    my $head = index $res->raw, "\r\n\r\n";
    my $len = $res->header('Content-Length') // -1;

    ok($p->{status} == 200 && !$p->{error}
       && length($res->raw) == $head + 4 + $len,
       "$what: 200, Content-Length $len is the body's");

    if ($args{gzip}) {
        my $gz = $t->write_file('page.gz', $res->body // '');
        my $out = `gzip -t '$gz' 2>&1`;

        is($? >> 8, 0, "$what: gzip -t") or diag $out;
    }

    return $p;
}


sub shows {
    my ($what, $want, %args) = @_;

    for my $gzip (0, 1) {
        my $how = $gzip ? 'gzip' : 'plain';
        my $p = page("$what ($how)", gzip => $gzip, %args);

        is_deeply({ views => $p->{views}, shares => $p->{shares},
                    ch => $p->{ch} },
                  { views => "$want->{views}", shares => "$want->{shares}",
                    ch => { map { $_ => "$want->{ch}{$_}" }
                            keys %{ $want->{ch} } } },
                  "$what ($how): the page shows views $want->{views}, "
                  . "shares $want->{shares}");
    }
}


# The status, JSON (text and decoded) and Prometheus, against $want:
# {views, excluded, ch => {}}, A being the only page with counts.

sub status_shows {
    my ($what, $want) = @_;

    my $shares = big(0);

    $shares += $_ for values %{ $want->{ch} };

    my $res = $t->http_get('/status?top=all');
    my $text = $res->body // '';

    like($text, qr/"id":"\Q$A\E","title":"[^"]*","views":$want->{views},/,
         "$what: JSON: A's views as an exact integer");

    my $st = status_doc($t);
    my $c = page_counts($st);
    my $one = status_doc($t, uri => "/status?id=$A");

    is_deeply([map { "$_" } $c->{$A}{views}, $one->{views},
               $c->{_totals}{views}, $c->{_totals}{shares},
               $c->{_totals}{excluded}, $one->{shares},
               map { $one->{shares_by_channel}{$_} }
                   sort keys %{ $want->{ch} }],
              [map { "$_" } $want->{views}, $want->{views}, $want->{views},
               $shares, $want->{excluded}, $shares,
               map { $want->{ch}{$_} } sort keys %{ $want->{ch} }],
              "$what: JSON: views, ?id=, totals, shares by channel");

    my $prom = $t->http_get('/status?format=prometheus&top=all')->body // '';
    my @want = ("bulletin_views_total $want->{views}",
                "bulletin_excluded_total $want->{excluded}",
                "bulletin_page_views_total{id=\"$A\"} $want->{views}",
                map({ ("bulletin_shares_total{channel=\"$_\"} $want->{ch}{$_}",
                       "bulletin_page_shares_total{id=\"$A\",channel=\"$_\"} "
                       . $want->{ch}{$_}) } sort keys %{ $want->{ch} }));
    my %lines = map { $_ => 1 } split /\n/, $prom;
    my @missing = grep { !$lines{$_} } @want;

    ok(!@missing, "$what: Prometheus: " . @want . ' samples exact')
        or diag join "\n", 'missing:', @missing;

    SKIP: {
        skip 'no promtool (Debian package prometheus, installed by make)', 1
            unless $PROMTOOL;

        my $file = $t->write_file('promtool.txt', $prom);
        my $out = `$PROMTOOL check metrics < '$file' 2>&1`;

        is($? >> 8, 0, "$what: promtool check metrics") or diag $out;
    }
}


sub logged {
    my ($what, $method, $status, $views, $shares) = @_;

    my @l = grep { $_->[0] eq $method && $_->[1] =~ m{\A/bulletin/\Q$A\E}
                   && $_->[2] eq $status }
            log_lines($t, 'logs/counts.log');
    my $last = $l[-1] // [];

    is("$last->[3] $last->[4]", "$views $shares",
       "$what: \$bulletin_views \$bulletin_shares logged");
}


sub big_counts {
    # up to 2^64 - 1

    my %ch = (wechat => $HALF, weibo => $HALF - 2, qq => 0, link => 0);

    counters_file('max.cnt', views => $MAX - 1, excluded => $MAX,
                  wechat => $ch{wechat}, weibo => $ch{weibo});

    shows('2^64 - 2 views', { views => $MAX - 1, shares => $MAX - 1,
                              ch => \%ch });

    is($t->http_get("/bulletin/$A")->status, 200, '2^64 - 1: a view');
    logged('2^64 - 1: the view', 'GET', 200, $MAX, $MAX - 1);

    is($t->request(method => 'POST',
                   uri => "/bulletin/$A/share?channel=weibo")->status, 204,
       '2^64 - 1: a share');
    logged('2^64 - 1: the share', 'POST', 204, $MAX, $MAX);

    $ch{weibo}++;

    shows('2^64 - 1', { views => $MAX, shares => $MAX, ch => \%ch });
    status_shows('2^64 - 1', { views => $MAX, excluded => $MAX,
                               ch => \%ch });

    # across 2^63

    %ch = (wechat => 0, weibo => 0, qq => $HALF - 1, link => 0);

    counters_file('half.cnt', views => $HALF - 1, excluded => $HALF - 1,
                  qq => $ch{qq});

    shows('2^63 - 1', { views => $HALF - 1, shares => $HALF - 1,
                        ch => \%ch });

    is($t->http_get("/bulletin/$A", headers => ['Accept-Encoding' => 'gzip'])
         ->status, 200, '2^63: a view (gzip)');
    is($t->http_get("/bulletin/$A", headers => ['User-Agent' => 'a bot'])
         ->status, 200, '2^63: an excluded view');
    is($t->request(method => 'POST',
                   uri => "/bulletin/$A/share?channel=qq")->status, 204,
       '2^63: a share');

    $ch{qq}++;

    shows('2^63', { views => $HALF, shares => $HALF, ch => \%ch });
    status_shows('2^63', { views => $HALF, excluded => $HALF, ch => \%ch });

    # from 19 digits to 20

    %ch = (wechat => 0, weibo => 0, qq => 0, link => $E19 - 1);

    counters_file('e19.cnt', views => $E19 - 1, link => $ch{link});

    page('10^19 - 1 (gzip)', gzip => 1);

    is($t->http_get("/bulletin/$A", headers => ['Accept-Encoding' => 'gzip'])
         ->status, 200, '10^19: a view (gzip)');
    is($t->request(method => 'POST',
                   uri => "/bulletin/$A/share?channel=link")->status, 204,
       '10^19: a share');

    $ch{link}++;

    shows('10^19', { views => $E19, shares => $E19, ch => \%ch });
    status_shows('10^19', { views => $E19, excluded => 0, ch => \%ch });

    $t->stop;
}


#### 2. a full disk

# Mounts a tmpfs of $size at disk/ in the prefix: undef, or why not.

sub mount_disk {
    my ($size) = @_;

    return 'not root' if $>;
    return 'no mount command' unless Test::Bulletin::find_in_path('mount');

    mkdir $DISK;

    my $cmd = "mount -t tmpfs -o size=$size,mode=0755 bulletin-test '$DISK'";
    my $out = `$cmd 2>&1`;

    return "mount -t tmpfs is not permitted here: $out" if $?;

    $MOUNTED = 1;

    return undef;
}


sub umount_disk {
    return unless $MOUNTED;

    kill_orphans();
    system('umount', $DISK) == 0
        or system('umount', '-l', $DISK) == 0
        or diag "umount $DISK failed";
    $MOUNTED = 0;
}


# nginx stopped and the disk unmounted, whatever happens
END {
    if ($MOUNTED) {
        local $?;
        eval { $t->stop };
        umount_disk();
    }
}


# Workers whose master died (SIGBUS) are no longer found by the
# harness: the processes holding files of the prefix open.

sub kill_orphans {
    my $prefix = $t->prefix;
    my @pids;

    for my $dir (glob '/proc/[0-9]*') {
        my ($pid) = $dir =~ /(\d+)\z/;

        next if $pid == $$;

        for my $fd (glob "$dir/fd/*") {
            my $to = readlink $fd // next;

            if (index($to, "$prefix/") == 0) {
                push @pids, $pid;
                last;
            }
        }
    }

    return unless @pids;

    diag "killing orphaned processes of the prefix: @pids";
    kill 'KILL', @pids;
    $t->wait_gone(\@pids, 10);
}


# Fills the file system: a file grown until the disk refuses a byte.

sub fill_disk {
    open my $fh, '>:raw', "$DISK/fill" or die "fill: $!";

    my $block = "\0" x 4096;

    1 while syswrite $fh, $block;
    1 while syswrite $fh, "\0";
    close $fh;

    my $free = `stat -f -c %a '$DISK'`;     # blocks available

    chomp $free;

    return $free;
}


sub blocks {
    my ($path) = @_;

    my @s = stat $path;

    return @s ? ($s[7], $s[12] * 512) : (0, 0);
}


sub full_disk {
    SKIP: {
        my $why = mount_disk('256k');

        skip "full disk: $why", 22 if $why;

        # a store with 40 more bulletins than site.blt (and so with more
        # list pages: _index-2, ...); the zone ends holding the ids of both
        bulletins($t, 'more', 'more', 40);
        site($t, 'more.blt', inputs => [$CountersTest::SAMPLE,
                                        $t->path('more')]);

        my %ids = map { $_ => 1 } store_ids($t, 'site.blt'),
                                  store_ids($t, 'more.blt');

        # reserved at the start

        conf(file => 'disk/c.cnt', zone => '128k');
        $t->run;

        my ($size, $bytes) = blocks("$DISK/c.cnt");

        ok($size == 131072 && $bytes >= $size,
           "full disk: the file's space reserved at the start ($size bytes, "
           . "$bytes allocated)");

        my $left = fill_disk();

        is($left, 0, 'full disk: the file system is full');

        my @workers = $t->worker_pids;
        my $before = page_counts(status_doc($t));
        my %sent = (views => 0, shares => 0);

        for my $i (1 .. 200) {
            $sent{views}++ if $t->http_get("/bulletin/$B")->status == 200;
            $sent{shares}++ if $t->request(
                method => 'POST',
                uri => "/bulletin/$B/share?channel=link")->status == 204;
        }

        my $after = page_counts(status_doc($t));

        is(($after->{$B}{views} - $before->{$B}{views}) . ' '
           . ($after->{$B}{ch}{link} - $before->{$B}{ch}{link}),
           "$sent{views} $sent{shares}",
           "full disk: 200 views and 200 shares counted");
        is(join(' ', $t->worker_pids), join(' ', @workers),
           'full disk: the same workers count');
        unlike($t->error_log_text, qr/exited on signal/,
               'full disk: no worker exited on a signal');

        # 40 new ids on the full disk: their slots are in the reserved
        # space (a reload; a stop and a start under valgrind)

        conf(file => 'disk/c.cnt', zone => '128k', store => 'more.blt');

        if ($V) {
            $t->stop;
            $t->run;
        } else {
            ok(eval { $t->reload }, 'full disk: a reload with 40 new ids')
                or diag $@;
        }

        $t->http_get('/bulletin/more-40') for 1 .. 3;

        my $st = status_doc($t);

        is($st->{zone}{slots_used}, scalar(keys %ids),
           'full disk: the 40 new ids have their slots ('
           . scalar(keys %ids) . ' ids in all)');
        is(page_counts($st)->{'more-40'}{views}, 3,
           'full disk: the last new id counts');
        is(page_counts($st)->{$B}{views}, $after->{$B}{views},
           'full disk: the old ids keep their counts');

        # a reload that grows the file on the full disk: refused

        SKIP: {
            $t->skip_if_valgrind('reloads need a master process', 3);

            conf(file => 'disk/c.cnt', zone => '192k', store => 'more.blt');

            my $text = eval { $t->reload_refused } // "not refused: $@";

            like($text, qr/counters\ file\ "\Q$DISK\E\/c\.cnt":
                           \ posix_fallocate.*(?:No\ space|28)/x,
                 'full disk: a reload that grows the file is refused, '
                 . 'naming it');

            $t->http_get("/bulletin/$B");
            is(page_counts(status_doc($t))->{$B}{views},
               $after->{$B}{views} + 1,
               'full disk: the old configuration counts on');
            is(-s "$DISK/c.cnt", 131072, 'full disk: the file as it was');
        }

        $t->stop;
        conf(file => 'disk/c.cnt', zone => '128k');

        # a start with too little space: fails, naming the file

        unlink "$DISK/fill";
        conf(file => 'disk/new.cnt', zone => '192k');

        my $from = $t->error_log_size;
        my ($ok, $err) = $t->start;

        ok(!$ok, 'too little space: nginx does not start');
        like($err // '',
             qr/counters file "\Q$DISK\E\/new\.cnt": posix_fallocate/,
             'too little space: the error names the file');
        $t->expect_log_range($from);

        my ($nsize) = blocks("$DISK/new.cnt");

        is($nsize, 0, 'too little space: no half-made file left (size 0)');

        # with the space back, it starts

        unlink "$DISK/c.cnt";
        conf(file => 'disk/new.cnt', zone => '192k');
        $t->run;
        is(page_counts(status_doc($t))->{$A}{views}, 0,
           'space back: it starts, a new file');
        $t->stop;

        sparse();

        umount_disk();
    }
}


# A copy of the file with holes where the reserved space was never
# written, on a full disk, and a store with new ids, whose slots fall in
# the holes.

sub sparse {
    unlink map { "$DISK/$_" } qw(new.cnt c.cnt fill);

    conf(file => 'disk/s.cnt', zone => '128k');
    $t->run;
    $t->http_get("/bulletin/$A");
    $t->stop;

    system('cp', '--sparse=always', "$DISK/s.cnt", "$DISK/s.tmp") == 0
        && rename("$DISK/s.tmp", "$DISK/s.cnt")
        or die "cp --sparse=always failed\n";

    my ($size, $bytes) = blocks("$DISK/s.cnt");

    ok($bytes < $size, "sparse copy: $bytes of $size bytes allocated");

    fill_disk();

    # a start that appends 40 ids

    conf(file => 'disk/s.cnt', zone => '128k', store => 'more.blt');

    my $from = $t->error_log_size;
    my %known = %{ $t->{exits} };
    my ($ok, $err) = $t->start;
    my @exits = map { $t->{exits}{$_} } grep { !exists $known{$_} }
                keys %{ $t->{exits} };

    ok(!grep({ $_ == 128 + 7 } @exits), 'sparse copy, full disk, a start '
       . 'with new ids: no SIGBUS (exit status ' . "@exits)");

    like($ok ? 'started' : $err, qr/counters file "\Q$DISK\E\/s\.cnt"/,
         'sparse copy, full disk, a start with new ids: refused, naming '
         . 'the file');

    $t->stop;
    kill_orphans();
    $t->expect_log_range($from);

    # a start on a disk with room reserves the holes; a reload that then
    # appends 40 ids on the full disk writes into reserved space

    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 3);

        conf(file => 'disk/s.cnt', zone => '128k');

        unlink "$DISK/fill";
        $t->run;

        ($size, $bytes) = blocks("$DISK/s.cnt");

        ok($bytes >= $size, "sparse copy, after a start: $bytes of $size "
           . 'bytes allocated');

        fill_disk();

        my $master = $t->master_pid;

        conf(file => 'disk/s.cnt', zone => '128k', store => 'more.blt');
        $from = $t->error_log_size;

        my @pids = eval { $t->reload };

        $t->reap;

        my $status = $t->{exits}{$master};

        ok(!defined $status, 'sparse copy, full disk, a reload with new '
           . 'ids: the master lives'
           . (defined $status ? " (it died, exit status $status)" : ''));

        ok(@pids, 'sparse copy, full disk, a reload with new ids: done, '
           . 'in the space the start reserved') or diag($@);

        $t->stop;
        kill_orphans();
        $t->expect_log_range($from);
    }
}
