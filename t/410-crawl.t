#!/usr/bin/perl

# Every bulletin is reachable by links alone: a plain HTTP crawler starts
# at the first list page of a store of 45 bulletins in three categories
# (page_size 20: three pages of all bulletins, and each category's list),
# follows every link that stays under /bulletin/, and must reach every
# bulletin; then the 上一篇/下一篇 chain, from the newest bulletin, visits
# them all, each once, oldest last, and back again.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Bulletin;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $N = 45;
my @CATEGORIES = qw(活动简报 工作动态 通知公告);

my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my $port = $t->port;
my $BASE = "http://127.0.0.1:$port/bulletin/";

$t->write_json('site.json', {
    base_url => $BASE,
    page_size => 20,
    categories => { '活动简报' => 'briefs', '工作动态' => 'news' },
});

# published a day apart, so the order is known: crawl-01 the oldest
my @IDS = map { sprintf 'crawl-%02d', $_ } 1 .. $N;

for my $i (1 .. $N) {
    $t->write_json("bulletins/$IDS[$i - 1].json", {
        id => $IDS[$i - 1],
        title => "爬虫测试简报第 $i 期",
        category => $CATEGORIES[$i % @CATEGORIES],
        published => sprintf('2026-%02d-%02d', 1 + int(($i - 1) / 28),
                             1 + ($i - 1) % 28),
        blocks => [{ paragraph => "第 $i 期的正文。" }],
    });
}

my ($rc, undef, $err) = $t->build_store(
    inputs => ['bulletins'], options => ['--site', $t->path('site.json')]);

is($rc, 0, "$N bulletins build") or diag $err;

$t->config(http => <<'EOF', server => <<'EOF')->run;
bulletin_store site.blt;
bulletin_counters zone=bulletin:1m;
EOF
location = /bulletin/ {
    bulletin_page _index;
}
location /bulletin/ {
    bulletin_page;
}
EOF


# the links of a page, as absolute paths, the fragment dropped

sub links {
    my ($path, $html) = @_;

    my @out;
    (my $dir = $path) =~ s{[^/]*\z}{};

    while ($html =~ /<a\s[^>]*?href="([^"]*)"/g) {
        my $href = $1;

        $href =~ s/&amp;/&/g;
        $href =~ s/#.*//s;
        $href =~ s{^http://127\.0\.0\.1:$port/}{/} or $href !~ m{^[a-z]+:}i
            or next;
        $href = $dir . $href unless $href =~ m{^/};
        push @out, $href;
    }

    return @out;
}


#### the crawl: breadth first from the first list page

my %seen = ('/bulletin/' => 1);
my @queue = ('/bulletin/');
my (%pages, %lists, @bad);

while (defined(my $path = shift @queue)) {
    my $res = $t->http_get($path);
    my $html = $res->body;

    utf8::decode($html);

    if ($res->status != 200) {
        push @bad, "$path: " . $res->status;
        next;
    }

    if ($path =~ m{^/bulletin/([A-Za-z0-9][A-Za-z0-9_-]*)\z}) {
        $pages{$1} = $html;
    } else {
        $lists{$path} = $html;
    }

    for my $l (links($path, $html)) {
        next unless $l =~ m{^/bulletin/[^/]*\z} && $l !~ m{\.(xml|atom)\z};
        push @queue, $l unless $seen{$l}++;
    }
}

is_deeply(\@bad, [], 'every link under /bulletin/ answers 200');
is_deeply([sort keys %pages], [sort @IDS],
          'the crawl from the first list page reaches every bulletin ('
          . scalar(keys %pages) . " of $N)");
ok($lists{'/bulletin/_index-2'} && $lists{'/bulletin/_index-3'}
   && !$lists{'/bulletin/_index-4'},
   'the list of all bulletins: three pages of 20');
ok($lists{'/bulletin/_c-briefs'} && $lists{'/bulletin/_c-news'},
   'the categories\' lists');
like($lists{'/bulletin/_index-2'} // '', qr/第 2 页 共 3 页/,
     'page 2 says so');
note('crawled: ' . scalar(keys %pages) . ' bulletins, '
     . scalar(keys %lists) . ' lists: ' . join(' ', sort keys %lists));

my @first = $lists{'/bulletin/'} =~ /<ol class="list">(.*?)<\/ol>/s;
my @on_first = ($first[0] // '') =~ /<a href="[^"]*?([A-Za-z0-9_-]+)">/g;

is_deeply(\@on_first, [reverse @IDS[$N - 20 .. $N - 1]],
          'the first page: the newest 20, newest first');


#### 上一篇/下一篇: older by 上一篇 from the newest, newer by 下一篇 back

sub adjacent {
    my ($id, $rel) = @_;

    my $html = $pages{$id} // return;
    my ($href) = $html =~ /<a class="$rel" rel="$rel" href="([^"]*)"/
        or return;
    my ($next) = links("/bulletin/$id", qq{<a href="$href">})
        or return;

    return $next =~ m{^/bulletin/([A-Za-z0-9][A-Za-z0-9_-]*)\z} ? $1 : undef;
}

for my $walk ([prev => $IDS[-1], [reverse @IDS]], [next => $IDS[0], \@IDS]) {
    my ($rel, $id, $want) = @$walk;
    my (@chain, %been);

    while (defined $id && !$been{$id}++) {
        push @chain, $id;
        $id = adjacent($id, $rel);
    }

    is_deeply(\@chain, $want, "the $rel chain visits all " . scalar(@chain)
                              . " bulletins in order, each once");
    like($pages{ $want->[-1] } // '',
         qr/<span class="$rel">[^<]*没有了<\/span>/,
         "the $rel chain ends with 没有了");
}
