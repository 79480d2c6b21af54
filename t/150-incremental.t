#!/usr/bin/perl

# Incremental builds, without nginx (issue 17).  With SOURCE_DATE_EPOCH
# set, a build that reuses the previous store's unchanged pages and a
# --full build of the same inputs over the same previous store are
# byte-identical; the pages whose inputs changed (the bulletin, or a
# neighbour's id or title: 上一篇/下一篇) are made anew, and the others
# keep their Last-Modified.  Also: SOURCE_DATE_EPOCH alone makes two
# builds at different times byte-identical, and a bad one is an error.
#
# Pages are read back with a small reader of the layout in
# src/bulletin_store.h (as in t/builder.t).

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Compress::Raw::Zlib;
use Test::More;


my $root = "$FindBin::Bin/..";
my $builder = ($ENV{BULLETIN_BUILD} // "$root/build") . '/bulletin-build';

plan(skip_all => "no builder at $builder: run make first") unless -x $builder;

my $tmp = tempdir('bulletin-incr-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $T_A = 1000000000;           # the first build's time
my $T_B = 2000000000;           # every later build's

# b1 (oldest) to b6 (newest); the feed's two newest are always rendered
my %base = map { ("b$_.json" => bulletin($_)) } 1 .. 6;
my $site = '{"base_url": "https://example.org/bulletin/", "page_size": 2,
             "feed_size": 2,
             "categories": {"活动简报": "briefs", "通知": "notes"}}';

spew("$tmp/site.json", $site);

# the shipped template with the neighbours' links
my $tpl = slurp("$root/templates/default.html") // die "default.html: $!";
$tpl =~ s{(\{\{body\}\})}{$1<nav class="pn">{{prev}} {{next}}</nav>}
    or die "no {{body}} in default.html";
spew("$tmp/page.html", $tpl);

my $A = "$tmp/A.blt";
my $in = inputs(%base);
my ($rc, $out, $err) = build($T_A, '-o', $A, $in);
is($rc, 0, 'build A') or diag($err);
my $sa = read_store($A);


# a scenario: inputs and options; which bulletins' pages must change

sub scenario {
    my ($name, $files, $changed, @opt) = @_;

    my $dir = inputs(%$files);
    my %new = map { $_ => 1 } @$changed;

    my ($i, $f) = ("$tmp/I.blt", "$tmp/F.blt");
    copy($A, $i);
    copy($A, $f);

    my ($rc, $out, $err) = build($T_B, @opt, '-o', $i, $dir);
    is($rc, 0, "$name: incremental build") or diag($err);
    my ($reused) = $out =~ /, (\d+) reused,/;
    my ($lists) = $out =~ /, (\d+) list pages? reused,/;

    ($rc, my $fout, $err) = build($T_B, '--full', @opt, '-o', $f, $dir);
    is($rc, 0, "$name: --full build") or diag($err);
    like($fout, qr/, 0 reused,/, "$name: --full reuses nothing");

    ok(slurp($i) eq slurp($f), "$name: incremental and --full "
                               . "byte-identical");
    is((build($T_B, '--verify', $i))[0], 0, "$name: sound");

    my $s = read_store($i);
    my @ids = sort grep { /^b/ } keys %{$s->{pages}};
    my (@bad_new, @bad_kept);

    for my $id (@ids) {
        my ($p, $old) = ($s->{pages}{$id}, $sa->{pages}{$id});

        if ($new{$id}) {
            push @bad_new, $id
                if $old && (plain($p) eq plain($old)
                            || $p->{last_modified} != $T_B);

        } else {
            push @bad_kept, $id
                if !$old || plain($p) ne plain($old)
                   || $p->{last_modified} != $T_A;
        }
    }

    is("@bad_new", '', "$name: the changed pages are new");
    is("@bad_kept", '', "$name: the others unchanged, Last-Modified kept");

    return ($reused, $s, $lists);
}

my ($reused, $s, $lists);

# 6 list pages (page_size 2): _index, _index-2, _index-3 and the same of
# _c-briefs, every bulletin's category

($reused, undef, $lists) = scenario('nothing changed', \%base, []);
is($reused, 4, 'nothing changed: the 4 pages outside the feed reused');
is($lists, 6, 'nothing changed: every list page reused');

($reused, undef, $lists)
    = scenario('one bulletin changed',
               { %base, 'b3.json' => bulletin(3, body => '改了') },
               ['b3']);
is($reused, 3, 'one changed: 3 reused');
is($lists, 6, 'one changed, not in the lists: every list page reused');

($reused, $s, $lists)
    = scenario('a title changed',
               { %base, 'b3.json' => bulletin(3, title => '新标题') },
               [qw(b2 b3 b4)]);
is($reused, 1, 'a title changed: its neighbours rendered, 1 reused');
is($lists, 4, 'a title changed: its 2 list pages rendered, 4 reused');
like(plain($s->{pages}{b2}), qr/新标题/, 'the older neighbour shows it');
like(plain($s->{pages}{b4}), qr/新标题/, 'the newer neighbour shows it');

($reused, $s) = scenario('a bulletin added',
                         { %base, 'b35.json' => bulletin(35) },
                         [qw(b3 b35 b4)]);
is($reused, 2, 'added: 2 reused');
ok($s->{pages}{b35}, 'added: its page');

# a0 sorts first: every reused record moves, its count slots follow it

($reused, $s) = scenario('a bulletin added, the newest',
                         { %base, 'a0.json' => bulletin(60, id => 'a0') },
                         [qw(a0 b6)]);
is($reused, 5, 'newest added: 5 reused');
isnt(index_of($s, 'b1'), index_of($sa, 'b1'), 'b1 has a new record');
my @slots = @{slot_ids($s, 'b1')};
ok(@slots && !grep({ $_ ne 'b1' } @slots),
   'a reused page\'s count slots name its new record');

($reused, $s) = scenario('a bulletin deleted',
                         { map { $_ => $base{$_} } grep { $_ ne 'b3.json' }
                               keys %base },
                         [qw(b2 b4)]);
is($reused, 1, 'deleted: 1 reused');
ok(!$s->{pages}{b3}, 'deleted: its page gone');

# its category's slug is in a page

($reused, $s, $lists)
    = scenario('a category changed',
               { %base, 'b2.json' => bulletin(2, category => '通知') },
               [qw(b2)]);
is($reused, 3, 'a category changed: 3 reused');
is($lists, 0, 'a category changed: the counts every list shows, none reused');

spew("$tmp/other.html", slurp("$root/bench/small.html"));
($reused) = scenario('the template changed', \%base,
                     [map { "b$_" } 1 .. 6], '-t', "$tmp/other.html");
is($reused, 0, 'the template changed: nothing reused');
is($lists, 0, 'the template changed: no list page reused');

spew("$tmp/list.html", slurp("$root/templates/index.html") . "<!-- x -->");
($reused, undef, $lists)
    = scenario('the list template changed', \%base, [],
               '--list-template', "$tmp/list.html");
is($reused, 4, 'the list template changed: the bulletins reused');
is($lists, 0, 'the list template changed: no list page reused');

($reused, undef, $lists)
    = scenario('the channels changed', \%base,
               [map { "b$_" } 1 .. 6], '--channels', 'wechat,qq');
is($reused, 0, 'the channels changed: nothing reused');
is($lists, 0, 'the channels changed: no list page reused');


# The same folder built again, its files changed in place: a file whose
# path and bytes the previous store has is not parsed (its entry is the
# store's), whatever its mtime; any other is.  b0 has no category.

my $same = "$tmp/same";
my %same = (%base, 'b0.json' => qq({"id": "b0", "title": "无类别",
"published": "2020-04-30", "blocks": [{"paragraph": "无"}]}\n));

sub same_reset {
    system('rm', '-rf', $same) == 0 or die "rm $same";
    mkdir $same or die "mkdir $same: $!";
    spew("$same/$_", $same{$_}) for keys %same;
}

same_reset();
my $A2 = "$tmp/A2.blt";
($rc, $out, $err) = build($T_A, '-o', $A2, $same);
is($rc, 0, 'in place: build A2') or diag($err);
like($out, qr/, 0 unchanged files not parsed,/, 'A2: every file parsed');

sub in_place {
    my ($name, $change, @opt) = @_;

    same_reset();
    $change->();

    my ($i, $f) = ("$tmp/I.blt", "$tmp/F.blt");
    copy($A2, $i);
    copy($A2, $f);

    my ($rc, $out, $err) = build($T_B, @opt, '-o', $i, $same);
    is($rc, 0, "$name: incremental build") or diag($err);
    ($rc, my $fout, $err) = build($T_B, '--full', @opt, '-o', $f, $same);
    is($rc, 0, "$name: --full build") or diag($err);
    like($fout, qr/, 0 unchanged files not parsed, 0 reused, 0 list pages/,
         "$name: --full parses and renders everything");
    ok(slurp($i) eq slurp($f), "$name: incremental and --full "
                               . "byte-identical");
    is((build($T_B, '--verify', $i))[0], 0, "$name: sound");

    my $counts = qr/, (\d+) unchanged files? not parsed, (\d+) reused, /;

    return [$out =~ /$counts(\d+) list pages? reused,/];
}

# 7 bulletins, the feed's 2 always rendered; lists: _index 1 to 4,
# _c-briefs 1 to 3 and the category of b0's

is_deeply(in_place('nothing changed', sub {}), [7, 5, 8],
          'in place, nothing changed: no file parsed, every page reused');

is_deeply(in_place('touched', sub {
              utime(time + 100, time + 100, "$same/b3.json") or die;
          }), [7, 5, 8], 'touched, the same bytes: not parsed, reused');

is_deeply(in_place('changed, the same size', sub {
              (my $b = $same{'b3.json'}) =~ s/内容/内谷/ or die;
              length($b) == length($same{'b3.json'}) or die;
              spew("$same/b3.json", $b);
              utime(0, 0, "$same/b3.json") or die;
          }), [6, 4, 8], 'changed, the same size and an old mtime: parsed, '
                         . 'its page rendered');

is_deeply(in_place('renamed', sub {
              rename("$same/b3.json", "$same/x3.json") or die;
          }), [6, 5, 8], 'renamed: parsed, its page reused');

is_deeply(in_place('deleted', sub {
              unlink("$same/b3.json") or die;
          }), [6, 2, 0], 'deleted: its neighbours and the lists (their '
                         . 'counts) rendered');

is_deeply(in_place('added', sub {
              spew("$same/b35.json", bulletin(35));
          }), [7, 3, 0], 'added: parsed, its neighbours, the feed and the '
                         . 'lists rendered');

is_deeply(in_place('a category changed', sub {
              spew("$same/b2.json", bulletin(2, category => '通知'));
          }), [6, 4, 0], 'a category changed: parsed, every list rendered');

is_deeply(in_place('a title changed', sub {
              spew("$same/b3.json", bulletin(3, title => '新标题'));
          }), [6, 2, 6], 'a title changed: parsed, its neighbours and its '
                         . '2 lists rendered');

spew("$tmp/site2.json", $site =~ s/"page_size": 2/"page_size": 3/r);
is_deeply(in_place('the site changed', sub {},
                   '--site', "$tmp/site2.json"),
          [7, 0, 0], 'the site changed: no file parsed, every page '
                     . 'rendered');

is_deeply(in_place('the template changed', sub {},
                   '-t', "$tmp/other.html"),
          [7, 0, 0], 'the template changed: every page rendered');

is_deeply(in_place('the channels changed', sub {},
                   '--channels', 'wechat,qq'),
          [7, 0, 0], 'the channels changed: every page rendered');


# a previous store of version 2 has no sources: every file is parsed,
# and its pages are reused as before

my $v2 = slurp($A);
substr($v2, 8, 4) = pack('V', 2);
substr($v2, 272, 8) = pack('Q<', 0);
substr($v2, 28, 4) = "\0" x 4;
substr($v2, 28, 4) = pack('V', crc32($v2));
spew("$tmp/v2.blt", $v2);
is((build($T_B, '--verify', "$tmp/v2.blt"))[0], 0, 'version 2: sound');

($rc, $out, $err) = build($T_B, '-o', "$tmp/v2.blt", $in);
is($rc, 0, 'over a version 2 store: builds') or diag($err);
like($out, qr/,\ 0\ unchanged\ files\ not\ parsed,\ 4\ reused,
              \ 6\ list\ pages\ reused,/x,
     'over a version 2 store: every file parsed, the pages reused');
copy($A, "$tmp/F.blt");
build($T_B, '--full', '-o', "$tmp/F.blt", $in);
ok(slurp("$tmp/v2.blt") eq slurp("$tmp/F.blt"),
   'over a version 2 store: the same bytes as --full over A');


# a previous store of version 1 has no fingerprints: it lends its
# Last-Modified times, and no page

my $v1 = slurp($A);
substr($v1, 8, 4) = pack('V', 1);
substr($v1, 264, 8) = pack('Q<', 0);
substr($v1, 272, 8) = pack('Q<', 0);
substr($v1, 28, 4) = "\0" x 4;
substr($v1, 28, 4) = pack('V', crc32($v1));
spew("$tmp/v1.blt", $v1);
is((build($T_B, '--verify', "$tmp/v1.blt"))[0], 0, 'version 1: sound');

($rc, $out, $err) = build($T_B, '-o', "$tmp/v1.blt", $in);
is($rc, 0, 'over a version 1 store: builds') or diag($err);
like($out, qr/,\ 0\ reused,\ 0\ list\ pages\ reused,
              \ 14\ kept\ their\ Last-Modified\n\z/x,
     'over a version 1 store: nothing reused, every Last-Modified kept');
copy($A, "$tmp/F.blt");
build($T_B, '--full', '-o', "$tmp/F.blt", $in);
ok(slurp("$tmp/v1.blt") eq slurp("$tmp/F.blt"),
   'over a version 1 store: the same bytes as --full over A');

# SOURCE_DATE_EPOCH alone: two builds a second apart, byte-identical

($rc) = build($T_A, '-o', "$tmp/r1.blt", $in);
sleep 1;
my ($rc2) = build($T_A, '-o', "$tmp/r2.blt", $in);
ok($rc == 0 && $rc2 == 0 && slurp("$tmp/r1.blt") eq slurp("$tmp/r2.blt"),
   'SOURCE_DATE_EPOCH: builds at different times are byte-identical');
is(read_store("$tmp/r1.blt")->{built_at}, $T_A, 'built_at is it');
is(read_store("$tmp/r1.blt")->{pages}{b1}{last_modified}, $T_A,
   'so is a new page\'s Last-Modified');

for my $bad ('12x', '-1', '1e9', ' 5', '253402300800',
             '99999999999999999999999')
{
    ($rc, $out, $err) = build($bad, '-o', "$tmp/bad.blt", $in);
    ok($rc != 0 && !-e "$tmp/bad.blt"
       && $err =~ /^bulletin-build: SOURCE_DATE_EPOCH "\Q$bad\E" is not a /,
       "SOURCE_DATE_EPOCH \"$bad\": an error, nothing written");
}

($rc, $out, $err) = build(undef, '--full', '--verify', $A);
isnt($rc, 0, '--full with --verify: a usage error');


done_testing();


sub bulletin {
    my ($k, %o) = @_;

    my $id = $o{id} // "b$k";
    my $title = $o{title} // "简报第${k}期";
    my $cat = $o{category} // '活动简报';
    my $body = $o{body} // "第${k}期的内容，社会组织工作动态。";
    my $day = sprintf('%02d', $k > 9 ? int($k / 10) : $k);
    my $time = $k > 9 ? 'T12:00:00Z' : '';

    return qq({"id": "$id", "title": "$title", "category": "$cat",
"published": "2020-05-$day$time",
"blocks": [{"heading": "标题"}, {"paragraph": "$body"}]}\n);
}

# a fresh folder of inputs

my $ninputs;

sub inputs {
    my (%files) = @_;

    my $dir = "$tmp/in" . ++$ninputs;
    mkdir $dir or die "mkdir $dir: $!";

    spew("$dir/$_", $files{$_}) for keys %files;

    return $dir;
}

sub build {
    my ($epoch, @args) = @_;

    unless (grep { /^--(verify|list)$/ } @args) {
        unshift @args, '--site', "$tmp/site.json"
            unless grep { $_ eq '--site' } @args;
        unshift @args, '-t', "$tmp/page.html" unless grep { $_ eq '-t' } @args;
    }

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        if (defined $epoch) {
            $ENV{SOURCE_DATE_EPOCH} = $epoch;
        } else {
            delete $ENV{SOURCE_DATE_EPOCH};
        }

        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$tmp/stdout" or die;
        open STDERR, '>', "$tmp/stderr" or die;
        exec $builder, @args;
        exit 127;
    }

    waitpid($pid, 0);

    return ($? >> 8, slurp("$tmp/stdout"), slurp("$tmp/stderr"));
}

sub copy {
    my ($from, $to) = @_;

    spew($to, slurp($from) // die "$from: $!");
}

sub spew {
    my ($file, $data) = @_;

    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $data;
    close $fh;
}

sub slurp {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return undef;
    local $/;
    my $data = <$fh>;
    close $fh;

    return $data;
}

sub plain {
    my ($p) = @_;

    return join('', @{$p->{plain}});
}

# the ids of the records a page's slots count

sub index_of {
    my ($s, $id) = @_;

    return (grep { $s->{ids}[$_] eq $id } 0 .. $#{$s->{ids}})[0];
}

sub slot_ids {
    my ($s, $id) = @_;

    return [map { $s->{ids}[$_->{record}] } @{$s->{pages}{$id}{slots}}];
}

sub read_store {
    my ($file) = @_;

    my $data = slurp($file) // die "$file: $!";
    my %h;

    (my $magic, my $version, undef, undef, undef, undef,
     $h{built_at}, undef, $h{page_count}, undef, undef, undef, undef,
     undef, $h{records_off}, $h{segments_off}, undef, $h{slots_off})
        = unpack('a8 V V Q< V V q< a16 V V a128 Q< V V Q< Q< Q< Q<', $data);

    die "$file: not a store" unless $magic eq 'BLTSTORE' && $version == 3;

    for my $i (0 .. $h{page_count} - 1) {
        my ($id_off, undef, undef, undef, $id_len, undef, undef, undef,
            $lm, undef, undef, undef, $seg_first, $slot_first, $nslots)
            = unpack('Q< Q< Q< Q< V V V V q< Q< Q< Q< V V V',
                     substr($data, $h{records_off} + $i * 96, 96));

        my $id = substr($data, $id_off, $id_len);
        my %p = (last_modified => $lm, slots => []);

        for my $k (0 .. $nslots) {
            my ($off, undef, $len)
                = unpack('Q< Q< V', substr($data,
                         $h{segments_off} + ($seg_first + $k) * 32, 32));
            push @{$p{plain}}, substr($data, $off, $len);
        }

        for my $k (0 .. $nslots - 1) {
            my ($rec, $kind) = unpack('V V', substr($data,
                                      $h{slots_off} + ($slot_first + $k) * 8,
                                      8));
            push @{$p{slots}}, { record => $rec, kind => $kind };
        }

        $h{ids}[$i] = $id;
        $h{pages}{$id} = \%p;
    }

    return \%h;
}
