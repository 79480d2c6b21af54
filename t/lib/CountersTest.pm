package CountersTest;

=head1 NAME

CountersTest - helpers of t/200-counters.t and t/210-share.t

=head1 SYNOPSIS

    use CountersTest qw(:all);

    my $site = site($t, 'site.blt');           # store with a test template
    my $st = status($t);                       # the status JSON, decoded
    my $c = counts($st, 'bj-sociorg-2020-01'); # {views, shares, ch => {}}
    my $p = shown($t, '/bulletin/x');          # what the page shows

    # a forked client: procs processes, each with keep-alive connections
    # of per_conn requests, cycling through the plan
    my $load = load_start($t, procs => 8, requests => 4000,
                          plan => [[GET => '/bulletin/a'],
                                   [POST => '/bulletin/a/share?channel=qq']]);
    my $r = load_finish($t, $load);     # {sent => {key => n}, status => ...}

=head1 DESCRIPTION

A response received is a request counted; a request that got no byte of
response (a keep-alive connection an old worker closed at a reload or an
upgrade) was not processed, and is sent again on a new connection, as
browsers do.  Anything else (a partial response, a refused connection
after retries) is an error the caller reports.

=cut

use strict;
use warnings;

use Exporter qw(import);
use FindBin;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use Test::More;
use Test::Bulletin;

our @EXPORT_OK = qw(site template status counts shown load_start
                    load_finish load_run log_lines sample bulletins
                    store_ids file_bytes mtime wchan);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

our $SAMPLE = "$FindBin::Bin/../sample";

our @IDS = qw(bj-sociorg-2020-01 bj-sociorg-2020-01-03 bj-sociorg-2020-02
              bj-sociorg-2020-03);


sub sample { $SAMPLE }


# A template whose count slots are easy to find: the views and shares
# slots, and the share bar (one button per channel, each with a count).

sub template {
    my ($t) = @_;

    $t->write_file('count.html', <<'EOF');
<!doctype html>
<html><head><meta charset="utf-8"><title>{{title}}</title>
<link rel="icon" href="data:,"></head>
<body>
<p>views=<b id="views">{{views}}</b> shares=<b id="shares">{{shares}}</b></p>
{{share_bar}}
{{body}}
</body></html>
EOF

    return 'count.html';
}


# Builds a store in the prefix from the sample bulletins (or inputs);
# options => [more builder arguments]; dies when the builder fails.

sub site {
    my ($t, $output, %args) = @_;

    my ($status, $out, $err) = $t->build_store(
        inputs => $args{inputs} // [$SAMPLE],
        output => $output,
        template => template($t),
        %{ $args{channels} ? { channels => $args{channels} } : {} },
        %{ $args{options} ? { options => $args{options} } : {} });

    die "bulletin-build failed: $err$out" if $status;

    return $output;
}


# The ids of a store in the prefix, in its order, as bulletin-build
# --list shows them: the bulletins and the builder's own pages (the list
# pages _index, _index-2, ...); dies when the builder fails.

sub store_ids {
    my ($t, $store) = @_;

    my ($status, $out, $err) = $t->run_builder('--list', $t->path($store));

    die "bulletin-build --list $store failed: $err$out" if $status;

    return map { (split /\t/)[0] } split /\n/, $out;
}


# n bulletins with ids PREFIX-1 .. PREFIX-n, in folder $dir of the prefix

sub bulletins {
    my ($t, $dir, $prefix, $n) = @_;

    for my $i (1 .. $n) {
        $t->write_json("$dir/$prefix-$i.json", {
            id => "$prefix-$i",
            title => "$prefix $i",
            published => '2020-05-20',
            blocks => [{ paragraph => "text $i" }],
        });
    }

    return $t->path($dir);
}


# The status document (every page), decoded; undef with a diagnostic
# when it cannot be had.

sub status {
    my ($t, %args) = @_;

    my $res = $t->http_get($args{uri} // '/status?top=all',
                           port => $args{port} // $t->port(1));

    unless (($res->status // 0) == 200) {
        diag "status: " . $res->head . ($res->body // '');
        return undef;
    }

    my $doc = eval { JSON::PP->new->utf8->decode($res->body) };

    diag "status: not JSON: $@" unless $doc;

    return $doc;
}


# {views, shares, ch => {channel => n}} of a page in a status document;
# undef when the page is not there.

sub counts {
    my ($st, $id) = @_;

    return undef unless $st && $st->{pages};

    for my $p (@{ $st->{pages} }) {
        next unless $p->{id} eq $id;
        return { views => $p->{views}, shares => $p->{shares},
                 ch => $p->{shares_by_channel} };
    }

    return undef;
}


# What a page shows, for a request that counts nothing (a prefetch), or
# as %args say: {views, shares, ch => {channel => n}, status, gzip}.

sub shown {
    my ($t, $uri, %args) = @_;

    my @headers = @{ $args{headers} // ['Sec-Purpose' => 'prefetch'] };

    push @headers, 'Accept-Encoding' => 'gzip' if $args{gzip};

    my $res = $t->http_get($uri, headers => \@headers);
    my $body = $res->body;

    if ($args{gzip}) {
        return { status => $res->status, error => 'not gzip' }
            unless ($res->header('Content-Encoding') // '') eq 'gzip';
        $body = $res->gunzipped;
    }

    return { status => $res->status, error => $res->error }
        unless defined $body;

    my %p = (status => $res->status, gzip => $args{gzip} ? 1 : 0);

    $p{views} = $1 if $body =~ m{<b id="views">(\d+)</b>};
    $p{shares} = $1 if $body =~ m{<b id="shares">(\d+)</b>};

    while ($body =~ m{data-channel="([a-z0-9_-]+)"[^>]*>[^<]*
                      <span\ class="bulletin-share-count">(\d+)</span>}gx)
    {
        $p{ch}{$1} = $2;
    }

    return \%p;
}


# The lines of an access log in the prefix, split on spaces.

sub log_lines {
    my ($t, $name) = @_;

    my $path = $t->path($name);

    return () unless -e $path;

    return map { chomp; [split / /] } split /^/m, $t->read_file($name);
}


sub file_bytes {
    my ($t, $name) = @_;

    return -e $t->path($name) ? $t->read_file($name) : undef;
}


# mtime with nanoseconds, from stat(1)

sub mtime {
    my ($t, $name) = @_;

    my $path = $t->path($name);

    return undef unless -e $path;

    open my $fh, '-|', 'stat', '-c', '%y %s', $path or return undef;
    my $m = <$fh>;
    close $fh;

    chomp $m if defined $m;

    return $m;
}


# Where a process sleeps in the kernel, for diagnostics.

sub wchan {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/wchan" or return '?';
    my $w = <$fh> // '?';
    close $fh;

    return $w;
}


#### the load client

# %args: procs, requests (per process), per_conn (requests per
# connection, default 100), plan ([method, uri, [headers]] ...), port.
# Returns a handle for load_finish.

sub load_start {
    my ($t, %args) = @_;

    my $procs = $args{procs} // 4;
    my @plan = @{ $args{plan} };
    my %load = (files => [], pids => [], plan => \@plan);

    for my $i (1 .. $procs) {
        my $file = $t->path("load.$$.$i." . int(rand 1e9) . '.json');

        unlink $file;

        my $pid = fork;

        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            my $rc = eval {
                client($t, $file, $i, %args, plan => \@plan);
                1;
            } ? 0 : 1;

            print STDERR "load client $i: $@" if $rc;
            POSIX::_exit($rc);
        }

        push @{ $load{pids} }, $pid;
        push @{ $load{files} }, $file;
    }

    return \%load;
}


sub client {
    my ($t, $file, $n, %args) = @_;

    my $port = $args{port} // $t->port(1);
    my $per_conn = $args{per_conn} // 100;
    my @plan = @{ $args{plan} };
    my %r = (sent => {}, status => {}, retries => 0, errors => []);
    my ($c, $on_conn) = (undef, 0);

    # a different order in every process
    my $at = $n * 7;

    for my $i (1 .. $args{requests}) {
        my ($method, $uri, $headers, $body) = @{ $plan[$at++ % @plan] };
        my $key = "$method $uri";
        my $tries = 0;

        for ( ;; ) {
            if (!$c || $on_conn >= $per_conn) {
                $c->close if $c;
                $c = eval { $t->keepalive(port => $port) };
                $on_conn = 0;

                unless ($c) {
                    die "connect: $@" if ++$tries > 50;
                    $r{retries}++;
                    sleep 0.05;
                    next;
                }
            }

            my $res = $c->request(method => $method, uri => $uri,
                                  headers => $headers // [],
                                  (defined $body ? (body => $body) : ()));

            $on_conn++;

            if (!defined $res->status) {
                $c->close;
                $c = undef;

                if (length $res->raw) {
                    push @{ $r{errors} }, "$key: partial response: "
                        . ($res->error // '');
                    last;
                }

                die "$key: no response after 50 tries: " . $res->error
                    if ++$tries > 50;

                $r{retries}++;
                next;
            }

            $r{sent}{$key}++;
            $r{status}{$key}{ $res->status }++;

            if (($res->header('Connection') // '') =~ /close/i) {
                $c->close;
                $c = undef;
            }

            last;
        }
    }

    $c->close if $c;

    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh JSON::PP->new->canonical->encode(\%r);
    close $fh or die "$file: $!";
    rename "$file.tmp", $file or die "$file: $!";
}


# Waits for the clients; sums their results.  {sent => {key => n},
# status => {key => {code => n}}, retries => n, errors => [...],
# failed => number of clients that did not finish}.

sub load_finish {
    my ($t, $load, $timeout) = @_;

    my %r = (sent => {}, status => {}, retries => 0, errors => [],
             failed => 0);
    my $deadline = time + ($timeout // 600);

    for my $pid (@{ $load->{pids} }) {
        while (waitpid($pid, POSIX::WNOHANG()) == 0) {
            if (time > $deadline) {
                kill 'KILL', $pid;
                waitpid $pid, 0;
                last;
            }
            sleep 0.05;
        }

        $r{failed}++ if $?;
    }

    for my $file (@{ $load->{files} }) {
        unless (-e $file) {
            push @{ $r{errors} }, "no result in $file";
            next;
        }

        open my $fh, '<', $file or die "$file: $!";
        local $/;
        my $one = JSON::PP->new->decode(<$fh>);
        close $fh;
        unlink $file;

        $r{retries} += $one->{retries};
        push @{ $r{errors} }, @{ $one->{errors} };

        for my $key (keys %{ $one->{sent} }) {
            $r{sent}{$key} += $one->{sent}{$key};

            for my $code (keys %{ $one->{status}{$key} }) {
                $r{status}{$key}{$code} += $one->{status}{$key}{$code};
            }
        }
    }

    return \%r;
}


sub load_run {
    my ($t, %args) = @_;

    return load_finish($t, load_start($t, %args));
}


1;
