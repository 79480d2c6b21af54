#!/usr/bin/perl

# The module loads into the system nginx: `nginx -t` passes with
# load_module, the master and the workers map the .so, and plain
# locations are served in its presence.  Each load of a configuration
# with a store says in error.log, once, which store it serves and how
# full its counters are.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;


my $t = Test::Bulletin->new;

$t->config(server => 'location / { }');

my ($status, $out) = $t->test_config;

is($status, 0, 'nginx -t passes with load_module');
like($out, qr/test is successful/, 'nginx -t says so');
unlike($out, qr/\[(?:emerg|alert|crit|warn)\]/, 'nginx -t warns nothing');

$t->run_blocks;

my @pids = ($t->master_pid, $t->worker_pids);
my $so = $Test::Bulletin::MODULE;

ok(@pids >= ($t->valgrind ? 1 : 3), 'master and workers running');
ok(!grep({ !maps($_, $so) } @pids), 'every nginx process maps the module');

load_notice();


sub load_notice {
    SKIP: {
        $t->skip_unless_builder;
        $t->skip_if_valgrind('reloads need a master process', 6);

        my ($rc, $stdout, $err) = $t->build_store(
            inputs => ["$FindBin::Bin/../sample"]);

        die "bulletin-build failed ($rc): $err" unless $rc == 0;

        my ($gen) = $stdout =~ /generation ([0-9a-f]{16})/;
        my $size = -s $t->path('site.blt');
        my $store = $t->path('site.blt');
        my $file = $t->path('counters');

        $t->stop->config(http => "bulletin_store site.blt;\n"
                               . "bulletin_counters zone=notice:1m "
                               . "file=counters;\n")->run;

        my $v = Test::Bulletin::version();
        my $line = "bulletin $v: store \"$store\": generation $gen, 5 pages, "
                 . "$size bytes; counters zone \"notice\" in file \"$file\": "
                 . '5 of ';
        my $want = qr/\[notice\] .*\Q$line\E\d+ slots used/;
        my @lines = grep { /bulletin \Q$v\E: store/ } split /\n/,
                    $t->error_log_text;

        is(scalar @lines, 1, 'a start: one line about the store');
        like($lines[0] // '', $want, 'a start: path, generation, pages, '
                                     . 'bytes, zone, file, slots');

        my $from = $t->error_log_size;

        $t->reload;
        @lines = grep { /bulletin \Q$v\E: store/ } split /\n/,
                 $t->error_log_since($from);

        is(scalar @lines, 1, 'a reload: one line about the store');
        like($lines[0] // '', $want, 'a reload: says it again');

        $t->config(http => "bulletin_store site.blt;\n")->reload;
        $line = "\"$store\": generation $gen, 5 pages, $size bytes; "
              . 'no counters';

        like($t->error_log_text, qr/\Q$line\E/, 'no counters: says so');

        my ($status, $out) = $t->test_config;

        unlike($out, qr/bulletin \Q$v\E: store "/, 'nginx -t: no such line');
    }
}


sub maps {
    my ($pid, $file) = @_;

    open my $fh, '<', "/proc/$pid/maps" or return 0;
    my $found = grep { /\Q$file\E$/ } <$fh>;
    close $fh;

    return $found;
}


__DATA__

=== TEST 1: a static file in the module's presence
--- config
location / {
}
location = /plain {
    return 200 "plain\n";
}
--- init
$t->write_file('html/index.html', "<p>index</p>\n");
--- request
GET /
--- response_headers
Content-Type: text/html
Content-Length: 13
--- response_body
<p>index</p>
--- no_error_log
[warn]
[error]

=== TEST 2: a return in the module's presence
--- config
location / {
}
location = /plain {
    return 200 "plain\n";
}
--- request
GET /plain
--- response_body
plain
--- no_error_log
[warn]
[error]
