#!/usr/bin/perl
# make bench: bulletin side by side with what an operator would use
# instead (issue 7).  bench/run.sh runs it; everything goes to build/bench/.
#
# 1. the bench page (bench/page.json, about 8 KB rendered) in a store with
#    the samples; nginx instances under build/bench/run/, 1 worker pinned
#    to CPU 0, wrk pinned to CPU 1;
# 2. the page's views are brought to a 7-digit count (6 with BENCH_QUICK),
#    so that its length no longer changes, and its plain and gzip bytes
#    are fetched from bulletin: every other variant serves those bytes;
# 3. the main table: a warm-up, then rounds, each variant once a round,
#    the order rotated every round; medians;
# 4. the same with worker_processes 2 (reported, not judged);
# 5. instructions per request under callgrind: (Ir(4000) - Ir(2000)) / 2000
#    requests on one keep-alive connection, nginx with master_process off;
# 6. scale: stores of 10, 10,000 and 1,000,000 generated pages; Zipf ids
#    after a warm-up pass, in interleaved rounds; then a cold run with
#    uniform ids on a fresh nginx;
# 7. the status stall (issue 17): bench/status-stall.pl on a store of
#    100,000 generated pages (3 runs of 10 s; 1 of 3 s with BENCH_QUICK),
#    a page's latency alone and while ?top=all is scraped, measured by
#    bench/stall-client.c; its verdict and median rows in the report;
# 8. build/bench/results.txt, and the tables on stdout.
#
# BENCH_QUICK=1: a short run (2 rounds of 2 s, sizes 10 and 10,000), to
# check the machinery, not to quote.  BENCH_SIZES="10 10000" sets the
# store sizes of the scale runs.  BENCH_ONLY=callgrind: step 5 alone
# (instructions are the same on a busy machine), a few minutes;
# BENCH_CG="return 200;bulletin gzip" runs only the variants named.
# BENCH_ONLY=scale: step 6 alone.  BENCH_SCALE_RUNS: the separate scale
# runs (3; 1 with BENCH_QUICK), each on freshly started nginx instances,
# whose median ratio is the verdict.  BENCH_ONLY=stall: step 7 alone
# (BENCH_KEEP_STORES=1 reuses its store too).  BENCH_NGINX=FILE runs
# another nginx binary (one built with symbols, say; not NGINX, which
# nginx itself reads as a list of inherited sockets).

use strict;
use warnings;

use Cwd qw(realpath);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use List::Util qw(max min sum);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

use FindBin;
use lib $FindBin::Bin;
use BenchUtil qw(slurp spew free_port fmt table);

$| = 1;
umask 022;

my $top = realpath(dirname(__FILE__) . '/..');
my $bench = "$top/bench";
my $out = "$top/build/bench";
my $run = "$out/run";
my $nginx = $ENV{BENCH_NGINX} // '/usr/sbin/nginx';
my $module = "$out/ngx_http_bulletin_module.so";     # copies, taken at
my $builder = "$out/bulletin-build";                # the start (below)
my $lua_so = '/usr/lib/nginx/modules/ngx_http_lua_module.so';

my $quick = $ENV{BENCH_QUICK} ? 1 : 0;
my $only = $ENV{BENCH_ONLY} // '';
my $only_cg = $only eq 'callgrind';
my $only_scale = $only eq 'scale';
my $only_stall = $only eq 'stall';
die "bench: BENCH_ONLY is callgrind, scale or stall\n"
    if $only ne '' && !$only_cg && !$only_scale && !$only_stall;

my %set = (
    threads        => 1,
    conns          => 32,
    warm           => $quick ? 1 : 2,          # s, per variant
    duration       => $quick ? 2 : 6,          # s, per run
    rounds         => $quick ? 2 : 5,
    count_to       => $quick ? 100_000 : 1_000_000,
    w2_rounds      => $quick ? 1 : 2,
    w2_duration    => $quick ? 2 : 4,
    cg_requests    => [2000, 4000],
    sizes          => $only_stall ? []
                      : [split ' ', $ENV{BENCH_SIZES}
                                    // ($quick ? '10 10000'
                                               : '10 10000 1000000')],
    scale_warm     => $quick ? 2 : 5,
    scale_duration => $quick ? 2 : 4,
    scale_rounds   => $quick ? 2 : 5,
    scale_runs     => $only_stall ? 0
                      : $ENV{BENCH_SCALE_RUNS} // ($quick ? 1 : 3),
    scale_cg       => [5000, 20000],    # warm-up, then measured requests
    cold_requests  => 32768,    # at most, in 1 s: each request once
    stall_pages    => 100_000,
    stall_seconds  => $quick ? 3 : 10,
    stall_runs     => $quick ? 1 : 3,
);

my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK());

# browser-like request headers: a phone's browser
my @browser = (
    'User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)'
        . ' AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5'
        . ' Mobile/15E148 Safari/604.1',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,'
        . '*/*;q=0.8',
    'Accept-Language: zh-CN,zh-Hans;q=0.9',
);
my $gzip_header = 'Accept-Encoding: gzip, deflate, br';

my $page_id = 'bench-page';
my $page_path = "/bulletin/$page_id";


# ---------------------------------------------------------------- helpers

my $log;
my $started = time;

sub say_ {
    my $text = join '', @_;
    $text =~ s/^bench: /sprintf 'bench %5.1f: ', (time - $started) \/ 60/e;
    print $text, "\n";
    print $log $text, "\n" if $log;
}



sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# (max - min) / median, in %: how much the rounds disagree
sub spread {
    my @v = grep { defined } @_;
    my $m = median(@v);
    return undef unless @v > 1 && $m;
    return 100 * (max(@v) - min(@v)) / $m;
}



# utime and stime (clock ticks) and minor faults of a process
sub proc_cpu {
    my ($pid) = @_;
    my $stat = eval { slurp("/proc/$pid/stat") } // return (0, 0, 0);
    $stat =~ s/^.*\) //s;
    my @f = split ' ', $stat;
    return ($f[11], $f[12], $f[7]);
}

# Rss and private (clean + dirty) memory of a process, in KB
sub proc_mem {
    my ($pid) = @_;
    my $text = eval { slurp("/proc/$pid/smaps_rollup") } // return {};
    my %m = $text =~ /^(\w+):\s+(\d+) kB/mg;
    return { rss => $m{Rss}, private => $m{Private_Clean} + $m{Private_Dirty},
             dirty => $m{Private_Dirty}, anon => $m{Anonymous},
             pss => $m{Pss}, huge => $m{FilePmdMapped} };
}

sub children_of {
    my ($ppid) = @_;
    my @kids;
    for my $dir (glob '/proc/[0-9]*') {
        my $stat = eval { slurp("$dir/stat") } // next;
        $stat =~ s/^.*\) //s;
        my @f = split ' ', $stat;
        push @kids, $dir =~ s{/proc/}{}r if $f[1] == $ppid;
    }
    return sort { $a <=> $b } @kids;
}

sub machine {
    my $cpu = slurp('/proc/cpuinfo');
    my ($model) = $cpu =~ /^model name\s*:\s*(.*)$/m;
    my $cores = () = $cpu =~ /^processor\s*:/mg;
    chomp(my $kernel = `uname -r`);
    my ($nv) = `$nginx -v 2>&1` =~ m{nginx/(\S+)};
    return { model => $model // 'unknown', cores => $cores,
             kernel => $kernel, nginx => $nv // '?' };
}

sub loadavg {
    return (split ' ', slurp('/proc/loadavg'))[0 .. 2];
}


# ------------------------------------------------------- nginx instances

my %inst;       # name => { prefix, conf, fill, ports, master, ... }

sub instance {
    my ($name, $template, %fill) = @_;
    $inst{$name} = { name => $name, prefix => "$run/$name",
                     template => $template, fill => \%fill };
    return $inst{$name};
}

sub write_conf {
    my ($in, %more) = @_;
    my %fill = (MODULE => $module, PREFIX => "$in->{prefix}/",
                %{ $in->{fill} }, %more);
    my $conf = slurp("$bench/conf/$in->{template}");
    $conf =~ s/%%(\w+)%%/
        defined $fill{$1} ? $fill{$1} : die "$in->{template}: no $1\n"/ge;
    make_path("$in->{prefix}/logs", "$in->{prefix}/tmp");
    chmod 0755, $in->{prefix};
    spew("$in->{prefix}/nginx.conf", $conf);
}

sub nginx_args {
    my ($in) = @_;
    return ('-p', "$in->{prefix}/", '-c', 'nginx.conf',
            '-e', "$in->{prefix}/logs/error.log");
}

# GET until nginx answers (any status): the time it took, or undef
sub wait_answer {
    my ($port, $path, $timeout) = @_;
    my $http = HTTP::Tiny->new(timeout => 2, keep_alive => 0);
    my $t0 = time;
    while (time - $t0 < $timeout) {
        my $r = $http->get("http://127.0.0.1:$port$path");
        return time - $t0 if $r->{status} != 599;
        sleep 0.005;
    }
    return undef;
}

# starts an instance; returns its start-up time (until the first port
# answers), or dies (or returns undef with $optional) with the error log
sub start {
    my ($in, %opt) = @_;
    my $workers = $opt{workers} // 1;
    write_conf($in, WORKERS => $workers,
               AFFINITY => $workers == 1 ? '01' : '01 10');
    unlink "$in->{prefix}/logs/error.log";

    my $t0 = time;
    if (system($nginx, nginx_args($in)) != 0) {
        my $err = eval { slurp("$in->{prefix}/logs/error.log") } // '';
        die "nginx $in->{name} did not start:\n$err" unless $opt{optional};
        $in->{error} = $err;
        return undef;
    }
    defined wait_answer($in->{ports}[0], $opt{ping} // '/', 60)
        or die "nginx $in->{name} does not answer\n";
    my $up = time - $t0;

    chomp(my $master = slurp("$in->{prefix}/logs/nginx.pid"));
    $in->{master} = $master;
    for (1 .. 200) {
        $in->{workers} = [children_of($master)];
        last if @{ $in->{workers} } == $workers;
        sleep 0.01;
    }
    return $up;
}

sub stop {
    my ($in) = @_;
    my $pid = delete $in->{master} or return;
    kill 'TERM', $pid;
    for (1 .. 1000) {
        return unless kill 0, $pid;
        sleep 0.01;
    }
    kill 'KILL', $pid;
}

sub stop_all {
    stop($_) for values %inst;
}

my $child;      # a valgrind run in progress

END {
    kill 'KILL', $child if $child;
    stop_all();
}
$SIG{INT} = $SIG{TERM} = sub { die "bench: interrupted\n" };


# ------------------------------------------------------------------- wrk

# one wrk run against a port; worker CPU from /proc, wrk's from times()
sub wrk {
    my (%a) = @_;
    my $in = $a{inst};
    my $threads = $a{threads} // $set{threads};
    my @cmd = ('wrk', "-t$threads", "-c$set{conns}", "-d$a{duration}s",
               '--timeout', '10s', map({ ('-H', $_) } @{ $a{headers} }),
               $a{script} ? ('-s', $a{script}) : (),
               "http://127.0.0.1:$a{port}$a{path}");
    unshift @cmd, 'taskset', '-c', '1' if $a{pin} // 1;

    local %ENV = (%ENV, %{ $a{env} // {} });

    my @w0 = map { [proc_cpu($_)] } @{ $in->{workers} };
    my @c0 = times;
    my $t0 = time;

    open my $fh, '-|', @cmd or die "wrk: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh or die "wrk failed ($?):\n$text";

    my $wall = time - $t0;
    my @c1 = times;
    my @w1 = map { [proc_cpu($_)] } @{ $in->{workers} };

    print $log "# ", join(' ', @cmd), "\n$text\n";

    my ($reqs, $secs, $unit) = $text =~ /(\d+) requests in ([\d.]+)(ms|s|m)/
        or die "wrk: no request count:\n$text";
    $secs *= { ms => 0.001, s => 1, m => 60 }->{$unit};
    my ($rps) = $text =~ m{Requests/sec:\s+([\d.]+)};
    my ($rnum, $runit) = $text =~ / requests in [^,]+, ([\d.]+)(\w+) read/;
    my %unit = (B => 1, KB => 1024, MB => 1024**2, GB => 1024**3,
                TB => 1024**4);
    my ($non2xx) = $text =~ /Non-2xx or 3xx responses: (\d+)/;
    my @sock = $text =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/;

    my $user = sum(0, map { $w1[$_][0] - $w0[$_][0] } 0 .. $#w0);
    my $sys = sum(0, map { $w1[$_][1] - $w0[$_][1] } 0 .. $#w0);
    my $ticks = $user + $sys;
    my $faults = sum(0, map { $w1[$_][2] - $w0[$_][2] } 0 .. $#w0);

    return {
        reqs      => $reqs,
        rps       => $rps,
        bytes     => $rnum * ($unit{$runit} // 1) / ($reqs || 1),
        worker_us => $reqs ? $ticks / $tck * 1e6 / $reqs : undef,
        user_us   => $reqs ? $user / $tck * 1e6 / $reqs : undef,
        sys_us    => $reqs ? $sys / $tck * 1e6 / $reqs : undef,
        busy      => 100 * $ticks / $tck / $secs / @w0,
        wrk_cpu   => 100 * ($c1[2] + $c1[3] - $c0[2] - $c0[3]) / $wall,
        faults    => $reqs ? $faults / $reqs : undef,
        errors    => ($non2xx // 0) + sum(0, @sock),
        wall      => $wall,
    };
}


# ------------------------------------------------------------------ setup

-x "$top/build/bulletin-build" && -f "$top/build/ngx_http_bulletin_module.so"
    or die "bench: build/ is not built: run make first\n";

remove_tree($run);
make_path($run, "$out/callgrind");
chmod 0755, "$top/build", $out, $run;

# the module and the builder as they are now: a make in the checkout
# while the bench runs must not rewrite a .so that nginx has mapped
for my $f ($module, $builder) {
    my $from = "$top/build/" . (split m{/}, $f)[-1];
    unlink $f;
    system('cp', $from, $f) == 0 or die "bench: cp $from: $?\n";
}
chomp(my $commit = `git -C $top describe --always --dirty 2>/dev/null`);

open $log, '>', "$out/log.txt" or die "$out/log.txt: $!\n";

my $machine = machine();
my @load0 = loadavg();
my @notes;

say_ sprintf "bench: %s, %d cores, nginx %s%s", $machine->{model},
    $machine->{cores}, $machine->{nginx},
    $quick ? ' (BENCH_QUICK: a short run, not for quoting)' : '';
say_ "bench: load average now @load0 (the machine is shared: other"
     . " work shows as noise)";

# the bench page with the samples, so that the store holds more than one
my $main_store = "$out/main.blt";
make_path("$out/page");
system("cp $bench/page.json $top/sample/*.json $out/page/") == 0 or die;
system("$builder -o $main_store $out/page >> $out/log.txt") == 0
    or die "bench: bulletin-build failed\n";

my $exclude = 'bulletin_count_exclude "bot|spider|crawl";';
my $regex = 'location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$'
          . ' { bulletin_page $bulletin_id; }';
my $bul = instance('bulletin', 'bulletin.conf', STORE => $main_store,
    COUNTERS => 'bulletin_counters zone=bulletin:1m file=counters;',
    EXCLUDE => $exclude, PAGES => $regex);
my $noz = instance('nozone', 'bulletin.conf', STORE => $main_store,
    COUNTERS => '# no counters zone', EXCLUDE => $exclude, PAGES => $regex);
# for callgrind only: what the exclusion regex costs
my $nox = instance('noexclude', 'bulletin.conf', STORE => $main_store,
    COUNTERS => 'bulletin_counters zone=bulletin:1m file=counters;',
    EXCLUDE => '# no bulletin_count_exclude', PAGES => $regex);
# for callgrind only: the id from a prefix location, no regex (issue 17)
my $pfx = instance('prefix', 'bulletin.conf', STORE => $main_store,
    COUNTERS => 'bulletin_counters zone=bulletin:1m file=counters;',
    EXCLUDE => $exclude, PAGES => 'location /bulletin/ { bulletin_page; }');
my $sta = instance('static', 'static.conf');
my $lua = instance('lua', 'lua.conf');

$bul->{ports} = [free_port()];
$noz->{ports} = [free_port()];
$sta->{ports} = [map { free_port() } 1 .. 5];
$lua->{ports} = [free_port()];
$nox->{ports} = [free_port()];
$pfx->{ports} = [free_port()];

@{ $bul->{fill} }{'PORT'} = @{ $bul->{ports} };
@{ $noz->{fill} }{'PORT'} = @{ $noz->{ports} };
@{ $lua->{fill} }{'PORT'} = @{ $lua->{ports} };
@{ $nox->{fill} }{'PORT'} = @{ $nox->{ports} };
@{ $pfx->{fill} }{'PORT'} = @{ $pfx->{ports} };
@{ $sta->{fill} }{qw(PORT_STATIC PORT_OFC PORT_GZSTATIC PORT_GZIP
                     PORT_RETURN)} = @{ $sta->{ports} };

start($bul, ping => $page_path);
start($noz, ping => $page_path);

my $http = HTTP::Tiny->new(agent => '', timeout => 10);

sub get {
    my ($port, $path, @headers) = @_;
    my %h = map { split /: /, $_, 2 } @headers;
    my $r = $http->get("http://127.0.0.1:$port$path", { headers => \%h });
    return $r;
}

sub views_of {
    my $r = get($bul->{ports}[0], "/bulletin_status?id=$page_id");
    my ($v) = $r->{content} =~ /"views":\s*(\d+)/
        or die "bench: no views in the status:\n$r->{content}\n";
    return $v;
}

# the counts: up to a 7-digit count (6 quick), so that the page's length
# stays the same through every run (until 10 times that many views)
my $views = views_of();
my $t_count = time;
while ($views < $set{count_to} && !$only_scale && !$only_stall) {
    say_ "bench: counting the page's views up to $set{count_to}"
         . " (now $views)";
    wrk(inst => $bul, port => $bul->{ports}[0], path => $page_path,
        headers => \@browser, duration => 5);
    $views = views_of();
}
say_ sprintf "bench: the page has %d views (%d digits)%s", $views,
    length $views,
    time - $t_count > 1 ? sprintf(', counted in %.0f s', time - $t_count)
                        : '';

# the page's bytes, as bulletin serves them
my $r = get($bul->{ports}[0], $page_path, @browser);
die "bench: $page_path: $r->{status}\n" unless $r->{status} == 200;
my $plain = $r->{content};
my ($shown) = $plain =~ /class="bulletin-views">(\d+)</
    or die "bench: no views slot in the page\n";

$r = get($bul->{ports}[0], $page_path, @browser, $gzip_header);
die "bench: gzip: $r->{status} $r->{headers}{'content-encoding'}\n"
    unless $r->{status} == 200
           && ($r->{headers}{'content-encoding'} // '') eq 'gzip';
my $gz = $r->{content};

my $unz;
gunzip(\$gz => \$unz) or die "bench: bulletin's gzip page: $GunzipError\n";
(my $expect = $plain) =~ s/(class="bulletin-views">)\d+/$1 . ($shown + 1)/e;
push @notes, $unz eq $expect
    ? "bulletin's gzip page inflates to its plain page (count + 1): checked"
    : "bulletin's gzip page does NOT inflate to its plain page";

say_ sprintf "bench: page %s: %d bytes plain, %d gzip (views %s)",
    $page_id, length $plain, length $gz, $shown;

# the same bytes for the others
make_path("$sta->{prefix}/html/bulletin", "$lua->{prefix}/html/bulletin");
spew("$sta->{prefix}/html/bulletin/$page_id", $plain);
spew("$sta->{prefix}/html/bulletin/$page_id.gz", $gz);
spew("$lua->{prefix}/html/bulletin/$page_id", $plain);

# return's body: geo values of at most 3,000 bytes (a config token is at
# most 4 KB, escapes included)
my (@geo, @names);
for (my $i = 0; $i < length $plain; $i += 3000) {
    my $piece = substr($plain, $i, 3000);
    my $n = @names + 1;
    $piece =~ s/(["\\])/\\$1/g;
    push @geo, "geo \$bench_page_$n {\n    default \"$piece\";\n}\n";
    push @names, "\$bench_page_$n";
}
make_path($sta->{prefix});
spew("$sta->{prefix}/page-geo.conf", join '', @geo);
$sta->{fill}{RETURN_BODY} = join '', @names;

start($sta, ping => $page_path);

my $have_lua = -f $lua_so;
if ($have_lua) {
    $have_lua = defined start($lua, ping => $page_path, optional => 1);
    push @notes, "the Lua variant did not start, skipped:\n"
                 . ($lua->{error} // '') unless $have_lua;
} else {
    push @notes, "the Lua variant is skipped: $lua_so is not installed"
                 . " (Debian's libnginx-mod-http-lua)";
}


# ---------------------------------------------------------------- variants

my @variants = (
    { name => 'bulletin', inst => $bul, gzip => 0, judge => 1 },
    { name => 'bulletin gzip', inst => $bul, gzip => 1 },
    { name => 'bulletin, no zone', inst => $noz, gzip => 0 },
    { name => 'bulletin, no zone, gzip', inst => $noz, gzip => 1 },
    { name => 'static', inst => $sta, port => 0, gzip => 0 },
    { name => 'static open_file_cache', inst => $sta, port => 1, gzip => 0 },
    { name => 'gzip_static', inst => $sta, port => 2, gzip => 1 },
    { name => 'gzip on the fly (level 6)', inst => $sta, port => 3,
      gzip => 1 },
    { name => 'return 200', inst => $sta, port => 4, gzip => 0 },
    $have_lua ? ({ name => 'lua', inst => $lua, gzip => 0 }) : (),
);
my %by_name = map { $_->{name} => $_ } @variants;

for my $v (@variants) {
    $v->{port} = $v->{inst}{ports}[$v->{port} // 0];
    $v->{headers} = [@browser, $v->{gzip} ? ($gzip_header) : ()];
}

# what each variant sends, checked once
(my $nocount = $plain) =~ s/(class="bulletin-[a-z-]+">)\d+</$1</g;

for my $v (@variants) {
    my $r = get($v->{port}, $page_path, @{ $v->{headers} });
    my $enc = $r->{headers}{'content-encoding'} // '';
    my $body = $r->{content} // '';
    my $same;
    if ($enc eq 'gzip') {
        my $x;
        gunzip(\$body => \$x) or die "bench: $v->{name}: $GunzipError\n";
        $same = $x eq $plain ? 'inflates to the page'
              : length $x == length $plain ? 'inflates to the page, other'
                                              . ' count'
              : $x eq $nocount ? 'inflates to the page without counts'
              : 'inflates to ' . length($x) . ' bytes';
        $same .= $body eq $gz ? ", bulletin's gzip bytes" : '';
    } else {
        $same = $body eq $plain ? 'the page'
              : length $body == length $plain ? 'the page, other count'
              : $body eq $nocount ? 'the page without counts'
              : length($body) . ' bytes, not the page';
    }
    die "bench: $v->{name}: status $r->{status}\n" if $r->{status} != 200;
    die "bench: $v->{name}: gzip expected\n" if $v->{gzip} && $enc ne 'gzip';
    $v->{body} = length $body;
    $v->{same} = $same;
    $v->{resp_headers} = join ', ', sort grep { !/^(date|server)$/ }
                                         keys %{ $r->{headers} };
}


# ------------------------------------------------------------ main rounds

sub rounds {
    my ($list, $rounds, $duration, %opt) = @_;
    my $each = delete $opt{each_round};
    my @runs = @$list;
    for my $round (1 .. $rounds) {
        $each->($round) if $each;
        my @order = @runs[map { ($_ + $round - 1) % @runs } 0 .. $#runs];
        say_ "bench: round $round of $rounds: "
             . join ', ', map { $_->{name} } @order;
        for my $v (@order) {
            my @args = (inst => $v->{inst}, port => $v->{port},
                        path => $v->{path} // $page_path,
                        headers => $v->{headers}, duration => $duration,
                        %opt, %{ $v->{wrk} // {} });
            my $res = wrk(@args);
            if ($res->{errors}) {
                push @notes, sprintf "%s, round %d: %d errors, run again",
                    $v->{name}, $round, $res->{errors};
                $res = wrk(@args);
            }
            push @{ $v->{runs} }, $res;
            push @notes, "$v->{name}: $res->{errors} errors in round $round"
                if $res->{errors};
        }
    }
    for my $v (@runs) {
        for my $k (qw(rps worker_us user_us sys_us busy wrk_cpu bytes
                      faults)) {
            $v->{$k} = median(map { $_->{$k} } @{ $v->{runs} });
        }
        $v->{us_spread} = spread(map { $_->{worker_us} } @{ $v->{runs} });
        $v->{us_best} = min(map { $_->{worker_us} } @{ $v->{runs} });
    }
}

my (@w2, $views_end);

unless ($only) {

say_ "bench: warm-up, $set{warm} s each";
for my $v (@variants) {
    wrk(inst => $v->{inst}, port => $v->{port}, path => $page_path,
        headers => $v->{headers}, duration => $set{warm});
}

say_ "bench: $set{rounds} rounds of $set{duration} s a variant,"
     . " $set{threads} wrk thread, $set{conns} connections";
rounds(\@variants, $set{rounds}, $set{duration});

$views_end = views_of();
push @notes, length $views_end == length $shown
    ? "the count stayed at " . length($shown) . " digits ($shown to"
      . " $views_end views): bulletin's page kept its length"
    : "the count went from $shown to $views_end views: bulletin's page"
      . " grew by " . (length($views_end) - length $shown) . " bytes";


# ------------------------------------------------------ worker_processes 2

say_ "bench: worker_processes 2 (not judged: 2 workers and wrk share"
     . " 2 cores)";
stop_all();
start($_, workers => 2, ping => $page_path)
    for $bul, $noz, $sta, $have_lua ? ($lua) : ();

@w2 = map { +{ %$_, runs => [] } } @variants;
rounds(\@w2, $set{w2_rounds}, $set{w2_duration}, pin => 0, threads => 2);
stop_all();

}

stop_all() if $only;


# --------------------------------------------------------------- callgrind

$by_name{'bulletin, no exclusion regex'} = {
    %{ $by_name{bulletin} }, name => 'bulletin, no exclusion regex',
    inst => $nox, port => $nox->{ports}[0], runs => [] };
$by_name{'bulletin, prefix location'} = {
    %{ $by_name{bulletin} }, name => 'bulletin, prefix location',
    inst => $pfx, port => $pfx->{ports}[0], runs => [] };

my @cg = grep { $_ } map { $by_name{$_} } 'bulletin', 'bulletin gzip',
    'bulletin, no zone', 'bulletin, no exclusion regex',
    'bulletin, prefix location', 'static',
    'static open_file_cache', 'gzip_static', 'return 200', 'lua';

# BENCH_CG="return 200,bulletin, prefix location": only these, by name
if (my $only = $ENV{BENCH_CG}) {
    my %keep = map { $_ => 1 } split /\s*;\s*/, $only;
    @cg = grep { $keep{$_->{name}} } @cg;
}
@cg = () if $only_scale || $only_stall;

sub callgrind {
    my ($v, $n) = @_;
    my $in = $v->{inst};
    (my $tag = $v->{name}) =~ s/\W+/-/g;
    my $file = "$out/callgrind/$tag.$n.out";
    unlink $file;

    write_conf($in, WORKERS => 1, AFFINITY => '01');
    $child = fork // die "fork: $!\n";
    if ($child == 0) {
        open STDOUT, '>>', "$out/callgrind/valgrind.log";
        open STDERR, '>&', \*STDOUT;
        exec 'valgrind', '--tool=callgrind', "--callgrind-out-file=$file",
             $nginx, nginx_args($in), '-g', 'daemon off; master_process off;';
        die "valgrind: $!\n";
    }
    defined wait_answer($v->{port}, '/nonexistent', 120)
        or die "bench: nginx under callgrind does not answer\n";
    system($^X, "$bench/client.pl", $v->{port}, $page_path, $n,
           @{ $v->{headers} }) == 0
        or die "bench: callgrind client failed for $v->{name}\n";
    # valgrind may not wake nginx's epoll_wait for the signal: a
    # connection does
    for my $try (1 .. 60) {
        kill $try < 30 ? 'QUIT' : 'KILL', $child;
        last if waitpid($child, POSIX::WNOHANG()) == $child;
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->{port});
        sleep 0.5;
        last if waitpid($child, POSIX::WNOHANG()) == $child;
    }
    $child = undef;

    my ($ir) = slurp($file) =~ /^(?:totals|summary):\s*(\d+)/m
        or die "bench: $file: no totals\n";
    return ($ir, $file);
}

say_ "bench: callgrind, $set{cg_requests}[0] and $set{cg_requests}[1]"
     . " requests a variant" if @cg;
for my $v (@cg) {
    my ($n1, $n2) = @{ $set{cg_requests} };
    my ($ir1, $f1) = callgrind($v, $n1);
    my ($ir2, $f2) = callgrind($v, $n2);
    $v->{ir} = ($ir2 - $ir1) / ($n2 - $n1);
    $v->{ir_total} = [$ir1 / $n1, $ir2 / $n2];
    $v->{cg_files} = [$f1, $f2];
    say_ sprintf "bench:   %-26s %8s instructions a request", $v->{name},
        fmt($v->{ir}, 0);
}

# per function: the difference of two annotations, a request's share.
# callgrind_annotate lists a function once per source file its code came
# from (inlining): self costs add up, inclusive ones overlap (the largest
# is the function's).  Functions are named "function (object)"; code in
# no object is JIT code (PCRE2's, LuaJIT's).

sub annotate {
    my ($file, $inclusive) = @_;
    my (%f, %obj);
    my @cmd = ('callgrind_annotate', '--auto=no', '--threshold=100',
               $inclusive ? '--inclusive=yes' : (), $file);
    open my $fh, '-|', @cmd or die "callgrind_annotate: $!\n";
    my $body = 0;
    while (my $l = <$fh>) {
        $body = 1 if $l =~ /file:function/;
        next unless $body;
        next unless $l =~ /^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*?)\s*$/;
        my ($n, $where) = ($1 =~ tr/,//dr, $2);
        my $obj = $where =~ s/ \[(.*)\]$// ? (split m{/}, $1)[-1] : undef;
        my $func = $where =~ /:([^:]+)$/ ? $1 : $where;
        $obj{$func} //= $obj;
        $f{$func} = $inclusive ? max($f{$func} // 0, $n)
                               : ($f{$func} // 0) + $n;
    }
    close $fh;
    return { map { ($_ . ' (' . ($obj{$_} // 'no object: JIT code') . ')'
                    => $f{$_}) } keys %f };
}

sub per_request {
    my ($v, $inclusive) = @_;
    my ($lo, $hi) = map { annotate($_, $inclusive) } @{ $v->{cg_files} };
    my $n = $set{cg_requests}[1] - $set{cg_requests}[0];
    my %d = map { $_ => (($hi->{$_} // 0) - ($lo->{$_} // 0)) / $n }
            keys %$hi;
    return \%d;
}

my %profile;
for my $v (grep { $_->{cg_files} } map { $by_name{$_} } 'bulletin',
           'bulletin gzip', 'bulletin, no zone',
           'bulletin, no exclusion regex', 'bulletin, prefix location',
           'return 200', 'static', 'gzip_static')
{
    $profile{$v->{name}} = { self => per_request($v, 0),
                             incl => per_request($v, 1) };
}


# instructions per request by function (self), the variants side by side
sub functions_table {
    my @names = grep { $profile{$_} } 'bulletin', 'bulletin, no zone',
                                      'bulletin, no exclusion regex',
                                      'bulletin, prefix location',
                                      'bulletin gzip', 'return 200', 'static',
                                      'gzip_static';
    my %all;
    for my $n (@names) {
        $all{$_} = 1 for grep { abs $profile{$n}{self}{$_} >= 20 }
                         keys %{ $profile{$n}{self} };
    }
    my @fns = sort { ($profile{bulletin}{self}{$b} // 0)
                     <=> ($profile{bulletin}{self}{$a} // 0)
                     || $a cmp $b } keys %all;
    my $t = table(['function (object)', @names],
                  map { my $f = $_;
                        [$f,
                         map { fmt($profile{$_}{self}{$f}, 0) } @names] }
                  @fns);
    return "Instructions per request by function (self), >= 20 in one of"
           . " them:\n\n$t";
}

if ($only_cg) {
    my $text = "bulletin bench, callgrind only, "
        . strftime('%Y-%m-%d %H:%M UTC', gmtime) . "\n\n"
        . table(['variant', 'Ir/req', 'Ir/return'],
                map { [$_->{name}, fmt($_->{ir}, 0),
                       $by_name{'return 200'}{ir}
                           ? fmt($_->{ir} / $by_name{'return 200'}{ir}, 3)
                             . 'x' : '-'] } @cg)
        . "\n\n" . functions_table();
    spew("$out/callgrind/functions.txt", $text);
    print "\n$text\n(also in build/bench/callgrind/functions.txt)\n";
    stop_all();
    exit 0;
}


# ------------------------------------------------------------------ scale

my @scale;

for my $n (@{ $set{sizes} }) {
    my $dir = "$out/scale/$n";
    my $stamp = "$dir/json/.done";
    make_path($dir);
    chmod 0755, "$out/scale", $dir;

    if (!-f $stamp || -M $stamp > -M "$bench/gen-pages.pl") {
        say_ "bench: generating $n bulletins in $dir/json";
        my $t0 = time;
        remove_tree("$dir/json");
        system($^X, "$bench/gen-pages.pl", $n, "$dir/json") == 0 or die;
        spew($stamp, '');
        say_ sprintf "bench:   %.1f s", time - $t0;
    }

    # BENCH_KEEP_STORES=1: the stores of the last run, when there are
    if (!$ENV{BENCH_KEEP_STORES} || !-f "$dir/build.s") {
        say_ "bench: building the store of $n pages";
        my $t0 = time;
        my @dirs = glob "$dir/json/d*";
        system("/usr/bin/time -f '%M' -o $dir/builder.rss $builder"
               . " -t $bench/small.html -o $dir/store.blt @dirs"
               . " >> $out/log.txt") == 0
            or die "bench: bulletin-build failed at $n pages\n";
        spew("$dir/build.s", time - $t0);
    }
    my $s = { pages => $n, build_s => 0 + slurp("$dir/build.s"),
              build_rss => 0 + slurp("$dir/builder.rss"),
              store_bytes => -s "$dir/store.blt" };
    say_ sprintf "bench:   %.1f s, %s bytes, the builder's peak RSS %s KB",
        $s->{build_s}, fmt($s->{store_bytes}, 0), fmt($s->{build_rss}, 0);

    my $zone = int($n * 256 / 1048576) + 2;
    # the README's configuration: the prefix form
    my $in = instance("scale-$n", 'bulletin.conf', STORE => "$dir/store.blt",
        COUNTERS => "bulletin_counters zone=bulletin:${zone}m file=counters;",
        EXCLUDE => $exclude, PAGES => 'location /bulletin/ { bulletin_page; }');
    $in->{ports} = [free_port()];
    $in->{fill}{PORT} = $in->{ports}[0];
    remove_tree($in->{prefix});

    $s->{inst} = $in;
    $s->{name} = "$n pages";
    $s->{port} = $in->{ports}[0];
    $s->{path} = '/';
    $s->{headers} = [@browser];
    $s->{wrk} = { script => "$bench/ids.lua",
                  env => { BENCH_PAGES => $n, BENCH_DIST => 'zipf' } };
    push @scale, $s;
}

# the kernel's page cache of a file, in KB (util-linux's fincore)
sub cached_kb {
    my ($file) = @_;
    my ($kb) = `fincore --bytes --noheadings --output RES '$file' 2>/dev/null`
               =~ /(\d+)/;
    return defined $kb ? $kb / 1024 : undef;
}

# separate runs: each starts every scale nginx afresh, warms it up with
# Zipf ids and measures interleaved rounds; a run's ratio is the median of
# its rounds' paired ratios, the verdict the median of the runs' ratios
for my $run (1 .. $set{scale_runs}) {
    for my $s (@scale) {
        stop($s->{inst});
        # out of the page cache, as bulletin-build leaves a new store:
        # nginx's check reads it in through its mapping, in huge pages
        # where the kernel has them for files
        system('dd', "if=$out/scale/$s->{pages}/store.blt", 'iflag=nocache',
               'count=0', 'status=none') == 0
            or die "bench: dd iflag=nocache failed\n";
        my $up = start($s->{inst}, ping => '/bulletin/p0000000');
        $s->{startup} //= $up;
        $s->{mem_start} //= { master => proc_mem($s->{inst}{master}),
                              worker => proc_mem($s->{inst}{workers}[0]) };
        $s->{runs} = [];
        say_ sprintf "bench: %s: nginx answers after %.3f s", $s->{name},
            $up;
    }

    say_ "bench: scale, run $run of $set{scale_runs}: a Zipf warm-up pass"
         . " of $set{scale_warm} s a store";
    for my $s (@scale) {
        wrk(inst => $s->{inst}, port => $s->{port}, path => '/',
            headers => $s->{headers}, duration => $set{scale_warm},
            script => "$bench/ids.lua",
            env => { BENCH_PAGES => $s->{pages}, BENCH_SEED => 99 });
    }

    say_ "bench: scale, run $run: Zipf ids, $set{scale_rounds} rounds of"
         . " $set{scale_duration} s";
    rounds(\@scale, $set{scale_rounds}, $set{scale_duration},
           each_round => sub {
               my ($round) = @_;
               $_->{wrk}{env}{BENCH_SEED} = 100 * $run + $round for @scale;
           });

    my ($small) = grep { $_->{pages} == 10 } @scale;
    for my $s (@scale) {
        push @{ $s->{zipf_runs} }, {
            map({ $_ => $s->{$_} }
                qw(rps worker_us user_us sys_us busy wrk_cpu faults
                   us_spread)),
            ratio => $small ? ratio($s, $small) : undef,
            rounds => [@{ $s->{runs} }] };
        say_ sprintf "bench:   %s: %.2f us/req%s", $s->{name},
            $s->{worker_us},
            $small && $s != $small
                ? sprintf(', %+.1f %% against 10 pages',
                          100 * (ratio($s, $small) - 1))
                : '';
    }
}

for my $s (@scale) {
    my @r = @{ $s->{zipf_runs} };
    $s->{mem_warm} = proc_mem($s->{inst}{workers}[0]);
    $s->{cached_warm} = cached_kb("$out/scale/$s->{pages}/store.blt");
    $s->{zipf} = { map { my $k = $_; ($k => median(map { $_->{$k} } @r)) }
                   qw(rps worker_us user_us sys_us busy wrk_cpu faults
                      us_spread) };
    my @ratios = grep { defined } map { $_->{ratio} } @r;
    $s->{zipf}{ratio} = @ratios ? median(@ratios) : undef;
    $s->{zipf}{ratios} = \@ratios;
    $s->{runs} = [map { @{ $_->{rounds} } } @r];    # every round, for
}                                                     # runs.tsv

say_ "bench: scale: cold, 1 s (at most $set{cold_requests} requests) of"
     . " uniformly drawn ids on a fresh nginx" if @scale;
for my $s (@scale) {
    stop($s->{inst});
    $s->{startup2} = start($s->{inst}, ping => '/bulletin/p0000000');
    my $res = wrk(inst => $s->{inst}, port => $s->{port}, path => '/',
                  headers => $s->{headers}, duration => 1,
                  script => "$bench/ids.lua",
                  env => { BENCH_PAGES => $s->{pages},
                           BENCH_DIST => 'uniform', BENCH_SEED => 7,
                           BENCH_RING => $set{cold_requests},
                           BENCH_STOP => $set{cold_requests} });
    $s->{cold} = $res;
    $s->{mem_cold} = proc_mem($s->{inst}{workers}[0]);
    stop($s->{inst});
}

# where a request's memory accesses miss: callgrind's cache simulation
# (perf's hardware counters are "not supported" in this VM), per request
# over Zipf ids after a warm-up, for the smallest and the largest store
sub scale_cachegrind {
    my ($s) = @_;
    my ($warm, $n) = @{ $set{scale_cg} };
    my $in = $s->{inst};
    my $file = "$out/callgrind/scale-$s->{pages}.out";
    my $paths = "$out/callgrind/scale-$s->{pages}.paths";
    unlink $file;

    # the ids as bench/ids.lua draws them: Zipf (s = 1), rank r is page
    # (r - 1) * 7919 % N
    my ($sum, @cdf) = (0);
    push @cdf, $sum += 1 / $_ for 1 .. $s->{pages};
    srand(7);
    open my $fh, '>', $paths or die "$paths: $!\n";
    for (1 .. 32768) {
        my $u = rand() * $sum;
        my ($lo, $hi) = (0, $#cdf);
        while ($lo < $hi) {
            my $mid = int(($lo + $hi) / 2);
            if ($cdf[$mid] < $u) { $lo = $mid + 1 } else { $hi = $mid }
        }
        printf $fh "/bulletin/p%07d\n", $lo * 7919 % $s->{pages};
    }
    close $fh;

    write_conf($in, WORKERS => 1, AFFINITY => '01');
    $child = fork // die "fork: $!\n";
    if ($child == 0) {
        open STDOUT, '>>', "$out/callgrind/valgrind.log";
        open STDERR, '>&', \*STDOUT;
        # this VM tells no cache sizes (no cpuid leaf, no sysfs), and
        # valgrind's guess is a 512 MB LL: an EPYC core's L1s and its
        # CCX's 32 MB L3 instead
        exec 'valgrind', '--tool=callgrind', '--cache-sim=yes',
             '--I1=32768,8,64', '--D1=32768,8,64', '--LL=33554432,16,64',
             '--instr-atstart=no', "--callgrind-out-file=$file",
             $nginx, nginx_args($in), '-g', 'daemon off; master_process off;';
        die "valgrind: $!\n";
    }
    defined wait_answer($s->{port}, '/nonexistent', 600)
        or die "bench: nginx under callgrind does not answer\n";
    system('callgrind_control', '-i', 'on', $child) == 0
        or die "bench: callgrind_control -i on failed\n";
    system($^X, "$bench/client.pl", $s->{port}, "\@$paths", $warm,
           @{ $s->{headers} }) == 0
        or die "bench: the callgrind client failed at $s->{pages} pages\n";
    system("callgrind_control -z $child >/dev/null") == 0
        or die "bench: callgrind_control -z failed\n";
    system($^X, "$bench/client.pl", $s->{port}, "\@$paths", $n,
           @{ $s->{headers} }) == 0
        or die "bench: the callgrind client failed at $s->{pages} pages\n";
    system("callgrind_control -d $child >/dev/null") == 0
        or die "bench: callgrind_control -d failed\n";
    kill 'KILL', $child;
    waitpid $child, 0;
    $child = undef;

    # the dump after the zeroing: its totals are the n requests'
    my ($dump) = sort { -M $a <=> -M $b } glob "$file.*";
    my $text = slurp($dump // $file);
    my @events = split ' ', ($text =~ /^events:\s*(.*)$/m)[0] // '';
    my @total = split ' ', ($text =~ /^(?:totals|summary):\s*(.*)$/m)[0]
                             // '';
    my %per = map { $events[$_] => ($total[$_] // 0) / $n } 0 .. $#events;
    my ($ll) = $text =~ /^desc: LL cache:\s*(.*)$/m;
    $per{cache} = $ll;
    return \%per;
}

my ($cg_small) = grep { $_->{pages} == 10 } @scale;
my ($cg_large) = sort { $b->{pages} <=> $a->{pages} } @scale;
for my $s (grep { defined } $cg_small,
           $cg_large && $cg_large != ($cg_small // 0) ? $cg_large : ())
{
    say_ "bench: scale: cache simulation (callgrind), $s->{name}";
    $s->{cachesim} = eval { scale_cachegrind($s) };
    push @notes, "the cache simulation of $s->{name} failed: $@" if $@;
}


# ------------------------------------------------------------------ stall

# issue 17: does a scrape of ?top=all stall the pages?  bench/status-stall.pl
# on 100,000 generated pages (the scale runs' template), its own nginx
my %stall;

sub stall_step {
    my $n = $set{stall_pages};
    my $dir = "$out/stall-store";
    my $stamp = "$dir/json/.done";
    make_path($dir);
    chmod 0755, $dir;

    if (!-f $stamp || -M $stamp > -M "$bench/gen-pages.pl") {
        say_ "bench: stall: generating $n bulletins in $dir/json";
        remove_tree("$dir/json");
        system($^X, "$bench/gen-pages.pl", $n, "$dir/json") == 0 or die;
        spew($stamp, '');
    }

    if (!$ENV{BENCH_KEEP_STORES} || !-f "$dir/store.blt") {
        say_ "bench: stall: building the store of $n pages";
        my @dirs = glob "$dir/json/d*";
        system("$builder -t $bench/small.html -o $dir/store.blt @dirs"
               . " >> $out/log.txt") == 0
            or die "bench: bulletin-build failed at $n pages\n";
    }

    say_ "bench: stall: bench/status-stall.pl, $set{stall_runs} runs of"
         . " $set{stall_seconds} s alone and while scraping, two clients";
    local $ENV{BULLETIN_MODULE} = $module;
    my @cmd = ($^X, "$bench/status-stall.pl", "$dir/store.blt",
               $set{stall_seconds}, $set{stall_runs});
    my $text = `@cmd 2>&1`;
    print $log "# @cmd\n$text\n";
    spew("$out/status-stall.txt", $text);

    if ($?) {
        push @notes, "bench/status-stall.pl failed ($?): "
                     . (split /\n/, $text)[-1];
        return;
    }

    # our client's table: its heading, its rule and the two median rows
    my ($ours) = $text =~ /^(page latency \(stall-client.*?)\n\n/ms;
    my @rows = grep { /^(page latency|-|median)/ } split /\n/, $ours // '';
    my ($verdict) = $text =~ /^(verdict.*)$/m;
    my ($before) = $text =~ /^(as before.*)$/m;

    %stall = (rows => \@rows, verdict => $verdict, before => $before,
              met => defined $verdict ? $verdict !~ /NOT met/ : undef);
    say_ "bench:   $verdict" if defined $verdict;
}

stall_step() if !$only_scale;


# ----------------------------------------------------------------- report

my @load1 = loadavg();
my $date = strftime('%Y-%m-%d %H:%M UTC', gmtime);
my @report;

sub line { push @report, join '', @_ }



my $client_bound = 90;

sub flag {
    my ($x) = @_;
    return defined $x->{wrk_cpu} && $x->{wrk_cpu} >= $client_bound ? ' *'
                                                                    : '';
}

# the targets of issue 7
my @targets;

sub target {
    my ($what, $ok, $detail) = @_;
    push @targets, [defined $ok ? ($ok ? 'met' : 'MISSED') : 'n/a', $what,
                    $detail];
}


# the scale target: the median of the separate runs' ratios
sub scale_target {
    my ($small) = grep { $_->{pages} == 10 } @scale;
    my ($large) = sort { $b->{pages} <=> $a->{pages} } @scale;
    my $r = $small && $large ? $large->{zipf}{ratio} : undef;
    target("$large->{pages} pages (Zipf, warm) within 5 % of 10 pages,"
           . " the median of $set{scale_runs} runs",
           defined $r && $large->{pages} == 1_000_000 ? $r <= 1.05 : undef,
           defined $r
               ? sprintf('%+.1f %% (%.2f vs %.2f us); the runs: %s%s',
                         100 * ($r - 1), $large->{zipf}{worker_us},
                         $small->{zipf}{worker_us},
                         join(', ', map { sprintf '%+.1f %%', 100 * ($_ - 1) }
                                    @{ $large->{zipf}{ratios} }),
                         $large->{pages} == 1_000_000
                             ? '' : "; largest size run: $large->{pages}")
               : 'not run');
}

sub scale_lines {
    line 'Scale: bulletin, plain, counting on, small generated pages'
         . ' (bench/small.html); ids from bench/ids.lua:';
    line table(['pages', 'store bytes', 'build s', 'builder RSS KB',
                'start-up s', 'Zipf us/req', 'spread', 'faults/req', 'req/s',
                'cold uniform us/req', 'cold faults/req', 'cold requests'],
               map { [fmt($_->{pages}, 0), fmt($_->{store_bytes}, 0),
                      fmt($_->{build_s}, 1), fmt($_->{build_rss}, 0),
                      fmt($_->{startup}, 3),
                      fmt($_->{zipf}{worker_us}, 2) . flag($_->{zipf}),
                      fmt($_->{zipf}{us_spread}, 0) . '%',
                      fmt($_->{zipf}{faults}, 3), fmt($_->{zipf}{rps}, 0),
                      fmt($_->{cold}{worker_us}, 2) . flag($_->{cold}),
                      fmt($_->{cold}{faults}, 3), fmt($_->{cold}{reqs}, 0)] }
               @scale);
    line 'Memory (KB, /proc/PID/smaps_rollup) of the master and the worker at'
         . ' start, and of the worker after the Zipf runs and after the cold run.'
         . ' private = Private_Clean + Private_Dirty: store pages that only this'
         . ' worker maps count as Private_Clean (page cache, reclaimable, shared'
         . ' with any other process that maps them); anon = Anonymous: the'
         . ' process\'s own memory.';
    line table(['pages', 'master RSS', 'master anon', 'worker RSS',
                'worker private', 'worker anon', 'warm RSS', 'warm private',
                'warm anon', 'cold RSS', 'cold private', 'cold anon'],
               map { [fmt($_->{pages}, 0),
                      map({ fmt($_, 0) }
                          @{ $_->{mem_start}{master} }{qw(rss anon)},
                          @{ $_->{mem_start}{worker} }{qw(rss private anon)},
                          @{ $_->{mem_warm} }{qw(rss private anon)},
                          @{ $_->{mem_cold} }{qw(rss private anon)}) ] }
               @scale);

    line 'Scale, each separate run (fresh nginx, Zipf warm-up, rounds):'
         . ' worker us/req, the median of its rounds, and its ratio to 10'
         . ' pages (the median of the rounds\' paired ratios):';
    line table(['pages', map({ ("run $_", "ratio $_") }
                             1 .. $set{scale_runs})],
               map { my $s = $_;
                     [fmt($s->{pages}, 0),
                      map { (fmt($_->{worker_us}, 2),
                             defined $_->{ratio}
                                 ? sprintf('%+.1f%%', 100 * ($_->{ratio} - 1))
                                 : '-') }
                          @{ $s->{zipf_runs} // [] }] } @scale);

    line 'The store\'s page cache (fincore) after the Zipf runs: the master'
         . ' maps the store MADV_HUGEPAGE and reads the whole file once to'
         . ' verify it, then advises MADV_RANDOM (no read-ahead, no'
         . ' fault-around):';
    line table(['pages', 'store KB', 'cached KB', 'worker RSS KB',
                'of it in 2 MB pages (FilePmdMapped)'],
               map { [fmt($_->{pages}, 0), fmt($_->{store_bytes} / 1024, 0),
                      fmt($_->{cached_warm}, 0), fmt($_->{mem_warm}{rss}, 0),
                      fmt($_->{mem_warm}{huge}, 0)] }
               @scale);

    my @cs = grep { $_->{cachesim} } @scale;
    if (@cs) {
        line 'Cache simulation (callgrind --cache-sim=yes, perf has no'
             . ' hardware counters here), per request, '
             . "$set{scale_cg}[1] Zipf requests after $set{scale_cg}[0]:"
             . ' Ir instructions, Dr/Dw data reads/writes, D1mr/D1mw L1'
             . ' misses, DLmr/DLmw last-level misses; LL: '
             . ($cs[0]{cachesim}{cache} // '?');
        my @ev = qw(Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw);
        line table(['pages', @ev],
                   map { my $c = $_->{cachesim};
                         [fmt($_->{pages}, 0),
                          map { fmt($c->{$_}, $_ =~ /^(Ir|Dr|Dw)$/ ? 0 : 2) }
                          @ev] } @cs);
    }
}

# The report of a part run alone (BENCH_ONLY): its lines, its target and
# the notes, in build/bench/FILE; then the run ends

sub part_report {
    my ($what, $file, $lines, $target) = @_;

    my @load1 = loadavg();
    line "bulletin bench, $what only, "
         . strftime('%Y-%m-%d %H:%M UTC', gmtime)
         . ($quick ? ' (BENCH_QUICK: not for quoting)' : '');
    line "code: $commit; machine: $machine->{model}, $machine->{cores}"
         . " cores; load average @load0 before, @load1 after";
    line sprintf "took %.1f min", (time - $started) / 60;
    line '';
    $lines->();
    $target->();
    line table(['', '<target', '<measured'], @targets);
    line 'Notes:';
    line "- $_" for @notes;
    my $text = join("\n", @report) . "\n";
    spew("$out/$file", $text);
    print "\n$text(also in build/bench/$file)\n";
    exit 0;
}

part_report('scale', 'scale.txt', \&scale_lines, \&scale_target)
    if $only_scale;

sub stall_target {
    target('the status never stalls the pages: p99 while ?top=all is'
           . ' scraped <= 5 ms and <= 2x alone (100,000 pages,'
           . ' bench/stall-client.c)',
           $stall{met},
           $stall{verdict} ? $stall{verdict} =~ s/^verdict[^:]*: //r
                           : 'not run');
}

sub stall_lines {
    return unless $stall{rows};
    line "Status stall (issue 17), bench/status-stall.pl on"
         . " $set{stall_pages} generated pages, $set{stall_runs} runs of"
         . " $set{stall_seconds} s (all of it in build/bench/"
         . "status-stall.txt): a page's latency, alone and while ?top=all is"
         . " scraped as JSON and Prometheus in turn, measured by"
         . " bench/stall-client.c (pages and scraper on one event loop);";
    line join "\n", @{ $stall{rows} };
    line $stall{verdict} // 'no verdict';
    line "($stall{before}: the two clients share a core, see the file)"
        if $stall{before};
}

part_report('status stall', 'stall.txt', \&stall_lines, \&stall_target)
    if $only_stall;


line "bulletin bench, $date", $quick ? ' (BENCH_QUICK: not for quoting)' : '';
line "code: $commit (build/ as of the start of the run)";
line "machine: $machine->{model}, $machine->{cores} cores, Linux"
     . " $machine->{kernel}, nginx $machine->{nginx}; load average"
     . " @load0 before, @load1 after";
line sprintf "page: %s, %d bytes plain, %d bytes gzip; views %s to %s"
     . " (%d digits)", $page_id, length $plain, length $gz, $shown,
     $views_end, length $shown;
line "method: 1 nginx worker on CPU 0, wrk on CPU 1 (-t$set{threads}"
     . " -c$set{conns}, keep-alive), $set{warm} s warm-up, $set{rounds}"
     . " rounds of $set{duration} s, order rotated; medians";
line sprintf "took %.1f min", (time - $started) / 60;
line '';

my $main = table(
    ['variant', 'req/s', 'worker us/req', 'user', 'sys', 'spread', 'best',
     'worker busy', 'wrk CPU', 'body', 'Ir/req'],
    map { [ $_->{name}, fmt($_->{rps}, 0) . flag($_),
            fmt($_->{worker_us}, 2), fmt($_->{user_us}, 2),
            fmt($_->{sys_us}, 2), fmt($_->{us_spread}, 0) . '%',
            fmt($_->{us_best}, 2),
            fmt($_->{busy}, 0) . '%', fmt($_->{wrk_cpu}, 0) . '%',
            $_->{body}, fmt($_->{ir}, 0) ] } @variants);

line 'Per request, medians (* : wrk at 90 % CPU or more: req/s is the'
     . ' client\'s limit); worker us/req = user + sys (utime + stime of the'
     . ' worker, /proc/PID/stat);';
line 'spread: (max - min) / median of worker us/req over the rounds, best:'
     . ' the least of them; Ir/req: callgrind.';
line $main;

my @ref = grep { $_ } map { $by_name{$_} } 'static', 'return 200', 'lua';
# ratios of worker CPU per request: the median of the rounds' ratios, each
# between two runs of the same round (minutes apart at most), which the
# machine's drift disturbs less than a ratio of medians
sub ratio {
    my ($x, $ref, $key) = @_;
    $key //= 'worker_us';
    my @r = map { $x->{runs}[$_]{$key} / $ref->{runs}[$_]{$key} }
            grep { $x->{runs}[$_] && $ref->{runs}[$_]
                   && $ref->{runs}[$_]{$key} } 0 .. $#{ $x->{runs} };
    return median(@r);
}

my $ratios = table(
    ['variant', map({ ("us/$_->{name}") } @ref),
     map({ ("Ir/$_->{name}") } grep { $_->{ir} } @ref)],
    map {
        my $x = $_;
        [ $x->{name},
          map({ fmt(ratio($x, $_), 2) . 'x' } @ref),
          map({ $x->{ir} ? fmt($x->{ir} / $_->{ir}, 2) . 'x' : '-' }
              grep { $_->{ir} } @ref) ]
    } @variants);

line 'Ratios against static, return and Lua (below 1: cheaper): worker CPU'
     . ' per request (us/..., the median of the rounds\' ratios) and'
     . ' instructions per request (Ir/...).';
line $ratios;

my $cgtable = table(['variant', 'Ir/req', 'Ir/req 2000-run', 'Ir/req 4000-run'],
    map { [$_->{name}, fmt($_->{ir}, 0), fmt($_->{ir_total}[0], 0),
           fmt($_->{ir_total}[1], 0)] } @cg);
line 'Instructions per request (callgrind): (Ir(4000 requests) - Ir(2000))'
     . ' / 2000, and each run\'s total / its requests (start-up included):';
line $cgtable;


{
    my ($bu, $bg, $b0) = map { $by_name{$_} } 'bulletin', 'bulletin gzip',
                                              'bulletin, no zone';
    my ($st, $ofc, $gs, $gf, $rt, $lu) = map { $by_name{$_} } 'static',
        'static open_file_cache', 'gzip_static', 'gzip on the fly (level 6)',
        'return 200', 'lua';
    my $r;

    # the same comparison by the best rounds, and by user time alone
    my $also = sub {
        my ($x, $ref) = @_;
        return sprintf '; best rounds %.2fx, user time %.2fx',
            $x->{us_best} / $ref->{us_best}, $x->{user_us} / $ref->{user_us};
    };

    $r = ratio($bu, $rt);
    target('plain: worker CPU/req <= return\'s', $r <= 1,
           sprintf('%.3fx return (%.2f vs %.2f us); %.2fx static (target'
                   . ' 0.75x), %.2fx open_file_cache (0.87x)', $r,
                   $bu->{worker_us}, $rt->{worker_us}, ratio($bu, $st),
                   ratio($bu, $ofc)) . $also->($bu, $rt));
    target('plain: instructions/req <= return\'s',
           $bu->{ir} && $rt->{ir} ? $bu->{ir} <= $rt->{ir} : undef,
           sprintf('%.2fx (%s vs %s)', $rt->{ir} ? $bu->{ir} / $rt->{ir} : 0,
                   fmt($bu->{ir}, 0), fmt($rt->{ir}, 0)));
    $r = ratio($bg, $gs);
    target('gzip: worker CPU/req <= 0.8x gzip_static\'s', $r <= 0.8,
           sprintf('%.3fx (%.2f vs %.2f us)', $r, $bg->{worker_us},
                   $gs->{worker_us}) . $also->($bg, $gs));
    $r = ratio($gf, $bg);
    target('gzip: >= 15x less than on-the-fly gzip', $r >= 15,
           sprintf('%.1fx less (%.2f vs %.2f us)', $r, $bg->{worker_us},
                   $gf->{worker_us}));
    $r = $lu ? ratio($bu, $lu) : undef;
    target('plain: worker CPU/req <= 0.8x Lua\'s',
           $lu ? $r <= 0.8 : undef,
           $lu ? sprintf('%.3fx (%.2f vs %.2f us)', $r, $bu->{worker_us},
                         $lu->{worker_us}) . $also->($bu, $lu)
               : 'no Lua variant');
    target('counting costs <= 3 % of instructions/req',
           $bu->{ir} && $b0->{ir} ? $bu->{ir} <= 1.03 * $b0->{ir} : undef,
           sprintf('%+.1f %% (%s on, %s off)',
                   $b0->{ir} ? 100 * ($bu->{ir} / $b0->{ir} - 1) : 0,
                   fmt($bu->{ir}, 0), fmt($b0->{ir}, 0)));

}

scale_target();
stall_target();

my $targets = table(['', '<target', '<measured'], @targets);
line 'Targets (issue 7), worker CPU judged by the median of the rounds\' ratios:';
line $targets;


# callgrind: bulletin's request path
if (my $p = $profile{bulletin}) {
    line 'Callgrind, bulletin (plain, counting on): instructions per request'
         . ' by function (self), from the 4000- and 2000-request runs:';
    my $self = $p->{self};
    my @top = (sort { $self->{$b} <=> $self->{$a} } keys %$self)[0 .. 24];
    line table(['function (object)', 'Ir/req', 'share'],
               map { [$_, fmt($self->{$_}, 0),
                      fmt(100 * $self->{$_} / $by_name{bulletin}{ir}, 1) . '%'] }
               grep { defined } @top);

    my $incl = $p->{incl};
    my @ours = grep { /ngx_http_bulletin|bulletin_/ && $incl->{$_} >= 1 }
               keys %$incl;
    line 'Inclusive, the module\'s functions:';
    line table(['function (object)', 'Ir/req incl.'],
               map { [$_, fmt($incl->{$_}, 0)] }
               sort { $incl->{$b} <=> $incl->{$a} } @ours);

    # by object: nginx, libc, the module, pcre
    my %obj;
    for (keys %$self) {
        my ($o) = /\(([^()]*)\)$/;
        $obj{$o} += $self->{$_};
    }
    line 'By object:';
    line table(['object', 'Ir/req'],
               map { [$_, fmt($obj{$_}, 0)] }
               grep { abs $obj{$_} >= 1 }
               sort { $obj{$b} <=> $obj{$a} } keys %obj);
}

# where the instructions go, by stage (inclusive costs), side by side
{
    my @names = grep { $profile{$_} } 'bulletin', 'bulletin, no zone',
                                      'bulletin gzip', 'return 200', 'static',
                                      'gzip_static';
    my @stages = (
        ['ngx_strstrn (nginx)', 'User-Agent browser checks (ngx_strstrn)',
         'self'],
        ['ngx_http_parse_header_line (nginx)', 'header parsing', 'self'],
        ['ngx_http_core_find_config_phase (nginx)', 'location look-up',
         'incl'],
        ['ngx_http_complex_value (nginx)',
         'complex values ($bulletin_id; return\'s body)', 'incl'],
        ['ngx_http_bulletin_excluded (ngx_http_bulletin_module.so)',
         'exclusion check', 'incl'],
        ['ngx_http_bulletin_find (ngx_http_bulletin_module.so)',
         'id to page', 'incl'],
        ['bulletin_body (ngx_http_bulletin_module.so)',
         'body pieces and counts', 'incl'],
        ['ngx_http_send_header (nginx)', 'header filters', 'incl'],
        ['ngx_http_output_filter (nginx)', 'body filters and writev', 'incl'],
    );
    line 'Where the instructions go, per request (self or inclusive costs of'
         . ' the function that does each stage):';
    line table(['stage', '<function', @names],
               map { my $st = $_;
                     [$st->[1], ($st->[0] =~ s/ \(.*//r) . " ($st->[2])",
                      map { fmt($profile{$_}{$st->[2]}{$st->[0]}, 0) }
                      @names] } @stages);
}

spew("$out/callgrind/functions.txt", functions_table());

line 'worker_processes 2 (not judged: 2 workers and wrk share 2 cores;'
     . " wrk -t2 unpinned, $set{w2_rounds} rounds of $set{w2_duration} s):";
line table(['variant', 'req/s', 'workers us/req', 'wrk CPU'],
           map { [$_->{name}, fmt($_->{rps}, 0), fmt($_->{worker_us}, 2),
                  fmt($_->{wrk_cpu}, 0) . '%'] } @w2);

scale_lines();
stall_lines();

line 'What each variant sent (checked once before the runs):';
line table(['variant', 'body bytes', '<body', '<headers'],
           map { [$_->{name}, $_->{body}, $_->{same}, $_->{resp_headers}] }
           @variants);

# nginx's own complaints, if any
for my $f (glob "$run/*/logs/error.log") {
    my @bad = grep { /\[(alert|crit|emerg)\]/ } split /\n/, slurp($f);
    push @notes, scalar(@bad) . " [alert], [crit] or [emerg] lines in $f,"
                 . " the first: $bad[0]" if @bad;
}

line 'Notes:';
line "- $_" for @notes;
line '- every wrk run is in build/bench/log.txt; callgrind outputs and'
     . ' functions.txt in build/bench/callgrind/';

my $text = join("\n", @report) . "\n";
spew("$out/results.txt", $text);

# raw runs, one a line
open my $tsv, '>', "$out/runs.tsv" or die;
print $tsv join("\t", qw(set variant run req_s worker_us user_us sys_us
                         busy wrk_cpu bytes faults errors wall)), "\n";
for my $set (['main', \@variants], ['w2', \@w2], ['scale', \@scale]) {
    for my $x (@{ $set->[1] }) {
        my $i = 0;
        for my $r (@{ $x->{runs} }, $x->{cold} ? ($x->{cold}) : ()) {
            print $tsv join("\t", $set->[0], $x->{name}, ++$i,
                            map { defined $r->{$_} ? sprintf('%.3f', $r->{$_})
                                                   : '' }
                            qw(rps worker_us user_us sys_us busy wrk_cpu
                               bytes faults errors wall)), "\n";
        }
    }
}
close $tsv;

print "\n", $text;
print "\nSummary (also in build/bench/results.txt):\n\n$main\n$ratios\n",
      "Targets (issue 7):\n$targets";
