#!/usr/bin/perl
# Does a status scrape stall the pages?  (issue 17)
#
#   bench/status-stall.pl STORE [SECONDS] [RUNS]
#
# One nginx with one worker serves STORE (100,000 pages in the issue's
# case, e.g. bench/gen-pages.pl 100000 DIR and bulletin-build) with
# bulletin_status_max above its size.  The pages get views first (a Zipf
# pass of wrk, bench/ids.lua), so that ranking them has work to do.  Then
# a page's latency is measured for SECONDS (10 by default) alone and
# while ?top=all is scraped as JSON and as Prometheus text in turn, one
# document after the other, the whole time; RUNS times (3 by default).
#
# Two clients measure it, each alone and while scraping:
# - the verdict's: bench/stall-client.c (built here into build/bench/),
#   one process, one thread, one epoll loop that holds the 4 page
#   connections and the scraper's; a scrape's reading delays a page's
#   measurement by one read (256 KB) at most.  What it measures is the
#   server;
# - as before: wrk -t1 -c4 for the pages and a loop of curl for the
#   scrapes, two processes on one core: curl receiving 45 MB a cycle
#   takes that core from wrk for a scheduler slice (about 3 ms), which
#   wrk counts as the pages' latency.  Kept so that the two methods can
#   be compared.
#
# The worker runs on the first core, the clients on the second: what the
# latency shows is the worker's own work, not the clients' competing for
# its core, but not what other processes on the machine take of it: the
# load average before each run is shown for that.  During our client's
# scraping run the worker's minor page faults (/proc/PID/stat, minflt)
# and CPU time are read before and after: faults per document scraped,
# and the worker's ms per document (its CPU time less the pages' at
# their cost alone).
#
# It prints each run's latency distributions side by side, their
# medians, the documents' sizes, how long each took to arrive, and a
# verdict against issue 17's targets: p99 while scraping <= 5 ms and
# <= 2x the p99 alone (medians of the runs, our client's).  Everything
# runs on 127.0.0.1, under build/bench/stall/, and is stopped at the end.
# BULLETIN_MODULE=FILE loads another build of the module (the one before
# a change, say); BENCH_PRIORITY=N gives the worker worker_priority N
# (-10, say: on a busy machine, what others run on its core takes less
# of it).

use strict;
use warnings;

use Cwd qw(realpath);
use File::Path qw(make_path remove_tree);
use FindBin;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use lib $FindBin::Bin;
use BenchUtil qw(slurp spew free_port fmt table);


my ($store, $seconds, $runs) = @ARGV;

die "usage: $0 STORE [SECONDS] [RUNS]\n" unless defined $store && -f $store;

$store = realpath($store);
$seconds //= 10;
$runs //= 3;

my $top = "$FindBin::Bin/..";
my $run = "$top/build/bench/stall";
my $module = $ENV{BULLETIN_MODULE} // "$top/build/ngx_http_bulletin_module.so";
my $client = "$top/build/bench/stall-client";
my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $pages;

{
    my $out = `$top/build/bulletin-build --list $store | wc -l`;
    $pages = $out + 0;
}

remove_tree($run);
make_path("$run/logs");
chmod 0755, "$top/build/bench", $run;

# our client, built afresh when its source is newer
if (!-x $client || -M $client > -M "$FindBin::Bin/stall-client.c") {
    system('cc', '-O2', '-Wall', '-Wextra', '-Werror', '-o', $client,
           "$FindBin::Bin/stall-client.c") == 0
        or die "bench/stall-client.c did not build\n";
}

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

my $master;

END {
    if ($master) {
        kill 'QUIT', $master;
        for (1 .. 500) {
            last unless kill 0, $master;
            sleep 0.01;
        }
        kill 'KILL', $master if kill 0, $master;
    }
}

for (1 .. 100) {
    last if -s "$run/logs/nginx.pid";
    sleep 0.05;
}

$master = slurp("$run/logs/nginx.pid") + 0 or die "no nginx pid\n";

my $http = HTTP::Tiny->new(timeout => 60);

for (1 .. 100) {
    last if $http->get("http://127.0.0.1:$port/status?top=1")->{success};
    sleep 0.1;
}

my $worker = worker();

# views on every page, Zipf-distributed, for the ranking
$ENV{BENCH_PAGES} = $pages - 1;
system("timeout 60 wrk -t1 -c16 -d3s -s $FindBin::Bin/ids.lua"
       . " http://127.0.0.1:$port > $run/warm.txt 2>&1") == 0
    or die "wrk failed\n";

my $path = '/bulletin/p0000001';
my $page = "http://127.0.0.1:$port$path";

my (%rows, %alone, %busy, %scraped, @faults, @cpu);

for my $run (1 .. $runs) {
    my $load = load();

    # ours: alone, then scraping, with the worker's faults and CPU
    my ($alone, $w0) = ours(0);
    my ($busy, $w1, $docs) = ours(1);

    my $cpu_page = $alone->[6] ? ($w0->[1] + $w0->[2]) / $alone->[6] : 0;
    my $ndocs = $docs->{json}[0] + $docs->{prometheus}[0];

    push @faults, $ndocs ? $w1->[0] / $ndocs : 0;
    push @cpu, $ndocs ? 1000 * ($w1->[1] + $w1->[2] - $busy->[6] * $cpu_page)
                        / $tck / $ndocs
                      : 0;

    row('ours', $run, $load, $alone, $busy, $docs);

    # as before: wrk, and curl beside it
    my $load2 = load();
    my $walone = latency();
    my ($wbusy, $wdocs) = scraping();

    row('wrk', $run, $load2, $walone, $wbusy, $wdocs);
}

my $load1 = load();
my %median = map { $_ => [median(@{ $alone{$_} }), median(@{ $busy{$_} })] }
             'ours', 'wrk';

printf "status stall, %d pages, one worker (worker_priority %d), %d s a "
       . "run, %d runs, load average %s before, %s after\n\n", $pages,
       $priority, $seconds, $runs, $load0, $load1;

print "The verdict's client: bench/stall-client.c, 4 page connections and"
      . " the scraper's in one\nevent loop, one process on CPU 1: a page's"
      . " latency is the server's.\n\n";
lat_table('ours', 'page latency (stall-client -c4)');
print "\n";
scraped_table('ours', 'scraped (stall-client)');
printf "\nthe worker while scraping (stall-client runs): %s minor faults a"
       . " document (%s), %s ms\nof CPU a document (its CPU time less the"
       . " pages' at their cost alone)\n",
       fmt(median(@faults), 0), join(', ', map { fmt($_, 0) } @faults),
       fmt(median(@cpu), 1);

print "\nAs before, for comparison: wrk -t1 -c4 for the pages and a loop of"
      . " curl for the scrapes,\ntwo processes on CPU 1: curl receiving a"
      . " document takes the core from wrk for a\nscheduler slice, which"
      . " wrk counts as the pages' latency.\n\n";
lat_table('wrk', 'page latency (wrk -t1 -c4)');
print "\n";
scraped_table('wrk', 'scraped (curl)');

my ($p99a, $p99b) = ($median{ours}[0][3], $median{ours}[1][3]);
my ($w99a, $w99b) = ($median{wrk}[0][3], $median{wrk}[1][3]);
my $abs = $p99b <= 5000;
my $rel = $p99b <= 2 * $p99a;

printf "\nas before (wrk + curl): p99 %s while scraping, %s alone (%.1fx)\n",
       fmt_us($w99b), fmt_us($w99a), $w99a ? $w99b / $w99a : 0;
printf "verdict (stall-client): p99 %s while scraping, %s alone (%.1fx): "
       . "<= 5 ms %s, <= 2x alone %s; %s faults/doc%s\n", fmt_us($p99b),
       fmt_us($p99a), $p99a ? $p99b / $p99a : 0, $abs ? 'met' : 'NOT met',
       $rel ? 'met' : 'NOT met', fmt(median(@faults), 0),
       # make bench's own earlier steps leave a 1-minute load near 0.7
       $load0 >= 1 ? " (load average $load0 before: not a quiet "
                       . "machine, the figures are its as much as ours)"
                     : '';


# a run's two rows and its documents, by client

sub row {
    my ($who, $run, $load, $alone, $busy, $docs) = @_;

    push @{ $alone{$who} }, $alone;
    push @{ $busy{$who} }, $busy;
    push @{ $rows{$who} },
         ["$run alone (load $load)",
          (map { fmt_us($_) } @$alone[0 .. 4]), $alone->[5]],
         ["$run while scraping ?top=all",
          (map { fmt_us($_) } @$busy[0 .. 4]), $busy->[5]];

    for my $f (keys %$docs) {
        $scraped{$who}{$f}[$_] += $docs->{$f}[$_] for 0, 1;
        $scraped{$who}{$f}[2] = $docs->{$f}[2];
    }
}


sub lat_table {
    my ($who, $title) = @_;
    my ($alone, $busy) = @{ $median{$who} };

    print table([$title, 'p50', 'p75', 'p90', 'p99', 'max', 'requests/s'],
                @{ $rows{$who} },
                ['median alone', (map { fmt_us($_) } @$alone[0 .. 4]),
                 $alone->[5]],
                ['median while scraping',
                 (map { fmt_us($_) } @$busy[0 .. 4]), $busy->[5]]);
}


sub scraped_table {
    my ($who, $title) = @_;
    my $s = $scraped{$who};

    print table([$title, 'documents', 'ms each', 'bytes'],
                map { [$_, $s->{$_}[0],
                       $s->{$_}[0] ? sprintf('%.1f', $s->{$_}[1] / $s->{$_}[0])
                                   : '-',
                       $s->{$_}[2]] } sort keys %$s);
}


# our client for one run, scraping or not: its latencies (p50, p75, p90,
# p99, max in us; requests/s; requests), the worker's minor faults, utime
# and stime over the run, and the documents scraped (count, ms, bytes)

sub ours {
    my ($scrape) = @_;
    my @w0 = proc_stat($worker);
    my $cmd = "taskset -c 1 $client -p $port -u $path -c 4 -d $seconds"
              . " -t 60000" . ($scrape ? ' -s /status' : '');
    my $out = `$cmd 2>&1`;

    die "stall-client: $out" if $?;

    # the document being made or sent at the end is the worker's still
    sleep 0.3 if $scrape;

    my @w1 = proc_stat($worker);
    my %v = $out =~ /(\w+)=([\d.]+)/g;

    defined $v{p99} or die "stall-client: $out";

    my %docs = map { $_ => [$v{"${_}_docs"}, $v{"${_}_docs"} * $v{"${_}_ms"},
                            $v{"${_}_bytes"}] }
               grep { defined $v{"${_}_docs"} } 'json', 'prometheus';

    return ([@v{qw(p50 p75 p90 p99 max)}, fmt($v{rps}, 0), $v{requests}],
            [map { $w1[$_] - $w0[$_] } 0 .. 2], \%docs);
}


# the scraper forked beside wrk for one run; its documents, time, bytes

sub scraping {
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        my (%n, %t, %bytes);

        # beside wrk, on the core the worker does not run on
        system("taskset -p -c 1 $$ > /dev/null") == 0 or die "taskset\n";

        my $end = time + $seconds + 2;

        while (time < $end) {
            for my $f ('json', 'prometheus') {
                # curl, which reads and drops the document for little CPU
                my $t0 = time;
                my $url = "http://127.0.0.1:$port/status?top=all"
                          . ($f eq 'json' ? '' : '&format=prometheus');
                my $cmd = "curl -s -m 60 -o /dev/null"
                          . " -w '%{http_code} %{size_download}' '$url'";
                my $out = `$cmd`;
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
    my $t = $seconds + 30;
    my $cmd = "timeout $t taskset -c 1 wrk -t1 -c4 -d${seconds}s --latency"
              . " $page";
    my $out = `$cmd 2>&1`;

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

    return (sort { $a <=> $b } @runs)[@runs / 2] unless ref $runs[0];

    my @m;

    for my $i (0 .. $#{ $runs[0] }) {
        my @v = sort { (my $a1 = $a) =~ tr/,//d; (my $b1 = $b) =~ tr/,//d;
                       $a1 <=> $b1 } map { $_->[$i] } @runs;
        push @m, $v[@v / 2];
    }

    return \@m;
}


# the worker: the master's one child

sub worker {
    for (1 .. 100) {
        for my $dir (glob '/proc/[0-9]*') {
            my $stat = eval { slurp("$dir/stat") } // next;
            $stat =~ s/^.*\) //s;
            return $dir =~ s{/proc/}{}r if (split ' ', $stat)[1] == $master;
        }
        sleep 0.05;
    }

    die "no nginx worker\n";
}


# minflt, utime, stime (clock ticks) of a process

sub proc_stat {
    my ($pid) = @_;
    my $stat = slurp("/proc/$pid/stat");

    $stat =~ s/^.*\) //s;

    return (split ' ', $stat)[7, 11, 12];
}


sub load {
    my ($l) = split ' ', slurp('/proc/loadavg');

    return $l;
}
