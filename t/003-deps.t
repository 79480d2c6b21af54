#!/usr/bin/perl

# The Debian packages each step installs (issue 14).  `make` installs what
# building takes and nothing else: no test or benchmark tool, and no nginx
# module package (whose postinst would enable it in the live nginx).  Each
# test target installs its own list on top, NO_DEPS=1 installs nothing,
# and tools/deps.sh disables again a module that an install enabled.  The
# lists are the Makefile's (make print-deps-NAME); what each target
# installs is read from a dry run (make -n) in an empty build folder.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);

use Test::More;


my $ROOT = "$FindBin::Bin/..";

chdir $ROOT or die "chdir $ROOT: $!";

plan skip_all => 'no make' unless system('make --version >/dev/null 2>&1') == 0;

my %list = map { $_ => [deps($_)] }
    qw(build unit fuzz prove test asan valgrind bench deb test-deb);

my @build = @{ $list{build} };
my %build = map { $_ => 1 } @build;

ok(@build > 0, 'make print-deps-build lists packages');

for my $p (qw(gcc make libc6-dev nginx nginx-dev libpcre2-dev libjansson-dev
              zlib1g-dev libhiredis-dev libqrencode-dev))
{
    ok($build{$p}, "the build installs $p");
}

# no test tool, by name and by the other lists

my @tools = qw(valgrind wrk clang libclang-rt-14-dev chromium fonts-noto-cjk
               nodejs npm strace prometheus redis-server curl libcmocka-dev lintian
               libxml2-utils
               debhelper man-db gdb);

for my $p (@tools) {
    ok(!$build{$p}, "the build does not install $p");
}

is_deeply([grep { /^libnginx-mod-/ } @build], [],
          'the build installs no nginx module package');

for my $name (grep { $_ ne 'build' } sort keys %list) {
    is_deeply([grep { $build{$_} } @{ $list{$name} }], [],
              "the build installs nothing of the $name list");
}

ok((grep { $_ eq 'libcmocka-dev' } @{ $list{unit} }), 'unit: libcmocka-dev');
ok((grep { $_ eq 'clang' } @{ $list{fuzz} }), 'fuzz: clang');
ok((grep { $_ eq 'libclang-rt-14-dev' } @{ $list{fuzz} }),
   'fuzz: libclang-rt-14-dev');
ok((grep { $_ eq 'valgrind' } @{ $list{valgrind} }), 'valgrind: valgrind');
ok((grep { $_ eq 'libnginx-mod-http-lua' } @{ $list{bench} }),
   'bench: libnginx-mod-http-lua');
ok((grep { $_ eq 'lintian' } @{ $list{deb} }), 'deb: lintian');
ok((grep { $_ eq 'man-db' } @{ $list{'test-deb'} }), 'test-deb: man-db');

# what each target installs, read from a dry run: the lists of the stamps
# it needs, and nothing else

my %installs = (
    'BUILD/bulletin-build' => [qw(build)],
    'all'                  => [qw(build)],
    'unit'                 => [qw(build unit)],
    'fuzz-short'           => [qw(build fuzz)],
    'prove'                => [qw(build prove)],
    'test'                 => [qw(build fuzz unit prove)],
    'test-asan'            => [qw(build asan)],
    'test-valgrind'        => [qw(build unit prove valgrind)],
    'bench'                => [qw(build bench)],
    'deb'                  => [qw(build deb)],
    'test-deb'             => [qw(build deb test-deb)],
);

for my $target (sort keys %installs) {
    my $build = tempdir(CLEANUP => 1);
    (my $goal = $target) =~ s/^BUILD/$build/;

    my @got = sort map { join ' ', @$_ } dry_run($build, $goal);
    my @want = sort map { join ' ', @{ $list{$_} } } @{ $installs{$target} };

    is_deeply(\@got, \@want,
              "make $target installs the lists @{ $installs{$target} }");
}

{
    my $build = tempdir(CLEANUP => 1);
    my $out = dry_run_text($build, "$build/bulletin-build", 'NO_DEPS=1');

    unlike($out, qr/deps\.sh|apt-get|apt /, 'NO_DEPS=1: nothing installed');
    like($out, qr{-o \Q$build\E/bulletin-build }, 'NO_DEPS=1: it builds');
}

# debian/control's Build-Depends are in the lists `make deb` installs

{
    my $control = do { local (@ARGV, $/) = 'debian/control'; <> };
    my ($bd) = $control =~ /^Build-Depends:(.*?)^\S/ms;
    my %deb = map { $_ => 1 } @{ $list{build} }, @{ $list{deb} };
    my %virtual = ('debhelper-compat' => 'debhelper',
                   'dh-sequence-nginx' => 'nginx-dev');

    my @bd = map { /^\s*([a-z0-9][a-z0-9.+-]*)/ ? $1 : () } split /,/, $bd;

    ok(@bd > 3, 'debian/control has Build-Depends');

    for my $p (@bd) {
        ok($deb{ $virtual{$p} // $p }, "make deb installs Build-Depends $p");
    }
}

# debian/changelog's version is the project's

{
    my $h = do { local (@ARGV, $/) = 'src/bulletin_version.h'; <> };
    my ($version) = $h =~ /^#define BULLETIN_VERSION\s+"([^"]+)"/m;
    open my $fh, '<', 'debian/changelog' or die "debian/changelog: $!";
    my ($first) = <$fh>;

    like($first, qr/^bulletin \(\Q$version\E\) /,
         "debian/changelog's version is $version");
}

# tools/deps.sh disables the modules an install enabled, and only those:
# apt-get, dpkg-query and id stand-ins, and a modules-enabled of our own

{
    my $dir = tempdir(CLEANUP => 1);
    my $enabled = "$dir/enabled";
    mkdir "$dir/bin" or die;
    mkdir $enabled or die;

    symlink '/dev/null', "$enabled/10-mod-old.conf" or die;

    stub("$dir/bin/id", 'echo 0');
    stub("$dir/bin/dpkg-query", 'exit 1');
    stub("$dir/bin/apt-get", <<"SH");
[ "\$1" = update ] && exit 0
ln -s /dev/null '$enabled/50-mod-new.conf'
touch '$enabled/not-a-link.conf'
SH

    local $ENV{PATH} = "$dir/bin:$ENV{PATH}";
    local $ENV{BULLETIN_MODULES_ENABLED} = $enabled;

    my $out = `sh tools/deps.sh libnginx-mod-fake 2>&1`;

    is($?, 0, 'deps.sh: the stand-in install passes');
    ok(!-l "$enabled/50-mod-new.conf", 'deps.sh: a module it enabled is not');
    like($out, qr/disabled 50-mod-new\.conf/, 'deps.sh says so');
    ok(-l "$enabled/10-mod-old.conf", 'deps.sh: one enabled before stays');
    ok(-e "$enabled/not-a-link.conf", 'deps.sh: a file that is no link stays');
}

done_testing;


sub deps {
    my ($name) = @_;

    my $out = `make -s --no-print-directory print-deps-$name`;
    die "make print-deps-$name failed" if $?;

    return split ' ', $out;
}


sub dry_run_text {
    my ($build, $goal, @vars) = @_;

    # -k: the module's recipe runs its own make even with -n, and fails in
    # an empty build folder; the rest of the plan is printed all the same
    return scalar `make -n -k BUILD=$build @vars $goal 2>/dev/null`;
}


# the package lists of the tools/deps.sh lines of a dry run

sub dry_run {
    my $out = dry_run_text(@_);

    return map { [split ' '] } $out =~ m{^sh tools/deps\.sh (.*)$}mg;
}


sub stub {
    my ($path, $body) = @_;

    open my $fh, '>', $path or die "$path: $!";
    print $fh "#!/bin/sh\n$body\n";
    close $fh;
    chmod 0755, $path or die "chmod $path: $!";
}
