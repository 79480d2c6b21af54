#!/usr/bin/perl

# The module loads into the system nginx: `nginx -t` passes with
# load_module, the master and the workers map the .so, and plain
# locations are served in its presence.

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
