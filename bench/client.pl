#!/usr/bin/perl
# A small keep-alive HTTP/1.1 client, for the callgrind runs (wrk has no
# fixed request count): sends N requests one after another on a
# connection (a new one when nginx closes it, after keepalive_requests),
# reads each response whole, and fails on anything but 200.
#
#   bench/client.pl PORT PATH N [HEADER: VALUE]...
#
# PATH @FILE: the paths of FILE, one a line, in turn (the scale runs'
# ids, drawn as bench/ids.lua draws them).

use strict;
use warnings;
use IO::Socket::INET;

my ($port, $path, $n, @headers) = @ARGV;
die "usage: $0 PORT PATH N [HEADER: VALUE]...\n" unless defined $n;

sub connect_ {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp');
    return $c || die "connect to 127.0.0.1:$port: $!\n";
}

my $s = connect_();

my @paths = ($path);
if ($path =~ /^@(.*)/) {
    open my $fh, '<', $1 or die "$1: $!\n";
    chomp(@paths = <$fh>);
    die "$1: no paths\n" unless @paths;
}
my $tail = " HTTP/1.1\r\nHost: localhost\r\n"
           . join('', map { "$_\r\n" } @headers) . "\r\n";
my $buf = '';

for my $i (1 .. $n) {
    print $s 'GET ', $paths[($i - 1) % @paths], $tail or die "send: $!\n";

    my $end;
    until (($end = index($buf, "\r\n\r\n")) >= 0) {
        sysread($s, $buf, 65536, length $buf) or die "request $i: closed\n";
    }

    my $head = substr($buf, 0, $end + 4, '');
    $head =~ m{^HTTP/1\.1 200 } or die "request $i: $head";
    $head =~ /^Content-Length: (\d+)\r$/mi
        or die "request $i: no Content-Length\n$head";
    my $len = $1;

    while (length $buf < $len) {
        sysread($s, $buf, 65536, length $buf) or die "request $i: closed\n";
    }
    substr($buf, 0, $len, '');

    if ($head =~ /^Connection: close\r$/mi) {
        close $s;
        $s = connect_();
        $buf = '';
    }
}

close $s;
