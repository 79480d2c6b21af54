#!/usr/bin/perl

# bulletin-build --site: the site file (good, and every bad key or type
# named with its file and line), paged lists and every bulletin reachable
# from _index by links alone, lists per category, 上一篇/下一篇, the
# description's fallback, canonical URLs, the sitemap (xmllint, and the
# schema in t/sitemap.xsd; 50,001 URLs split into an index) and the Atom
# feed, and what a site without an absolute base_url gets.  Pages are read
# back with t/tools/store-dump.c.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;


my $root = "$FindBin::Bin/..";
my $build = $ENV{BULLETIN_BUILD} // "$root/build";
my $builder = "$build/bulletin-build";

plan(skip_all => "no builder at $builder: run make first") unless -x $builder;
plan(skip_all => 'no cc for t/tools/store-dump.c')
    unless system('cc --version >/dev/null 2>&1') == 0;

my $tmp = tempdir('bulletin-site-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $dump = "$tmp/store-dump";
system('cc', '-O0', '-I', "$root/src", '-o', $dump,
       "$root/t/tools/store-dump.c", "$build/libbulletin.a", '-lz') == 0
    or die "cannot build store-dump\n";

my $xmllint = system('xmllint --version >/dev/null 2>&1') == 0;
my $BASE = 'https://example.org/bulletin/';


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

sub page {
    my ($store, $id) = @_;

    my $out = `$dump $store $id plain`;

    return $? == 0 ? $out : undef;
}

sub ids {
    my ($store) = @_;

    return map { (split /\t/)[0] } split /\n/, `$builder --list $store`;
}

# n bulletins, b001 the oldest; every third in 通知公告
sub bulletins {
    my ($dir, $n, %opt) = @_;

    mkdir $dir;

    for my $i (1 .. $n) {
        my $cat = $opt{categories} && $i % 3 == 0 ? '通知公告' : '活动简报';
        my $day = sprintf '2021-%02d-%02d', 1 + int(($i - 1) / 28),
                          1 + ($i - 1) % 28;
        spew(sprintf("%s/b%03d.json", $dir, $i),
             qq({"id": "b) . sprintf('%03d', $i) . qq(", "title": "简报 $i",
                 "category": "$cat", "published": "$day",
                 "blocks": [{"paragraph": "第 $i 篇的正文。"}]}\n));
    }

    return $dir;
}

my $detail = "$tmp/detail.html";
my $list = "$tmp/list.html";

spew($detail, <<'HTML');
<html><head><title>{{title}} - {{site_name}}</title>
<meta name="description" content="{{description}}">
<link rel="canonical" href="{{canonical}}"></head>
<body><ol>{{crumbs}}</ol><a id="cat" href="{{category_url}}">{{category}}</a>
<h1>{{title}}</h1>{{views}}<nav>{{prev}}{{next}}</nav>{{qr}}
<footer>{{footer}}</footer><a href="{{feed_url}}">feed</a> {{base_url}} {{id}}</body></html>
HTML

spew($list, <<'HTML');
<html><head><title>{{list_title}}</title>
<meta name="description" content="{{description}}">
<link rel="canonical" href="{{canonical}}"></head>
<body><ol>{{crumbs}}</ol><h1>{{list_title}}</h1><ol>{{list}}</ol>{{pager}}
<p>{{page}}/{{pages}} {{count}}/{{total}}</p><ul>{{categories}}</ul>
<footer>{{footer}}</footer>{{feed_url}} {{base_url}}</body></html>
HTML


#### the site file: good

my $site = "$tmp/site.json";

spew($site, <<JSON);
{"name": "测试站点", "base_url": "$BASE", "page_size": 20, "feed_size": 5,
 "crumbs": [{"name": "首页", "url": "https://example.org/"}],
 "categories": {"活动简报": "briefs"},
 "footer": {"sponsor": "主办单位：甲", "icp": "京ICP备1号"}}
JSON

my $in = bulletins("$tmp/b45", 45, categories => 1);
my $store = "$tmp/s45.blt";

my ($rc, $out, $err) = run('--site', $site, '-t', $detail,
                           '--list-template', $list, '-o', $store, $in);

is($rc, 0, '45 bulletins build') or diag($err);
is($err, '', 'quiet');
like($out, qr/: \d+ pages \(45 bulletins, \d+ list pages, the sitemap and the feed\)/,
     'the summary');

my %ids = map { $_ => 1 } ids($store);

ok($ids{$_}, "$_ is in the store")
    for qw(_index _index-2 _index-3 _c-briefs _c-briefs-2 _sitemap _feed);
ok(!$ids{'_index-4'}, '45 at 20 a page: 3 pages');


#### a crawl: every bulletin reachable from _index by links alone

my (%seen, @queue);
my %bulletins;

@queue = ('_index');

while (defined(my $id = shift @queue)) {
    next if $seen{$id}++;

    my $html = page($store, $id);

    next unless defined $html;

    $bulletins{$id} = 1 if $id =~ /^b\d+$/;

    while ($html =~ /href="([^"]*)"/g) {
        my $href = $1;

        $href = '_index' if $href eq './';
        $href =~ s/^\Q$BASE\E//;
        $href = '_index' if $href eq '';

        push @queue, $href if $href =~ /^[A-Za-z0-9_-]+$/ && !$seen{$href};
    }
}

is(scalar(keys %bulletins), 45, 'the crawl from _index reaches all 45');

my $p1 = page($store, '_index');
my $p2 = page($store, '_index-2');
my $p3 = page($store, '_index-3');

like($p1, qr{<span class="prev">上一页</span><span class="pages">第 1 页 共 3 页</span><a class="next" rel="next" href="_index-2">下一页</a>},
     'page 1: no previous, next is _index-2');
like($p2, qr{<a class="prev" rel="prev" href="\./">上一页</a>.*href="_index-3">下一页}s,
     'page 2: back to ./, on to _index-3');
like($p3, qr{<span class="next">下一页</span>}, 'page 3: no next');
like($p3, qr{<p>3/3 5/45</p>}, 'page 3: 5 of 45');
like($p1, qr{<li><a href="b045">简报 45</a>}, 'newest first');
like($p1, qr{<link rel="canonical" href="\Q$BASE\E">}, '_index canonical: the base URL');
like($p2, qr{<link rel="canonical" href="\Q${BASE}\E_index-2">}, '_index-2 canonical');
like($p1, qr{<ul><li><a href="_c-c[0-9a-f]{8}">通知公告</a> \(15\)</li><li><a href="_c-briefs">活动简报</a> \(30\)</li></ul>},
     'categories, newest first: the site file\'s slug, else c + FNV-1a');

my $c1 = page($store, '_c-briefs');

like($c1, qr{<h1>活动简报</h1>}, 'a category\'s list');
like($c1, qr{<ol><li><a href="https://example.org/">首页</a></li><li><a href="_c-briefs">活动简报</a></li></ol>},
     'a category list\'s crumbs');
unlike($c1, qr{简报 45<}, 'only its own bulletins');


#### a detail page

my $d = page($store, 'b044');

like($d, qr{<a class="prev" rel="prev" href="b043">上一篇：<span>简报 43</span></a><a class="next" rel="next" href="b045">下一篇：<span>简报 45</span></a>},
     'prev (older) and next (newer)');
like(page($store, 'b045'), qr{<span class="next">下一篇：没有了</span>}, 'the newest: no next');
like(page($store, 'b001'), qr{<span class="prev">上一篇：没有了</span>}, 'the oldest: no prev');
like($d, qr{<meta name="description" content="第 44 篇的正文。">}, 'description: the first paragraph');
like($d, qr{<link rel="canonical" href="\Q${BASE}\Eb044">}, 'canonical');
like($d, qr{<a id="cat" href="_c-briefs">}, 'category_url');
like($d, qr{<ol><li><a href="https://example.org/">首页</a></li><li><a href="_c-briefs">活动简报</a></li></ol>},
     'crumbs: the site\'s, then the category');
like($d, qr{<svg class="qr" role="img" aria-label="本页二维码" viewBox="-4 -4 \d+ \d+"[^>]*><path [^>]*d="M0 \.5h[^"]+"/></svg>},
     'qr: one path');
like($d, qr{<footer><p>主办单位：甲</p><p><a href="https://beian.miit.gov.cn/" target="_blank" rel="noopener">京ICP备1号</a></p></footer>},
     'footer: the lines set');
like($d, qr{<a href="\Q${BASE}\Efeed\.atom">feed</a> \Q$BASE\E b044}, 'feed_url, base_url, id');


#### the sitemap and the feed

my $sm = page($store, '_sitemap');
my @locs = $sm =~ m{<loc>([^<]+)</loc>}g;

is(scalar(@locs), 45 + 3 + 2 + 1, 'sitemap: 45 bulletins and 6 list pages');
like($sm, qr{^<\?xml version="1\.0" encoding="UTF-8"\?>\n<urlset xmlns="http://www\.sitemaps\.org/schemas/sitemap/0\.9">},
     'sitemap: a urlset');
like($sm, qr{<url><loc>\Q$BASE\Eb001</loc><lastmod>2021-01-01T00:00:00Z</lastmod></url>},
     'sitemap: loc and lastmod');

my $feed = page($store, '_feed');
my @entries = $feed =~ m{<entry>}g;

is(scalar(@entries), 5, 'feed: feed_size entries');

for my $el (qw(id title updated author link)) {
    like($feed, qr{<feed [^>]*>.*<$el[ >]}s, "feed: $el");
}

like($feed, qr{<link rel="self" type="application/atom\+xml" href="\Q${BASE}\Efeed\.atom"/>},
     'feed: rel=self');
like($feed, qr{<entry>\n<id>\Q${BASE}\Eb045</id>\n<title>简报 45</title>\n<updated>[^<]+</updated>.*?<link rel="alternate" type="text/html" href="\Q${BASE}\Eb045"/>.*?<summary>第 45 篇的正文。</summary>}s,
     'feed: an entry');

SKIP: {
    skip 'no xmllint (Debian libxml2-utils)', 3 unless $xmllint;

    spew("$tmp/sitemap.xml", $sm);
    spew("$tmp/feed.atom", $feed);

    is(system("xmllint --noout $tmp/sitemap.xml"), 0, 'sitemap: well-formed');
    is(system("xmllint --noout --schema $root/t/sitemap.xsd $tmp/sitemap.xml 2>/dev/null"),
       0, 'sitemap: valid against the sitemaps.org schema');
    is(system("xmllint --noout $tmp/feed.atom"), 0, 'feed: well-formed');
}


#### no absolute base_url: no canonical, QR, sitemap or feed

spew("$tmp/rel.json", qq({"base_url": "/bulletin/"}\n));

($rc, $out, $err) = run('--site', "$tmp/rel.json", '-t', $detail,
                        '-o', "$tmp/rel.blt", $in);
is($rc, 0, 'a path base_url builds');
like($err, qr{^bulletin-build: note: \Q$tmp\E/rel\.json has no absolute http\(s\) base_url: no canonical URLs, QR codes, sitemap or feed\n\z},
     'a note on stderr');
%ids = map { $_ => 1 } ids("$tmp/rel.blt");
ok(!$ids{_sitemap} && !$ids{_feed}, 'no sitemap, no feed');
$d = page("$tmp/rel.blt", 'b044');
like($d, qr{<link rel="canonical" href="">}, 'canonical empty');
unlike($d, qr{<svg}, 'no QR code');
like($d, qr{feed</a> /bulletin/ b044}, 'base_url the path');


#### the description's fallback: summary, paragraph cut, title

my $dd = "$tmp/desc";
mkdir $dd;
my $long = '字' x 130;
spew("$dd/a.json", qq({"id": "a", "title": "甲", "summary": "摘要", "published": "2021-01-01",
  "blocks": [{"paragraph": "正文"}]}));
spew("$dd/b.json", qq({"id": "b", "title": "乙", "published": "2021-01-02",
  "blocks": [{"heading": "标题"}, {"paragraph": "  $long  "}]}));
spew("$dd/c.json", qq({"id": "c", "title": "丙", "published": "2021-01-03",
  "blocks": [{"heading": "只有标题"}]}));
($rc) = run('-t', $detail, '-o', "$tmp/desc.blt", $dd);
is($rc, 0, 'descriptions build');
like(page("$tmp/desc.blt", 'a'), qr{content="摘要"}, 'description: the summary');
like(page("$tmp/desc.blt", 'b'), qr{content="${\('字' x 119)}…"}, 'description: cut to 120 characters with …');
like(page("$tmp/desc.blt", 'c'), qr{content="丙"}, 'description: the title at worst');


#### bad site files: each named with its file, line and column

my @bad = (
    [ 'not JSON', "{\"name\": }\n", qr/:1:10: / ],
    [ 'not an object', "[]\n", qr/:1:1: expected a JSON object, not an array/ ],
    [ 'unknown key', "{\n \"nom\": 1}\n", qr/:2:2: unknown key "nom"/ ],
    [ 'name type', "{\"name\": 1}\n", qr/:1:10: "name" must be a string, not a number/ ],
    [ 'empty name', "{\"name\": \"\"}\n", qr/:1:10: "name" must not be empty/ ],
    [ 'base_url scheme', "{\"base_url\": \"ftp://x/\"}\n", qr/:1:14: "base_url" must be an absolute/ ],
    [ 'base_url slash', "{\"base_url\": \"https://x/b\"}\n", qr/:1:14: "base_url" must end with "\/"/ ],
    [ 'base_url space', "{\"base_url\": \"https://x /\"}\n", qr/:1:14: "base_url": byte 0x20/ ],
    [ 'page_size type', "{\"page_size\": \"20\"}\n", qr/:1:15: "page_size" must be an integer, not a string/ ],
    [ 'page_size range', "{\"page_size\": 0}\n", qr/:1:15: "page_size" must be 1 to 1000, not 0/ ],
    [ 'feed_size range', "{\"feed_size\": 1001}\n", qr/:1:15: "feed_size" must be 1 to 1000/ ],
    [ 'crumbs type', "{\"crumbs\": {}}\n", qr/:1:12: "crumbs" must be an array/ ],
    [ 'crumb type', "{\"crumbs\": [1]}\n", qr/:1:13: crumb 1 must be an object/ ],
    [ 'crumb key', "{\"crumbs\": [{\"name\": \"a\", \"url\": \"/\", \"x\": 1}]}\n", qr/:1:39: crumb 1: unknown key "x"/ ],
    [ 'crumb missing url', "{\"crumbs\": [{\"name\": \"a\"}]}\n", qr/:1:13: crumb 1: "name" and "url" are required/ ],
    [ 'crumb javascript', "{\"crumbs\": [{\"name\": \"a\", \"url\": \"javascript:alert(1)\"}]}\n", qr/:1:34: crumb 1: "url": not a link/ ],
    [ 'categories type', "{\"categories\": []}\n", qr/:1:16: "categories" must be an object/ ],
    [ 'slug', "{\"categories\": {\"甲\": \"A B\"}}\n", qr/:1:22: category "甲": invalid slug "A B"/ ],
    [ 'slug twice', "{\"categories\": {\"甲\": \"a\", \"乙\": \"a\"}}\n", qr/:1:32: category "乙": slug "a" is also "甲"'s/ ],
    [ 'footer type', "{\"footer\": \"x\"}\n", qr/:1:12: "footer" must be an object/ ],
    [ 'footer key', "{\"footer\": {\"icp\": \"x\", \"tel\": \"1\"}}\n", qr/:1:25: "footer": unknown key "tel"/ ],
    [ 'footer value', "{\"footer\": {\"icp\": 1}}\n", qr/:1:20: "footer": "icp" must be a string/ ],
);

for my $case (@bad) {
    my ($name, $json, $want) = @$case;

    spew("$tmp/bad.json", $json);
    unlink "$tmp/bad.blt";

    ($rc, $out, $err) = run('--site', "$tmp/bad.json", '-o', "$tmp/bad.blt", $in);

    is($rc, 1, "site file, $name: fails");
    like($err, qr/^\Q$tmp\E\/bad\.json$want/m, "site file, $name: message") or diag($err);
    ok(!-e "$tmp/bad.blt", "site file, $name: nothing written");
}


#### 50,001 URLs: a sitemap index of two sitemaps

SKIP: {
    skip 'BULLETIN_QUICK: no 50,001-URL sitemap', 6 if $ENV{BULLETIN_QUICK};

    my $big = "$tmp/big";
    mkdir $big;

    # 49,990 bulletins and their lists at 1000 a page: 50 list pages
    for my $i (1 .. 49_990) {
        spew("$big/b$i.json", qq({"id":"b$i","title":"t","published":"2021-01-01","blocks":[{"paragraph":"p"}]}));
    }

    spew("$tmp/big.json", qq({"base_url": "$BASE", "page_size": 1000}));
    ($rc, $out, $err) = run('--site', "$tmp/big.json", '-o', "$tmp/big.blt", $big);
    is($rc, 0, '49,990 bulletins build') or diag($err);

    my $index = page("$tmp/big.blt", '_sitemap');
    like($index, qr{<sitemapindex xmlns="http://www\.sitemaps\.org/schemas/sitemap/0\.9">}, 'a sitemap index');
    my @maps = $index =~ m{<loc>([^<]+)</loc>}g;
    is_deeply(\@maps, ["${BASE}_sitemap-1", "${BASE}_sitemap-2"], 'of _sitemap-1 and _sitemap-2');

    my @one = page("$tmp/big.blt", '_sitemap-1') =~ m{<loc>}g;
    my @two = page("$tmp/big.blt", '_sitemap-2') =~ m{<loc>}g;
    is(scalar(@one), 50_000, '_sitemap-1: 50,000 URLs');
    is(scalar(@two), 49_990 + 50 - 50_000, '_sitemap-2: the rest');

    skip 'no xmllint', 1 unless $xmllint;
    spew("$tmp/index.xml", $index);
    is(system("xmllint --noout --schema $root/t/sitemap.xsd $tmp/index.xml 2>/dev/null"),
       0, 'the index: valid against the schema');
}

done_testing();
