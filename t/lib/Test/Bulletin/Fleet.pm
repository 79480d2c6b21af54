package Test::Bulletin::Fleet;

=head1 NAME

Test::Bulletin::Fleet - a fleet on one machine: Redis, nginx nodes,
bulletin-sync sidecars, Prometheus (issue 15)

=head1 SYNOPSIS

    use Test::Bulletin::Fleet;

    my $f = Test::Bulletin::Fleet->new;     # skip_all without redis-server
                                            # or build/bulletin-sync
    my $r = $f->redis_start;                # {port, dir, pid, ...}
    my @n = map { $f->node_start(name => "n$_", redis => $r) } 1 .. 3;

    my $load = $f->traffic_start([@n], seconds => 2);
    $f->sync_kill($n[0]);                   # kill -9 a sidecar
    $f->sync_start($n[0]);
    $f->traffic_finish($load);              # adds what was counted to
                                            # $f->expected

    $f->wait_until(sub { $f->all_exact }, 15);
    $f->redis_restart($r);                  # empty, same port

=head1 DESCRIPTION

Every node is a L<Test::Bulletin> of its own (a prefix, a port), serving
the same store (one build, copied byte for byte, so one generation) from
a counters file C<c.cnt> in its prefix, with the locations of
L</LOCATIONS>.  Beside it runs C<bulletin-sync --interval 200> (the
fleet's sidecar, as root: it drops to nobody itself).  Redis and
Prometheus run in the prefix of a base harness that runs no nginx.

Everything started here is stopped when the file ends, by die or signal
too (this module's END block runs before Test::Bulletin's, which stops
the nginx instances).  Every wait is bounded.

While it waits (C<wait_until>, C<pause>), the harness polls what readers
see on every running node, the page bodies (prefetches, which count
nothing) and the status's fleet counts, and records any count that went
down: C<decreases> returns (and forgets) them.

A sidecar that exits with status 75 ("counters file replaced or grown:
restart me") is restarted, as systemd would; any other exit of a sidecar
the test did not stop is recorded: C<sidecar_exits> returns (and
forgets) them.

=cut

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use File::Path qw(make_path remove_tree);
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use Test::Bulletin;
use CountersTest qw(site shown);

our $REDIS = $ENV{TEST_REDIS_SERVER} // '/usr/bin/redis-server';
our $REDIS_CLI = $ENV{TEST_REDIS_CLI} // '/usr/bin/redis-cli';
our $PROMETHEUS = '/usr/bin/prometheus';
our $PROMTOOL = '/usr/bin/promtool';
our $SYNC = "$Test::Bulletin::BUILD/bulletin-sync";

our @IDS = @CountersTest::IDS;
our @CHANNELS = qw(wechat weibo qq link);

use constant EXIT_RESTART => 75;
use constant INTERVAL => 200;           # ms, the sidecars' tick

my $OWNER = $$;
my @FLEETS;


sub LOCATIONS {
    return <<'EOF';
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
    add_header X-Views $bulletin_views always;
    add_header X-Shares $bulletin_shares always;
}

location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
    add_header X-Views $bulletin_views always;
    add_header X-Shares $bulletin_shares always;
}

location = /status {
    bulletin_status;
    allow 127.0.0.1;
    deny all;
}
EOF
}


#### the fleet

# new(sync => 0): no sidecar is ever started (a self-check of the test:
# its exactness checks must then fail), and build/bulletin-sync is not
# needed.

sub new {
    my ($class, %o) = @_;

    my $sync = $o{sync} // 1;

    Test::Bulletin::skip_all_unless(-x $REDIS, "no redis-server at $REDIS");
    Test::Bulletin::skip_all_unless(-x $REDIS_CLI, "no redis-cli at $REDIS_CLI");
    Test::Bulletin::skip_all_unless(!$sync || -x $SYNC,
                                    "no bulletin-sync at $SYNC (not built yet)");

    my $base = Test::Bulletin->new;

    $base->skip_unless_builder;
    site($base, 'site.blt');

    my $self = bless {
        base     => $base,
        sync     => $sync,
        nodes    => [],
        procs    => {},          # pid => {what, ...}: ours, to stop
        redis    => [],
        expected => zero(),      # id => {views, shares, ch => {}}
        last     => {},          # "node id what" => the last count seen
        down     => [],          # counts seen going down
        exits    => [],          # sidecars' unexpected exits
        restarts => 0,           # sidecars restarted after exit 75
        ports    => 100,         # the base harness's next port number
    }, $class;

    push @FLEETS, $self;

    return $self;
}


# expected counts of nothing sent yet

sub zero {
    return { map { $_ => { views => 0, shares => 0,
                           ch => { map { $_ => 0 } @CHANNELS } } } @IDS };
}


sub base { $_[0]{base} }
sub expected { $_[0]{expected} }
sub nodes { grep { $_->{up} } @{ $_[0]{nodes} } }
sub all_nodes { @{ $_[0]{nodes} } }
sub restarts { $_[0]{restarts} }
sub syncing { $_[0]{sync} }


# a free port of the base harness, for Redis or Prometheus

sub free_port {
    my ($self) = @_;

    return $self->{base}->port($self->{ports}++);
}


#### processes

sub spawn {
    my ($self, $what, $cmd, $log, %env) = @_;

    my $pid = fork;

    croak "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        exec { $cmd->[0] } @$cmd or print STDERR "exec $cmd->[0]: $!\n";
        POSIX::_exit(127);
    }

    $self->{procs}{$pid} = { what => $what, cmd => $cmd, log => $log };

    return $pid;
}


# Collects the exit status of $pid if it has exited: the status, or undef
# while it runs.

sub reaped {
    my ($self, $pid) = @_;

    my $p = $self->{procs}{$pid} or return -1;

    return $p->{status} if defined $p->{status};
    return undef unless waitpid($pid, WNOHANG) == $pid;

    $p->{status} = Test::Bulletin::exit_code($?);

    return $p->{status};
}


# Stops a process of ours: $sig, then KILL after $timeout seconds.

sub kill_proc {
    my ($self, $pid, $sig, $timeout) = @_;

    return 1 unless $pid && $self->{procs}{$pid};

    kill $sig // 'TERM', $pid;

    my $deadline = time + ($timeout // 10);

    until (defined $self->reaped($pid)) {
        if (time > $deadline) {
            diag "$self->{procs}{$pid}{what} ($pid) did not stop: KILL";
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $self->{procs}{$pid}{status} = Test::Bulletin::exit_code($?);
            last;
        }

        sleep 0.02;
    }

    my $status = $self->{procs}{$pid}{status};

    delete $self->{procs}{$pid};

    return $status;
}


sub port_open {
    my ($port) = @_;

    return Test::Bulletin::listening($port);
}


#### Redis

# redis_start(persist => 1): an append-only file, fsynced always;
# password => 'x': requirepass, set in a configuration file; port =>
# the port again (a restart).  Returns {port, dir, pid, password}.

sub redis_start {
    my ($self, %o) = @_;

    my $r = $o{redis} // {
        port     => $self->free_port,
        persist  => $o{persist} ? 1 : 0,
        password => $o{password},
        name     => 'redis' . (@{ $self->{redis} } + 1),
    };

    my $base = $self->{base};

    $r->{dir} //= $base->path($r->{name});
    make_path($r->{dir}, { mode => 0755 });

    my $conf = "port $r->{port}\n"
             . "bind 127.0.0.1\n"
             . "daemonize no\n"
             . "save \"\"\n"
             . "dir $r->{dir}\n"
             . "dbfilename dump.rdb\n"
             . ($r->{persist} ? "appendonly yes\nappendfsync always\n"
                              : "appendonly no\n")
             . (defined $r->{password}
                ? "requirepass $r->{password}\n" : '');

    my $file = $base->write_file("$r->{name}.conf", $conf);

    chmod 0600, $file;

    $r->{pid} = $self->spawn("redis-server :$r->{port}", [$REDIS, $file],
                             $base->path("$r->{name}.log"));

    push @{ $self->{redis} }, $r unless grep { $_ == $r } @{ $self->{redis} };

    my $deadline = time + 10;

    until ($self->redis_ping($r)) {
        if (defined $self->reaped($r->{pid}) || time > $deadline) {
            croak "redis-server on port $r->{port} did not start:\n"
                . $base->read_file("$r->{name}.log");
        }
        sleep 0.05;
    }

    return $r;
}


sub redis_cli {
    my ($self, $r, @args) = @_;

    my %env = defined $r->{password}
              ? (REDISCLI_AUTH => $r->{password}) : ();
    local @ENV{keys %env} = values %env;

    return $self->{base}->capture(
        [$REDIS_CLI, '-h', '127.0.0.1', '-p', $r->{port}, @args], 1, 10);
}


sub redis_ping {
    my ($self, $r) = @_;

    return 0 unless port_open($r->{port});

    my ($rc, $out) = $self->redis_cli($r, 'ping');

    return $rc eq '0' && $out =~ /PONG/;
}


# Stops Redis: how => 'nosave' (SHUTDOWN NOSAVE: its data is gone unless
# the append-only file holds it), 'save' (SHUTDOWN SAVE: a dump that the
# next start loads), 'kill' (SIGKILL).

sub redis_stop {
    my ($self, $r, %o) = @_;

    my $how = $o{how} // 'nosave';

    return unless $r->{pid};

    if ($how eq 'kill') {
        $self->kill_proc($r->{pid}, 'KILL');
    } else {
        $self->redis_cli($r, 'shutdown', $how);
        $self->kill_proc($r->{pid}, 'TERM', 10);
    }

    $r->{pid} = undef;
}


# Restarts Redis on the same port: empty (data => 0: whatever it had is
# gone, the append-only file and dump removed) or with its data (data =>
# 1: SHUTDOWN SAVE, then the dump is loaded).  down => seconds between.

sub redis_restart {
    my ($self, $r, %o) = @_;

    my $keep = $o{data} // 0;

    $self->redis_stop($r, how => $keep ? 'save' : 'nosave');
    remove_tree($r->{dir}) unless $keep;
    $self->pause($o{down}) if $o{down};

    return $self->redis_start(redis => $r);
}


#### nodes

# node_start(name => 'n1', redis => $r, sync => 1, password_file =>
# path): a new nginx node, its counters file, and (unless sync => 0) its
# sidecar.

sub node_start {
    my ($self, %o) = @_;

    my $t = Test::Bulletin->new;
    my $name = $o{name} // 'n' . (@{ $self->{nodes} } + 1);

    $t->write_file('site.blt', $self->{base}->read_file('site.blt'));
    $t->config(http => "bulletin_store site.blt;\n"
                       . "bulletin_counters zone=bulletin:1m file=c.cnt;\n",
               server => LOCATIONS());
    $t->run;

    my $n = { t => $t, name => $name, redis => $o{redis}, up => 1,
              password_file => $o{password_file} };

    push @{ $self->{nodes} }, $n;

    $self->sync_start($n) if $o{redis} && ($o{sync} // 1);

    return $n;
}


sub node_port { $_[1]{t}->port }


# nginx stopped (QUIT) and started again, the same counters file

sub node_restart {
    my ($self, $n) = @_;

    $n->{up} = 0;
    $n->{t}->stop;
    $n->{t}->run;
    $n->{up} = 1;
}


# kill -9 of the master and its workers, then a start

sub node_kill9 {
    my ($self, $n) = @_;

    my $t = $n->{t};
    my ($masters, $workers) = $t->nginx_processes;

    $n->{up} = 0;
    kill 'KILL', @$masters, @$workers;
    $t->wait_gone([@$masters, @$workers], 10)
        or croak "nginx of $n->{name} survived SIGKILL";
    $t->stop;                           # reaps, forgets the pid
    $t->run;
    $n->{up} = 1;

    return scalar(@$masters) + scalar(@$workers);
}


# a node gone for good: its sidecar and its nginx stopped

sub node_remove {
    my ($self, $n) = @_;

    $self->sync_stop($n);
    $n->{up} = 0;
    $n->{removed} = 1;
    $n->{t}->stop;
}


#### sidecars

sub sync_command {
    my ($self, $n, %o) = @_;

    my $r = $o{redis} // $n->{redis};
    my $pwfile = exists $o{password_file} ? $o{password_file}
                                          : $n->{password_file};

    return [$SYNC, '--counters', $n->{t}->path('c.cnt'),
            '--redis', "127.0.0.1:$r->{port}", '--node', $n->{name},
            '--interval', INTERVAL,
            (defined $pwfile ? ('--password-file', $pwfile) : ()),
            @{ $o{args} // [] }];
}


sub sync_start {
    my ($self, $n, %o) = @_;

    return unless $self->{sync};

    croak "sidecar of $n->{name} already runs" if $n->{sync};

    $n->{sync_cmd} = $self->sync_command($n, %o);
    $n->{sync} = $self->spawn("bulletin-sync $n->{name}", $n->{sync_cmd},
                              $n->{t}->path('logs/sync.log'));

    return $n->{sync};
}


# kill -9 (or $sig) of the sidecar; returns its exit status

sub sync_kill {
    my ($self, $n, $sig) = @_;

    my $pid = delete $n->{sync} or return undef;

    return $self->kill_proc($pid, $sig // 'KILL', 10);
}


sub sync_stop {
    my ($self, $n) = @_;

    return $self->sync_kill($n, 'TERM');
}


sub sync_log {
    my ($self, $n) = @_;

    my $log = $n->{t}->path('logs/sync.log');

    return -e $log ? $n->{t}->read_file('logs/sync.log') : '';
}


# Restarts sidecars that exited 75; records other exits.

sub tend {
    my ($self) = @_;

    for my $n (@{ $self->{nodes} }) {
        my $pid = $n->{sync} or next;
        my $status = $self->reaped($pid);

        next unless defined $status;

        delete $self->{procs}{$pid};
        delete $n->{sync};

        if ($status == EXIT_RESTART) {
            $self->{restarts}++;
            $n->{sync} = $self->spawn("bulletin-sync $n->{name}",
                                      $n->{sync_cmd},
                                      $n->{t}->path('logs/sync.log'));
        } else {
            my $log = $self->sync_log($n);

            $log = substr($log, -1500) if length $log > 1500;
            push @{ $self->{exits} },
                "bulletin-sync of $n->{name} exited with status $status:\n"
                . $log;
        }
    }
}


sub sidecar_exits {
    my ($self) = @_;

    $self->tend;

    my @e = @{ $self->{exits} };

    $self->{exits} = [];

    return @e;
}


#### waiting and watching

# Polls $cond (and watches the counts) until it is true or $seconds
# passed: true when it became true.

sub wait_until {
    my ($self, $cond, $seconds) = @_;

    my $deadline = time + ($seconds // 15);

    for ( ;; ) {
        $self->tend;
        $self->watch;

        return 1 if $cond->();
        return 0 if time > $deadline;

        sleep 0.1;
    }
}


# sleeps $seconds, watching
sub pause {
    my ($self, $seconds) = @_;

    my $until = time + $seconds;

    while (time < $until) {
        $self->tend;
        $self->watch;
        sleep 0.1;
    }
}


# What a reader of each running node sees now, remembered per node, page
# and count: a count lower than the last one seen is recorded.  The page
# body (a prefetch: counts nothing) and the status's fleet counts (the
# own counts while no sidecar synced).

sub watch {
    my ($self) = @_;

    for my $n ($self->nodes) {
        my $t = $n->{t};

        for my $id (@IDS) {
            my $p = eval { shown($t, "/bulletin/$id") } or next;

            next unless ($p->{status} // 0) == 200;

            $self->seen($n, $id, 'page views', $p->{views});
            $self->seen($n, $id, 'page shares', $p->{shares});
            $self->seen($n, $id, "page $_ shares", $p->{ch}{$_})
                for @CHANNELS;
        }

        my $st = $self->status($n, 2) or next;

        for my $p (@{ $st->{pages} // [] }) {
            my $c = $st->{fleet} ? $p->{fleet} : $p;

            next unless $c;

            $self->seen($n, $p->{id}, 'status views', $c->{views});
            $self->seen($n, $p->{id}, 'status shares', $c->{shares});
        }
    }
}


sub seen {
    my ($self, $n, $id, $what, $count) = @_;

    return unless defined $count;

    my $key = "$n->{name} $id $what";
    my $last = $self->{last}{$key};

    push @{ $self->{down} }, sprintf('%s: %d after %d (%.1f s)', $key,
                                     $count, $last, time - $^T)
        if defined $last && $count < $last;

    $self->{last}{$key} = $count
        if !defined $last || $count > $last;
}


sub decreases {
    my ($self) = @_;

    my @d = @{ $self->{down} };

    $self->{down} = [];

    return @d;
}


#### the status

# a node's status, decoded (undef when it cannot be had)

sub status {
    my ($self, $n, $timeout, $query) = @_;

    my $res = $n->{t}->http_get('/status?top=all' . ($query // ''),
                                timeout => $timeout // 5);

    return undef unless ($res->status // 0) == 200;

    return eval { JSON::PP->new->utf8->decode($res->body) };
}


sub prometheus_text {
    my ($self, $n) = @_;

    my $res = $n->{t}->http_get('/status?format=prometheus&top=all',
                                timeout => 5);

    return ($res->status // 0) == 200 ? $res->body : undef;
}


# What a status should say of the fleet: {pages => {id => {views,
# shares, shares_by_channel}}, totals => {...}}

sub want {
    my ($self) = @_;

    my (%pages, %totals);

    $totals{$_} = 0 for qw(views shares);
    $totals{shares_by_channel}{$_} = 0 for @CHANNELS;

    for my $id (@IDS) {
        my $e = $self->{expected}{$id};

        $pages{$id} = { views => $e->{views}, shares => $e->{shares},
                        shares_by_channel => { %{ $e->{ch} } } };
        $totals{views} += $e->{views};
        $totals{shares} += $e->{shares};
        $totals{shares_by_channel}{$_} += $e->{ch}{$_} for @CHANNELS;
    }

    return { pages => \%pages, totals => \%totals };
}


# What a status says of the fleet, in want()'s shape; undef without a
# fleet

sub got {
    my ($self, $st) = @_;

    return undef unless $st && $st->{fleet};

    my %pages;

    # the test's pages (the builder's list page, _index, is not viewed
    # here; the totals would show it if it were counted)
    for my $p (@{ $st->{pages} // [] }) {
        next unless $self->{expected}{ $p->{id} };

        my $c = $p->{fleet} // {};

        $pages{ $p->{id} } = {
            views => $c->{views}, shares => $c->{shares},
            shares_by_channel => $c->{shares_by_channel},
        };
    }

    my $tot = $st->{fleet}{totals} // {};

    return { pages => \%pages,
             totals => { views => $tot->{views}, shares => $tot->{shares},
                         shares_by_channel => $tot->{shares_by_channel} } };
}


sub same {
    my ($a, $b) = @_;

    my $json = JSON::PP->new->canonical;

    return $json->encode($a) eq $json->encode($b);
}


# true when every running node's status shows the expected fleet counts

sub all_exact {
    my ($self, @nodes) = @_;

    @nodes = $self->nodes unless @nodes;

    my $want = $self->want;

    for my $n (@nodes) {
        my $got = $self->got($self->status($n, 2)) or return 0;
        return 0 unless same($got, $want);
    }

    return 1;
}


# The sum over the nodes of their own (local) counts: {id => {views,
# shares, ch}}

sub local_sum {
    my ($self, @nodes) = @_;

    my %sum;

    for my $n (@nodes) {
        my $st = $self->status($n) or return undef;

        for my $p (@{ $st->{pages} }) {
            next unless $self->{expected}{ $p->{id} };

            $sum{ $p->{id} }{views} += $p->{views};
            $sum{ $p->{id} }{shares} += $p->{shares};
            $sum{ $p->{id} }{ch}{$_} += $p->{shares_by_channel}{$_}
                for @CHANNELS;
        }
    }

    return \%sum;
}


#### traffic

# The default mix: views of every page, shares on every channel

sub traffic_plan {
    my @plan;

    for my $i (0 .. $#IDS) {
        my $id = $IDS[$i];

        push @plan, [GET => "/bulletin/$id"] for 1 .. 2;
        push @plan, [GET => "/bulletin/$id", ['Accept-Encoding' => 'gzip']];
        push @plan, [POST => "/bulletin/$id/share?channel="
                             . $CHANNELS[$i % @CHANNELS],
                     ['Sec-Fetch-Site' => 'same-origin']];
        push @plan, [POST => "/bulletin/$id/share?channel="
                             . $CHANNELS[($i + 1) % @CHANNELS],
                     ['Origin' => 'http://localhost']]
            if $i % 2;
    }

    return \@plan;
}


# Load on each node: one client process a node, each sending its plan
# (keep-alive, pacing => seconds between requests) until
# traffic_finish, or for seconds => N, or requests => N.

sub traffic_start {
    my ($self, $nodes, %o) = @_;

    my $base = $self->{base};
    my %load = (clients => []);
    my $stop = $base->path('traffic.stop.' . int(rand 1e9));

    $load{stop} = $stop;
    unlink $stop;

    for my $n (@$nodes) {
        my $file = $base->path("traffic.$n->{name}." . int(rand 1e9));
        my $pid = fork;

        croak "fork: $!" unless defined $pid;

        if ($pid == 0) {
            my $rc = eval { client($n->{t}, $file, $stop, %o); 1 } ? 0 : 1;
            print STDERR "traffic to $n->{name}: $@" if $rc;
            POSIX::_exit($rc);
        }

        push @{ $load{clients} }, { pid => $pid, file => $file,
                                    node => $n->{name} };
    }

    return \%load;
}


sub client {
    my ($t, $file, $stop, %o) = @_;

    my @plan = @{ $o{plan} // traffic_plan() };
    my $deadline = time + ($o{seconds} // 60);
    my $max = $o{requests} // 1e9;
    my $pacing = $o{pacing} // 0.002;
    my %r = (sent => {}, status => {}, errors => [], requests => 0);
    my ($c, $on_conn) = (undef, 0);
    my $at = int rand @plan;

    while ($r{requests} < $max && time < $deadline && !-e $stop) {
        my ($method, $uri, $headers) = @{ $plan[$at++ % @plan] };
        my $key = "$method $uri";

        if (!$c || $on_conn >= 50) {
            $c->close if $c;
            $c = eval { $t->keepalive(timeout => 5) };
            $on_conn = 0;

            unless ($c) {
                push @{ $r{errors} }, "connect: $@";
                last;
            }
        }

        my $res = $c->request(method => $method, uri => $uri,
                              headers => $headers // []);

        $on_conn++;
        $r{requests}++;

        unless (defined $res->status) {
            push @{ $r{errors} }, "$key: no response: "
                . ($res->error // '') . ' (' . length($res->raw) . ' bytes)';
            last;
        }

        $r{status}{$key}{ $res->status }++;

        if (($res->header('Connection') // '') =~ /close/i) {
            $c->close;
            $c = undef;
        }

        sleep $pacing if $pacing;
    }

    $c->close if $c;

    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh JSON::PP->new->canonical->encode(\%r);
    close $fh or die "$file: $!";
    rename "$file.tmp", $file or die "$file: $!";
}


# Stops the load, waits for its clients (bounded), and adds what the
# nodes counted (200s of GETs, 204s of shares) to the expected counts.
# Returns {requests, views, shares, errors => [...], status => {code =>
# n}}.

sub traffic_finish {
    my ($self, $load, $timeout) = @_;

    open my $fh, '>', $load->{stop};
    close $fh;

    my %sum = (requests => 0, views => 0, shares => 0, errors => [],
               status => {});
    my $deadline = time + ($timeout // 30);

    for my $c (@{ $load->{clients} }) {
        while (waitpid($c->{pid}, WNOHANG) == 0) {
            $self->tend;
            if (time > $deadline) {
                kill 'KILL', $c->{pid};
                waitpid $c->{pid}, 0;
                push @{ $sum{errors} }, "traffic to $c->{node}: killed";
                last;
            }
            sleep 0.05;
        }

        push @{ $sum{errors} }, "traffic to $c->{node}: exit " . ($? >> 8)
            if $?;

        unless (-e $c->{file}) {
            push @{ $sum{errors} }, "traffic to $c->{node}: no result";
            next;
        }

        open my $in, '<', $c->{file} or die "$c->{file}: $!";
        local $/;
        my $r = JSON::PP->new->decode(<$in>);
        close $in;
        unlink $c->{file};

        $sum{requests} += $r->{requests};
        push @{ $sum{errors} }, map { "$c->{node}: $_" } @{ $r->{errors} };

        for my $key (keys %{ $r->{status} }) {
            for my $code (keys %{ $r->{status}{$key} }) {
                my $k = $r->{status}{$key}{$code};

                $sum{status}{$code} += $k;
                $self->count($key, $code, $k, \%sum);
            }
        }
    }

    unlink $load->{stop};

    return \%sum;
}


# adds $k answers $code of "$method $uri" to the expected counts

sub count {
    my ($self, $key, $code, $k, $sum) = @_;

    if ($key =~ m{\AGET /bulletin/([^/?]+)\z} && $code == 200) {
        $self->{expected}{$1}{views} += $k;
        $sum->{views} += $k if $sum;
    } elsif ($key =~ m{\APOST /bulletin/([^/?]+)/share\?channel=(\w+)\z}
             && $code == 204)
    {
        $self->{expected}{$1}{shares} += $k;
        $self->{expected}{$1}{ch}{$2} += $k;
        $sum->{shares} += $k if $sum;
    }
}


# One view of $id on node $n, counted in the expected counts: the
# response

sub view {
    my ($self, $n, $id, %args) = @_;

    my $res = $n->{t}->http_get("/bulletin/$id", %args);

    $self->count("GET /bulletin/$id", $res->status // 0, 1);

    return $res;
}


sub share {
    my ($self, $n, $id, $channel) = @_;

    my $res = $n->{t}->request(method => 'POST',
                               uri => "/bulletin/$id/share?channel=$channel",
                               headers => ['Sec-Fetch-Site' => 'same-origin']);

    $self->count("POST /bulletin/$id/share?channel=$channel",
                 $res->status // 0, 1);

    return $res;
}


#### Prometheus

# Starts Prometheus scraping the nodes' status (format=prometheus) every
# second; returns {port, pid}.

sub prometheus_start {
    my ($self, @nodes) = @_;

    my $base = $self->{base};
    my $port = $self->free_port;
    my $targets = join ', ', map { "'127.0.0.1:" . $_->{t}->port . "'" }
                             @nodes;

    $base->write_file('prometheus.yml', <<"EOF");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bulletin
    metrics_path: /status
    params:
      format: [prometheus]
    static_configs:
      - targets: [$targets]
EOF

    my $data = $base->path('prometheus-data');

    make_path($data);

    my $pid = $self->spawn('prometheus', [
        $PROMETHEUS, '--config.file=' . $base->path('prometheus.yml'),
        "--storage.tsdb.path=$data",
        "--web.listen-address=127.0.0.1:$port",
        '--log.level=warn',
    ], $base->path('prometheus.log'));

    my $p = { port => $port, pid => $pid };
    my $deadline = time + 30;

    until (port_open($port)
           && ($self->prom_get($p, '/-/ready')->status // 0) == 200)
    {
        if (defined $self->reaped($pid) || time > $deadline) {
            croak "prometheus did not start:\n"
                . $base->read_file('prometheus.log');
        }
        sleep 0.1;
    }

    return $p;
}


sub prom_get {
    my ($self, $p, $uri) = @_;

    return $self->{base}->http_get($uri, port => $p->{port}, timeout => 5);
}


# An instant query: the value of its single sample (undef without one),
# and the decoded answer

sub prom_query {
    my ($self, $p, $query) = @_;

    (my $q = $query) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;

    my $res = $self->prom_get($p, "/api/v1/query?query=$q");
    my $doc = eval { JSON::PP->new->utf8->decode($res->body // '') };

    return (undef, $doc) unless $doc && ($doc->{status} // '') eq 'success';

    my $result = $doc->{data}{result} // [];

    return (undef, $doc) unless @$result == 1;

    return ($result->[0]{value}[1], $doc);
}


sub prometheus_stop {
    my ($self, $p) = @_;

    $self->kill_proc($p->{pid}, 'TERM', 10);
}


# promtool check metrics of a text: (exit status, output)

sub promtool {
    my ($self, $text) = @_;

    my $file = $self->{base}->write_file('promtool.txt', $text);

    return $self->{base}->capture(
        ['/bin/sh', '-c', "$PROMTOOL check metrics < '$file'"], 1, 30);
}


#### the end

sub finish {
    my ($self) = @_;

    return if $self->{finished}++;

    for my $n (@{ $self->{nodes} }) {
        delete $n->{sync};
    }

    # sidecars and Prometheus first, then Redis
    my @pids = sort {
        ($self->{procs}{$a}{what} =~ /^redis/ ? 1 : 0)
            <=> ($self->{procs}{$b}{what} =~ /^redis/ ? 1 : 0)
    } keys %{ $self->{procs} };

    for my $pid (@pids) {
        $self->kill_proc($pid, 'TERM', 5);
    }
}


END {
    local $?;

    if ($$ == $OWNER) {
        $_->finish for @FLEETS;
    }
}


1;
