package BenchUtil;

# What bench/bench.pl and bench/fleet.pl share: files read and written
# whole, a free loopback port, numbers with thousands separators, and the
# report's text tables.

use strict;
use warnings;

use Exporter qw(import);
use IO::Socket::INET;
use List::Util qw(max);

our @EXPORT_OK = qw(slurp spew free_port fmt table);


sub slurp {
    my ($file) = @_;
    open my $f, '<:raw', $file or die "$file: $!\n";
    local $/;
    return scalar <$f>;
}

sub spew {
    my ($file, $data) = @_;
    open my $f, '>:raw', $file or die "$file: $!\n";
    print $f $data;
    close $f or die "$file: $!\n";
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# a number with $digits decimals and thousands separators; '-' for none
sub fmt {
    my ($v, $digits) = @_;
    return '-' unless defined $v;
    my $s = sprintf "%.${digits}f", $v;
    1 while $s =~ s/^(-?\d+)(\d{3})/$1,$2/;
    return $s;
}

# a text table: the first column, and those whose heading begins with
# "<", aligned left; the others right; an undefined cell shows '-'
sub table {
    my ($head, @rows) = @_;
    my @left = map { $_ == 0 || $head->[$_] =~ /^</ ? '-' : '' }
               0 .. $#$head;
    $head = [map { s/^<//r } @$head];
    my @w = map { my $i = $_; max(map { length($_->[$i] // '') } $head, @rows) }
            0 .. $#$head;
    my $f = join('  ', map({ "%$left[$_]$w[$_]s" } 0 .. $#w)) . "\n";
    my $t = sprintf $f, @$head;
    $t .= sprintf $f, map { '-' x $_ } @w;
    $t .= sprintf $f, map { $_ // '-' } @$_ for @rows;
    $t =~ s/ +$//mg;
    return $t;
}

1;
