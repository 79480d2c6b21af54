#!/usr/bin/perl

# The status of a store of 100,000 pages at length (make soak): the
# times of ?top=10, the default, ?top=1000 and ?top=all, JSON and
# Prometheus, after sparse and then dense traffic (every bulletin viewed
# 1 to 3 times, in no order), reported with diag; the dense ?top=all
# valid, sorted and consistent with its totals, and ranked in far less
# than the 5 s a quadratic sort would take.  Run with BULLETIN_SOAK=1.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;
use Test::Bulletin::Scale;
use Time::HiRes qw(time);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

Test::Bulletin::skip_all_unless($ENV{BULLETIN_SOAK},
                                'a long test: BULLETIN_SOAK=1 (make soak)');
Test::Bulletin::skip_all_unless(!$t->valgrind,
                                'timings mean nothing under valgrind');

# 95,239 bulletins and their 4,762 list pages (20 a page): 100,001
# pages, as many as big_locations()' bulletin_status_max

my $n = 95_239;
my $timeout = 120;

many_bulletins($t, 'src-big', 'b', $n);

my $t0 = time;
my ($rc, $out, $build_err) = $t->build_store(inputs => ['src-big'],
                                       output => 'big.blt',
                                       template => small_template($t));

die "bulletin-build failed ($rc): $build_err" unless $rc == 0;

my (undef, $list) = $t->run_builder('--list', $t->path('big.blt'));
my $pages = () = $list =~ /^[^\t\n]+\t/mg;

is($pages, 100_001, '100,000 pages: big.blt has 100,001 pages');

diag sprintf "100,000 pages: built in %.1f s, %d bytes",
             time - $t0, -s $t->path('big.blt');

$t->config(http => "bulletin_store big.blt;\n"
                 . "bulletin_counters zone=bulletin:32m;\n",
           server => big_locations())->run;

# sparse traffic: 300 pages viewed once, 100 of them twice

my @sparse = map { sprintf 'b%05d', ($_ * 7919) % $n } 1 .. 300;

is(pipelined_views($t, @sparse, @sparse[0 .. 99]), 400,
   '100,000 pages: 400 views served');

my @report;
my $time = sub {
    my ($what, $uri, $runs) = @_;
    my ($f, $l, $b) = median_time($t, $uri, $runs, $timeout);
    push @report, sprintf "  %-28s first byte %9.2f ms, last %9.2f"
                        . " ms, %9d bytes (median of %d)",
                          $what, $f, $l, $b, $runs;
    return $l;
};

$time->('sparse ?top=10', '/status?top=10', 9);
$time->('sparse default (100)', '/status', 9);
$time->('sparse ?top=1000', '/status?top=1000', 5);
$time->('sparse ?top=all', '/status?top=all', 3);
$time->('sparse Prometheus default', '/status?format=prometheus', 9);
$time->('sparse Prometheus ?top=all',
        '/status?format=prometheus&top=all', 3);

my (undef, undef, undef, $text) = timed_get(
    $t, '/status?format=prometheus&top=all', $timeout);

is(scalar(() = $text =~ /^bulletin_page_views_total\{/mg), $pages,
   '100,000 pages, Prometheus ?top=all: every page');

# dense traffic: every bulletin viewed 1 to 3 times, in no order

my @dense = map { my $id = sprintf 'b%05d', $_;
                  ($id) x (1 + ($_ * 7919) % 3) } 0 .. $n - 1;
my $dense = @dense;

$t0 = time;
is(pipelined_views($t, @dense), $dense,
   "100,000 pages: $dense more views served");
push @report, sprintf "  (%d views in %.1f s)", $dense, time - $t0;

$time->('dense ?top=10', '/status?top=10', 9);
$time->('dense default (100)', '/status', 9);
$time->('dense ?top=1000', '/status?top=1000', 5);
$time->('dense ?top=10000', '/status?top=10000', 1);
$time->('dense Prometheus ?top=10000',
        '/status?format=prometheus&top=10000', 1);

my $all = $time->('dense ?top=all', '/status?top=all', 1);

diag "100,000 pages, status times:\n" . join "\n", @report;

my (undef, undef, undef, $body) = timed_get($t, '/status?top=all',
                                             $timeout);
my ($doc, $err) = big_document($t, $body);

ok(defined $doc, '100,000 pages, dense: ?top=all is valid JSON')
    or diag $err;
$doc //= {};

is($doc->{totals}{views}, 400 + $dense,
   '100,000 pages, dense: totals.views');
my @bad = inconsistencies($doc);
ok(!@bad, '100,000 pages, dense: ?top=all sorted')
    or diag join "\n", @bad[0 .. 4];

# Not a timing: a linear or n log n ranking takes well under a
# second here; 5 s means a quadratic one, a worker blocked.

ok($all < 5000, sprintf '100,000 pages, dense: ?top=all in %.0f ms, '
                      . 'not quadratic', $all);
