#!/usr/bin/perl
# Does a status scrape stall the pages?  (issue 17)
#
#   bench/status-stall.pl STORE [SECONDS] [RUNS]
#
# One nginx with one worker serves STORE (100,000 pages in the issue's
# case, e.g. bench/gen-pages.pl 100000 DIR and bulletin-build) with
# bulletin_status_max above its size.  The pages get views first (a Zipf
# pass of wrk, bench/ids.lua), so that ranking them has work to do.  Then
# wrk measures a page's latency (1 thread, 4 connections, SECONDS, 10 by
# default) twice: alone, and while a client fetches ?top=all as JSON and
# as Prometheus text in turn, one after the other, the whole time; RUNS
# times (3 by default).  It prints each run's latency distributions side
# by side with the load average before it, their medians, the documents'
# sizes and how long each took to arrive, and a verdict against issue
# 17's targets: p99 while scraping <= 5 ms and <= 2x the p99 alone
# (medians of the runs).  The worker runs on the first core, wrk and the
# scraper on the second: what the worker's latency shows is the worker's
# own work, not the clients' competing for its core, but not what other
# processes on the machine take of it: the load average is shown for
# that.  Everything runs on 127.0.0.1, under build/bench/stall/, and is
# stopped at the end.  BULLETIN_MODULE=FILE loads another build of the
# module (the one before a change, say); BENCH_PRIORITY=N gives the
# worker worker_priority N (-10, say: on a busy machine, what others run
# on its core takes less of it).

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use FindBin;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use lib $FindBin::Bin;
use BenchUtil qw(slurp spew free_port fmt table);


my ($store, $seconds, $runs) = @ARGV;

die "usage: $0 STORE [SECONDS] [RUNS]\n" unless defined $store && -f $store;

$seconds //= 10;
$runs //= 3;

my $top = "$FindBin::Bin/..";
my $run = "$top/build/bench/stall";
my $module = $ENV{BULLETIN_MODULE} // "$top/build/ngx_http_bulletin_module.so";
my $pages;

{
    my $out = `$top/build/bulletin-build --list $store | wc -l`;
    $pages = $out + 0;
}

remove_tree($run);
make_path("$run/logs");
chmod 0755, "$top/build/bench", $run;

my $port = free_port();
my $priority = $ENV{BENCH_PRIORITY} // 0;
my $load0 = load();
my $ids = $pages + 1;

spew("$run/nginx.conf", <<"EOF");
load_module $module;
worker_processes 1;
worker_cpu_affinity 01;
worker_priority $priority;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    bulletin_store $store;
    bulletin_counters zone=bulletin:64m;
    server {
        listen 127.0.0.1:$port;
        location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)\$ {
            bulletin_page \$bulletin_id;
        }
        location = /status {
            bulletin_status;
            bulletin_status_max $ids;
        }
    }
}
EOF

system('/usr/sbin/nginx', '-p', "$run/", '-c', "$run/nginx.conf") == 0
    or die "nginx did not start\n";

END {
    if (-f "$run/logs/nginx.pid") {
        my $pid = slurp("$run/logs/nginx.pid") + 0;
        kill 'QUIT', $pid if $pid;
    }
}

my $http = HTTP::Tiny->new(timeout => 60);

for (1 .. 100) {
    last if $http->get("http://127.0.0.1:$port/status?top=1")->{success};
    sleep 0.1;
}

# views on every page, Zipf-distributed, for the ranking
$ENV{BENCH_PAGES} = $pages - 1;
system("wrk -t1 -c16 -d3s -s $FindBin::Bin/ids.lua"
       . " http://127.0.0.1:$port > $run/warm.txt 2>&1") == 0
    or die "wrk failed\n";

my $page = "http://127.0.0.1:$port/bulletin/p0000001";

my (@rows, @alone, @busy, %scraped);

for my $run (1 .. $runs) {
    my $load = load();
    my $alone = latency();
    my ($busy, $scraped) = scraping();

    push @alone, $alone;
    push @busy, $busy;
    push @rows, ["$run alone (load $load)",
                 (map { fmt_us($_) } @$alone[0 .. 4]), $alone->[5]],
                ["$run while scraping ?top=all",
                 (map { fmt_us($_) } @$busy[0 .. 4]), $busy->[5]];

    for my $f (keys %$scraped) {
        $scraped{$f}[$_] += $scraped->{$f}[$_] for 0, 1;
        $scraped{$f}[2] = $scraped->{$f}[2];
    }
}

my $alone = median(@alone);
my $busy = median(@busy);

printf "status stall, %d pages, one worker (worker_priority %d), %d s a "
       . "run, %d runs, load average %s before, %s after\n\n", $pages,
       $priority, $seconds, $runs, $load0, load();
print table(['page latency (wrk -t1 -c4)', 'p50', 'p75', 'p90', 'p99',
             'max', 'requests/s'],
            @rows,
            ['median alone', (map { fmt_us($_) } @$alone[0 .. 4]),
             $alone->[5]],
            ['median while scraping', (map { fmt_us($_) } @$busy[0 .. 4]),
             $busy->[5]]);
print "\n";
print table(['scraped', 'documents', 'ms each', 'bytes'],
            map { [$_, $scraped{$_}[0],
                   sprintf('%.1f', $scraped{$_}[1] / $scraped{$_}[0]),
                   $scraped{$_}[2]] } sort keys %scraped);

my ($p99a, $p99b) = ($alone->[3], $busy->[3]);
my $abs = $p99b <= 5000;
my $rel = $p99b <= 2 * $p99a;

printf "\nverdict: p99 %s while scraping, %s alone (%.1fx): "
       . "<= 5 ms %s, <= 2x alone %s%s\n", fmt_us($p99b), fmt_us($p99a),
       $p99a ? $p99b / $p99a : 0, $abs ? 'met' : 'NOT met',
       $rel ? 'met' : 'NOT met',
       $load0 >= 0.5 ? " (load average $load0 before: not a quiet "
                       . "machine, the figures are its as much as ours)"
                     : '';


# the scraper forked beside wrk for one run; its documents, time, bytes

sub scraping {
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        my (%n, %t, %bytes);

        # beside wrk, on the core the worker does not run on
        system('taskset', '-p', '-c', '1', $$) == 0 or die "taskset\n";

        my $end = time + $seconds + 2;

        while (time < $end) {
            for my $f ('json', 'prometheus') {
                # curl, which reads and drops the document for little CPU
                my $t0 = time;
                my $url = "http://127.0.0.1:$port/status?top=all"
                          . ($f eq 'json' ? '' : '&format=prometheus');
                my $out = `curl -s -o /dev/null -w '%{http_code} %{size_download}' '$url'`;
                my ($code, $size) = split ' ', $out;
                die "status: $out\n" unless ($code // 0) == 200;
                $n{$f}++;
                $t{$f} += time - $t0;
                $bytes{$f} = $size;
            }
        }

        spew("$run/scraper.txt", join '', map {
            sprintf "%s %d %.6f %d\n", $_, $n{$_}, 1000 * $t{$_}, $bytes{$_}
        } sort keys %n);
        POSIX::_exit(0);
    }

    sleep 1;

    my $busy = latency();

    waitpid $pid, 0;
    die "the scraper failed\n" if $?;

    my %scraped = map { my @f = split; $f[0] => [@f[1 .. 3]] }
                  split /\n/, slurp("$run/scraper.txt");

    return ($busy, \%scraped);
}


# wrk's latencies in microseconds: p50, p75, p90, p99, max; requests/s

sub latency {
    my $out = `taskset -c 1 wrk -t1 -c4 -d${seconds}s --latency $page 2>&1`;

    my %p = $out =~ /^\s+(50|75|90|99)%\s+(\S+)/mg;
    my ($max) = $out =~ /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m;
    my ($rps) = $out =~ /^Requests\/sec:\s+(\S+)/m;

    die "wrk: $out\n" unless defined $rps;

    return [(map { us($_) } @p{qw(50 75 90 99)}, $max), fmt($rps, 0)];
}


sub us {
    my ($v) = @_;
    my ($n, $unit) = $v =~ /\A([\d.]+)(us|ms|s|m)?\z/ or return -1;
    my %scale = (us => 1, ms => 1e3, s => 1e6, m => 6e7);

    return $n * $scale{$unit // 'us'};
}


sub fmt_us {
    my ($us) = @_;

    return $us >= 1000 ? sprintf('%.2f ms', $us / 1000)
                       : sprintf('%d us', $us);
}


# each column's median over the runs (the upper one of an even count)

sub median {
    my @runs = @_;
    my @m;

    for my $i (0 .. $#{ $runs[0] }) {
        my @v = sort { (my $a1 = $a) =~ tr/,//d; (my $b1 = $b) =~ tr/,//d;
                       $a1 <=> $b1 } map { $_->[$i] } @runs;
        push @m, $v[@v / 2];
    }

    return \@m;
}


sub load {
    my ($l) = split ' ', slurp('/proc/loadavg');

    return $l;
}
