package Test::Bulletin::Scale;

# Helpers for tests of large stores (t/300-status.t, t/530-scale.t):
# many bulletins written fast, a small template, timed and pipelined
# requests, and a status document of 100,000 pages checked strictly but
# fast.  Each takes the Test::Bulletin object first.

use strict;
use warnings;

use Exporter qw(import);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);

use Test::Bulletin;

our @EXPORT = qw(many_bulletins small_template timed_get median_time
                 pipelined pipelined_views big_locations inconsistencies
                 big_document);


# n small bulletins PREFIX00000... written fast, by hand

sub many_bulletins {
    my ($t, $dir, $prefix, $n) = @_;

    my $path = $t->path($dir);

    mkdir $path or die "mkdir $path: $!";

    for my $i (0 .. $n - 1) {
        my $id = sprintf '%s%05d', $prefix, $i;

        open my $fh, '>:raw', "$path/$id.json" or die "$id: $!";
        print $fh qq({"id":"$id","title":"Bulletin $i \\"q\\" )
                . qq(\\u7b80\\u62a5","published":"2020-05-20",)
                . qq("blocks":[{"paragraph":"Text $i."}]}\n);
        close $fh;
    }

    return $dir;
}


# a template much smaller than the default: 100,000 pages in 170 MB

sub small_template {
    my ($t) = @_;

    $t->write_file('small.html', '<!doctype html><html><head>'
        . '<meta charset="utf-8"><title>{{title}}</title>'
        . '<link rel="icon" href="data:,"></head><body><h1>{{title}}</h1>'
        . '<p>{{views}} {{shares}}</p>{{body}}{{share_bar}}</body></html>'
        . "\n");

    return 'small.html';
}


# (seconds to the first byte, seconds to the last, bytes, body) of a GET

sub timed_get {
    my ($t, $uri, $timeout) = @_;

    my $t0 = time;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t->port, Timeout => 5)
        or return;

    print $sock "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";

    my ($first, $raw) = (undef, '');
    my $deadline = $t0 + $timeout;

    for ( ;; ) {
        my $rin = '';
        vec($rin, fileno $sock, 1) = 1;

        last unless select($rin, undef, undef, $deadline - time) > 0;

        my $n = sysread $sock, $raw, 1 << 20, length $raw;

        last unless $n;
        $first //= time;
    }

    my $last = time;

    close $sock;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;

    return (($first // $last) - $t0, $last - $t0, length($body // ''),
            $body // '', $head // '');
}


sub median_time {
    my ($t, $uri, $runs, $timeout) = @_;

    my (@first, @last, $bytes);

    for (1 .. $runs) {
        my ($f, $l, $b) = timed_get($t, $uri, $timeout);
        push @first, $f // 0;
        push @last, $l // 0;
        $bytes = $b;
    }

    @first = sort { $a <=> $b } @first;
    @last = sort { $a <=> $b } @last;

    return (1000 * $first[$#first / 2], 1000 * $last[$#last / 2], $bytes);
}


# The locations of a large store's tests: pages at /big/ID, where
# pipelined_views() sends its requests, and a status that lists them all.

sub big_locations {
    return <<'EOF';
location ~ ^/big/(?<bulletin_id>[A-Za-z0-9_][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
    if_modified_since before;
}
location = /status {
    bulletin_status;
    bulletin_status_max 100001;
}
EOF
}


# conditional GETs that nginx answers 304 (a view, and a small
# response), pipelined by the thousand on each connection

sub pipelined_views {
    my ($t, @ids) = @_;

    my $in = pipelined($t, map {
        "GET /big/$_ HTTP/1.1\r\nHost: localhost\r\n"
      . "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n"
    } @ids);

    return scalar(() = $in =~ m{^HTTP/1\.1 304 }mg);
}


# The responses to requests sent pipelined, a thousand a connection (an
# nginx's keepalive_requests), the last of each asking to close.

sub pipelined {
    my ($t, @requests) = @_;

    my $out = '';

    while (my @batch = splice @requests, 0, 1000) {
        $batch[-1] =~ s/\r\n\r\n\z/\r\nConnection: close\r\n\r\n/;

        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $t->port)
            or die "connect: $!";
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            print $sock join '', @batch;
            POSIX::_exit(0);
        }

        1 while sysread $sock, $out, 1 << 20, length $out;

        waitpid $pid, 0;
        close $sock;
    }

    return $out;
}


# what is wrong with a status document, as a list of problems

sub inconsistencies {
    my ($doc) = @_;

    my @bad;
    my $pages = $doc->{pages} // [];

    for my $i (1 .. $#$pages) {
        my ($a, $b) = @$pages[$i - 1, $i];

        push @bad, "pages $i: $a->{id} ($a->{views}) before "
                 . "$b->{id} ($b->{views})"
            unless $a->{views} > $b->{views}
                || ($a->{views} == $b->{views} && $a->{id} lt $b->{id});
    }

    my %sum;

    for my $p (@$pages) {
        $sum{views} += $p->{views};
        $sum{shares} += $p->{shares};
        $sum{$_} += $p->{shares_by_channel}{$_}
            for keys %{ $p->{shares_by_channel} };
    }

    for my $k (sort keys %sum) {
        my $total = $k =~ /\A(?:views|shares)\z/
                    ? $doc->{totals}{$k}
                    : $doc->{totals}{shares_by_channel}{$k};

        push @bad, "the listed pages have $sum{$k} $k, the totals "
                 . ($total // 'none')
            unless defined $total && $sum{$k} <= $total;
    }

    for my $p (@$pages, $doc->{totals} // ()) {
        my $sum = 0;

        $sum += $_ for values %{ $p->{shares_by_channel} // {} };

        push @bad, ($p->{id} // 'totals') . ": shares $p->{shares}, "
                 . "by channel $sum"
            unless $sum == ($p->{shares} // -1);
    }

    return @bad;
}


# The document of a large store, checked strictly but fast: JSON::PP
# takes minutes over 13 MB, so Python's json (strict UTF-8, no NaN)
# validates it when python3 is here, and hands back the document with
# the pages as lines: the other keys as JSON, then a line a page.
# Without python3, JSON::PP does it all.

sub py_summary {
    return <<'EOF';
import json, sys

def constant(name):
    raise ValueError("not JSON: " + name)

with open(sys.argv[1], "rb") as f:
    doc = json.loads(f.read().decode("utf-8"), parse_constant=constant)

pages = doc.pop("pages")
out = sys.stdout
out.write(json.dumps(doc) + "\n")

for p in pages:
    assert "\t" not in p["title"] and "\n" not in p["title"]
    by = p["shares_by_channel"]
    out.write("\t".join([p["id"], p["title"], str(p["views"]),
                         str(p["shares"])]
                        + ["%s=%d" % (k, by[k]) for k in by]) + "\n")
EOF
}


sub big_document {
    my ($t, $body) = @_;

    my $python = Test::Bulletin::find_in_path('python3');

    unless ($python) {
        my $doc = eval { JSON::PP->new->utf8->decode($body) };
        return ($doc, $@);
    }

    my $file = $t->write_file('big-status.json', $body);
    my $code = $t->write_file('big-summary.py', py_summary());
    my ($rc, $out, $err) = $t->capture([$python, $code, $file]);

    unlink $file;

    return (undef, "python3: $err") if $rc;

    utf8::decode($out);

    my ($head, @lines) = split /\n/, $out;
    my $doc = eval { JSON::PP->new->decode($head) }
        or return (undef, "summary: $@");

    $doc->{pages} = [map {
        my ($id, $title, $views, $shares, @by) = split /\t/;
        { id => $id, title => $title, views => $views, shares => $shares,
          shares_by_channel => { map { split /=/ } @by } }
    } @lines];

    return ($doc, undef);
}


1;
