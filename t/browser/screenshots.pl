#!/usr/bin/perl

# The README's screenshots (doc/screenshots/), by hand, after make:
#
#   BULLETIN_BUILD=$PWD/build perl t/browser/screenshots.pl [OUT_DIR]
#
# serves the sample bulletins and 41 more (45 in all: three list pages)
# with sample/site.json's chrome, in a private nginx (t/lib's harness),
# and runs t/browser/screenshots.js against it.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP;
use Test::More;
use Test::Bulletin;

my $ROOT = "$FindBin::Bin/../..";
my $OUT = $ARGV[0] // "$ROOT/doc/screenshots";

my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my $port = $t->port;
my $site = -f "$ROOT/sample/site.json"
    ? JSON::PP->new->utf8->decode($t->read_file("$ROOT/sample/site.json"))
    : {};

$site->{base_url} = "http://127.0.0.1:$port/bulletin/";
$site->{crumbs} = [{ name => '首页', url => "http://127.0.0.1:$port/" },
                   { name => '活动简报', url => $site->{base_url} }];
$t->write_json('site.json', $site);

for my $i (1 .. 41) {
    $t->write_json(sprintf('more/more-%02d.json', $i), {
        id => sprintf('bj-sociorg-2019-%02d', $i),
        title => "北京市社会组织工作动态【2019 年第 $i 期】",
        category => $i % 3 ? '活动简报' : '通知公告',
        published => sprintf('2019-%02d-%02d', 1 + int(($i - 1) / 4),
                             1 + 7 * (($i - 1) % 4)),
        source => '北京市社会组织管理中心',
        blocks => [{ paragraph => "2019 年第 $i 期的正文。" }],
    });
}

my ($rc, undef, $err) = $t->build_store(
    inputs => ["$ROOT/sample", 'more'],
    options => ['--site', $t->path('site.json')]);

die "the store does not build: $err" if $rc;

$t->config(http => <<'EOF2', server => <<'EOF2')->run;
bulletin_store site.blt;
bulletin_counters zone=bulletin:1m;
EOF2
location = /bulletin/ { bulletin_page _index; }
location /bulletin/ { bulletin_page; }
location /bulletin/counts/ { bulletin_counts; }
location ~ ^/bulletin/[^/]+/share$ { bulletin_share; }
EOF2

# a few views, so the counts are not all zero
for my $id (qw(bj-sociorg-2020-01 bj-sociorg-2020-02 bj-sociorg-2020-03)) {
    $t->http_get("/bulletin/$id") for 1 .. 3 + length $id;
}

system('mkdir', '-p', $OUT);
chdir $FindBin::Bin or die "$FindBin::Bin: $!";
is(system('node', 'screenshots.js', '--base', $site->{base_url},
          '--id', 'bj-sociorg-2020-01', '--out', $OUT), 0,
   "screenshots in $OUT");
