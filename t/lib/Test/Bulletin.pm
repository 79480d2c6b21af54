package Test::Bulletin;

=head1 NAME

Test::Bulletin - bulletin's nginx test harness

=head1 SYNOPSIS

    use strict;
    use warnings;

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use Test::Bulletin;

    my $t = Test::Bulletin->new;

    $t->run_blocks;                 # the data blocks below __DATA__

    $t->config(server => 'location / { return 200 "one\n"; }')->run;
    is $t->http_get('/')->body, "one\n", 'served';

    # no done_testing: the harness plans when the file ends

    __DATA__

    === TEST 1: a page
    --- config
    location = /x { return 200 "x\n"; }
    --- request
    GET /x
    --- response_body
    x

=head1 DESCRIPTION

Each test file gets a private prefix (a 0755 temporary folder under
/tmp) and free loopback ports, so that C<prove -j> works.  nginx is the
system's (C<$TEST_NGINX_BINARY>, default F</usr/sbin/nginx>), started in
the foreground (C<-g "daemon off;">) with C<load_module> of the built
module, found in C<$BULLETIN_BUILD> (default: the checkout's F<build/>).
Tests run as root here, so nginx's workers run as C<nobody>: everything
they read lives in the world-readable prefix.

When the file ends (normally, by C<die>, or on SIGINT/SIGTERM) the harness
stops every nginx it started, asserts that the error log holds no
C<[alert]>, C<[crit]> or C<[emerg]> line the file did not expect, asserts
that valgrind saw no error (valgrind mode), removes the prefix (unless
C<TEST_NGINX_LEAVE=1>) and calls C<done_testing>.  Test files therefore
never call C<done_testing> or C<plan> themselves.

A missing nginx binary or module makes the whole file C<skip_all> with
the reason.

=head1 CONFIGURATION FRAME

    load_module BUILD/ngx_http_bulletin_module.so;
    worker_processes 2;
    pid logs/nginx.pid;
    error_log logs/error.log info;
    MAIN
    events {
    }
    http {
        access_log logs/access.log;
        client_body_temp_path temp/client_body;     (and the other temps)
        HTTP
        server {
            listen 127.0.0.1:%%PORT%%;
            server_name localhost;
            SERVER
        }
    }

Placeholders, in configs and block sections: C<%%PORT%%> (C<%%PORT_1%%>),
C<%%PORT_2%%> ... (free ports, reserved for the file), C<%%PREFIX%%>,
C<%%BUILD%%>, C<%%MODULE%%> (the .so).  The harness adds C<daemon off;>
(and C<master_process off;> under valgrind) with C<-g>: a full config text
must not set C<daemon> or C<master_process>.

=head1 DATA BLOCKS

See L<Test::Bulletin::Blocks> and F<t/README.md>.

=head1 METHODS

    Test::Bulletin->new                 the harness (skip_all if nginx or
                                        the module is missing)
    $t->prefix                          the private prefix
    $t->port($n)                        the n-th free port (default 1)
    $t->path($name)                     $name inside the prefix
    $t->write_file($name, $content)     a file in the prefix, mode 0644
    $t->write_json($name, $data)        Perl data as UTF-8 JSON
    $t->read_file($name)
    $t->config(main => ..., http => ..., server => ...)
    $t->config($full_text)              writes conf/nginx.conf
    $t->run                             start; dies with the error log
    $t->stop                            QUIT, then TERM, then KILL
    $t->running
    $t->reload                          HUP; returns the new worker pids
    $t->reload_refused                  HUP with a bad configuration;
                                        returns the refusal's log text
    $t->master_pid, $t->worker_pids
    $t->test_config(...)                nginx -t: (status, output)
    $t->build_store(inputs => [...], output => 'site.blt',
                    template => ..., channels => ..., options => [...])
                                        (status, stdout, stderr)
    $t->run_builder(@argv)              (status, stdout, stderr)
    $t->request(method => 'GET', uri => '/x', headers => [N => 'v'],
                body => ..., protocol => ..., raw => ..., port => ...)
    $t->http_get($uri, %args)           both return a Response
    $t->keepalive(%args)                a keep-alive Connection
    $t->run_blocks                      the data blocks of __DATA__
    $t->error_log_text, $t->error_log_size, $t->error_log_since($off)
    $t->expect_errors(qr/.../, ...)     [alert]/[crit]/[emerg] expected
    $t->gunzip($bytes)                  (plain, undef) or (undef, error)
    $t->valgrind                        true in valgrind mode
    $t->skip_if_valgrind($why, $count)  inside a SKIP: block
    $t->skip_unless_builder             skip_all without bulletin-build
    Test::Bulletin::skip_all_unless($cond, $why)

Responses (L<Test::Bulletin::HTTP>): C<status>, C<reason>, C<protocol>,
C<headers> (C<[name, value]> pairs in order), C<header($name)> (first
value; all in list context), C<header_values($name)>,
C<header_count($name)>, C<body> (chunked decoded), C<raw>, C<error>,
C<gunzipped>, C<head>.  Connections: C<request(%args)>, C<send_raw>,
C<read_response>, C<closed_by_peer($wait)>, C<close>.

=head1 VALGRIND

With C<TEST_NGINX_VALGRIND=1>, nginx (and C<nginx -t>) runs under
memcheck with C<master_process off; daemon off;>, logs in
F<PREFIX/valgrind.PID.log>, suppressions in F<t/lib/valgrind.supp>; the
end of the file asserts that every log reports 0 errors.  Waits are ten
times longer.  Tests that need a master use C<skip_if_valgrind>.

=cut

use strict;
use warnings;

use Carp qw(croak);
use Config;
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Uncompress::Gunzip qw($GunzipError);
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use Test::Bulletin::HTTP;
use Test::Bulletin::Blocks;

our @EXPORT_OK = qw(skip_all_unless gunzip valgrind);

my $LIB = dirname(dirname(abs_path(__FILE__)));

our $NGINX = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
our $BUILD = abs_path($ENV{BULLETIN_BUILD} // "$LIB/../../build")
    // $ENV{BULLETIN_BUILD};
our $MODULE = "$BUILD/ngx_http_bulletin_module.so";
our $BUILDER = "$BUILD/bulletin-build";
our $VALGRIND = $ENV{TEST_NGINX_VALGRIND} ? 1 : 0;
our $SUPPRESSIONS = "$LIB/valgrind.supp";

# valgrind's exit status when it found errors
use constant VALGRIND_ERROR_EXIT => 99;
use constant CAPTURE_TIMEOUT => 300;      # seconds, for any command

# every wait is this many times longer under valgrind
my $SLOW = $VALGRIND ? 10 : 1;

my $OWNER = $$;
my @HARNESSES;
my $SKIPPED_ALL;


#### the harness

sub new {
    my ($class) = @_;

    check_prerequisites();

    umask 022;

    (my $name = basename($0)) =~ s/\.t\z//;
    $name =~ s/[^A-Za-z0-9_-]/_/g;

    my $prefix = tempdir("bulletin-$name-XXXXXX",
                         DIR => File::Spec->tmpdir, CLEANUP => 0);

    chmod 0755, $prefix or croak "chmod $prefix: $!";

    my $self = bless {
        prefix   => $prefix,
        ports    => {},
        expected => [],
        quiet    => [],
        exits    => {},
        children => {},
    }, $class;

    make_path((map { "$prefix/$_" } qw(conf logs temp html)),
              { mode => 0755 });

    push @HARNESSES, $self;
    install_signal_handlers();

    return $self;
}


sub check_prerequisites {
    skip_all_unless(-x $NGINX, "no nginx binary at $NGINX");
    skip_all_unless(-f $MODULE, "no module at $MODULE (run make)");
    skip_all_unless(-r "/proc/$$/stat", "no /proc file system");

    if ($VALGRIND) {
        skip_all_unless(find_in_path('valgrind'),
                        "TEST_NGINX_VALGRIND=1 but no valgrind");
    }
}


sub find_in_path {
    my ($cmd) = @_;

    for my $dir (split /:/, $ENV{PATH} // '/usr/bin:/bin') {
        return "$dir/$cmd" if -x "$dir/$cmd";
    }

    return undef;
}


sub skip_all_unless {
    my ($cond, $reason) = @_;

    return 1 if $cond;

    $SKIPPED_ALL = 1;
    plan skip_all => $reason;
}


sub skip_unless_builder {
    my ($self) = @_;

    return skip_all_unless(-x $BUILDER,
                           "no builder at $BUILDER (not built yet)");
}


sub valgrind { $VALGRIND }


# Inside a SKIP block: skips $count tests under valgrind, where nginx
# runs without a master process (no reload, no binary upgrade).

sub skip_if_valgrind {
    my ($self, $reason, $count) = @_;

    skip("valgrind mode: $reason", $count // 1) if $VALGRIND;
}


sub prefix { $_[0]{prefix} }


sub path {
    my ($self, $name) = @_;

    return $name if File::Spec->file_name_is_absolute($name);
    return "$self->{prefix}/$name";
}


# The n-th free port of this file.  The port stays reserved by a bound,
# non-listening socket with SO_REUSEADDR: nginx can still bind it, and
# no other test file (bind to port 0) is given it meanwhile.

sub port {
    my ($self, $n) = @_;

    $n //= 1;

    return $self->{ports}{$n}{port} if $self->{ports}{$n};

    my $sock = IO::Socket::INET->new(
        Proto     => 'tcp',
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        ReuseAddr => 1,
    ) or croak "can't reserve a port: $@";

    $self->{ports}{$n} = { port => $sock->sockport, sock => $sock };

    return $sock->sockport;
}


sub expand {
    my ($self, $text) = @_;

    return $text unless defined $text;

    $text =~ s/%%PORT(?:_(\d+))?%%/$self->port($1 \/\/ 1)/ge;
    $text =~ s/%%PREFIX%%/$self->{prefix}/g;
    $text =~ s/%%BUILD%%/$BUILD/g;
    $text =~ s/%%MODULE%%/$MODULE/g;

    return $text;
}


#### files

sub write_file {
    my ($self, $name, $content) = @_;

    my $path = $self->path($name);

    make_path(dirname($path), { mode => 0755 });

    open my $fh, '>:raw', $path or croak "can't create $path: $!";
    print $fh $content;
    close $fh or croak "can't write $path: $!";
    chmod 0644, $path;

    return $path;
}


# Writes Perl data as UTF-8 JSON (strings are Perl character strings).

sub write_json {
    my ($self, $name, $data) = @_;

    my $json = JSON::PP->new->utf8->canonical->pretty->encode($data);

    return $self->write_file($name, $json);
}


sub read_file {
    my ($self, $name) = @_;

    my $path = $self->path($name);

    open my $fh, '<:raw', $path or croak "can't open $path: $!";
    local $/;
    my $content = <$fh>;
    close $fh;

    return $content;
}


sub error_log_text {
    my ($self) = @_;

    return -e $self->path('logs/error.log')
           ? $self->read_file('logs/error.log') : '';
}


sub error_log_size {
    my ($self) = @_;

    return -s $self->path('logs/error.log') // 0;
}


sub error_log_since {
    my ($self, $offset) = @_;

    my $text = $self->error_log_text;

    return length $text > $offset ? substr $text, $offset : '';
}


# Error log lines at [alert], [crit] or [emerg] matching these patterns
# do not fail the check at the end of the file.

sub expect_errors {
    my ($self, @patterns) = @_;

    push @{ $self->{expected} }, @patterns;

    return $self;
}


# The error log bytes from $from to now are expected (a must_die block,
# a refused reload).

sub expect_log_range {
    my ($self, $from) = @_;

    push @{ $self->{quiet} }, [$from, $self->error_log_size];
}


#### configuration

my @TEMP_PATHS = qw(client_body proxy fastcgi uwsgi scgi);


sub frame {
    my ($self, %parts) = @_;

    for my $key (keys %parts) {
        croak "config: unknown part \"$key\" (main, http, server)"
            unless $key =~ /\A(?:main|http|server)\z/;
    }

    my $temps = join '',
        map { "    ${_}_temp_path temp/$_;\n" } @TEMP_PATHS;

    return "load_module %%MODULE%%;\n"
         . "worker_processes 2;\n"
         . "pid logs/nginx.pid;\n"
         . "error_log logs/error.log info;\n\n"
         . indent($parts{main}, 0)
         . "events {\n}\n\n"
         . "http {\n"
         . "    access_log logs/access.log;\n"
         . $temps . "\n"
         . indent($parts{http}, 4)
         . "    server {\n"
         . "        listen 127.0.0.1:%%PORT%%;\n"
         . "        server_name localhost;\n\n"
         . indent($parts{server}, 8)
         . "    }\n"
         . "}\n";
}


sub indent {
    my ($text, $n) = @_;

    return '' unless defined $text && $text =~ /\S/;

    my $pad = ' ' x $n;

    $text =~ s/^(?=.)/$pad/mg;
    $text .= "\n" unless $text =~ /\n\z/;

    return "$text\n";
}


# The text of a configuration: config($text) or config(main => ...).

sub config_text {
    my ($self, @args) = @_;

    return $self->expand(@args == 1 ? $args[0] : $self->frame(@args));
}


sub config {
    my ($self, @args) = @_;

    $self->{config} = $self->config_text(@args);
    $self->write_file('conf/nginx.conf', $self->{config});

    return $self;
}


sub expected_workers {
    my ($self, $text) = @_;

    return 0 if $VALGRIND;
    return 1 unless ($text // '') =~ /^\s*worker_processes\s+(\w+)\s*;/m;
    return $1 eq 'auto' ? 1 : $1;
}


sub listen_ports {
    my ($text) = @_;

    my @ports = $text =~ /^\s*listen\s+(?:127\.0\.0\.1:)?(\d+)\b/mg;

    return @ports;
}


#### processes

sub nginx_command {
    my ($self, @args) = @_;

    my $globals = $self->{daemon} ? 'daemon on;' : 'daemon off;';
    $globals .= ' master_process off;' if $VALGRIND;

    my @cmd = ($NGINX, '-p', "$self->{prefix}/", '-e',
               "$self->{prefix}/logs/error.log", '-g', $globals, @args);

    return @cmd unless $VALGRIND;

    # nginx -t exits without freeing its cycle: no leak check there
    my $leaks = grep({ $_ eq '-t' } @args) ? 'no' : 'full';

    return ('valgrind', '--tool=memcheck',
            '--error-exitcode=' . VALGRIND_ERROR_EXIT,
            "--leak-check=$leaks", '--show-leak-kinds=definite',
            '--errors-for-leak-kinds=definite', '--num-callers=30',
            "--suppressions=$SUPPRESSIONS",
            "--log-file=$self->{prefix}/valgrind.%p.log", @cmd);
}


# fork and exec, stdin from /dev/null, stdout and stderr to files.

sub spawn {
    my ($self, $cmd, $out, $err) = @_;

    my $pid = fork;

    croak "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out or POSIX::_exit(126);
        open STDERR, '>>', $err // $out or POSIX::_exit(126);
        exec { $cmd->[0] } @$cmd
            or print STDERR "exec $cmd->[0]: $!\n";
        POSIX::_exit(127);
    }

    $self->{children}{$pid} = 1;

    return $pid;
}


sub exit_code {
    my ($status) = @_;

    return 128 + ($status & 127) if $status & 127;
    return $status >> 8;
}


# Runs a command to completion: (exit status, stdout, stderr), stdout
# and stderr together when $combined; killed after $timeout seconds
# (CAPTURE_TIMEOUT by default), its status then "timeout".

sub capture {
    my ($self, $cmd, $combined, $timeout) = @_;

    my $out = $self->path(".out.$$");
    my $err = $combined ? $out : $self->path(".err.$$");

    unlink $out, $err;

    my $pid = $self->spawn($cmd, $out, $err);
    my $deadline = time + ($timeout // CAPTURE_TIMEOUT);
    my $status;

    # bounded: a command that hangs (nginx -t in open() of a FIFO) is
    # killed, and its status is "timeout"

    until (waitpid($pid, WNOHANG) == $pid) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $status = 'timeout';
            last;
        }

        sleep 0.02;
    }

    delete $self->{children}{$pid};

    $status //= exit_code($?);
    my @text = map { -e $_ ? $self->read_file($_) : '' } $out, $err;

    unlink $out, $err;

    return $combined ? ($status, $text[0]) : ($status, @text);
}


# `nginx -t` of conf/nginx.conf, or of a text given as for config():
# (exit status, stdout and stderr).

sub test_config {
    my ($self, @args) = @_;

    my $conf = 'conf/nginx.conf';

    if (@args) {
        $conf = 'conf/test.conf';
        $self->write_file($conf, $self->config_text(@args));
    }

    return $self->capture([$self->nginx_command('-t', '-c', $conf)], 1, 30);
}


# Starts nginx with conf/nginx.conf and waits until the pid file exists,
# the ports listen and the workers are up.  Dies with the error log's
# tail when nginx does not start.  nginx runs in the foreground, as our
# child, unless daemon => 1: a binary upgrade (USR2) needs a master
# whose parent has exited.

sub run {
    my ($self, %opts) = @_;

    my ($ok, $why) = $self->start(%opts);

    croak "nginx did not start: $why" unless $ok;

    return $self;
}


sub start {
    my ($self, %opts) = @_;

    croak "nginx is already running" if $self->{pid};
    croak "valgrind mode runs nginx in the foreground"
        if $opts{daemon} && $VALGRIND;

    $self->{daemon} = $opts{daemon} ? 1 : 0;
    become_subreaper() if $self->{daemon};

    $self->config unless defined $self->{config};

    my $pidfile = $self->path('logs/nginx.pid');
    my $stderr = $self->path('logs/nginx.stderr');
    my $from = $self->error_log_size;

    unlink $pidfile;

    my $pid = $self->spawn([$self->nginx_command('-c', 'conf/nginx.conf')],
                           $stderr);

    $self->{pid} = $pid;

    my $why = $self->wait_started($pid, $pidfile);

    return (1) unless defined $why;

    $self->stop;

    return (0, "$why\n" . $self->error_log_since($from));
}


sub wait_started {
    my ($self, $pid, $pidfile) = @_;

    my @ports = listen_ports($self->{config});
    my $workers = $self->expected_workers($self->{config});
    my $deadline = time + 10 * $SLOW;

    while (time < $deadline) {
        if ($self->{children}{$pid} && waitpid($pid, WNOHANG) == $pid) {
            my $status = exit_code($?);

            $self->{exits}{$pid} = $status;
            delete $self->{children}{$pid};

            # a daemon's launcher exits once the master is forked
            unless ($self->{daemon} && $status == 0) {
                $self->{pid} = undef;
                return "nginx exited with status $status";
            }
        }

        my @workers = $self->worker_pids;

        if (-s $pidfile && listening(@ports) && @workers >= $workers) {
            $self->{pid} = $self->master_pid;
            $self->{running_config} = $self->{config};
            return undef;
        }

        sleep 0.02;
    }

    return "timed out waiting for nginx to start";
}


# A daemon's master is orphaned once its launcher exits; as a child
# subreaper (prctl PR_SET_CHILD_SUBREAPER) this process inherits it and
# can reap it, whatever init does with orphans.

sub become_subreaper {
    my %prctl = (x86_64 => 157, aarch64 => 167, i386 => 172);
    my ($arch) = $Config{archname} =~ /\A([^-]+)/;

    syscall($prctl{$arch}, 36, 1, 0, 0, 0) if $prctl{$arch};
}


# True when every port has a listening socket (from /proc/net/tcp, so
# that waiting logs nothing in nginx's error log).

sub listening {
    my (@ports) = @_;

    return 1 unless @ports;

    open my $fh, '<', '/proc/net/tcp' or return 1;

    my %listen;

    while (<$fh>) {
        $listen{ hex $1 } = 1 if /^\s*\d+: [0-9A-F]+:([0-9A-F]+) \S+ 0A /;
    }

    close $fh;

    return !grep { !$listen{$_} } @ports;
}


sub running {
    my ($self) = @_;

    return defined $self->{pid};
}


sub master_pid {
    my ($self) = @_;

    return undef unless $self->{pid};

    my $pid = eval { $self->read_file('logs/nginx.pid') } // '';

    return $pid =~ /(\d+)/ ? $1 : $self->{pid};
}


# The master's worker processes that are not shutting down, in
# numerical order.  Under valgrind, the single nginx process.

sub worker_pids {
    my ($self) = @_;

    my $master = $self->master_pid or return ();

    return ($master) if $VALGRIND;

    return sort { $a <=> $b }
           grep { proc_cmdline($_) =~ /\Anginx: worker process\s*\z/ }
           proc_children($master);
}


sub proc_children {
    my ($ppid) = @_;

    my @pids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        my ($pid, $state, $parent) = proc_stat($stat) or next;
        push @pids, $pid if $parent == $ppid && $state ne 'Z';
    }

    return @pids;
}


# (pid, state, ppid) from /proc/PID/stat; the command name may hold
# spaces and parentheses, so fields are taken after the last ")".

sub proc_stat {
    my ($file) = @_;

    open my $fh, '<', $file or return ();
    my $line = <$fh> // '';
    close $fh;

    return () unless $line =~ /\A(\d+) \(.*\) (\S) (\d+) /s;
    return ($1, $2, $3);
}


sub proc_cmdline {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    my $cmdline = <$fh> // '';
    close $fh;

    $cmdline =~ tr/\0/ /;

    return $cmdline;
}


sub alive {
    my ($pid) = @_;

    my (undef, $state) = proc_stat("/proc/$pid/stat");

    return defined $state && $state ne 'Z';
}


# Every nginx process of this prefix: the processes we forked, masters
# whose command line names the prefix (a binary upgrade's new master),
# and their children.

sub nginx_processes {
    my ($self) = @_;

    my %masters = map { $_ => 1 }
                  grep { alive($_) } keys %{ $self->{children} };

    for my $stat (glob '/proc/[0-9]*/stat') {
        my ($pid) = proc_stat($stat) or next;
        $masters{$pid} = 1
            if index(proc_cmdline($pid), " -p $self->{prefix}/ ") >= 0;
    }

    my @masters = keys %masters;
    my @workers = map { proc_children($_) } @masters;

    return (\@masters, \@workers);
}


# Stops nginx: QUIT, then TERM, then KILL, each with a timeout, until the
# masters and their workers are gone.

sub stop {
    my ($self) = @_;

    my ($masters, $workers) = $self->nginx_processes;
    my @all = (@$masters, @$workers);

    if (@all) {
        kill 'QUIT', @$masters;

        unless ($self->wait_gone(\@all, 20 * $SLOW)) {
            diag "nginx did not quit in time, sending TERM";
            kill 'TERM', @$masters;

            unless ($self->wait_gone(\@all, 5 * $SLOW)) {
                diag "nginx did not stop, sending KILL";
                kill 'KILL', @all;
                $self->wait_gone(\@all, 5);
            }
        }
    }

    $self->reap;
    $self->{pid} = undef;
    $self->{daemon} = 0;
    $self->{running_config} = undef;

    return $self;
}


sub wait_gone {
    my ($self, $pids, $timeout) = @_;

    my $deadline = time + $timeout;

    for ( ;; ) {
        $self->reap(@$pids);

        unless (grep { alive($_) } @$pids) {
            $self->reap(@$pids);
            return 1;
        }

        return 0 if time > $deadline;
        sleep 0.02;
    }
}


# Collects the exit status of our children that have exited, and of
# daemons we inherited as a subreaper.

sub reap {
    my ($self, @inherited) = @_;

    for my $pid (keys %{ $self->{children} }, @inherited) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{exits}{$pid} = exit_code($?);
            delete $self->{children}{$pid};
        }
    }
}


# Reloads the configuration (conf/nginx.conf, as config() last wrote it)
# with SIGHUP; waits until every worker is new, and returns the new
# workers' pids.  Dies on timeout.

sub reload {
    my ($self) = @_;

    croak "reload needs a master process: use skip_if_valgrind"
        if $VALGRIND;

    my $master = $self->master_pid or croak "reload: nginx is not running";
    my %old = map { $_ => 1 } $self->worker_pids;
    my $want = $self->expected_workers($self->{config});
    my $from = $self->error_log_size;
    my $deadline = time + 10;

    kill 'HUP', $master;

    while (time < $deadline) {
        my @now = $self->worker_pids;

        if (@now >= $want && !grep { $old{$_} } @now) {
            $self->{running_config} = $self->{config};
            return @now;
        }

        sleep 0.02;
    }

    croak "reload: workers not replaced within 10 s; error log:\n"
        . $self->error_log_since($from);
}


# Reloads a configuration that nginx must refuse: waits for the refusal
# in the error log, checks that the workers are unchanged, and returns
# the error log text written meanwhile (which the final check of the
# error log then expects).  Dies when nginx takes the configuration.

sub reload_refused {
    my ($self) = @_;

    croak "reload needs a master process: use skip_if_valgrind"
        if $VALGRIND;

    my $master = $self->master_pid or croak "reload: nginx is not running";
    my @old = $self->worker_pids;
    my $from = $self->error_log_size;
    my $deadline = time + 10;

    kill 'HUP', $master;

    until ($self->error_log_since($from) =~ /\[(?:emerg|alert|crit)\]/) {
        croak "reload_refused: no refusal in the error log within 10 s"
            if time > $deadline;
        sleep 0.02;
    }

    sleep 0.3;

    my $text = $self->error_log_since($from);

    $self->expect_log_range($from);

    croak "reload_refused: nginx took the configuration:\n$text"
        unless join(' ', $self->worker_pids) eq join(' ', @old);

    return $text;
}


# A binary upgrade (run(daemon => 1) first): USR2 to the master; waits
# until the new master and its workers run, and returns the new and the
# old master's pids.  The old master keeps running until the test sends
# it QUIT (then wait_gone([$old])).

sub upgrade {
    my ($self) = @_;

    croak "upgrade needs run(daemon => 1)" unless $self->{daemon};

    my $old = $self->master_pid or croak "upgrade: nginx is not running";
    my $want = $self->expected_workers($self->{config});
    my $from = $self->error_log_size;
    my $deadline = time + 10;

    kill 'USR2', $old;

    while (time < $deadline) {
        my $new = $self->master_pid;

        if ($new != $old && -e $self->path('logs/nginx.pid.oldbin')) {
            $self->{pid} = $new;

            my @workers = $self->worker_pids;

            return ($new, $old) if @workers >= $want;
        }

        sleep 0.02;
    }

    croak "upgrade: no new master within 10 s; error log:\n"
        . $self->error_log_since($from);
}


#### the builder

sub run_builder {
    my ($self, @argv) = @_;

    croak "no builder at $BUILDER (run make)" unless -x $BUILDER;

    return $self->capture([$BUILDER, @argv]);
}


# Builds a store in the prefix: inputs => [files or folders], output =>
# name ('site.blt'), template => file, channels => 'a,b', options =>
# [more arguments].  Relative names are in the prefix.  Returns (exit
# status, stdout, stderr).

sub build_store {
    my ($self, %args) = @_;

    my $inputs = $args{inputs} // croak "build_store: no inputs";
    my @argv;

    push @argv, '-t', $self->path($args{template}) if defined $args{template};
    push @argv, '--channels', $args{channels} if defined $args{channels};
    push @argv, @{ $args{options} // [] };
    push @argv, '-o', $self->path($args{output} // 'site.blt');
    push @argv, map { $self->path($_) } ref $inputs ? @$inputs : $inputs;

    return $self->run_builder(@argv);
}


#### HTTP

sub timeout { 10 * $SLOW }


# A request on its own connection: method, uri, headers (name => value
# pairs), body, protocol, raw (exact bytes), port (default port(1)),
# timeout.  Returns a Test::Bulletin::Response.

sub request {
    my ($self, %args) = @_;

    return Test::Bulletin::HTTP::request(
        port => $self->port(1), timeout => $self->timeout, %args);
}


sub http_get {
    my ($self, $uri, %args) = @_;

    return $self->request(method => 'GET', uri => $uri, %args);
}


# A keep-alive connection (Test::Bulletin::Connection).

sub keepalive {
    my ($self, %args) = @_;

    return Test::Bulletin::Connection->new(
        port => $self->port(1), timeout => $self->timeout, %args);
}


# Whether curl can speak HTTP/2 over cleartext with prior knowledge (no
# HTTP/2 client in Perl's core): Debian's curl, built with nghttp2, is
# in the Makefile's DEB_TEST.

sub curl_h2 {
    return 0 unless find_in_path('curl');
    return `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;
}


# The second port's listen for HTTP/2 (cleartext), as the nginx under
# test wants it: 1.25.1 deprecates "listen ... http2" for "http2 on".

sub h2_listen {
    my ($self) = @_;

    return $self->nginx_at_least('1.25.1')
           ? "listen 127.0.0.1:%%PORT_2%%;\nhttp2 on;\n"
           : "listen 127.0.0.1:%%PORT_2%% http2;\n";
}


# One HTTP/2 request through curl, h2c with prior knowledge: method,
# uri, headers ("Name: value" strings), to the second port (port(2)),
# the one a test gives "listen ... http2".  A hash of rc (curl's),
# protocol, status, headers ([name, value] pairs, names in lower case)
# and body.

sub h2 {
    my ($self, $method, $uri, @headers) = @_;

    my $head = $self->path('h2.head');
    my $body = $self->path('h2.body');

    unlink $head, $body;

    my @cmd = ('curl', '-sS', '--http2-prior-knowledge', '--max-time',
               $self->timeout, '-D', $head, '-o', $body,
               '--stderr', $self->path('h2.err'));

    # -X HEAD, not --head: curl then writes whatever DATA arrives to -o
    push @cmd, '-X', $method unless $method eq 'GET';
    push @cmd, map { ('-H', $_) } @headers;
    push @cmd, 'http://127.0.0.1:' . $self->port(2) . $uri;

    my $rc = system @cmd;
    my %res = (rc => $rc, headers => [], body => '');

    return \%res unless -e $head;

    my ($status, @lines) = split /\r?\n/, $self->read_file($head);

    ($res{protocol}, $res{status}) = split ' ', $status // '';
    $res{headers} = [map { /\A([^:]+):\s*(.*)\z/ ? [lc $1, $2] : () }
                     @lines];
    $res{body} = -e $body ? $self->read_file($body) : '';

    return \%res;
}


# The values of a header of an h2() response, in order.

sub h2_values {
    my ($self, $res, $name) = @_;

    return map { $_->[1] } grep { $_->[0] eq lc $name } @{ $res->{headers} };
}


# (plain bytes, undef) for one valid gzip member with nothing after it,
# (undef, error) otherwise.  Strict: the CRC-32 and size are checked.

sub gunzip {
    my $data = pop;     # a function, or a method

    return (undef, 'no data') unless defined $data && length $data;

    my $z = IO::Uncompress::Gunzip->new(\$data, Transparent => 0,
                                        Strict => 1, MultiStream => 0,
                                        Append => 1)
        or return (undef, $GunzipError);

    my $plain = '';

    for ( ;; ) {
        my $n = $z->read($plain);
        return (undef, $GunzipError || 'read error') if $n < 0;
        last if $n == 0;
    }

    my $trailing = $z->trailingData;

    $z->close;

    return (undef, length($trailing) . ' bytes after the gzip member')
        if length $trailing;

    return ($plain, undef);
}


#### data blocks

# Sections for every block that lacks them: block_defaults(config =>
# $text, ...); see Test::Bulletin::Blocks.

# Whether the nginx under test is at least the version given ("1.25.1").

sub nginx_at_least {
    my ($self, $want) = @_;

    my (undef, $out) = $self->capture([$NGINX, '-v'], 1);
    my ($have) = ($out // '') =~ m{nginx/(\d+\.\d+\.\d+)} or return 0;
    my @have = split /\./, $have;
    my @want = split /\./, $want;

    for my $i (0 .. 2) {
        return $have[$i] > $want[$i] if $have[$i] != $want[$i];
    }

    return 1;
}


# The version, as src/bulletin_version.h says.

sub version {
    my $file = "$LIB/../../src/bulletin_version.h";

    open my $fh, '<', $file or croak "$file: $!";
    local $/;
    my ($v) = <$fh> =~ /^#define BULLETIN_VERSION\s+"([^"]+)"/m
        or croak "$file: no BULLETIN_VERSION";

    return $v;
}


sub block_defaults {
    my ($self, %sections) = @_;

    $self->{block_defaults} = \%sections;

    return $self;
}


sub run_blocks {
    my ($self, $text) = @_;

    unless (defined $text) {
        no warnings 'once';
        local $/;
        $text = readline(\*main::DATA) // croak "run_blocks: no __DATA__";
    }

    Test::Bulletin::Blocks::run($self, $text);

    return $self;
}


#### the end of the file

sub check_error_log {
    my ($self) = @_;

    my $text = $self->error_log_text;
    my @bad;
    my $offset = 0;

    for my $line (split /^/m, $text) {
        my $at = $offset;

        $offset += length $line;

        next unless $line =~ /\[(?:alert|crit|emerg)\]/;
        next if grep { $at >= $_->[0] && $at < $_->[1] } @{ $self->{quiet} };
        next if grep { $line =~ $_ } @{ $self->{expected} };

        push @bad, $line;
    }

    ok(!@bad, 'error log: no unexpected [alert], [crit] or [emerg]')
        or diag join '', @bad;
}


sub check_valgrind {
    my ($self) = @_;

    my @logs = sort glob "$self->{prefix}/valgrind.*.log";
    my @bad;

    for my $log (@logs) {
        my $text = $self->read_file($log);
        my @errors = $text =~ /ERROR SUMMARY: (\d+) errors/g;

        push @bad, "$log: no ERROR SUMMARY (killed?)" unless @errors;
        push @bad, "$log:\n$text" if grep { $_ > 0 } @errors;
    }

    for my $pid (sort keys %{ $self->{exits} }) {
        push @bad, "process $pid exited with valgrind's error status"
            if $self->{exits}{$pid} == VALGRIND_ERROR_EXIT;
    }

    ok(!@bad, 'valgrind: 0 errors in ' . @logs . ' logs')
        or diag join "\n", @bad;
}


sub finish {
    my ($self) = @_;

    return if $self->{finished}++;

    eval { $self->stop; 1 } or diag "stopping nginx: $@";

    unless (skipped_all()) {
        $self->check_error_log;
        $self->check_valgrind if $VALGRIND;
    }

    close $_->{sock} for values %{ $self->{ports} };

    if ($ENV{TEST_NGINX_LEAVE}) {
        diag "TEST_NGINX_LEAVE: prefix kept in $self->{prefix}";
    } else {
        remove_tree($self->{prefix});
    }
}


sub skipped_all {
    return 1 if $SKIPPED_ALL;

    my $plan = eval { Test2::API::test2_stack()->top->plan };

    return defined $plan && $plan eq 'SKIP';
}


sub finish_all {
    return unless $$ == $OWNER;

    $_->finish for @HARNESSES;

    return if skipped_all() || !@HARNESSES;

    my $plan = eval { Test2::API::test2_stack()->top->plan };

    done_testing() unless defined $plan;
}


# SIGINT, SIGTERM or SIGPIPE exit through the END block, which stops
# nginx; a second SIGINT or SIGTERM kills at once.

sub install_signal_handlers {
    for my $sig (qw(INT TERM PIPE)) {
        next unless ($SIG{$sig} // 'DEFAULT') eq 'DEFAULT';

        $SIG{$sig} = sub {
            @SIG{qw(INT TERM PIPE)} = qw(DEFAULT DEFAULT IGNORE);
            diag "caught SIG$sig, stopping nginx";
            exit 1;
        };
    }
}


END {
    local $?;
    finish_all();
}


1;
