#!/usr/bin/perl
# make bench-fleet: a fleet of bulletin nodes on one machine under a paced
# Zipf load (issue 15).  bench/fleet.sh runs it; everything goes to
# build/bench/fleet/ (the report also to build/bench/fleet.txt).
#
# 1. one store: FLEET_PAGES pages of bench/gen-pages.pl (the JSON cached
#    in build/bench/scale/N/json, as bench.pl caches it) and a probe page
#    of its own id, built once with bench/small.html;
# 2. 3 nginx nodes, n1 n2 n3 (1 worker each, a prefix, a port and a
#    counters file each, the same store), a private redis-server (no
#    persistence), and beside each node bulletin-sync --interval 1000;
# 3. the load: FLEET_RATE views/s for FLEET_SECONDS, spread evenly over
#    the nodes: a wrk per node, paced by bench/fleet.lua (ids from
#    bench/ids.lua, Zipf), all three sending over the same window;
# 4. meanwhile the lag probe: every 200 ms one view of the probe page on
#    n1, and n2's status polled every 10 ms until its fleet count of the
#    probe page reaches the views made so far (each wait bounded at 10 s);
# 5. CPU of the sidecars, nginx workers, redis and wrk over the load
#    window (utime + stime, /proc/PID/stat), Redis's memory and commands;
# 6. after 3 s without views, the exactness check: the nodes' own views
#    add up to what wrk completed plus the probe views, and every node's
#    fleet totals (and the probe page's fleet count) equal that sum.
#    A FAIL exits 1.
#
# FLEET_QUICK=1: 10,000 pages, 5,000 views/s for 10 s.  FLEET_PAGES,
# FLEET_RATE, FLEET_SECONDS override either; FLEET_CONNS sets the
# connections a node (default 48).

use strict;
use warnings;

use Cwd qw(realpath);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use List::Util qw(max min sum);
use POSIX qw(strftime WNOHANG);
use Time::HiRes qw(time sleep);

use FindBin;
use lib $FindBin::Bin;
use BenchUtil qw(slurp spew free_port fmt table);

$| = 1;
umask 022;

my $top = realpath(dirname(__FILE__) . '/..');
my $bench = "$top/bench";
my $out = "$top/build/bench";
my $dir = "$out/fleet";
my $bin = "$dir/bin";
my $piddir = "$dir/pids";
my $nginx = $ENV{BENCH_NGINX} // '/usr/sbin/nginx';
my $redis_server = $ENV{REDIS_SERVER} // '/usr/bin/redis-server';
my $redis_cli = $ENV{REDIS_CLI} // '/usr/bin/redis-cli';

my $quick = $ENV{FLEET_QUICK} ? 1 : 0;

my %set = (
    pages       => $ENV{FLEET_PAGES} // ($quick ? 10_000 : 100_000),
    rate        => $ENV{FLEET_RATE} // ($quick ? 5_000 : 20_000),
    seconds     => $ENV{FLEET_SECONDS} // ($quick ? 10 : 30),
    conns       => $ENV{FLEET_CONNS} // 48,     # a node
    nodes       => 3,
    interval    => 1000,                # ms, the sidecars' (the default)
    lead        => 2,                   # s, from wrk's start to the window
    probe_every => 0.2,                 # s
    poll_every  => 0.01,                # s
    probe_bound => 10,                  # s, each probe's wait at most
    quiet       => 3,                   # s without views before the check
    idle        => 3,                   # s, then the idle fleet's CPU
    settle      => 15,                  # s, further, to see a late sum
);

my $probe_id = 'fleet-probe';
my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK());

my @agent = (
    'User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)'
        . ' AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5'
        . ' Mobile/15E148 Safari/604.1',
    'Accept-Encoding: gzip, deflate, br',
);


# ---------------------------------------------------------------- helpers

my $log;
my $started = time;

sub say_ {
    my $text = join '', @_;
    $text =~ s/^fleet: /sprintf 'fleet %5.1f: ', (time - $started) \/ 60/e;
    print $text, "\n";
    print $log $text, "\n" if $log;
}



sub tail_of {
    my ($file, $lines) = @_;
    my $text = eval { slurp($file) } // return "($file: none)\n";
    my @l = split /\n/, $text;
    @l = @l[-$lines .. -1] if @l > $lines;
    return join '', map { "    $_\n" } @l;
}



sub ms { defined $_[0] ? fmt(1000 * $_[0], $_[1] // 0) . ' ms' : '-' }

# utime + stime of a process (all its threads), in clock ticks
sub proc_ticks {
    my ($pid) = @_;
    return undef unless $pid;
    my $stat = eval { slurp("/proc/$pid/stat") } // return undef;
    $stat =~ s/^.*\) //s;
    my @f = split ' ', $stat;
    return $f[11] + $f[12];
}

sub proc_rss_kb {
    my ($pid) = @_;
    my $text = eval { slurp("/proc/$pid/status") } // return undef;
    return $text =~ /^VmRSS:\s+(\d+) kB/m ? $1 : undef;
}

sub children_of {
    my ($ppid) = @_;
    my @kids;
    for my $d (glob '/proc/[0-9]*') {
        my $stat = eval { slurp("$d/stat") } // next;
        $stat =~ s/^.*\) //s;
        my @f = split ' ', $stat;
        push @kids, $d =~ s{/proc/}{}r if $f[1] == $ppid;
    }
    return sort { $a <=> $b } @kids;
}

sub percentile {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return undef unless @v;
    my $rank = int($p / 100 * @v + 0.999999);       # nearest rank
    $rank = 1 if $rank < 1;
    return $v[$rank - 1];
}



# ------------------------------------------- processes: ours, and only ours

my %procs;      # pid => { name, pidfile }
my %reaped;     # pid => exit status ($?), once waited for

# a pid file for fleet.sh, which stops what is left whatever happens
sub pidfile_write {
    my ($name, $pid, $exe) = @_;
    make_path($piddir);
    spew("$piddir/$name.pid", "$pid $exe\n");
    return "$piddir/$name.pid";
}

sub spawn {
    my ($name, $logfile, $env, @cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %{ $env // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $logfile or die "$logfile: $!\n";
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd;
        die "exec $cmd[0]: $!\n";
    }
    my $exe = realpath($cmd[0]) // $cmd[0];
    $procs{$pid} = { name => $name,
                     pidfile => pidfile_write($name, $pid, $exe) };
    return $pid;
}

# has it exited?  Its status, or undef while it runs
sub exited {
    my ($pid) = @_;
    return $reaped{$pid} if exists $reaped{$pid};
    my $r = waitpid($pid, WNOHANG);
    if ($r == $pid || $r == -1) {
        $reaped{$pid} = $r == $pid ? $? : -1;
        return $reaped{$pid};
    }
    return undef;
}

sub describe_status {
    my ($st) = @_;
    return 'gone' if $st == -1;
    return 'signal ' . ($st & 127) if $st & 127;
    return 'exit ' . ($st >> 8);
}

# TERM, then KILL after $grace seconds; returns the exit status
sub stop_proc {
    my ($pid, $grace) = @_;
    return unless $pid && $procs{$pid};
    kill 'TERM', $pid unless defined exited($pid);
    my $t0 = time;
    while (!defined exited($pid)) {
        if (time - $t0 > ($grace // 5)) {
            kill 'KILL', $pid;
            for (1 .. 500) {
                last if defined exited($pid);
                sleep 0.01;
            }
            last;
        }
        sleep 0.01;
    }
    unlink $procs{$pid}{pidfile};
    delete $procs{$pid};
    return $reaped{$pid};
}


# ------------------------------------------------------------ nginx nodes

my @nodes;      # { name, prefix, port, master, workers, sync, ... }

sub node_conf {
    my ($n, $store, $zone_mb) = @_;
    return <<"EOF";
# bench/fleet.pl: node $n->{name}
load_module $bin/ngx_http_bulletin_module.so;

pcre_jit on;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path tmp;

    bulletin_store $store;
    bulletin_counters zone=bulletin:${zone_mb}m file=counters;
    bulletin_count_exclude "bot|spider|crawl";

    server {
        listen 127.0.0.1:$n->{port};
        server_name localhost;

        location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)\$ {
            bulletin_page \$bulletin_id;
        }

        location = /status {
            bulletin_status;
            allow 127.0.0.1;
            deny all;
        }
    }
}
EOF
}

my $http = HTTP::Tiny->new(agent => '', timeout => 10, keep_alive => 0);

sub wait_answer {
    my ($port, $path, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < $timeout) {
        my $r = $http->get("http://127.0.0.1:$port$path");
        return time - $t0 if $r->{status} != 599;
        sleep 0.02;
    }
    return undef;
}

sub node_start {
    my ($n) = @_;
    unlink "$n->{prefix}/logs/error.log";
    my @cmd = ($nginx, '-p', "$n->{prefix}/", '-c', 'nginx.conf',
               '-e', "$n->{prefix}/logs/error.log");
    if (system(@cmd) != 0) {
        die "fleet: nginx $n->{name} did not start:\n"
            . tail_of("$n->{prefix}/logs/error.log", 20);
    }
    defined wait_answer($n->{port}, '/status?id=' . $probe_id, 60)
        or die "fleet: nginx $n->{name} does not answer\n";
    chomp(my $master = slurp("$n->{prefix}/logs/nginx.pid"));
    $n->{master} = $master;
    for (1 .. 500) {
        $n->{workers} = [children_of($master)];
        last if @{ $n->{workers} } == 1;
        sleep 0.01;
    }
}

sub node_stop {
    my ($n) = @_;
    my $pid = delete $n->{master} or return;
    kill 'TERM', $pid;
    for (1 .. 1000) {
        return unless kill 0, $pid;
        sleep 0.01;
    }
    kill 'KILL', $pid;
}

# a status document, decoded; undef when the node does not answer it
sub status {
    my ($ua, $n, $query) = @_;
    my $r = $ua->get("http://127.0.0.1:$n->{port}/status"
                     . ($query ? "?$query" : ''));
    return undef unless $r->{status} == 200;
    return eval { decode_json($r->{content}) };
}


# ------------------------------------------------------------------ redis

my %redis;      # port, dir, pid

sub redis_cmd {
    my (@args) = @_;
    my $pid = open my $fh, '-|';
    defined $pid or die "redis-cli: $!\n";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec $redis_cli, '-h', '127.0.0.1', '-p', $redis{port}, @args;
        exit 127;
    }
    my $text = do { local $/; <$fh> };
    close $fh;
    return $text // '';
}

sub redis_info {
    my %i = redis_cmd('INFO', 'all') =~ /^(\w+):([^\r\n]*)/mg;
    return \%i;
}

# the streams' lengths: key => XLEN
sub redis_streams {
    my %len;
    for my $key (split /\n/, redis_cmd('--scan')) {
        next unless redis_cmd('TYPE', $key) =~ /^stream/;
        ($len{$key}) = redis_cmd('XLEN', $key) =~ /(\d+)/;
    }
    return \%len;
}


# --------------------------------------------------------------- cleanup

my $cleaning;

sub stop_everything {
    return if $cleaning++;
    # the load first, then the sidecars (they write into the nodes'
    # counters), then Redis and nginx
    for my $want (qr/^wrk/, qr/^sync/, qr/^redis/) {
        stop_proc($_, 5) for grep { $procs{$_}{name} =~ $want } keys %procs;
    }
    node_stop($_) for @nodes;
}

END {
    my $status = $?;
    stop_everything();
    $? = $status;
}
$SIG{INT} = $SIG{TERM} = sub { die "fleet: interrupted\n" };
$SIG{PIPE} = 'IGNORE';


# ------------------------------------------------------------------ setup

for my $f (map { "$top/build/$_" }
           qw(bulletin-build ngx_http_bulletin_module.so bulletin-sync)) {
    -f $f or die "fleet: $f is missing: run make first\n";
}
-x $redis_server or die "fleet: no $redis_server (Debian's redis-server)\n";
-x $redis_cli or die "fleet: no $redis_cli (Debian's redis-tools)\n";

# what a previous run left running (one killed before its cleanup): the
# pid files say what; fleet.sh does the same when it ends
for my $pf (glob("$piddir/*.pid"), glob("$dir/n*/logs/nginx.pid")) {
    my ($pid, $exe) = split ' ', slurp($pf);
    next unless $pid && kill 0, $pid;
    my $now = readlink("/proc/$pid/exe") // '';
    next if $exe && $now ne $exe;
    next if !$exe && $now !~ m{/nginx$};
    say_ "fleet: stopping $now ($pid), left by an earlier run";
    kill 'TERM', $pid;
    for (1 .. 500) { last unless kill 0, $pid; sleep 0.01 }
    kill 'KILL', $pid if kill 0, $pid;
}

remove_tree($dir);
make_path($bin, $piddir);
chmod 0755, "$top/build", $out, $dir, $bin;

# the binaries as they are now: a make while this runs must not rewrite
# what nginx has mapped
for my $f (qw(ngx_http_bulletin_module.so bulletin-build bulletin-sync)) {
    system('cp', "$top/build/$f", "$bin/$f") == 0
        or die "fleet: cp build/$f: $?\n";
}
chomp(my $commit = `git -C $top describe --always --dirty 2>/dev/null`);

open $log, '>', "$dir/log.txt" or die "$dir/log.txt: $!\n";

my $cpu = slurp('/proc/cpuinfo');
my ($model) = $cpu =~ /^model name\s*:\s*(.*)$/m;
my $cores = () = $cpu =~ /^processor\s*:/mg;
chomp(my $kernel = `uname -r`);
my ($nginx_v) = `$nginx -v 2>&1` =~ m{nginx/(\S+)};
my ($redis_v) = `$redis_server --version` =~ /v=(\S+)/;
my @load0 = (split ' ', slurp('/proc/loadavg'))[0 .. 2];

say_ sprintf "fleet: %s, %d cores, nginx %s, redis %s; load average %s%s",
    $model // '?', $cores, $nginx_v // '?', $redis_v // '?', "@load0",
    $quick ? ' (FLEET_QUICK: a short run)' : '';

# the pages, cached as bench.pl caches them
my $n_pages = $set{pages};
my $json = "$out/scale/$n_pages/json";
my $stamp = "$json/.done";
make_path("$out/scale/$n_pages");
chmod 0755, "$out/scale", "$out/scale/$n_pages";
if (!-f $stamp || -M $stamp > -M "$bench/gen-pages.pl") {
    say_ "fleet: generating $n_pages bulletins in $json";
    my $t0 = time;
    remove_tree($json);
    system($^X, "$bench/gen-pages.pl", $n_pages, $json) == 0 or die;
    spew($stamp, '');
    say_ sprintf "fleet:   %.1f s", time - $t0;
}

# the probe page: an id of its own, which no Zipf draw names
make_path("$dir/probe");
spew("$dir/probe/$probe_id.json", <<"EOF");
{"id": "$probe_id", "title": "fleet lag probe", "published": "2026-01-01",
 "blocks": [{"paragraph": "bench/fleet.pl views this page to time the fleet."}]}
EOF

my $store = "$dir/store.blt";
say_ "fleet: building the store of $n_pages pages and the probe page";
{
    my $t0 = time;
    my @dirs = sort glob "$json/d*";
    system("$bin/bulletin-build -t $bench/small.html -o $store @dirs"
           . " $dir/probe >> $dir/log.txt 2>&1") == 0
        or die "fleet: bulletin-build failed:\n" . tail_of("$dir/log.txt", 10);
    say_ sprintf "fleet:   %.1f s, %s bytes", time - $t0, fmt(-s $store, 0);
}
my $zone_mb = int(($n_pages + 1) * 256 / 1048576) + 2;

# redis
$redis{port} = free_port();
$redis{dir} = "$dir/redis";
make_path($redis{dir});
chmod 0755, $redis{dir};
$redis{pid} = spawn('redis', "$redis{dir}/redis.log", undef, $redis_server,
    '--port', $redis{port}, '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', $redis{dir}, '--daemonize', 'no');
{
    my $t0 = time;
    until (redis_cmd('PING') =~ /PONG/) {
        die "fleet: redis-server did not start:\n"
            . tail_of("$redis{dir}/redis.log", 20)
            if defined exited($redis{pid}) || time - $t0 > 10;
        sleep 0.05;
    }
}
say_ "fleet: redis-server $redis{pid} on 127.0.0.1:$redis{port}";

# the nodes
for my $i (1 .. $set{nodes}) {
    my $n = { name => "n$i", prefix => "$dir/n$i", port => free_port() };
    make_path("$n->{prefix}/logs", "$n->{prefix}/tmp");
    chmod 0755, $n->{prefix};
    spew("$n->{prefix}/nginx.conf", node_conf($n, $store, $zone_mb));
    push @nodes, $n;
    node_start($n);
    say_ "fleet: nginx $n->{name} on 127.0.0.1:$n->{port}, master"
         . " $n->{master}, worker @{ $n->{workers} }";
}

# the sidecars
sub sync_start {
    my ($n) = @_;
    $n->{sync_started} = time;
    $n->{sync} = spawn("sync-$n->{name}", "$n->{prefix}/logs/sync.log", undef,
        "$bin/bulletin-sync", '--counters', "$n->{prefix}/counters",
        '--redis', "127.0.0.1:$redis{port}", '--node', $n->{name},
        '--interval', $set{interval});
}
sync_start($_) for @nodes;

# until every node shows its sidecar synced (and, less strictly, knows
# the whole fleet)
my $ua = HTTP::Tiny->new(agent => '', timeout => 10, keep_alive => 1);
{
    my $t0 = time;
    my %fleet;
    while (1) {
        for my $n (@nodes) {
            if (defined(my $st = exited($n->{sync}))) {
                die "fleet: bulletin-sync $n->{name} ended ("
                    . describe_status($st) . "):\n"
                    . tail_of("$n->{prefix}/logs/sync.log", 20);
            }
            my $s = status($ua, $n, "top=1");
            $fleet{$n->{name}} = $s && $s->{fleet};
        }
        my @synced = grep { $_ && $_->{synced} } values %fleet;
        last if @synced == @nodes;
        if (time - $t0 > 20) {
            die "fleet: the sidecars did not sync within 20 s:\n" . join '',
                map { "  $_->{name}: status fleet "
                      . JSON::PP->new->canonical->encode($fleet{$_->{name}})
                      . "\n" . tail_of("$_->{prefix}/logs/sync.log", 10) }
                @nodes;
        }
        sleep 0.1;
    }
    say_ sprintf "fleet: the sidecars synced after %.1f s", time - $t0;
}


# ------------------------------------------------------------------- load

my $rate_node = $set{rate} / @nodes;
my $wrk_duration = int($set{lead} + $set{seconds} + 1.999);
my $start = int((time + $set{lead}) * 1000) / 1000;
my $end = $start + $set{seconds};

say_ sprintf "fleet: load: %s views/s (%s a node, %d connections each)"
     . " for %d s; lag probe every %d ms on n1, polled on n2",
     fmt($set{rate}, 0), fmt($rate_node, 0), $set{conns}, $set{seconds},
     1000 * $set{probe_every};

for my $i (0 .. $#nodes) {
    my $n = $nodes[$i];
    $n->{wrk_out} = "$dir/wrk-$n->{name}.txt";
    $n->{wrk} = spawn("wrk-$n->{name}", $n->{wrk_out},
        { FLEET_IDS_LUA => "$bench/ids.lua", FLEET_RATE => $rate_node,
          FLEET_THREADS => 1, FLEET_START => int($start * 1000),
          FLEET_SECONDS => $set{seconds}, BENCH_PAGES => $n_pages,
          BENCH_DIST => 'zipf', BENCH_SEED => $i + 1 },
        'wrk', '-t1', "-c$set{conns}", "-d${wrk_duration}s", '--timeout',
        '10s', '--latency', map({ ('-H', $_) } @agent), '-s',
        "$bench/fleet.lua", "http://127.0.0.1:$n->{port}/");
}

# the processes measured over the window
my @measured = (
    (map { ["bulletin-sync $_->{name}", $_->{sync}, 'sync'] } @nodes),
    ['redis-server', $redis{pid}, 'redis'],
    (map { ["nginx worker $_->{name}", $_->{workers}[0], 'worker'] } @nodes),
    (map { ["wrk $_->{name}", $_->{wrk}, 'wrk'] } @nodes),
);

sub sample {
    my (%o) = @_;
    my %s = (t => time, info => redis_info(), streams => redis_streams(),
             ticks => { map { $_->[1] => proc_ticks($_->[1]) } @measured },
             self => (times)[0] + (times)[1]);
    if ($o{fleet}) {
        for my $n (@nodes) {
            my $st = status($ua, $n, 'top=1');
            $s{fleet}{$n->{name}} = $st && ref $st->{fleet} ? $st->{fleet}
                                                             : {};
        }
    }
    return \%s;
}

my $viewer = HTTP::Tiny->new(agent => '', timeout => 10, keep_alive => 1,
    default_headers => { map { split /: /, $_, 2 } @agent });
my $poller = HTTP::Tiny->new(agent => '', timeout => 10, keep_alive => 1);
my ($na, $nb) = @nodes[0, 1];

my ($s0, $s1);
my $probes = 0;                 # views of the probe page made (200)
my @pending;                    # [sent at, views made so far]
my @lags;                       # s
my $timeouts = 0;
my @probe_errors;
my $polls = 0;
my $poll_errors = 0;
my $last_probe_view = 0;
my $next_probe = $start;
my $next_poll = $start;

while (1) {
    my $now = time;

    $s0 //= sample() if $now >= $start;
    $s1 //= sample(fleet => 1) if $now >= $end;

    if ($now >= $next_probe && $next_probe < $end) {
        my $t = time;
        my $r = $viewer->get("http://127.0.0.1:$na->{port}/bulletin/$probe_id");
        if ($r->{status} == 200) {
            $probes++;
            push @pending, [$t, $probes];
            $last_probe_view = time;
        } else {
            push @probe_errors, "$r->{status} $r->{reason}";
        }
        $next_probe += $set{probe_every};
        $next_probe = time if $next_probe < time - $set{probe_every};
    }

    if (@pending && time >= $next_poll) {
        my $s = status($poller, $nb, "id=$probe_id");
        my $t = time;
        $polls++;
        my $seen = $s && $s->{fleet} ? $s->{fleet}{views} : undef;
        $poll_errors++ unless defined $seen;
        while (@pending && defined $seen && $seen >= $pending[0][1]) {
            push @lags, $t - $pending[0][0];
            printf $log "probe %d: viewed at +%.3f s, seen on %s after"
                . " %.3f s\n", $pending[0][1], $pending[0][0] - $start,
                $nb->{name}, $lags[-1];
            shift @pending;
        }
        while (@pending && $t - $pending[0][0] > $set{probe_bound}) {
            $timeouts++;
            printf $log "probe %d: viewed at +%.3f s, not seen on %s in %d s\n",
                $pending[0][1], $pending[0][0] - $start, $nb->{name},
                $set{probe_bound};
            shift @pending;
        }
        $next_poll += $set{poll_every};
        $next_poll = $t if $next_poll < $t - $set{poll_every};
    }

    last if $s1 && !@pending;

    my $wake = min(grep { defined }
                   $s0 ? undef : $start, $s1 ? undef : $end,
                   $next_probe < $end ? $next_probe : undef,
                   @pending ? $next_poll : undef);
    my $wait = defined $wake ? $wake - time : 0.01;
    sleep min($wait, 0.05) if $wait > 0;
}

say_ sprintf "fleet: the load window ended; %d probes, %d answered", $probes,
    scalar @lags;

# wrk ends by itself after -d (nothing in flight: fleet.lua sends no
# request after the window); bounded
{
    my $deadline = $start - $set{lead} + $wrk_duration + 20;
    for my $n (@nodes) {
        while (!defined exited($n->{wrk})) {
            if (time > $deadline) {
                say_ "fleet: wrk $n->{name} did not end: killed";
                last;
            }
            sleep 0.05;
        }
        $n->{wrk_status} = stop_proc($n->{wrk}, 1);
    }
}

my %load;
for my $n (@nodes) {
    my $text = eval { slurp($n->{wrk_out}) } // '';
    print $log "# wrk $n->{name}\n$text\n";
    my %w = (text => $text);
    ($w{completed}) = $text =~ /(\d+) requests in /;
    ($w{non2xx}) = $text =~ /Non-2xx or 3xx responses: (\d+)/;
    my @sock = $text =~ /Socket \ errors: \ connect \ (\d+), \ read \ (\d+),
                         \ write \ (\d+), \ timeout \ (\d+)/x;
    $w{socket} = sum(0, @sock);
    my @threads = $text =~ /fleet-wrk: \ thread \ \d+ \ sent \ (\d+)
                            \ first_ms \ ([\d.]+) \ last_ms \ ([\d.]+)
                            \ behind_ms \ ([\d.]+)/xg;
    while (my ($sent, $first, $last, $behind) = splice @threads, 0, 4) {
        $w{sent} += $sent;
        $w{behind} += $behind;
        $w{first} = min($w{first} // $first, $first);
        $w{last} = max($w{last} // $last, $last);
    }
    for my $p (50, 99) {
        my ($v, $u) = $text =~ /^\s+$p(?:\.000)?%\s+([\d.]+)(us|ms|s)\b/m;
        $w{"lat$p"} = defined $v ? $v * { us => 1e-6, ms => 1e-3, s => 1 }->{$u}
                                 : undef;
    }
    die "fleet: wrk $n->{name} reported no request count ("
        . describe_status($n->{wrk_status} // -1) . "):\n$text"
        unless defined $w{completed};
    $w{rate} = $w{completed} / $set{seconds};
    $load{$n->{name}} = \%w;
}

my $completed = sum(map { $_->{completed} } values %load);
my $sent_all = sum(map { $_->{sent} // 0 } values %load);
my $last_view = max($last_probe_view,
                    map { ($_->{last} // 0) / 1000 } values %load);
my $first_send = min(map { ($_->{first} // $start * 1000) / 1000 }
                     values %load);
say_ sprintf "fleet: wrk completed %s views (%s sent), %s views/s",
    fmt($completed, 0), fmt($sent_all, 0),
    fmt($completed / $set{seconds}, 0);


# ----------------------------------------------------- quiet, then exact

my $check_at = $last_view + $set{quiet};
sleep $check_at - time if $check_at > time;

my $expected = $completed + $probes;

sub snapshot {
    my %snap;
    for my $n (@nodes) {
        my $full = status($ua, $n, 'top=1');
        my $pr = status($ua, $n, "id=$probe_id");
        $snap{$n->{name}} = {
            views => $full && $full->{totals} ? $full->{totals}{views} : undef,
            excluded => $full && $full->{totals} ? $full->{totals}{excluded}
                                                 : undef,
            fleet => $full ? $full->{fleet} : undef,
            fleet_views => $full && ref $full->{fleet}
                           && ref $full->{fleet}{totals}
                           ? $full->{fleet}{totals}{views} : undef,
            probe_own => $pr ? $pr->{views} : undef,
            probe_fleet => $pr && ref $pr->{fleet} ? $pr->{fleet}{views}
                                                   : undef,
        };
    }
    return \%snap;
}

sub exact {
    my ($snap) = @_;
    my @v = map { $snap->{$_->{name}}{views} } @nodes;
    return 0 if grep { !defined } @v;
    my $local = sum(@v);
    return 0 unless $local == $expected;
    for my $n (@nodes) {
        my $s = $snap->{$n->{name}};
        return 0 unless defined $s->{fleet_views} && $s->{fleet_views} == $local
                        && defined $s->{probe_fleet}
                        && $s->{probe_fleet} == $probes;
    }
    return 1;
}

my $snap = snapshot();
my $exact_at_check = exact($snap);
my $late;       # when not exact at the check: how long until it was
unless ($exact_at_check) {
    say_ "fleet: not exact $set{quiet} s after the last view; watching"
         . " $set{settle} s more";
    my $t0 = time;
    while (time - $t0 < $set{settle}) {
        sleep 0.25;
        if (exact(snapshot())) {
            $late = time - $last_view;
            last;
        }
    }
}

# the idle fleet: no view at all
my $q0 = sample();
sleep $set{idle};
my $q1 = sample();
my $quiet_secs = $q1->{t} - $q0->{t};

my %sync_alive;
for my $n (@nodes) {
    my $st = exited($n->{sync});
    $sync_alive{$n->{name}} = defined $st ? describe_status($st) : 'ran';
}
my $redis_end = redis_info();
my $dbsize = (redis_cmd('DBSIZE') =~ /(\d+)/)[0];
my @keys;       # [key, type, bytes, elements]
for my $key (sort split /\n/, redis_cmd('--scan')) {
    my ($type) = redis_cmd('TYPE', $key) =~ /(\w+)/;
    $type //= '?';
    my ($bytes) = redis_cmd('MEMORY', 'USAGE', $key, 'SAMPLES', '0')
                  =~ /(\d+)/;
    my $len = { stream => 'XLEN', hash => 'HLEN', list => 'LLEN',
                set => 'SCARD', zset => 'ZCARD' }->{$type};
    my ($elements) = $len ? redis_cmd($len, $key) =~ /(\d+)/ : ();
    push @keys, [$key, $type, $bytes, $elements];
    print $log "redis key $key: $type, ", $bytes // '?', " bytes, ",
        $elements // '-', " elements\n";
}
my %rss = map { $_->[1] => proc_rss_kb($_->[1]) } @measured;
my @load1 = (split ' ', slurp('/proc/loadavg'))[0 .. 2];

stop_everything();


# ----------------------------------------------------------------- report

my @report;
sub line { push @report, join '', @_ }

my $window = $s1->{t} - $s0->{t};
my $date = strftime('%Y-%m-%d %H:%M UTC', gmtime);

line "bulletin fleet bench, $date",
     $quick ? ' (FLEET_QUICK: a short run)' : '';
line "code: $commit (build/ as of the start of the run)";
line "machine: ", $model // '?', ", $cores cores, Linux $kernel, nginx ",
     $nginx_v // '?', ", redis ", $redis_v // '?',
     "; load average @load0 before, @load1 after";
line sprintf "fleet: %d nodes (nginx, worker_processes 1, a counters file"
     . " each), the same store of %s pages + the probe page (%s MB);"
     . " redis-server, no persistence; bulletin-sync --interval %d beside"
     . " each node; nothing pinned", scalar @nodes, fmt($n_pages, 0),
     fmt((-s $store) / 1048576, 1), $set{interval};
line sprintf "load: Zipf ids (bench/ids.lua, s = 1, a ring of 32,768 draws a"
     . " node, seeds 1..%d), target %s views/s for %d s, %s a node, %d"
     . " connections a node, paced by bench/fleet.lua", scalar @nodes,
     fmt($set{rate}, 0), $set{seconds}, fmt($rate_node, 0), $set{conns};
line sprintf "took %.1f min", (time - $started) / 60;
line '';

line 'Load (achieved = completed / the window\'s length; wrk sends nothing'
     . ' after the window, so completed = sent)';
line table(['node', 'target/s', 'achieved/s', '%', 'completed', 'sent',
            'errors', 'latency p50', 'p99', 'behind'],
    (map { my $w = $load{$_->{name}};
           [ $_->{name}, fmt($rate_node, 0), fmt($w->{rate}, 0),
             fmt(100 * $w->{rate} / $rate_node, 1), fmt($w->{completed}, 0),
             fmt($w->{sent}, 0),
             fmt(($w->{non2xx} // 0) + $w->{socket}, 0),
             ms($w->{lat50}, 2), ms($w->{lat99}, 2),
             fmt($w->{behind}, 0) . ' ms' ] } @nodes),
    [ 'fleet', fmt($set{rate}, 0), fmt($completed / $set{seconds}, 0),
      fmt(100 * $completed / $set{seconds} / $set{rate}, 1),
      fmt($completed, 0), fmt($sent_all, 0),
      fmt(sum(map { ($_->{non2xx} // 0) + $_->{socket} } values %load), 0),
      '', '', '' ]);
line '(latency: wrk\'s; behind: the time the pacing gave up because wrk had'
     . ' fallen more than 50 ms behind its schedule, a busy machine)';
line '';

line sprintf 'CPU, %% of one core (utime + stime, /proc/PID/stat): over the'
     . ' %.1f s load window, and %.1f s of an idle fleet after the check'
     . ' (idle); RSS at the end',
     $window, $quiet_secs;
my %cpu;
my @cpu_rows;
for my $m (@measured) {
    my ($label, $pid, $kind) = @$m;
    my $d = sub {
        my ($a, $b) = @_;
        return undef unless defined $a->{ticks}{$pid}
                            && defined $b->{ticks}{$pid};
        my $secs = $b->{t} - $a->{t};
        return $secs > 0 ? 100 * ($b->{ticks}{$pid} - $a->{ticks}{$pid})
                                / $tck / $secs : undef;
    };
    my $load_pct = $d->($s0, $s1);
    my $quiet_pct = $kind eq 'wrk' ? undef : $d->($q0, $q1);
    $cpu{$label} = $load_pct;
    push @cpu_rows, [ $label, defined $load_pct ? fmt($load_pct, 1) . ' %'
                                                 : '-',
                      defined $quiet_pct ? fmt($quiet_pct, 1) . ' %' : '-',
                      defined $rss{$pid} ? fmt($rss{$pid} / 1024, 1) . ' MB'
                                          : '-' ];
}
push @cpu_rows, [ 'fleet.pl (probe)',
                  fmt(100 * ($s1->{self} - $s0->{self}) / $window, 1) . ' %',
                  '-', '-' ];
line table(['process', 'load', 'idle', 'RSS'], @cpu_rows);

my $cmds = ($s1->{info}{total_commands_processed} // 0)
         - ($s0->{info}{total_commands_processed} // 0);
my $netin = ($s1->{info}{total_net_input_bytes} // 0)
          - ($s0->{info}{total_net_input_bytes} // 0);
my $netout = ($s1->{info}{total_net_output_bytes} // 0)
           - ($s0->{info}{total_net_output_bytes} // 0);
line 'Redis';
line table(['', 'value'],
    [ 'used_memory at the end',
      fmt(($redis_end->{used_memory} // 0) / 1048576, 1) . ' MB ('
      . ($redis_end->{used_memory} // '?') . ' bytes)' ],
    [ 'used_memory_rss at the end',
      fmt(($redis_end->{used_memory_rss} // 0) / 1048576, 1) . ' MB' ],
    [ 'keys at the end', fmt($dbsize, 0) ],
    [ 'commands/s over the window (total_commands_processed)',
      fmt($cmds / $window, 0) ],
    [ 'network in / out over the window',
      fmt($netin / $window / 1024, 0) . ' / '
      . fmt($netout / $window / 1024, 0) . ' KB/s' ],
    [ 'used_memory growth over the window',
      fmt((($s1->{info}{used_memory} // 0) - ($s0->{info}{used_memory} // 0))
          / $window / 1024, 0) . ' KB/s' ],
    [ 'CPU over the window', fmt($cpu{'redis-server'}, 1) . ' %' ]);
line table(['key', '<type', 'elements', 'MEMORY USAGE'],
    map { [ $_->[0], $_->[1], fmt($_->[3], 0),
            fmt($_->[2], 0) . ' bytes' ] } @keys);
# the change feed: what it holds once trimmed (bulletin-sync's XADD
# MAXLEN ~ 1000, the README's "about 1,000 entries"), at this run's
# entries a second and bytes an entry
for my $k (grep { $_->[1] eq 'stream' && $_->[3] } @keys) {
    my $cap = 1_000;
    my $added = ($s1->{streams}{$k->[0]} // 0)
              - ($s0->{streams}{$k->[0]} // 0);
    my $per_s = $added / $window;
    line sprintf '%s: %s entries added over the load window (%.1f a'
         . ' second), %s bytes an entry at the end: trimmed at about %s'
         . ' entries, it holds at most about %s MB, reached after %s h of'
         . ' this load', $k->[0], fmt($added, 0), $per_s,
         fmt($k->[2] / $k->[3], 0), fmt($cap, 0),
         fmt($cap * $k->[2] / $k->[3] / 1048576, 0),
         $per_s > 0 ? fmt($cap / $per_s / 3600, 1) : '-';
}
line '';

my @lagsort = sort { $a <=> $b } @lags;
my ($p50, $p99) = map { percentile($_, @lags, (9e9) x $timeouts) } 50, 99;
my $lmax = $timeouts ? undef : $lagsort[-1];
line sprintf 'Lag: every %d ms one view of %s on %s; %s\'s status?id=%s'
     . ' polled every %d ms until fleet.views reached the views made;'
     . ' measured from before the view\'s request to the poll\'s answer;'
     . ' each wait bounded at %d s', 1000 * $set{probe_every}, $probe_id,
     $na->{name}, $nb->{name}, $probe_id, 1000 * $set{poll_every},
     $set{probe_bound};
line table(['probes', 'answered', 'timed out', 'p50', 'p99', 'max', 'min',
            'target p99'],
    [ $probes, scalar @lags, $timeouts,
      $p50 && $p50 > 1e9 ? '> 10 s' : ms($p50),
      $p99 && $p99 > 1e9 ? '> 10 s' : ms($p99),
      $timeouts ? '> 10 s' : ms($lmax), ms($lagsort[0]),
      '<= ' . fmt(2 * $set{interval}, 0) . ' ms' ]);
line sprintf 'lags within 1 interval: %d, within 2: %d, beyond: %d; the'
     . ' sidecars were started %s ms after n1\'s (a sidecar ticks every'
     . ' interval from its start: their phases stay as started)',
     scalar(grep { $_ <= $set{interval} / 1000 } @lags),
     scalar(grep { $_ > $set{interval} / 1000
                   && $_ <= 2 * $set{interval} / 1000 } @lags),
     scalar(grep { $_ > 2 * $set{interval} / 1000 } @lags) + $timeouts,
     join ', ', map { "$_->{name} " . fmt(1000 * ($_->{sync_started}
                                          - $nodes[0]{sync_started}), 0) }
                @nodes[1 .. $#nodes];
line "probe errors: @probe_errors" if @probe_errors;
line "$nb->{name} polls: $polls, $poll_errors without a fleet count"
    if $poll_errors;
line '';

line 'The sidecars, as each node\'s status shows them at the check (lag_ms:'
     . ' at the end of the load window, and at the check)';
line table(['node', 'own views', 'fleet views', '<sidecar', 'syncs', 'errors',
            '<last error', 'lag_ms', 'nodes', 'live'],
    map { my $s = $snap->{$_->{name}}; my $f = ref $s->{fleet} ? $s->{fleet}
                                                                 : {};
          [ $_->{name}, fmt($s->{views}, 0), fmt($s->{fleet_views}, 0),
            $sync_alive{$_->{name}}, $f->{syncs} // '-', $f->{errors} // '-',
            $f->{error} // '-',
            ($s1->{fleet}{$_->{name}}{lag_ms} // '-') . ', '
            . ($f->{lag_ms} // '-'), $f->{nodes} // '-',
            $f->{nodes_live} // '-' ] } @nodes);

# verdicts
my @checks;
my $fail = 0;
sub check {
    my ($ok, $text) = @_;
    push @checks, ($ok ? 'PASS  ' : 'FAIL  ') . $text;
    $fail++ unless $ok;
}

my $local = sum(map { $snap->{$_->{name}}{views} // 0 } @nodes);
check($local == $expected,
      sprintf "the nodes' own views add up to what was viewed: %s = %s"
      . " (wrk completed %s + probe views %d)", fmt($local, 0),
      fmt($expected, 0), fmt($completed, 0), $probes);
for my $n (@nodes) {
    my $s = $snap->{$n->{name}};
    check(defined $s->{fleet_views} && $s->{fleet_views} == $local,
          sprintf "%s's fleet totals are the fleet's views: %s = %s",
          $n->{name}, fmt($s->{fleet_views}, 0), fmt($local, 0));
}
check(!grep({ !defined $snap->{$_->{name}}{probe_fleet}
              || $snap->{$_->{name}}{probe_fleet} != $probes } @nodes),
      "every node shows the probe page's fleet views, $probes: "
      . join ', ', map { "$_->{name} "
          . ($snap->{$_->{name}}{probe_fleet} // '-') } @nodes);
check(!grep({ $_ ne 'ran' } values %sync_alive),
      'the sidecars ran throughout');
check($sent_all == $completed,
      sprintf 'wrk completed every request it sent (%s of %s)',
      fmt($completed, 0), fmt($sent_all, 0));
check(!grep({ ($_->{non2xx} // 0) + $_->{socket} } values %load),
      'no wrk errors');
push @checks, sprintf '      (%s %d s after the last view%s)',
    $exact_at_check ? 'checked' : 'checked, NOT exact,', $set{quiet},
    $exact_at_check ? ''
    : defined $late ? sprintf('; exact %.1f s after it', $late)
    : "; still not exact $set{settle} s later";

my $lag_ok = !$timeouts && defined $p99 && $p99 <= 2 * $set{interval} / 1000;
push @checks, sprintf '%s  lag p99 %s <= 2 x interval (%d ms)',
    $lag_ok ? 'met   ' : 'MISSED', $p99 && $p99 > 1e9 ? '> 10 s' : ms($p99),
    2 * $set{interval};
for my $n (@nodes) {
    my $c = $cpu{"bulletin-sync $n->{name}"};
    push @checks, sprintf '%s  bulletin-sync %s CPU %s %% <= 5 %% of a core',
        defined $c && $c <= 5 ? 'met   ' : 'MISSED', $n->{name}, fmt($c, 1);
}
my $rate_pct = 100 * $completed / $set{seconds} / $set{rate};
push @checks, sprintf '%s  achieved rate %s views/s, %.1f %% of the target'
    . ' %s', $rate_pct >= 99 ? 'met   ' : 'SHORT ',
    fmt($completed / $set{seconds}, 0), $rate_pct, fmt($set{rate}, 0);
line 'Checks (PASS/FAIL: exactness, which fails the run; met/MISSED: the'
     . ' issue\'s targets, reported)';
line join "\n", @checks;

my $text = join("\n", @report) . "\n";
spew("$out/fleet.txt", $text);
print $log "\n$text";
print "\n$text\n(also in build/bench/fleet.txt; logs in build/bench/fleet/)\n";

if ($fail) {
    print "\nfleet: sidecar logs (the last lines):\n";
    print "  $_->{name}:\n", tail_of("$_->{prefix}/logs/sync.log", 15)
        for @nodes;
}

exit($fail ? 1 : 0);
