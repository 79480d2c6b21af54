#!/usr/bin/perl

# The build's source lists (issue 13): config lists every source and
# header the module is built from, and nginx's Makefile, generated from
# config, rebuilds the module when any of them changes; the pure library
# is rebuilt when any src/bulletin_* file changes.  Each file's time is
# set ahead, "make -q" must then say the target is out of date, and the
# time is set back: nothing is rebuilt, and the tree is left as it was.

use strict;
use warnings;

use FindBin;

use Test::More;


my $ROOT = "$FindBin::Bin/..";
my $BUILD = $ENV{BULLETIN_BUILD} // "$ROOT/build";

plan skip_all => "no configured build in $BUILD (run make)"
    unless -f "$BUILD/nginx/Makefile" && -f "$BUILD/libbulletin.a";

chdir $ROOT or die "chdir $ROOT: $!";

my $config = do { local (@ARGV, $/) = 'config'; <> };
my @listed = $config =~ m{\$ngx_addon_dir/(\S+?\.[ch])\b}g;
my %listed = map { $_ => 1 } @listed;

my @module = ('ngx_http_bulletin_module.c',
              glob('src/ngx_http_bulletin_*.[ch]'));

ok(@listed > 10, 'config lists the sources and headers');

for my $file (@module) {
    ok($listed{$file}, "config lists $file");
}

# every header a listed source includes is listed too (a header missing
# from ngx_module_deps would leave a stale module after its edit)

for my $file (grep { /\.c\z/ } @listed) {
    my $text = do { local (@ARGV, $/) = $file; <> };

    for my $h ($text =~ /^#include "([^"]+)"/mg) {
        ok($listed{"src/$h"}, "config lists src/$h, included by $file");
    }
}

my @nginx = ('make', '-q', '-f', "$BUILD/nginx/Makefile", '-C',
             "$BUILD/nginx-src", 'modules');
my @library = ('make', '-q', "BUILD=$BUILD", "$BUILD/libbulletin.a");

is(quiet(@nginx), 0, 'the module is up to date') or BAIL_OUT('run make');
is(quiet(@library), 0, 'the library is up to date') or BAIL_OUT('run make');

for my $file (@listed) {
    isnt(touched($file, @nginx), 0, "a change to $file rebuilds the module");
}

for my $file (glob('src/bulletin_*.[chS]'), 'templates/default.html') {
    # the builder's and the sidecar's main
    next if $file =~ m{\Asrc/bulletin_(?:build|sync)\.c\z};

    isnt(touched($file, @library),
         0, "a change to $file rebuilds the library");
}

is(quiet(@nginx), 0, 'the module is still up to date');

done_testing;


sub quiet {
    my @cmd = @_;

    system("@cmd >/dev/null 2>&1");

    return $? >> 8;
}


# the status of make -q with the file's times an hour ahead

sub touched {
    my ($file, @cmd) = @_;

    my ($atime, $mtime) = (stat $file)[8, 9] or die "stat $file: $!";

    utime $atime, time + 3600, $file or die "utime $file: $!";
    my $status = quiet(@cmd);
    utime $atime, $mtime, $file or die "utime $file: $!";

    return $status;
}
