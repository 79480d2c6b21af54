package ReliabilityTest;

=head1 NAME

ReliabilityTest - helpers of t/500-reload.t, t/510-hostile.t and
t/520-limits.t (issue 9)

=head1 SYNOPSIS

    use ReliabilityTest qw(:all);

    my $dump = store_dump_build($t);          # t/tools/store-dump.c
    my $want = page_digests($t, 'site.blt', @ids);  # {id => md5}
    my $masked = mask($body);                 # count digits removed

    # forked clients sending until traffic_stop, checking every body
    my $tr = traffic_start($t, procs => 4, plan => [...]);
    ...
    my $r = traffic_stop($t, $tr);

=head1 DESCRIPTION

The traffic clients check every response as it arrives: a page GET is a
200 whose body (gunzipped, strictly, when it is gzip) is a page of the
store generation its C<X-Bulletin-Generation> header names.  The count
digits differ from response to response, so a body is compared with its
count slots emptied (C<mask>), which is what C<store-dump STORE ID
segments> prints; the clients tally C<generation id md5> and the test
compares the tallies with the digests of every store it built.

Clients run in one of two modes:

=over

=item close

C<Connection: close>, a new connection a request.  A request that gets
nothing back is a failure (the server never drops a connection it
accepted), except in C<restart> mode, below.

=item keepalive

Keep-alive connections of C<per_conn> requests.  At a reload nginx
closes the idle keep-alive connections of the old workers: a request
sent on a reused connection that gets no byte of response back was never
read, and is sent again on a new connection, as browsers do.  A request
that got part of a response is a failure.

=back

With C<< restart => 1 >> (stops, binary upgrades, kill -9) a refused
connection is tried again, and a request that got nothing or part of a
response is sent again and counted as I<in doubt>: after a graceful stop
or an upgrade the counts must still equal the successful requests
exactly, and after kill -9 they must lie between the successful
requests and those plus the requests in doubt (a worker killed between
its count and its response).

=cut

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Exporter qw(import);
use FindBin;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use Test::More;
use Test::Bulletin;

our @EXPORT_OK = qw(mask store_dump_build store_dump page_digests
                    traffic_start traffic_stop traffic_ok status_doc
                    page_counts soak);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

our $ROOT = "$FindBin::Bin/..";


# BULLETIN_SOAK=1: the long versions

sub soak { $ENV{BULLETIN_SOAK} ? 1 : 0 }


# A page's body with the digits of its count slots removed (the slots of
# CountersTest::template and of the share bar).

sub mask {
    my ($body) = @_;

    $body =~ s{(<b id="(?:views|shares)">)\d+(</b>)}{$1$2}g;
    $body =~ s{(<span class="bulletin-share-count">)\d+(</span>)}{$1$2}g;

    return $body;
}


#### t/tools/store-dump.c

sub store_dump_build {
    my ($t) = @_;

    my $dump = $t->path('store-dump');

    return $dump if -x $dump;

    my @cc = ('cc', '-std=gnu99', '-O2', '-Wall', '-Wextra',
              '-Wno-unused-parameter', '-Werror', "-I$ROOT/src", '-o', $dump,
              "$ROOT/t/tools/store-dump.c",
              "$Test::Bulletin::BUILD/libbulletin.a", '-lz');

    system(@cc) == 0 or die "can't build t/tools/store-dump.c: @cc\n";

    return $dump;
}


sub store_dump {
    my ($t, $store, @args) = @_;

    open my $fh, '-|', store_dump_build($t), $t->path($store), @args
        or die "store-dump: $!";
    binmode $fh;
    local $/;
    my $out = <$fh> // '';
    close $fh;

    die "store-dump $store @args: exit status $?\n" if $?;

    return $out;
}


# (generation, {id => md5 of the page with its slots empty})

sub page_digests {
    my ($t, $store, @ids) = @_;

    my ($gen) = store_dump($t, $store) =~ /\Ageneration ([0-9a-f]+)\n/
        or die "store-dump $store: no generation\n";

    my %md5 = map { $_ => md5_hex(store_dump($t, $store, $_, 'segments')) }
              @ids;

    return ($gen, \%md5);
}


#### status

# the status JSON, decoded with big numbers kept exact; undef (with a
# diagnostic) when it cannot be had

sub status_doc {
    my ($t, %args) = @_;

    my $res = $t->http_get($args{uri} // '/status?top=all',
                           port => $args{port} // $t->port(1));

    unless (($res->status // 0) == 200) {
        diag 'status: ' . $res->head . ($res->body // '');
        return undef;
    }

    my $doc = eval {
        JSON::PP->new->utf8->allow_bignum->decode($res->body)
    };

    diag "status: not JSON: $@" unless $doc;

    return $doc;
}


# {id => {views, excluded => totals only, ch => {channel => n}}} of a
# status document, and the totals under "_totals"

sub page_counts {
    my ($st) = @_;

    return undef unless $st;

    my %c;

    for my $p (@{ $st->{pages} }) {
        $c{ $p->{id} } = { views => "$p->{views}",
                           ch => { map { $_ => "$p->{shares_by_channel}{$_}" }
                                   keys %{ $p->{shares_by_channel} } } };
    }

    my $tot = $st->{totals};

    $c{_totals} = { views => "$tot->{views}", shares => "$tot->{shares}",
                    excluded => "$tot->{excluded}" };

    return \%c;
}


#### the traffic clients

# %args: procs, modes (['close', 'keepalive'], cycled over the procs),
# plan ([{method, uri, id, gzip, channel, body}] ...), port, per_conn
# (keepalive, default 50), restart (see above), max_seconds (a bound:
# a client stops by itself after it).  Returns a handle for
# traffic_stop.

sub traffic_start {
    my ($t, %args) = @_;

    my $procs = $args{procs} // 4;
    my @modes = @{ $args{modes} // ['close', 'keepalive'] };
    my $stop = $t->path('traffic.stop.' . int(rand 1e9));
    my %tr = (stop => $stop, pids => [], files => []);

    unlink $stop;

    for my $i (1 .. $procs) {
        my $file = $t->path("traffic.$i." . int(rand 1e9) . '.json');
        my $mode = $modes[($i - 1) % @modes];

        unlink $file;

        my $pid = fork;

        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            my $rc = eval {
                client($t, $file, $i, $mode, $stop, %args);
                1;
            } ? 0 : 1;

            print STDERR "traffic client $i: $@" if $rc;
            POSIX::_exit($rc);
        }

        push @{ $tr{pids} }, $pid;
        push @{ $tr{files} }, $file;
    }

    return \%tr;
}


sub client {
    my ($t, $file, $n, $mode, $stop, %args) = @_;

    my $port = $args{port} // $t->port(1);
    my $per_conn = $mode eq 'keepalive' ? $args{per_conn} // 50 : 1;
    my $restart = $args{restart} // 0;
    my @plan = @{ $args{plan} };
    my $deadline = time + ($args{max_seconds} // 300);
    my %r = (ok => {}, pages => {}, pids => {}, gens => {}, failures => 0,
             errors => [], retries_reused => 0, retries_fresh => 0,
             connect_retries => 0, in_doubt => 0, partial => 0,
             requests => 0, mode => $mode);
    my ($c, $on_conn) = (undef, 0);
    my $at = $n * 5;

    srand($$);

    REQUEST:
    until (-e $stop || time > $deadline) {
        my $p = $plan[$at++ % @plan];
        my @headers = $p->{gzip} ? ('Accept-Encoding' => 'gzip') : ();

        push @headers, Connection => 'close' if $mode eq 'close';

        for (my $tries = 0; ; $tries++) {
            if ($tries > 2000 || time > $deadline + 60) {
                failure(\%r, "$p->{method} $p->{uri}: no answer after "
                        . "$tries tries");
                last REQUEST;
            }

            if (!$c) {
                $c = eval { $t->keepalive(port => $port, timeout => 10) };
                $on_conn = 0;

                unless ($c) {
                    # nothing sent: nginx is stopped or starting
                    unless ($restart) {
                        failure(\%r, "connect: $@");
                        next REQUEST;
                    }

                    $r{connect_retries}++;
                    sleep 0.01;
                    next;
                }
            }

            my $reused = $on_conn > 0;
            my $res = $c->request(method => $p->{method}, uri => $p->{uri},
                                  headers => \@headers,
                                  defined $p->{body}
                                  ? (body => $p->{body}) : ());

            $on_conn++;

            if (!defined $res->status || defined $res->error) {
                my $nothing = !length($res->raw // '');

                $c->close;
                $c = undef;

                if ($nothing && $reused) {
                    # an idle keep-alive connection closed: not read
                    $r{retries_reused}++;
                    next;
                }

                if ($restart) {
                    $r{$nothing ? 'retries_fresh' : 'partial'}++;
                    $r{in_doubt}++;
                    next;
                }

                failure(\%r, "$p->{method} $p->{uri}"
                        . ($reused ? ' (reused connection)' : '') . ': '
                        . ($nothing ? 'no response' : 'partial response')
                        . ': ' . ($res->error // ''));
                next REQUEST;
            }

            $r{requests}++;
            check(\%r, $p, $res);

            if ($mode eq 'close' || $on_conn >= $per_conn
                || ($res->header('Connection') // '') =~ /close/i)
            {
                $c->close;
                $c = undef;
            }

            next REQUEST;
        }
    }

    $c->close if $c;

    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh JSON::PP->new->canonical->encode(\%r);
    close $fh or die "$file: $!";
    rename "$file.tmp", $file or die "$file: $!";
}


sub failure {
    my ($r, $msg) = @_;

    $r->{failures}++;
    push @{ $r->{errors} }, $msg if @{ $r->{errors} } < 20;
}


# One answer, checked; tallied in ok{} only when right.

sub check {
    my ($r, $p, $res) = @_;

    my $what = "$p->{method} $p->{uri}" . ($p->{gzip} ? ' (gzip)' : '');
    my $pid = $res->header('X-Pid') // '?';

    $r->{pids}{$pid}++;

    if ($p->{method} eq 'POST') {
        return failure($r, "$what: " . $res->status . ', want 204')
            unless $res->status == 204;

        $r->{ok}{"POST $p->{id} $p->{channel}"}++;
        return;
    }

    return failure($r, "$what: " . $res->status . ', want 200')
        unless $res->status == 200;

    my $gen = $res->header('X-Bulletin-Generation');
    my $ce = $res->header('Content-Encoding') // '';

    return failure($r, "$what: no X-Bulletin-Generation")
        unless defined $gen && $gen =~ /\A[0-9a-f]+\z/;

    return failure($r, "$what: Content-Encoding \"$ce\"")
        unless $ce eq ($p->{gzip} ? 'gzip' : '');

    $r->{gens}{$gen}++;

    if ($p->{method} eq 'HEAD') {
        return failure($r, "$what: a body of " . length($res->body))
            if length $res->body;

        $r->{ok}{"HEAD $p->{id}"}++;
        return;
    }

    my $body = $res->body;

    if ($p->{gzip}) {
        my ($plain, $err) = Test::Bulletin::gunzip($body);

        return failure($r, "$what: gunzip: $err") unless defined $plain;

        $body = $plain;
    }

    return failure($r, "$what: a body without its count slots")
        unless $body =~ m{<b id="views">\d+</b>};

    $r->{pages}{"$gen\t$p->{id}\t" . md5_hex(mask($body))}++;
    $r->{ok}{"GET $p->{id}"}++;
}


# Stops the clients (after $wait seconds more, if given), waits for
# them and sums their results: ok => {key => n}, pages, pids, gens,
# failures, errors, retries_reused, retries_fresh, connect_retries,
# in_doubt, partial, requests, by_mode => {mode => requests}, dead
# (clients that did not end well).

sub traffic_stop {
    my ($t, $tr, $timeout) = @_;

    open my $fh, '>', $tr->{stop} or die "$tr->{stop}: $!";
    close $fh;

    my %r = (ok => {}, pages => {}, pids => {}, gens => {}, errors => [],
             dead => 0, by_mode => {});
    my $deadline = time + ($timeout // 120);

    for my $pid (@{ $tr->{pids} }) {
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (time > $deadline) {
                kill 'KILL', $pid;
                waitpid $pid, 0;
                last;
            }
            sleep 0.02;
        }

        $r{dead}++ if $?;
    }

    unlink $tr->{stop};

    for my $file (@{ $tr->{files} }) {
        unless (-e $file) {
            push @{ $r{errors} }, "no result in $file";
            next;
        }

        open my $in, '<', $file or die "$file: $!";
        local $/;
        my $one = JSON::PP->new->decode(<$in>);
        close $in;
        unlink $file;

        for my $k (qw(failures retries_reused retries_fresh connect_retries
                      in_doubt partial requests))
        {
            $r{$k} += $one->{$k};
        }

        $r{by_mode}{ $one->{mode} } += $one->{requests};
        push @{ $r{errors} }, @{ $one->{errors} };

        for my $h (qw(ok pages pids gens)) {
            $r{$h}{$_} += $one->{$h}{$_} for keys %{ $one->{$h} };
        }
    }

    return \%r;
}


# Every request answered as planned: no failure, no error, no client
# dead.  One assertion.

sub traffic_ok {
    my ($what, $r) = @_;

    my @bad = @{ $r->{errors} };

    push @bad, "$r->{failures} failed requests" if $r->{failures};
    push @bad, "$r->{dead} clients did not end well" if $r->{dead};

    ok(!@bad && $r->{requests} > 0,
       "$what: $r->{requests} requests, 0 failed") or diag join "\n", @bad;
}


1;
