#!/usr/bin/perl

# The store file and the builder's inputs as an attacker could plant them
# (issue 12): the master (root) opens the store without following a
# symbolic link and without blocking, so a FIFO renamed over it cannot
# hang "nginx -t" or a reload; it refuses a store that is not a regular
# file, that a user other than root or nginx's own owns, or that group
# or others may write (workers send what the shared mapping holds, so
# whoever may write the file may change what they send).  The builder
# reads bulletins, templates and the previous store the same way.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use POSIX qw(mkfifo);
use Test::More;
use Test::Bulletin;
use Time::HiRes qw(time);


my $ROOT = "$FindBin::Bin/..";
my $ID = 'bj-sociorg-2020-01';
my $LINK = 'is a symbolic link, which is not followed';

my $t = Test::Bulletin->new;

$t->skip_unless_builder;

my ($rc, $out, $err) = $t->build_store(inputs => ["$ROOT/sample"],
                                       output => 'good.blt');

die "bulletin-build failed ($rc): $err" unless $rc == 0;

my $GOOD = $t->path('good.blt');
my $STORE = $t->path('site.blt');

my %CONF = (
    http   => "bulletin_store site.blt;\n",
    server => <<'EOF',
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
EOF
);

planted();
owners();
reloads();
builder();


sub put_good {
    my ($path, $mode) = @_;

    unlink $path;
    copy($GOOD, $path) or die "copy: $!";
    chmod $mode // 0644, $path;
}


sub refused {
    my ($name, $message) = @_;

    my $start = time;
    my ($status, $text) = $t->test_config(%CONF);

    isnt($status, 0, "$name: nginx -t fails");
    isnt($status, 'timeout', "$name: nginx -t does not hang");
    ok(time - $start < 10, "$name: nginx -t answers at once");
    like($text, qr/\[emerg\] .*\Qbulletin store "$STORE" \E
                   \Qis refused: $message\E/x,
         "$name: says so, naming the file") or diag $text;

    $t->expect_errors(qr/\Qbulletin store "$STORE" is refused\E/);
}


sub passes {
    my ($name) = @_;

    my ($status, $text) = $t->test_config(%CONF);

    is($status, 0, "$name: nginx -t passes") or diag $text;
}


# What a user who may write the store's folder could put in its place.

sub planted {
    unlink $STORE;
    symlink $GOOD, $STORE or die "symlink: $!";
    refused('a symbolic link to a good store',
            'it is a symbolic link, which is not followed');

    unlink $STORE;
    symlink $t->path('nowhere.blt'), $STORE or die "symlink: $!";
    refused('a dangling symbolic link',
            'it is a symbolic link, which is not followed');

    unlink $STORE;
    mkfifo($STORE, 0644) or die "mkfifo: $!";
    refused('a FIFO', 'it is not a regular file');

    unlink $STORE;
    mkdir $STORE or die "mkdir: $!";
    refused('a folder', 'it is not a regular file');
    rmdir $STORE;

    put_good($STORE);
    passes('control: the good store itself');
}


sub owners {
    SKIP: {
        skip 'not root: cannot give a file to another user', 8 if $> != 0;

        my $nobody = getpwnam('nobody');

        put_good($STORE);
        chown $nobody, -1, $STORE or die "chown: $!";
        refused('a store owned by nobody',
                "it is owned by uid $nobody, not by root or nginx's uid 0");

        put_good($STORE);
        chown 0, (getpwnam('nobody'))[3], $STORE or die "chown: $!";
        passes('control: owned by root, group nobody, mode 0644');
    }

    put_good($STORE, 0664);
    refused('a store group may write', 'group or others may write it '
            . '(mode 0664)');

    put_good($STORE, 0646);
    refused('a store others may write', 'group or others may write it '
            . '(mode 0646)');

    put_good($STORE, 0600);
    passes('control: mode 0600');

    put_good($STORE, 0444);
    passes('control: mode 0444');
}


# A reload finds the store replaced by what it must refuse: it is
# refused at once, the workers go on serving, and a later reload with a
# good store works (before the fix, open() of the FIFO hung the master).

sub reloads {
    SKIP: {
        $t->skip_if_valgrind('reloads need a master process', 7);

        put_good($STORE);
        $t->config(%CONF)->run;

        is($t->http_get("/bulletin/$ID")->status, 200, 'serving');

        unlink $t->path('fifo.blt');
        mkfifo($t->path('fifo.blt'), 0644) or die "mkfifo: $!";
        rename $t->path('fifo.blt'), $STORE or die "rename: $!";

        my $text = $t->reload_refused;

        like($text, qr/\Q"$STORE" is refused: it is not a regular file\E/,
             'a FIFO renamed over the store: the reload is refused');
        is($t->http_get("/bulletin/$ID")->status, 200,
           'the old workers still serve');

        unlink $STORE;
        symlink $GOOD, $STORE or die "symlink: $!";

        $text = $t->reload_refused;

        like($text, qr/\Q"$STORE" is refused: it is a symbolic link\E/,
             'a symbolic link: the reload is refused');

        put_good($t->path('next.blt'));
        rename $t->path('next.blt'), $STORE or die "rename: $!";

        ok(scalar $t->reload, 'a good store renamed into place: reloaded');
        is($t->http_get("/bulletin/$ID")->status, 200, 'serving it');

        $t->stop;
        pass('stopped');
    }
}


# The builder: a FIFO, a link or a folder among the bulletins, as a
# template, or as the previous store, each named in an error, never a
# hang, never followed.

sub builder {
    my $in = $t->path('in');

    mkdir $in;
    copy("$ROOT/sample/$ID.json", "$in/$ID.json") or die "copy: $!";

    mkfifo("$in/fifo.json", 0644) or die "mkfifo: $!";
    symlink "$ROOT/sample/bj-sociorg-2020-02.json", "$in/link.json"
        or die "symlink: $!";
    mkdir "$in/folder.json";

    my $start = time;
    my ($status, $stdout, $stderr) = $t->build_store(inputs => ['in'],
                                                     output => 'b.blt');

    isnt($status, 0, 'builder: planted inputs: fails');
    isnt($status, 'timeout', 'builder: a FIFO input does not hang');
    like($stderr, qr/\Q$in\E\/fifo\.json: cannot open: is not a regular file/,
         'builder: names the FIFO');
    like($stderr, qr/\Q$in\E\/link\.json: cannot open: \Q$LINK\E/,
         'builder: names the link');
    like($stderr, qr/\Q$in\E\/folder\.json: cannot open: is a folder/,
         'builder: names the folder');
    ok(!-e $t->path('b.blt'), 'builder: no output');

    unlink "$in/fifo.json", "$in/link.json";
    rmdir "$in/folder.json";

    symlink $in, $t->path('in-link') or die "symlink: $!";
    ($status, $stdout, $stderr) = $t->build_store(inputs => ['in-link'],
                                                  output => 'b.blt');
    isnt($status, 0, 'builder: a linked input folder: fails');
    like($stderr, qr/in-link: is a symbolic link, which is not followed/,
         'builder: names the linked folder');

    copy("$ROOT/templates/default.html", $t->path('t.html'))
        or die "copy: $!";
    symlink $t->path('t.html'), $t->path('t-link.html')
        or die "symlink: $!";
    mkfifo($t->path('t-fifo.html'), 0644) or die "mkfifo: $!";

    for my $case (['t-link.html', $LINK],
                  ['t-fifo.html', 'is not a regular file'])
    {
        my ($name, $why) = @$case;

        ($status, $stdout, $stderr) = $t->build_store(
            inputs => ['in'], output => 'b.blt', template => $name);

        isnt($status, 0, "builder: template $name: fails");
        like($stderr, qr/\Q$name\E: cannot open: \Q$why\E/,
             "builder: template $name: says why");
    }

    ($status, $stdout, $stderr) = $t->build_store(
        inputs => ['in'], output => 'b.blt', template => 't.html');
    is($status, 0, 'builder: control: the real template') or diag $stderr;

    # the previous store, as a link: not read (no Last-Modified from it),
    # and the link itself replaced by the new store, its target untouched

    my $before = $t->read_file('good.blt');

    unlink $t->path('b.blt');
    symlink $GOOD, $t->path('b.blt') or die "symlink: $!";

    ($status, $stdout, $stderr) = $t->build_store(inputs => ['in'],
                                                  output => 'b.blt');
    is($status, 0, 'builder: over a linked previous store: builds');
    my $unsound = 'warning: the existing store is not sound';

    like($stderr, qr/b\.blt: \Q$unsound (cannot read: $LINK)\E/,
         'builder: the linked previous store is not read');
    ok(!-l $t->path('b.blt') && -f _, 'builder: the link is replaced');
    is($t->read_file('good.blt'), $before, 'builder: its target untouched');

    # a folder the build user cannot write: the message names it

    SKIP: {
        skip 'not root, or no setpriv: cannot build as nobody', 2
            unless $> == 0 && Test::Bulletin::find_in_path('setpriv');

        my $ro = $t->path('read-only');

        mkdir $ro;
        chmod 0555, $ro;

        ($status, $stdout, $stderr) = $t->capture(
            ['setpriv', '--reuid=' . getpwnam('nobody'),
             '--regid=' . (getpwnam('nobody'))[3], '--clear-groups',
             $Test::Bulletin::BUILDER, '-o', "$ro/site.blt", $in]);

        isnt($status, 0, 'builder: an unwritable folder: fails');
        my $want = "$ro/site.blt: cannot create the temporary file "
                 . ".site.blt.XXXXXX in the folder \"$ro\": "
                 . 'Permission denied';

        like($stderr, qr/\Q$want\E/,
             'builder: names the folder and the temporary file');
    }
}
