#!/usr/bin/perl

# bulletin-build end to end, without nginx: the summary, --verify and
# --list, every kind of bad input (named with its file, line and column,
# a non-zero exit, nothing written, an existing store left as it was),
# escaping, templates, channels, and Last-Modified kept across rebuilds.
#
# Pages are read back from the store by the small reader at the end of
# this file, written from the layout in src/bulletin_store.h, not from
# the C code that writes it.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Compress::Raw::Zlib;
use Test::More;


my $root = "$FindBin::Bin/..";
my $builder = ($ENV{BULLETIN_BUILD} // "$root/build") . '/bulletin-build';

plan(skip_all => "no builder at $builder: run make first") unless -x $builder;

my $tmp = tempdir('bulletin-builder-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $n = 0;


# a good bulletin, with overrides: key => JSON text of its value

sub bulletin {
    my (%o) = @_;

    my %v = (
        id => '"b1"',
        title => '"北京市社会组织工作动态【第1期】"',
        category => '"活动简报"',
        published => '"2020-05-20"',
        source => '"北京市社会组织管理中心"',
        blocks => '[
    {"heading": "首都社会组织参与垃圾分类助力计划启动"},
    {"subheading": "——为贫困地区师生搭起一座桥"},
    {"paragraph": "为推进首都社会组织在《北京市生活垃圾管理条例》实施过程中。"}
  ]',
        %o,
    );

    my @keys = grep { defined $v{$_} }
        qw(id title category published source summary blocks),
        sort grep { !/^(id|title|category|published|source|summary|blocks)$/ }
        keys %v;

    return "{\n" . join(",\n", map { qq{  "$_": $v{$_}} } @keys) . "\n}\n";
}

sub folder {
    my (%files) = @_;

    my $dir = "$tmp/in" . ++$n;
    mkdir $dir or die "mkdir $dir: $!";

    for my $name (keys %files) {
        spew("$dir/$name", $files{$name});
    }

    return $dir;
}

sub run {
    my (@args) = @_;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$tmp/stdout" or die;
        open STDERR, '>', "$tmp/stderr" or die;
        exec $builder, @args;
        exit 127;
    }

    waitpid($pid, 0);

    return ($? >> 8, slurp("$tmp/stdout"), slurp("$tmp/stderr"));
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

sub leftovers {
    my ($dir) = @_;

    opendir my $dh, $dir or return ();
    my @tmp = grep { /^\./ && !/^\.\.?$/ } readdir $dh;
    closedir $dh;

    return @tmp;
}


# success, --verify, --list

my $out = "$tmp/site.blt";

my ($rc, $stdout, $stderr) = run('-o', $out, "$root/sample");

is($rc, 0, 'sample builds');
like($stdout, qr/^\Q$out\E:\ 5\ pages\ \(4\ bulletins,\ 1\ list\ page\),\ \d+\ bytes,
                 \ generation\ [0-9a-f]{16},
                 \ \d+\ unchanged\ files?\ not\ parsed,\ \d+\ reused,
                 \ \d+\ list\ pages?\ reused,
                 \ \d+\ kept\ their\ Last-Modified\n\z/x,
     'one summary line');
is($stderr, '', 'quiet when stderr is not a terminal');
my ($bytes) = $stdout =~ /(\d+) bytes/;
is($bytes, -s $out, 'summary says the size');
is_deeply([leftovers($tmp)], [], 'no temporary file left');

($rc, $stdout, $stderr) = run('--verify', $out);
is($rc, 0, '--verify: sound');
like($stdout, qr/^\Q$out\E: ok, 5 pages/, '--verify says so');

($rc, $stdout, $stderr) = run('--list', $out);
is($rc, 0, '--list');
is($stdout, join('', map { "$_\n" }
    "_index\t2020-06-12\t全部简报",
    "bj-sociorg-2020-01\t2020-05-20\t北京市社会组织工作动态【第1期】",
    "bj-sociorg-2020-01-03\t2020-06-12\t北京市社会组织工作动态【第1-3期】",
    "bj-sociorg-2020-02\t2020-06-02\t北京市社会组织工作动态【第2期】",
    "bj-sociorg-2020-03\t2020-06-12\t北京市社会组织工作动态【第3期】"),
    '--list: id, published, title');

my $store = read_store($out);
my $page = page_plain($store, 'bj-sociorg-2020-02');

like($page, qr/^<!DOCTYPE html>/, 'a page');
like($page, qr{<meta charset="utf-8">}, 'charset');
like($page, qr{<link rel="icon" href="data:,">}, 'inline icon');
like($page, qr{<h1>北京市社会组织工作动态【第2期】</h1>}, 'title');
like($page, qr{<h3>——为贫困地区师生搭起一座桥</h3>}, 'subheading');
like($page, qr{来源：北京市行业协会商会综合党委、北京市社会组织管理中心},
     'source, after a full-width colon');
is(scalar(() = $page =~ /<button\ type="button"\ class="bulletin-share"
                          \ data-channel="(wechat|weibo|qq|link)">/gx),
   4, 'four share buttons');
is(page_gzip($store, 'bj-sociorg-2020-02'), $page,
   'gzip segments inflate to the plain page');

my $index = page_plain($store, '_index');
like($index, qr{<li><a\ href="bj-sociorg-2020-01-03">.*
                <li><a\ href="bj-sociorg-2020-03">.*
                <li><a\ href="bj-sociorg-2020-02">.*
                <li><a\ href="bj-sociorg-2020-01">}sx,
     'list page: newest first, then by id');
is(scalar(@{$store->{pages}{_index}{slots}}), 4, 'list page: a count a page');
is_deeply([map { $_->{kind} } @{$store->{pages}{_index}{slots}}],
          [0, 0, 0, 0], 'list page: view counts');


# --verify of broken stores

my $good = slurp($out);

for my $case (['truncated', substr($good, 0, length($good) - 8)],
              ['a byte changed', do { my $s = $good;
                                      substr($s, 1000, 1) ^= "\x01"; $s }],
              ['empty', ''],
              ['foreign', "not a store at all\n" x 40])
{
    my ($name, $data) = @$case;
    my $bad = "$tmp/broken.blt";

    spew($bad, $data);
    ($rc, $stdout, $stderr) = run('--verify', $bad);
    isnt($rc, 0, "--verify: $name store refused");
    like($stderr, qr/^\Q$bad\E: [^:\n]+: .+\n\z/, "--verify: $name: says why");
}

($rc, $stdout, $stderr) = run('--verify', "$tmp/none.blt");
isnt($rc, 0, '--verify: missing store');
like($stderr, qr/^\Q$tmp\E\/none.blt: No such file/, '--verify: says so');


# bad input: the message, the exit, nothing written, an existing store
# untouched

my $existing = "$tmp/existing.blt";
($rc) = run('-o', $existing, "$root/sample");
is($rc, 0, 'a store to keep');
my $existing_data = slurp($existing);
my @existing_stat = (stat $existing)[1, 9];

sub bad {
    my ($name, $files, $want, @extra) = @_;

    my $dir = ref $files ? folder(%$files) : $files;
    my $new = "$tmp/new" . ++$n . '.blt';

    my ($rc, $stdout, $stderr) = run(@extra, '-o', $new, $dir);
    isnt($rc, 0, "$name: fails");
    like($stderr, $want, "$name: message") or diag($stderr);
    is($stdout, '', "$name: no summary");
    ok(!-e $new, "$name: no output");
    is_deeply([leftovers($tmp)], [], "$name: no temporary file");

    ($rc, $stdout, $stderr) = run(@extra, '-o', $existing, $dir);
    isnt($rc, 0, "$name: fails over an existing store");
    is(slurp($existing), $existing_data, "$name: existing store unchanged");
    is_deeply([(stat $existing)[1, 9]], \@existing_stat,
              "$name: same file, same time");

    return $dir;
}

my $d;

$d = bad('malformed JSON',
         { 'a.json' => bulletin(),
           'bad.json' => qq{{\n  "id": "x",\n  "title": ,\n}\n} },
         qr{^\S*/bad\.json:3:12: unexpected token near ','\n});

bad('missing title', { 'bad.json' => bulletin(title => undef) },
    qr{^\S*/bad\.json:1:1: missing required key "title"\n});
bad('missing blocks', { 'bad.json' => bulletin(blocks => undef) },
    qr{^\S*/bad\.json:1:1: missing required key "blocks"\n});
bad('mistyped title', { 'bad.json' => bulletin(title => '42') },
    qr{^\S*/bad\.json:3:12: "title" must be a string, not a number\n});
bad('mistyped blocks', { 'bad.json' => bulletin(blocks => '"text"') },
    qr{^\S*/bad\.json:7:13: "blocks" must be an array, not a string\n});
bad('empty title', { 'bad.json' => bulletin(title => '""') },
    qr{^\S*/bad\.json:3:12: "title" must not be empty\n});
bad('bad date', { 'bad.json' => bulletin(published => '"2021-02-29"') },
    qr{^\S*/bad\.json:5:16: invalid published date "2021-02-29"});
bad('unknown key', { 'bad.json' => bulletin(author => '"x"') },
    qr{^\S*/bad\.json:12:3:\ unknown\ key\ "author"
       \ \(expected\ id,\ title,\ published,\ blocks,\ category,\ source
       \ or\ summary\)\n}x);
bad('unknown block type',
    { 'bad.json' => bulletin(blocks => qq{[\n    {"paragraph": "p"},\n}
                                       . qq{    {"image": "a.png"}\n  ]}) },
    qr{^\S*/bad\.json:9:6:\ block\ 2:\ unknown\ block\ type\ "image"
       \ \(expected\ heading,\ subheading\ or\ paragraph\)\n}x);
bad('block with two keys',
    { 'bad.json' =>
          bulletin(blocks => qq{[{"heading": "h", "paragraph": "p"}]}) },
    qr{^\S*/bad\.json:7:14: block 1 must have exactly one key});
bad('invalid UTF-8', { 'bad.json' => bulletin(title => qq{"ab\xff\xfe"}) },
    qr{^\S*/bad\.json:3:\d+: invalid UTF-8: });
bad('bad id', { 'bad.json' => bulletin(id => '"a b"') },
    qr{^\S*/bad\.json:2:9:\ invalid\ id\ "a\ b":\ expected\ 1\ to\ 64\ of
       \ A-Z\ a-z\ 0-9\ _\ -,\ beginning\ with\ a\ letter\ or\ digit\n}x);
bad('reserved id', { 'bad.json' => bulletin(id => '"_index"') },
    qr{^\S*/bad\.json:2:9: id "_index" is reserved});
bad('duplicate id', { 'a.json' => bulletin(id => '"same"'),
                      'b.json' => bulletin(id => '"same"') },
    qr{^(\S*)/b\.json:2:9: duplicate id "same", also in \1/a\.json:2:9\n});

my $empty = "$tmp/empty";
mkdir $empty;
spew("$empty/notes.txt", "not a bulletin\n");
bad('empty folder', $empty, qr{^\Q$empty\E: no \.json files in this folder\n});
bad('missing input', "$tmp/nothing-here",
    qr{^\Q$tmp\E/nothing-here: No such file or directory\n});
bad('not a .json file', "$empty/notes.txt",
    qr{^\Q$empty\E/notes\.txt: not a \.json file or a folder\n});

# several bad files: every error of every file, in input order

$d = folder('1.json' => bulletin(id => '"ok1"'),
            '2.json' => bulletin(id => '"bad id"', extra => 'true'),
            '3.json' => "{\"id\": \"x\",}",
            '4.json' => bulletin(id => '"ok2"'),
            '5.json' => bulletin(id => '"ok1"', title => 'null'),
            '6.json' => bulletin(id => '"ok2"'));
my $new = "$tmp/several.blt";
($rc, $stdout, $stderr) = run('-o', $new, $d);
is($rc, 1, 'several bad files: exit 1');
my @lines = split /\n/, $stderr;
is(scalar(@lines), 6, 'several bad files: every message and a last line')
    or diag($stderr);
like($lines[0], qr{/2\.json:2:9: invalid id "bad id"}, 'file 2, first error');
like($lines[1], qr{/2\.json:12:3: unknown key "extra"},
     'file 2, second error');
like($lines[2], qr{/3\.json:1:11: a "," with nothing after it }, 'file 3');
like($lines[3], qr{/5\.json:3:12: "title" must be a string, not null},
     'file 5');
like($lines[4], qr{/6\.json:2:9: duplicate id "ok2", also in \S+/4\.json:2:9},
     'file 6');
is($lines[5], "bulletin-build: 5 errors in 4 inputs, $new not written",
   'several bad files: the last line counts them');
ok(!-e $new, 'several bad files: no output');

# an output that cannot be written

$d = folder('a.json' => bulletin());
($rc, $stdout, $stderr) = run('-o', "$tmp/no/such/folder/x.blt", $d);
isnt($rc, 0, 'output in a missing folder: fails');
like($stderr, qr{^\Q$tmp\E/no/such/folder/x\.blt:\ cannot\ create\ the
                 \ temporary\ file\ \.x\.blt\.XXXXXX\ in\ the\ folder
                 \ "\Q$tmp\E/no/such/folder":\ No\ such\ file\ or\ directory
                 \n}x,
     'output in a missing folder: message');

($rc, $stdout, $stderr) = run('-o', "$d/a.json/x.blt", $d);
isnt($rc, 0, 'output under a file: fails');
like($stderr, qr{^\Q$d\E/a\.json/x\.blt:\ cannot\ create\ the\ temporary\ file
                 \ \.x\.blt\.XXXXXX\ in\ the\ folder\ "\Q$d\E/a\.json":
                 \ Not\ a\ directory\n}x,
     'output under a file: message');

($rc, $stdout, $stderr) = run('-o', $tmp, $d);
isnt($rc, 0, 'output is a folder: fails');
like($stderr, qr{^\Q$tmp\E: is a folder\n}, 'output is a folder: message');

SKIP: {
    skip 'root writes into read-only folders', 3 if $> == 0;

    my $ro = "$tmp/ro";
    mkdir $ro;
    chmod 0555, $ro;
    ($rc, $stdout, $stderr) = run('-o', "$ro/x.blt", $d);
    isnt($rc, 0, 'read-only folder: fails');
    like($stderr, qr{^\Q$ro\E/x\.blt: cannot create: Permission denied\n},
         'read-only folder: message');
    ok(!-e "$ro/x.blt", 'read-only folder: no output');
}


# escaping: a bulletin cannot inject markup or script

$d = folder('x.json' => bulletin(
    id => '"x"',
    title => q{"<script>alert(\"t\")</script>'&amp;"},
    category => q{"\"><a href=\"javascript:alert(1)\">"},
    source => q{"</p><script src=//evil></script>"},
    summary => q{"\" onload=\"alert(1)"},
    blocks => q{[{"heading": "<h1 onclick='x'>"},}
              . q{ {"paragraph": "</p><img src=x onerror=alert(1)>"}]}));
$out = "$tmp/escape.blt";
($rc, $stdout, $stderr) = run('-o', $out, $d);
is($rc, 0, 'markup in every field builds');
$page = page_plain(read_store($out), 'x');
is(scalar(() = $page =~ /<script/g), 1, 'only the template\'s own script');
unlike($page, qr/<img|<a href="javascript|onload="alert/, 'no injected markup');
like($page, qr{<h1>&lt;script&gt;alert\(&quot;t&quot;\)&lt;/script&gt;
                &\#39;&amp;amp;</h1>}x,
     'title escaped');
like($page, qr{<h2>&lt;h1 onclick=&#39;x&#39;&gt;</h2>}, 'heading escaped');
like($page, qr{<p>&lt;/p&gt;&lt;img src=x onerror=alert\(1\)&gt;</p>},
     'paragraph escaped');
($rc, $stdout) = run('--list', $out);
like($stdout, qr{^x\t2020-05-20\t<script>alert\("t"\)</script>'&amp;\n}m,
     '--list shows the raw title');


# -t: a template of one's own, and one with an unknown placeholder

my $tpl = "$tmp/mine.html";
spew($tpl, "<html><h1>{{title}}</h1>\n{{body}}<p>{{views}}|{{ shares }}</p>"
           . "{{share_bar}}<i>{{category}} {{date}}</i></html>\n");
$d = folder('a.json' => bulletin(id => '"a"', category => undef));
$out = "$tmp/mine.blt";
($rc, $stdout, $stderr) = run('-t', $tpl, '--channels', 'wechat,rss',
                              '-o', $out, $d);
is($rc, 0, '-t: builds');
$store = read_store($out);
is(page_plain($store, 'a'),
   "<html><h1>北京市社会组织工作动态【第1期】</h1>\n"
   . "<h2>首都社会组织参与垃圾分类助力计划启动</h2>\n"
   . "<h3>——为贫困地区师生搭起一座桥</h3>\n"
   . "<p>为推进首都社会组织在《北京市生活垃圾管理条例》实施过程中。</p>\n"
   . "<p>|</p>"
   . '<button type="button" class="bulletin-share" data-channel="wechat">'
   . '微信 <span class="bulletin-share-count"></span></button>' . "\n"
   . '<button type="button" class="bulletin-share" data-channel="rss">'
   . 'rss <span class="bulletin-share-count"></span></button>'
   . "<i>活动简报 2020-05-20</i></html>\n",
   '-t: the page is the template filled in');
is_deeply([map { $_->{kind} } @{$store->{pages}{a}{slots}}], [0, 1, 2, 3],
          '-t: views, shares, then each channel');
like(page_plain($store, '_index'), qr/<h1>全部简报<\/h1>/,
     '-t: the list page keeps its own template');
is_deeply($store->{channels}, ['wechat', 'rss'], '--channels: in the store');

spew($tpl, "<html>\n<h1>{{title}}</h1>\n  <p>{{author}}</p>\n</html>\n");
($rc, $stdout, $stderr) = run('-t', $tpl, '-o', "$tmp/t2.blt", $d);
is($rc, 1, '-t: unknown placeholder fails');
like($stderr, qr{^\Q$tpl\E:3:6:\ unknown\ placeholder\ "\{\{author\}\}"
                 \ \(expected\ id,\ title,\ category,\ published,\ date,
                 \ source,\ summary,\ body,\ share_bar,\ views,\ shares,
                 \ site_name,\ canonical,\ description,\ category_url,
                 \ crumbs,\ prev,\ next,\ qr,\ footer,\ feed_url\ or
                 \ base_url\)
                 \n\z}x,
     '-t: names the template and its line');
ok(!-e "$tmp/t2.blt", '-t: no output');

spew($tpl, "<html>\n<h1>{{title</h1>\n");
($rc, $stdout, $stderr) = run('-t', $tpl, '-o', "$tmp/t2.blt", $d);
like($stderr, qr{^\Q$tpl\E:2:5: unclosed "\{\{"\n}, '-t: unclosed placeholder');

($rc, $stdout, $stderr) = run('-t', "$tmp/none.html", '-o', "$tmp/t2.blt", $d);
like($stderr, qr{^\Q$tmp\E/none\.html: cannot open: No such file},
     '-t: missing template');


# --channels and usage errors

for my $case ([['--channels', 'WeChat'], qr/invalid channel "WeChat"/],
              [['--channels', 'a,,b'], qr/invalid channel ""/],
              [['--channels', ''], qr/invalid channel ""/],
              [['--channels', 'a,b,a'], qr/"a" given twice/],
              [['--channels', 'a,b,c,d,e,f,g,h,i'], qr/more than 8 channels/],
              [['--channels', 'abcdefghijklmnop'], qr/invalid channel/],
              [[], qr/no output: -o OUTPUT is required/, 'noout'],
              [['-o', "$tmp/u.blt"], qr/no input/, 'noin'],
              [['-x'], qr/invalid option/],
              [['--verify', $out, $d], qr/--verify takes one STORE/, 'noout'],
              [['--list', $out, '-o', "$tmp/u.blt"], qr/--list takes one STORE/,
               'noout'],
              [['-o', 'a', '-o', 'b'], qr/-o given twice/, 'noout'])
{
    my ($args, $want, $flags) = @$case;
    my @args = @$args;

    push @args, '-o', "$tmp/u.blt", $d unless $flags;
    ($rc, $stdout, $stderr) = run(@args);
    is($rc, 2, "usage error: @$args");
    like($stderr, $want, "usage error: @$args: message");
    ok(!-e "$tmp/u.blt", "usage error: @$args: no output");
}

($rc, $stdout, $stderr) = run('--channels', 'wechat,weibo,qq,link,x_1,y-2,z,w',
                              '-o', "$tmp/eight.blt", $d);
is($rc, 0, '--channels: eight channels');
is(scalar(@{read_store("$tmp/eight.blt")->{channels}}), 8,
   'eight in the store');

($rc, $stdout, $stderr) = run('--help');
is($rc, 0, '--help');
like($stdout, qr/^usage:\ bulletin-build\ \[--site\ FILE\]\ \[-t\ TEMPLATE\]
                 \ \[--list-template\ TEMPLATE\]\n\s+\[--channels\ LIST\]
                 \ \[--full\]\ -o\ OUTPUT\ INPUT\.\.\./x,
     '--help: usage on stdout');


# Last-Modified: kept for unchanged pages, new for changed ones

$d = folder('a.json' => bulletin(id => '"a"'),
            'b.json' => bulletin(id => '"b"', published => '"2020-06-01"'));
$out = "$tmp/lm.blt";
($rc, $stdout) = run('-o', $out, $d);
is($rc, 0, 'first build');
my $first = read_store($out);
my $first_data = slurp($out);

sleep 2;

($rc, $stdout, $stderr) = run('-o', $out, $d);
is($rc, 0, 'rebuild of unchanged input');
like($stdout, qr/: 3 pages .* 3 kept their Last-Modified\n\z/,
     'rebuild: all kept');
my $second = read_store($out);
is($second->{generation}, $first->{generation}, 'rebuild: same generation');
is_deeply({ map { $_ => $second->{pages}{$_}{last_modified} } qw(a b _index) },
          { map { $_ => $first->{pages}{$_}{last_modified} } qw(a b _index) },
          'rebuild: same Last-Modified');
ok($second->{built_at} > $first->{built_at}, 'rebuild: a new build time');

spew("$d/b.json", bulletin(id => '"b"', published => '"2020-06-01"',
                           blocks => '[{"paragraph": "changed"}]'));
($rc, $stdout, $stderr) = run('-o', $out, $d);
is($rc, 0, 'rebuild with one page changed');
like($stdout, qr/: 3 pages .* 2 kept their Last-Modified\n\z/,
     'rebuild: two kept');
my $third = read_store($out);
is($third->{pages}{a}{last_modified}, $first->{pages}{a}{last_modified},
   'unchanged page keeps its Last-Modified');
is($third->{pages}{_index}{last_modified},
   $first->{pages}{_index}{last_modified},
   'unchanged list keeps its Last-Modified');
is($third->{pages}{b}{last_modified}, $third->{built_at},
   'changed page: the build time');
isnt($third->{generation}, $first->{generation}, 'a new generation');

# a previous store that is not sound: a warning, and a build all the same

spew($out, substr($first_data, 0, 100));
($rc, $stdout, $stderr) = run('-o', $out, $d);
is($rc, 0, 'over a broken store: builds');
like($stderr, qr/^\Q$out\E:\ warning:\ the\ existing\ store\ is\ not\ sound
                 \ \(.+\),\ so\ no\ page\ keeps\ its\ Last-Modified\n\z/x,
     'over a broken store: a warning');
like($stdout, qr/ 0 kept their Last-Modified/,
     'over a broken store: none kept');
($rc) = run('--verify', $out);
is($rc, 0, 'over a broken store: the new one is sound');


# inputs: files and folders mixed, folders in sorted order, hidden and
# other files skipped

$d = folder('b.json' => bulletin(id => '"b"'),
            'a.json' => bulletin(id => '"b"'),
            '.#a.json' => 'editor lock',
            'c.txt' => 'notes');
($rc, $stdout, $stderr) = run('-o', "$tmp/order.blt", $d);
like($stderr, qr{^\S*/b\.json:2:9: duplicate id "b", also in \S*/a\.json:2:9\n},
     'folder read in sorted order, hidden files skipped');

my $single = folder('one.json' => bulletin(id => '"one"'));
($rc, $stdout, $stderr) = run('-o', "$tmp/mixed.blt", "$single/one.json",
                              "$root/sample");
is($rc, 0, 'a file and a folder');
like($stdout, qr/: 6 pages \(5 bulletins, 1 list page\)/, 'all of them');


done_testing();


# The store, read from the layout in src/bulletin_store.h: header, records,
# segments and slots; a page's plain body is its plain segments with the
# slots showing nothing.

sub read_store {
    my ($file) = @_;

    my $data = slurp($file) // die "$file: $!";
    my %h;

    (my $magic, my $version, undef, $h{file_size}, undef, undef,
     $h{built_at}, $h{generation}, $h{page_count}, my $nchannels,
     my $channels, undef, undef, undef, $h{records_off}, $h{segments_off},
     undef, $h{slots_off}, undef)
        = unpack('a8 V V Q< V V q< a16 V V a128 Q< V V Q< Q< Q< Q< Q<',
                 $data);

    die "$file: not a store" unless $magic eq 'BLTSTORE' && $version == 3;

    $h{channels} = [map { unpack('Z16', substr($channels, $_ * 16, 16)) }
                    0 .. $nchannels - 1];

    for my $i (0 .. $h{page_count} - 1) {
        my ($id_off, $title_off, $pub_off, undef, $id_len, $title_len,
            $pub_len, undef, $lm, undef, undef, undef, $seg_first,
            $slot_first, $nslots)
            = unpack('Q< Q< Q< Q< V V V V q< Q< Q< Q< V V V',
                     substr($data, $h{records_off} + $i * 96, 96));

        my %p = (
            title => substr($data, $title_off, $title_len),
            published => substr($data, $pub_off, $pub_len),
            last_modified => $lm,
        );

        for my $s (0 .. $nslots) {
            my ($plain_off, $gzip_off, $plain_len, $gzip_len)
                = unpack('Q< Q< V V', substr($data,
                         $h{segments_off} + ($seg_first + $s) * 32, 32));
            push @{$p{plain}}, substr($data, $plain_off, $plain_len);
            push @{$p{gzip}}, substr($data, $gzip_off, $gzip_len);
        }

        for my $s (0 .. $nslots - 1) {
            my ($rec, $kind) = unpack('V V', substr($data,
                                      $h{slots_off} + ($slot_first + $s) * 8,
                                      8));
            push @{$p{slots}}, { record => $rec, kind => $kind };
        }

        $p{slots} //= [];
        $h{pages}{substr($data, $id_off, $id_len)} = \%p;
    }

    return \%h;
}

sub page_plain {
    my ($store, $id) = @_;

    return join('', @{$store->{pages}{$id}{plain}});
}

# the gzip segments in a row and an empty final block: one raw deflate
# stream, which must inflate to the same page

sub page_gzip {
    my ($store, $id) = @_;

    my $stream = join('', @{$store->{pages}{$id}{gzip}}) . "\x03\x00";
    my ($inflate, $status) = Compress::Raw::Zlib::Inflate->new(
        -WindowBits => -MAX_WBITS, -ConsumeInput => 1);
    my $out;

    $status = $inflate->inflate($stream, $out);

    return $status == Z_STREAM_END && $stream eq '' ? $out : undef;
}
