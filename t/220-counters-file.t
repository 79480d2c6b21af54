#!/usr/bin/perl

# The counters file as the master (root) opens it: what someone who can
# write into its folder, or a mistake, could make nginx do with it.
#
# 1. What is at the path: a symbolic link (to a file, to a counters file,
#    to nothing), a FIFO, a folder, a file of another owner, a file group
#    or others may write, a file with a second hard link: each refused by
#    nginx -t and by a start, naming the file and the reason, within a
#    bounded wait, the link's target untouched or not created.  A file
#    others may read only is warned about.  A new file is made 0600.
# 2. The folder: missing, a file in its place, read-only (a read-only
#    tmpfs; skipped where mounting is not permitted), writable by group
#    or others without the sticky bit, or another user's: nginx -t fails
#    naming it.  A sticky folder (as /tmp) is taken.
# 3. Every check before a byte changes: a store with a ninth channel, or
#    with more new ids than the new SIZE holds, against an existing file:
#    refused, the file's bytes and size as they were (sha256).
# 4. The zone name recorded in the file: another name is refused; a file
#    of an earlier version (no name) is named at the first start, not by
#    nginx -t; a second nginx with the same zone name shares the counts,
#    as the masters of a binary upgrade do.
#
# t/200-counters.t covers the format's own checks (corrupt files), growth,
# reloads and the binary upgrade.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Compress::Zlib qw(crc32);
use Digest::SHA qw(sha256_hex);
use POSIX ();
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(time);

use CountersTest qw(site status counts bulletins);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

my $V = $t->valgrind;
my ($A, $B) = @CountersTest::IDS;
my $NOBODY = getpwnam('nobody') // 65534;
my $ROOT = $> == 0;
my @MOUNTED;

# nginx -t and a start, each bounded: a master stuck in open() of a FIFO
# must fail the test, not hang it
my $BOUND = $V ? 120 : 20;

site($t, 'site.blt');

my $LOCATIONS = <<'EOF';
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location = /status {
    bulletin_status;
}
EOF

# a counters file with 3 views of A, as nginx leaves it

my $GOOD = good_file();

new_file();
at_the_path();
the_folder();
checks_first();
zone_name();
shared();


#### helpers

# name => zone name, size, file (relative to the prefix), store

sub conf {
    my (%o) = @_;

    my $zone = ($o{name} // 'bulletin') . ':' . ($o{size} // '64k');
    my $file = $o{file} // 'c.cnt';
    my $store = $o{store} // 'site.blt';

    $t->config(http => "bulletin_store $store;\n"
                       . "bulletin_counters zone=$zone file=$file;\n",
               server => $LOCATIONS);

    return $t;
}


# nginx -t, bounded: (exit status, output)

sub test_config {
    return $t->capture(['timeout', '-s', 'KILL', $BOUND,
                        $t->nginx_command('-t', '-c', 'conf/nginx.conf')],
                       1);
}


sub sha {
    my ($path) = @_;

    return 'absent' unless -e $path || -l $path;
    return 'not a file' unless -f $path;

    open my $fh, '<:raw', $path or return "unreadable: $!";
    local $/;
    my $bytes = <$fh>;
    close $fh;

    return sha256_hex($bytes) . ' ' . length $bytes;
}


sub mode {
    my ($path) = @_;

    my @s = lstat $path or return undef;

    return sprintf '%04o', $s[2] & 07777;
}


# A configuration nginx must refuse: nginx -t fails and a start fails,
# both within the bound, both naming $name (a path) and matching $why;
# the paths in @same keep their bytes (or their absence).

sub refused {
    my ($what, $name, $why, @same) = @_;

    my %before = map { $_ => sha($_) } @same;
    my $from = $t->error_log_size;
    my $t0 = time;
    my ($status, $out) = test_config();

    ok($status != 0 && $status != 128 + 9 && time - $t0 < $BOUND,
       "$what: nginx -t fails (status $status)");
    like($out, qr/\Q$name\E/, "$what: nginx -t names \"$name\"");
    like($out, $why, "$what: nginx -t says why") or diag $out;

    $t0 = time;

    my ($ok, $err) = $t->start;

    ok(!$ok && time - $t0 < $BOUND + 30, "$what: nginx does not start");
    like($err // '', qr/\Q$name\E.*$why|$why.*\Q$name\E/,
         "$what: the start's error names \"$name\" and says why");

    $t->stop if $ok;
    $t->expect_log_range($from);

    for my $path (@same) {
        is(sha($path), $before{$path}, "$what: " . rel($path)
           . ' as it was');
    }
}


sub rel {
    my ($path) = @_;

    (my $rel = $path) =~ s{\A\Q@{[$t->prefix]}\E/}{};

    return $rel;
}


sub put {
    my ($name, $bytes, $mode) = @_;

    my $path = $t->path($name);

    unlink $path;
    $t->write_file($name, $bytes);
    chmod $mode // 0600, $path or die "chmod $path: $!";

    return $path;
}


sub folder {
    my ($name, $mode) = @_;

    my $path = $t->path($name);

    mkdir $path;
    chmod $mode, $path or die "chmod $path: $!";

    return $path;
}


sub good_file {
    conf(file => 'good.cnt')->run;

    $t->http_get("/bulletin/$A") for 1 .. 3;
    $t->stop;

    my $bytes = $t->read_file('good.cnt');

    unlink $t->path('good.cnt');

    return $bytes;
}


sub views_of {
    my ($id) = @_;

    my $c = counts(status($t), $id);

    return $c ? $c->{views} : undef;
}


#### 1. a new file, and what may be at the path

sub new_file {
    my $dir = folder('private', 0700);

    conf(file => 'private/new.cnt');

    my ($status, $out) = test_config();

    is($status, 0, 'new file: nginx -t passes in a 0700 folder')
        or diag $out;
    ok(!-e "$dir/new.cnt", 'new file: nginx -t creates nothing');

    $t->run;

    my @s = stat "$dir/new.cnt";

    is(mode("$dir/new.cnt"), '0600', 'new file: made 0600');
    is($s[4], $>, 'new file: owned by the master\'s user');
    is($s[7], 65536, 'new file: SIZE bytes');
    is(substr($t->read_file('private/new.cnt'), 32, 9), "bulletin\0",
       'new file: the zone name recorded');

    $t->http_get("/bulletin/$A");
    is(views_of($A), 1, 'new file: counts');

    $t->stop;
}


sub at_the_path {
    my $victim = folder('victim', 0755);
    my $path = $t->path('c.cnt');

    conf(file => 'c.cnt');

    # a symbolic link to a file the master must not grow or format

    put('victim/file', "precious\n", 0644);
    symlink "$victim/file", $path or die "symlink: $!";

    refused('a link to a file', $path, qr/symbolic link/,
            "$victim/file");
    unlink $path;

    # to an empty file of root's: formatting it would be the harm

    put('victim/empty', '', 0600);
    symlink "$victim/empty", $path or die "symlink: $!";

    refused('a link to an empty file', $path, qr/symbolic link/,
            "$victim/empty");
    unlink $path;

    # to a sound counters file: still a link

    put('victim/good.cnt', $GOOD);
    symlink "$victim/good.cnt", $path or die "symlink: $!";

    refused('a link to a counters file', $path, qr/symbolic link/,
            "$victim/good.cnt");
    unlink $path;

    # to nothing: the master would create the target

    symlink "$victim/created", $path or die "symlink: $!";

    refused('a link to nothing', $path, qr/symbolic link/,
            "$victim/created");
    ok(!-e "$victim/created", 'a link to nothing: its target not created');
    unlink $path;

    # a FIFO: opening it would wait for a writer

    POSIX::mkfifo($path, 0600) or die "mkfifo: $!";

    refused('a FIFO', $path, qr/not a regular file/);
    ok(-p $path, 'a FIFO: still a FIFO');
    unlink $path;

    # a folder

    mkdir $path or die "mkdir: $!";
    refused('a folder', $path, qr/not a regular file/);
    rmdir $path;

    # another user's file, sound otherwise

    put('c.cnt', $GOOD);

    SKIP: {
        skip 'not root: cannot give a file to nobody', 6 unless $ROOT;

        chown $NOBODY, $NOBODY, $path or die "chown: $!";
        refused('a file of nobody\'s', $path,
                qr/belongs to uid $NOBODY, not to nginx's master/, $path);
        chown 0, 0, $path;
    }

    # group or others may write it

    for my $mode (0666, 0620, 0602) {
        my $m = sprintf '%04o', $mode;

        chmod $mode, $path;
        refused("a $m file", $path,
                qr/writable by group or others \(mode $m\)/, $path);
    }

    # a second name: a hard link planted in the folder to a file of
    # root's elsewhere (the empty one: formatting it would be the harm)

    unlink $path;
    link "$victim/empty", $path or die "link: $!";

    refused('a hard link to an empty file', $path,
            qr/has 2 hard links, not 1/, "$victim/empty");
    is(-s "$victim/empty", 0, 'a hard link: its other name still empty');
    unlink $path;

    put('c.cnt', $GOOD);
    link $path, "$victim/second" or die "link: $!";

    refused('a counters file with a second name', $path,
            qr/has 2 hard links, not 1/, $path);
    unlink "$victim/second";

    # others may read it: taken, with a warning

    chmod 0644, $path;

    my $from = $t->error_log_size;
    my ($status, $out) = test_config();

    is($status, 0, 'a 0644 file: nginx -t passes') or diag $out;
    like($out, qr/\[warn\].*\Q$path\E"[ ]is[ ]readable[ ]by[ ]group[ ]or
                  [ ]others[ ]\(mode[ ]0644\).*chmod[ ]0600/x,
         'a 0644 file: nginx -t warns, and says what to do');

    $t->run;
    is(views_of($A), 3, 'a 0644 file: nginx starts, with the counts');
    like($t->error_log_since($from), qr/\[warn\].*readable by group/,
         'a 0644 file: the start warns too');
    is(mode($path), '0644', 'a 0644 file: nginx leaves its mode alone');
    $t->stop;

    unlink $path;
}


#### 2. the folder

sub the_folder {
    # missing

    my $dir = $t->path('missing');

    conf(file => 'missing/c.cnt');
    refused('a missing folder', $dir,
            qr/its folder "\Q$dir\E" does not exist/);
    ok(!-e $dir, 'a missing folder: not created');

    # a file in its place

    my $file = put('plain', "a file\n", 0644);

    conf(file => 'plain/c.cnt');
    refused('a file for a folder', $file,
            qr/its folder "\Q$file\E" cannot be opened.*Not a directory/,
            $file);

    # group or others may write it, and it is not sticky

    for my $mode (0777, 0775, 0757) {
        my $m = sprintf '%04o', $mode;
        my $d = folder("open$m", $mode);

        conf(file => "open$m/c.cnt");
        refused("a $m folder", $d,
                qr/folder "\Q$d\E" is writable by group or others [(]mode $m/);
        ok(!-e "$d/c.cnt", "a $m folder: no file created");

        # with a file in it already, the same

        put("open$m/c.cnt", $GOOD);
        refused("a $m folder with a file", $d,
                qr/writable by group or others/, "$d/c.cnt");
    }

    # sticky, as /tmp: others cannot rename or remove what is not theirs

    my $sticky = folder('sticky', 01777);

    conf(file => 'sticky/c.cnt');

    my ($status, $out) = test_config();

    is($status, 0, 'a sticky 1777 folder: nginx -t passes') or diag $out;

    $t->run;
    is(mode("$sticky/c.cnt"), '0600', 'a sticky folder: the file made');
    $t->stop;

    # another user's folder

    SKIP: {
        skip 'not root: cannot give a folder to nobody', 6 unless $ROOT;

        my $d = folder('nobodys', 0755);

        chown $NOBODY, $NOBODY, $d or die "chown: $!";
        conf(file => 'nobodys/c.cnt');
        refused('a folder of nobody\'s', $d,
                qr/belongs to uid $NOBODY, who could replace the file/);
        ok(!-e "$d/c.cnt", 'a folder of nobody\'s: no file created');
    }

    read_only();
}


# A folder the master cannot write: as root, only a read-only file
# system is one (root passes every permission check).

sub read_only {
    SKIP: {
        my $why = mount_ro('ro');

        skip "a read-only folder: $why", 4 if $why;

        my $dir = $t->path('ro');

        conf(file => 'ro/c.cnt');

        my $from = $t->error_log_size;
        my ($status, $out) = test_config();

        isnt($status, 0, 'a read-only folder: nginx -t fails');
        like($out, qr/counters[ ]file[ ]"\Q$dir\E\/c\.cnt"[ ]cannot[ ]be
                      [ ]created:[ ]its[ ]folder[ ]"\Q$dir\E"[ ]is[ ]not
                      [ ]writable.*Read-only/x,
             'a read-only folder: nginx -t names the file, the folder and '
             . 'the reason') or diag $out;

        my ($ok, $err) = $t->start;

        ok(!$ok, 'a read-only folder: nginx does not start');
        like($err // '', qr/"\Q$dir\E\/c\.cnt"[ ]cannot[ ]be[ ]created[ ]in
                            [ ]its[ ]folder[ ]"\Q$dir\E".*Read-only/x,
             'a read-only folder: the start names the file and the folder');
        $t->stop if $ok;
        $t->expect_log_range($from);

        # with the file there, a read-only folder is no concern of
        # nginx -t: a start writes into the file, not the folder

        umount_all();
    }
}


sub mount_ro {
    my ($name) = @_;

    return 'not root' unless $ROOT;
    return 'no mount command' unless Test::Bulletin::find_in_path('mount');

    my $dir = $t->path($name);

    mkdir $dir;

    my $cmd = "mount -t tmpfs -o ro,size=64k,mode=0755 bulletin-test '$dir'";
    my $out = `$cmd 2>&1`;

    return "mount -t tmpfs is not permitted here: $out" if $?;

    push @MOUNTED, $dir;

    return undef;
}


sub umount_all {
    while (my $dir = pop @MOUNTED) {
        system('umount', $dir) == 0
            or system('umount', '-l', $dir) == 0
            or diag "umount $dir failed";
    }
}


END {
    if (@MOUNTED) {
        local $?;
        eval { $t->stop };
        umount_all();
    }
}


#### 3. every check before a byte changes

sub checks_first {
    my $path = put('first.cnt', $GOOD);

    # a ninth channel, with a bigger SIZE (the file would grow)

    site($t, 'nine.blt', channels => 'c5,c6,c7,c8,c9');
    conf(file => 'first.cnt', size => '128k', store => 'nine.blt');

    refused('a ninth channel', $path,
            qr/counts shares of 8 channels already, the store's channel "c9"/,
            $path);
    is(-s $path, 65536, 'a ninth channel: the file not grown');

    # more new ids than the bigger SIZE holds

    bulletins($t, 'many', 'many', 500);
    site($t, 'many.blt', inputs => [$t->path('many')]);
    conf(file => 'first.cnt', size => '96k', store => 'many.blt');

    refused('more ids than the new SIZE holds', $path,
            qr/too small: the store and the ids the zone holds need \d+/,
            $path);
    is(-s $path, 65536, 'more ids than the new SIZE holds: the file not '
       . 'grown');

    # another zone's file, with a bigger SIZE

    conf(name => 'other', file => 'first.cnt', size => '128k');
    refused('another zone\'s file', $path,
            qr/belongs to zone "bulletin", not "other"/, $path);
    is(-s $path, 65536, 'another zone\'s file: the file not grown');

    # the same file then starts, grows, and kept its counts

    conf(file => 'first.cnt', size => '128k');
    $t->run;
    is(views_of($A), 3, 'then a start: the counts kept');
    is(-s $path, 131072, 'then a start: the file grown');
    $t->stop;
}


#### 4. the zone name

# The file as an earlier version made it: zeros for the name, each state
# copy's checksum made again without it.

sub unnamed {
    my ($bytes) = @_;

    substr($bytes, 32, 32) = "\0" x 32;

    for my $copy (0, 1) {
        my $at = 64 + 152 * $copy;
        my $state = substr $bytes, $at, 152;
        my ($seq_lo, $seq_hi, $used) = unpack 'VVV', $state;

        next unless $seq_lo || $seq_hi;

        substr($state, 144, 4) = "\0" x 4;

        my $crc = crc32(substr($bytes, 0, 64) . $state);

        for my $i (0 .. $used - 1) {
            $crc = crc32(substr($bytes, 4096 + 192 * $i + 128, 64), $crc);
        }

        substr($bytes, $at + 144, 4) = pack 'V', $crc;
    }

    return $bytes;
}


sub zone_name {
    my $path = $t->path('z.cnt');
    my $old = unnamed($GOOD);

    isnt($old, $GOOD, 'zone name: a file of an earlier version made');

    # nginx -t takes it, and writes nothing

    put('z.cnt', $old);
    conf(name => 'zone_a', file => 'z.cnt');

    my ($status, $out) = test_config();

    is($status, 0, 'an unnamed file: nginx -t takes it') or diag $out;
    is(sha($path), sha256_hex($old) . ' ' . length $old,
       'an unnamed file: nginx -t writes nothing');

    # the first start names it, under the counts

    my $from = $t->error_log_size;

    $t->run;
    is(views_of($A), 3, 'an unnamed file: the counts kept');
    $t->stop;

    is(substr($t->read_file('z.cnt'), 32, 7), "zone_a\0",
       'an unnamed file: named at the start');
    like($t->error_log_since($from),
         qr/counters file "\Q$path\E" now belongs to zone "zone_a"/,
         'an unnamed file: the naming logged');

    # another name is now refused, a start with the name goes on

    conf(name => 'zone_b', file => 'z.cnt');
    refused('zone name: zone_b and a file of zone_a', $path,
            qr/belongs to zone "zone_a", not "zone_b": give this zone a file/,
            $path);

    conf(name => 'zone_a', file => 'z.cnt');
    $t->run;
    $t->http_get("/bulletin/$A");
    is(views_of($A), 4, 'zone name: the file counts on for zone_a');
    $t->stop;

    # a name no counters file can record

    my $long = 'z' x 33;

    conf(name => $long, file => 'long.cnt');
    refused('a zone name of 33 bytes', $long, qr/cannot go with "file="/);
    ok(!-e $t->path('long.cnt'), 'a zone name of 33 bytes: no file made');

    conf(name => 'z' x 32, file => 'long.cnt');
    ($status, $out) = test_config();
    is($status, 0, 'a zone name of 32 bytes: taken') or diag $out;
}


# Two nginx instances with the same zone name and file count together,
# as the two masters of a binary upgrade do; another name is refused
# while the first runs.

sub shared {
    SKIP: {
        $t->skip_if_valgrind('two nginx instances', 6);

        my $path = $t->path('shared.cnt');

        conf(name => 'site', file => 'shared.cnt');
        $t->run;

        my $t2 = Test::Bulletin->new;

        site($t2, 'site.blt');

        my $conf2 = sub {
            my ($name) = @_;

            $t2->config(http => "bulletin_store site.blt;\n"
                                . "bulletin_counters zone=$name:64k "
                                . "file=$path;\n",
                        server => $LOCATIONS);
        };

        $conf2->('other');

        my $from = $t2->error_log_size;
        my ($ok, $err) = $t2->start;

        ok(!$ok, 'a second nginx, another zone name: refused');
        like($err // '', qr/belongs to zone "site", not "other"/,
             'a second nginx, another zone name: says whose the file is');
        $t2->stop if $ok;
        $t2->expect_log_range($from);

        $conf2->('site');
        $t2->run;

        $t->http_get("/bulletin/$B") for 1 .. 2;
        $t2->http_get("/bulletin/$B") for 1 .. 3;

        is(views_of($B), 5, 'a second nginx, the same zone name: the '
           . 'first sees both\'s views');
        is(counts(status($t2), $B)->{views}, 5,
           'a second nginx, the same zone name: so does the second');

        $t2->stop;
        $t->stop;

        conf(name => 'site', file => 'shared.cnt');
        $t->run;
        is(views_of($B), 5, 'shared: the file kept them all');
        is(status($t)->{zone}{slots_used}, 5, 'shared: no id twice');
        $t->stop;
    }
}
