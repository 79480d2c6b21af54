#!/usr/bin/perl

# The reader's page in a real browser: Debian's chromium, headless, driven
# by t/browser/reader.js (playwright-core, pinned in its package-lock.json)
# against nginx serving the sample bulletins and a test bulletin made to
# be hard to lay out.  The script reports what the browser saw and did as
# JSON; this file decides.  At 360 px and 1280 px: no console error, no
# failed request, nothing wider than the screen, Chinese drawn with a CJK
# font; the counts seen grow with the loads; each share button makes
# exactly one share on its channel and the page's counts follow; the page
# reads without JavaScript; the list page links to every bulletin.  axe-core
# finds no serious or critical violation on the page and the list; the
# 微信 button shows a QR code that zbarimg decodes to the page's canonical
# URL on a desktop, and copies the link on a phone; a page that comes from
# the browser's cache (a 304, the back/forward cache) shows the server's
# counts.  Screenshots go to build/screenshots/.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Test::Bulletin qw(skip_all_unless);
use Time::HiRes qw(sleep time);


my $ROOT = "$FindBin::Bin/..";
my $BROWSER = "$FindBin::Bin/browser";
my $CHROMIUM = $ENV{BULLETIN_CHROMIUM} // '/usr/bin/chromium';
my $SHOTS = "$Test::Bulletin::BUILD/screenshots";
my $ID = 'browser-test';
my $OTHER = 'bj-sociorg-2020-01';

# a 2-core machine running other tests: be patient
my $TIMEOUT = 300;

my $TITLE = '浏览器测试:社会组织工作动态【第9期】'
            . 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
my $SOURCE = '北京市社会组织管理中心';
my $LONG = 'https://www.example.org/bulletin/' . ('a1b2c3d4' x 20);
my @CHANNELS = qw(wechat weibo qq link);
my %LABEL = (wechat => '微信', weibo => '微博', qq => 'QQ',
             link => '复制链接');

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my $node = Test::Bulletin::find_in_path('node');
my $zbarimg = Test::Bulletin::find_in_path('zbarimg');

skip_all_unless($node, 'no node (Debian\'s nodejs): run make');
skip_all_unless(-x $CHROMIUM, "no chromium at $CHROMIUM (Debian's chromium)"
                              . ': run make');
skip_all_unless(-f "$BROWSER/node_modules/playwright-core/package.json",
                'no playwright-core in t/browser/node_modules: '
                . 'run make test (npm ci in t/browser)');


#### the server: the sample bulletins and the test bulletin

$t->write_json("bulletins/$ID.json", {
    id => $ID,
    title => $TITLE,
    category => '活动简报',
    published => '2026-11-28T09:30:00+08:00',
    source => $SOURCE,
    summary => '这是浏览器测试用的简报:长标题、长链接和需要转义的文字。',
    blocks => [
        { heading => '首都社会组织参与垃圾分类助力计划启动' },
        { subheading => '——为贫困地区师生搭起一座桥' },
        { paragraph => '为推进首都社会组织在《北京市生活垃圾管理条例》'
                       . '实施过程中发挥积极作用,5月19日,近20家社会组织'
                       . '支持平台和相关环保机构共同参与的“社会组织参与'
                       . '垃圾分类助力计划”在京启动。' },
        { paragraph => "一个很长的链接不能撑破手机屏幕:$LONG" },
        { paragraph => '文字里的 <b>标记</b> & "引号" 原样显示。' },
    ],
});

my $port = $t->port;
my $BASE = "http://127.0.0.1:$port/bulletin/";
my $PAGE = "$BASE$ID";
my $SITE_NAME = '社会组织服务平台';

$t->write_json('site.json', {
    name => $SITE_NAME,
    base_url => $BASE,
    crumbs => [{ name => '首页', url => "http://127.0.0.1:$port/" },
               { name => '活动简报', url => $BASE }],
    categories => { '活动简报' => 'briefs' },
    footer => { sponsor => '主办单位：北京市社会组织管理中心',
                contact => '联系电话：010-00000000',
                icp => '京ICP备00000000号' },
});

# no test before the browser has started: it may still skip the file
my ($rc, undef, $err) = $t->build_store(
    inputs => ["$ROOT/sample", 'bulletins'],
    options => ['--site', $t->path('site.json')]);

die "the store does not build: $err" if $rc != 0;

(undef, my $list) = $t->run_builder('--list', $t->path('site.blt'));
my @IDS = sort grep { !/^_/ } map { (split /\t/)[0] } split /\n/, $list;

$t->config(http => <<'EOF', server => <<'EOF')->run;
bulletin_store site.blt;
bulletin_counters zone=bulletin:1m file=counters;
EOF
location = /bulletin/ {
    bulletin_page _index;
}
location /bulletin/ {
    bulletin_page;
}
location /bulletin/counts/ {
    bulletin_counts;
}
location ~ ^/bulletin/[^/]+/share$ {
    bulletin_share;
}
location = /bulletin_status {
    bulletin_status;
}
EOF



#### the browser

my $r = browse();

is($r->{error}, undef, 'the script ran to its end');
like($r->{browser} // '', qr/^\d+\./, "chromium $r->{browser}");
is_deeply($r->{external}, [], 'no request leaves the test server');
is_deeply($r->{popups}, [], 'no window really opened');

layouts();
wechat();
fresh();
views();
shares();
no_script();
navigation();
counted();
no_browser_left();


# Runs reader.js with its temporary files (Chromium's fresh user data
# folder among them) in the prefix; skips the file when Chromium does not
# start, fails with the script's stderr when it breaks.

sub browse {
    my $tmp = $t->path('browser-tmp');
    my $out = $t->path('reader.json');
    my $errf = $t->path('reader.stderr');

    make_path($tmp, $SHOTS);

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        $ENV{TMPDIR} = $tmp;
        chdir $BROWSER or POSIX::_exit(126);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $errf or POSIX::_exit(126);
        exec { $node } $node, 'reader.js', '--base', $BASE, '--id', $ID,
            '--other', $OTHER,
            '--status', "http://127.0.0.1:$port/bulletin_status",
            '--shots', $SHOTS, '--chromium', $CHROMIUM
            or POSIX::_exit(127);
    }

    my $deadline = time + $TIMEOUT;
    my $status;

    while (!defined $status) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $status = $? >> 8 || ($? & 127 ? 128 + ($? & 127) : 0);
            last;
        }

        if (time > $deadline) {
            kill 'TERM', $pid;
            sleep 5;
            kill 'KILL', $pid if waitpid($pid, WNOHANG) == 0;
            waitpid($pid, 0);
            fail("reader.js answers in $TIMEOUT s");
            return {};
        }

        sleep 0.2;
    }

    my $stderr = -e $errf ? $t->read_file($errf) : '';

    skip_all_unless($status != 3, "chromium does not start: $stderr");

    my $json = -e $out ? $t->read_file($out) : '';
    my $report = eval { JSON::PP->new->utf8->decode($json) };

    is($status, 0, 'reader.js exits 0') or diag $stderr;

    unless ($report) {
        fail('reader.js reports JSON') or diag "$@\n$json\n$stderr";
        return {};
    }

    return $report;
}


# What every load must be: 200, no console error or warning, no page
# error, no failed request, no HTTP error, only the server's own URLs.

sub clean_load {
    my ($l, $name) = @_;

    is($l->{status}, 200, "$name: 200");
    is_deeply([grep { $_->{type} =~ /^(error|warning)$/ }
               @{ $l->{console} // [] }], [],
              "$name: no console error");
    is_deeply($l->{errors}, [], "$name: no page error");
    is_deeply($l->{failed}, [], "$name: no failed request");
    is_deeply($l->{http_errors}, [], "$name: no HTTP error");
    is_deeply([grep { index($_->{url}, "http://127.0.0.1:$port/") != 0 }
               @{ $l->{requests} // [] }], [],
              "$name: no request elsewhere");
}


# A phone's browser zooms out to show a page wider than its screen, and
# innerWidth grows with it: the width to compare with is the screen's.

sub fits {
    my ($l, $name, $width) = @_;

    my $sw = $l->{scroll_width} // 1e9;
    my $iw = $l->{inner_width} // 1e9;

    is($l->{viewport_width}, $width, "$name: a $width px screen");
    cmp_ok($sw, '<=', $width,
           "$name: no horizontal scrolling ($sw <= $width)");
    cmp_ok($iw, '<=', $width, "$name: not zoomed out (innerWidth $iw)");
    is_deeply($l->{wider_than_viewport} // [], [],
              "$name: no element reaches past the screen");
}


sub screenshot {
    my ($file, $name) = @_;

    ok(defined $file && -s $file && do {
           open my $fh, '<:raw', $file;
           read $fh, my $magic, 8;
           $magic eq "\x89PNG\r\n\x1a\n";
       }, "$name: screenshot") or return;
    cmp_ok(-s $file, '>', 10_000, "$name: screenshot has content");
    note("screenshot: $file");
}


sub cjk_font {
    my ($fonts, $name) = @_;

    my @cjk = grep { $_->{family} =~ /CJK|Source Han|WenQuanYi|PingFang
                                      |YaHei|Hiragino/x
                     && $_->{glyphs} > 0 } @{ $fonts // [] };

    ok(@cjk, "$name: drawn with a CJK font ("
             . join(', ', map { "$_->{family}: $_->{glyphs}" }
                          @{ $fonts // [] }) . ')');
}


sub layouts {
    for my $w (qw(360 1280)) {
        my $p = $r->{layouts}{$w}{page} // {};
        my $name = "page at $w px";

        clean_load($p, $name);
        fits($p, $name, $w);
        screenshot($p->{screenshot}, $name);

        is($p->{h1}, $TITLE, "$name: the title");
        ok($p->{h1_shown}, "$name: the title is on screen");
        is($p->{title}, "$TITLE - $SITE_NAME", "$name: <title>");
        is($p->{header}, $SITE_NAME, "$name: the site's name in the header");
        is($p->{crumbs}, '您现在的位置：首页活动简报活动简报详情',
           "$name: the breadcrumb");
        is_deeply($p->{crumb_links},
                  [{ text => '首页', href => "http://127.0.0.1:$port/" },
                   { text => '活动简报', href => $BASE },
                   { text => '活动简报', href => "${BASE}_c-briefs" }],
                  "$name: the site's crumbs, the category links to its list");
        is_deeply([map { $_->{current} } @{ $p->{crumb_items} // [] }],
                  [undef, undef, undef, 'page'],
                  "$name: 详情 is the current page");
        is_deeply([grep { $_->{wraps} } @{ $p->{crumb_items} // [] }], [],
                  "$name: no breadcrumb item breaks inside");
        is($p->{published}, '2026-11-28', "$name: published");
        like($p->{meta} // '', qr/^发布时间：2026-11-28\s*来源：\Q$SOURCE\E\s*
                                   浏览\s\d+\s*分享\s\d+$/x,
             "$name: the meta line, labels with full-width colons");
        is_deeply([grep { $_->{color} eq $_->{label_color} }
                   @{ $p->{meta_values} // [] }], [],
                  "$name: the meta line's values stand apart from the labels");

        my $head = $p->{head} // {};

        is($head->{canonical}, $PAGE, "$name: the canonical URL");
        is($head->{feed}, "${BASE}feed.atom", "$name: the feed");
        like($head->{description} // '', qr/^这是浏览器测试用的简报/,
             "$name: the description");
        is_deeply($head->{og}, { 'og:type' => 'article', 'og:title' => $TITLE,
                                 'og:description' => $head->{description},
                                 'og:url' => $PAGE,
                                 'og:site_name' => $SITE_NAME },
                  "$name: Open Graph");
        is(scalar @{ $p->{adjacent} // [] }, 2, "$name: 上一篇 and 下一篇");
        like($p->{adjacent}[0]{text} // '', qr/^上一篇：/, "$name: 上一篇");
        like($p->{adjacent}[1]{text} // '', qr/^下一篇：/, "$name: 下一篇");
        like($p->{footer} // '', qr/主办单位：北京市社会组织管理中心.*
                                    联系电话：010-00000000.*京ICP备00000000号/xs,
             "$name: the footer");
        ok((grep { $_ eq 'https://beian.miit.gov.cn/' }
            @{ $p->{footer_links} // [] }), "$name: the ICP number links");
        is_deeply($p->{subheading}, { align => 'center',
                                      heading_align => 'center' },
                  "$name: the subheading centred under the heading");

        if ($w < 600) {
            is_deeply([grep { $_->{height} < 44 } @{ $p->{targets} // [] }],
                      [], "$name: every tap target at least 44 px high")
                or diag explain [grep { $_->{height} < 44 } @{ $p->{targets} }];
        }

        axe_clean($p->{axe}, $name);
        like($p->{views} // '', qr/^\d+$/, "$name: views are digits");
        ok($p->{views_shown}, "$name: views on screen");
        like($p->{shares} // '', qr/^\d+$/, "$name: shares are digits");
        ok($p->{shares_shown}, "$name: shares on screen");
        is($p->{source}, "来源：$SOURCE", "$name: the source line");
        ok($p->{body_shown}, "$name: the text on screen");
        like($p->{body_text} // '', qr/发挥积极作用,5月19日/,
             "$name: the Chinese text");
        like($p->{body_text} // '', qr/<b>标记<\/b> & "引号"/,
             "$name: markup in the text shows as text");
        like($p->{body_text} // '', qr/\Q$LONG\E/, "$name: the long link");
        is_deeply($p->{digits_outside}, [],
                  "$name: counts only in the meta line and the share bar");
        ok($p->{js_class}, "$name: the script ran");

        cjk_font($p->{fonts_h1}, "$name: the title");
        cjk_font($p->{fonts_p}, "$name: a paragraph");

        my $para = $p->{paragraph} // {};
        my $lh = ($para->{line_height} // 0) / ($para->{font_size} || 1);

        ok($lh >= 1.7 && $lh <= 1.9, "$name: line height $lh");
        cmp_ok($para->{font_size} // 0, '>=', 16, "$name: text size");

        if ($w >= 1280) {
            my $em = ($para->{width} // 0) / ($para->{font_size} || 1);
            ok($em >= 32 && $em <= 40, "$name: measure $em em");
        }

        is_deeply([map { $_->{channel} } @{ $p->{buttons} // [] }],
                  \@CHANNELS, "$name: a share button a channel");
        is_deeply([map { $_->{label} } @{ $p->{buttons} // [] }],
                  [@LABEL{@CHANNELS}], "$name: the buttons' labels");
        is_deeply([grep { !$_->{shown} || !$_->{in_share_bar}
                          || ($_->{count} // '') !~ /^\d+$/ }
                   @{ $p->{buttons} // [] }], [],
                  "$name: buttons on screen in the share bar, with counts");

        my $l = $r->{layouts}{$w}{list} // {};
        $name = "list at $w px";

        clean_load($l, $name);
        fits($l, $name, $w);
        screenshot($l->{screenshot}, $name);
        is($l->{h1}, '全部简报', "$name: its title");
        is($l->{title}, "全部简报 - $SITE_NAME", "$name: <title>");
        like($l->{pager} // '', qr/第 1 页 共 1 页/, "$name: the pager");
        is_deeply($l->{categories},
                  [{ href => "${BASE}_c-briefs", text => '活动简报' }],
                  "$name: the categories");
        like($l->{footer} // '', qr/京ICP备00000000号/, "$name: the footer");
        axe_clean($l->{axe}, $name);
        is_deeply([sort map { $_->{href} } @{ $l->{links} // [] }],
                  [map { "$BASE$_" } @IDS],
                  "$name: links to every bulletin (@IDS)");
        is_deeply([grep { ($_->{views} // '') !~ /^\d+$/ }
                   @{ $l->{links} // [] }], [],
                  "$name: each with its views");
    }
}


# A new reader's page shows the views with its own load counted: three
# loads, one more each.  A returning reader's browser revalidates its
# copy: nginx counts the view and answers 304, the browser shows the copy
# it has, and its script asks counts/ID for the counts of today.

sub views {
    my $v = $r->{views} // {};
    my @fresh = @{ $v->{fresh} // [] };

    is(scalar @fresh, 3, 'views: three loads');

    my @shown = map { $_->{shown} // 0 } @fresh;

    is($shown[2] - $shown[0], 2,
       "views: the count seen after two more loads grew by two (@shown)");
    is($shown[1] - $shown[0], 1, 'views: one more a load');
    is_deeply([map { $_->{server} } @fresh], \@shown,
              'views: the page shows the server\'s count, its load included');

    my $ret = $v->{returning} // {};
    my @seen = @{ $ret->{shown} // [] };

    is(($ret->{server_after} // 0) - ($ret->{server_before} // 0), 2,
       'views: a returning reader\'s two loads are counted');

    is(($seen[2] // 0) - ($seen[0] // 0), 2,
       "views: a returning reader sees the count grow (@seen)");
    is($seen[2], $ret->{server_after},
       'views: a returning reader sees the server\'s count');
}


# axe-core: no serious or critical violation (the others are noted).

sub axe_clean {
    my ($axe, $name) = @_;

    my @v = @{ ($axe // {})->{violations} // [] };
    my @bad = grep { ($_->{impact} // '') =~ /^(serious|critical)$/ } @v;

    ok($axe && $axe->{version}, "$name: axe-core "
                                . (($axe // {})->{version} // '(none)'));
    is_deeply(\@bad, [], "$name: axe: no serious or critical violation")
        or diag explain \@bad;
    note("$name: axe: $_->{impact} $_->{id}: @{ $_->{nodes} }") for @v;
}


# The 微信 button: a dialog with the QR code of the canonical URL on a
# desktop (zbarimg reads it from the screenshot), the link copied on a
# phone.  Neither asks the server for anything but the share.

sub wechat {
    my $OTHER_URL = "$BASE$OTHER";
    my $d = $r->{wechat}{1280} // {};
    my $name = '微信 at 1280 px';

    ok($d->{open} && $d->{modal}, "$name: a modal dialog");
    like($d->{text} // '', qr/打开微信扫一扫/, "$name: 打开微信扫一扫");
    is_deeply($d->{svg}, { role => 'img', label => '本页二维码', paths => 1 },
              "$name: an inline SVG, one path, labelled");
    is($d->{canonical}, $OTHER_URL, "$name: the page's canonical URL");
    is_deeply([map { $_->{url} } @{ $d->{requests} // [] }],
              ["$OTHER_URL/share?channel=wechat"],
              "$name: no request but the share");
    is($d->{clipboard}, '', "$name: nothing copied");
    ok($d->{closed}, "$name: Escape closes it");
    axe_clean($d->{axe}, "$name, the dialog open");
    screenshot($d->{page_screenshot}, $name);

    SKIP: {
        skip 'no zbarimg (Debian\'s zbar-tools): run make', 1 unless $zbarimg;

        # its stderr may say it has no D-Bus: only stdout is the code
        my (undef, $decoded) = $t->capture(
            [$zbarimg, '--quiet', '--raw', $d->{screenshot} // '/nonexistent']);

        $decoded =~ s/\s+\z//;
        is($decoded, $OTHER_URL, "$name: zbarimg reads $OTHER_URL");
    }

    my $m = $r->{wechat}{360} // {};

    $name = '微信 at 360 px';
    ok(!$m->{open}, "$name: no dialog");
    is($m->{clipboard}, $OTHER_URL, "$name: the link copied");
    is($m->{note}, '链接已复制，可粘贴到微信；也可用浏览器或微信自带的分享',
       "$name: the page says so, and points to the browser's own share");
}


# Fresh counts: the first load asks nothing more; a load the browser
# revalidated (a 304) and a page restored from the back/forward cache ask
# counts/ID once and show the server's counts.

sub fresh {
    my $f = $r->{fresh} // {};
    my ($first, $again, $back) = map { $_ // {} } @$f{qw(first again back)};

    is_deeply($first->{counts_requests}, [],
              'fresh counts: a fresh load asks nothing more');
    is_deeply($first->{shown}{views}, $first->{server}{views},
              'fresh counts: a fresh load shows the server\'s views');

    my $nav = $again->{nav} // {};
    my $log = $t->read_file($t->path('logs/access.log'));
    my $n304 = () = $log =~ m{"GET /bulletin/\Q$ID\E HTTP/1\.1" 304 }g;

    cmp_ok($n304, '>=', 1, "fresh counts: nginx answered 304 ($n304 in all)");
    cmp_ok($nav->{transfer_size} // 1e9, '<',
           $nav->{encoded_body_size} // 0,
           "fresh counts: the body came from the cache (transferSize "
           . ($nav->{transfer_size} // '?') . ' < encodedBodySize '
           . ($nav->{encoded_body_size} // '?') . ')');
    is(($again->{server}{views} // 0) - ($first->{server}{views} // 0), 4,
       'fresh counts: the other client\'s 3 loads and the revalidation '
       . 'counted');

    for my $case ([again => $again], [back => $back]) {
        my ($what, $c) = @$case;
        my @req = @{ $c->{counts_requests} // [] };

        is_deeply([map { [$_->{url}, $_->{status}, $_->{cache_control}] }
                   @req], [["${BASE}counts/$ID", 200, 'no-store']],
                  "fresh counts, $what: one request for counts/$ID");
        is_deeply($c->{shown}, { map { $_ => $c->{server}{$_} }
                                 qw(views shares shares_by_channel) },
                  "fresh counts, $what: the counts shown are the server's "
                  . "(views $c->{shown}{views}, shares $c->{shown}{shares})");
    }

    ok(($back->{pageshow} // [])->[-1] || ($back->{nav}{type} // '')
                                          eq 'back_forward',
       'fresh counts: back: restored (pageshow persisted: '
       . (($back->{pageshow} // [])->[-1] ? 'true' : 'false') . ')');
    cmp_ok(($back->{server}{views} // 0) - ($again->{server}{views} // 0),
           '>=', 2, 'fresh counts: back: the other client\'s 2 loads shown');
    note('fresh counts: views shown ', join(', ', map {
        "$_->[0] $_->[1]{shown}{views} (server $_->[1]{server}{views})" }
        [first => $first], [again => $again], [back => $back]));
}


sub query {
    my ($url) = @_;

    my ($q) = $url =~ /\?(.*)\z/ or return {};
    my %q;

    for (split /&/, $q) {
        my ($k, $v) = split /=/, $_, 2;
        $v //= '';
        $v =~ s/\+/ /g;
        $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        utf8::decode($v);
        $q{$k} = $v;
    }

    return \%q;
}


sub shares {
    my $s = $r->{shares} // {};
    my @clicks = @{ $s->{clicks} // [] };

    clean_load($s->{page} // {}, 'shares: the page');
    is_deeply([map { $_->{channel} } @clicks], \@CHANNELS,
              'shares: a click on each button');

    for my $c (@clicks) {
        my $ch = $c->{channel};
        my $name = "share $ch";
        my ($b, $a) = map { $_ // {} } @$c{qw(server_before server_after)};
        my %want = %{ $b->{shares_by_channel} // {} };

        $want{$ch}++;

        is($c->{post}{method}, 'POST', "$name: POST");
        is($c->{post}{url}, "$PAGE/share?channel=$ch",
           "$name: to the page's address followed by /share");
        is($c->{post}{status}, 204, "$name: 204");
        is_deeply($a->{shares_by_channel}, \%want,
                  "$name: exactly one share, on $ch (status JSON)");
        is($a->{shares}, ($b->{shares} // 0) + 1, "$name: one more in all");
        is($a->{views}, $b->{views}, "$name: no view counted");

        is($c->{page_after}{own}, ($c->{page_before}{own} // 0) + 1,
           "$name: the button's count on the page grew by one");
        is($c->{page_after}{total}, ($c->{page_before}{total} // 0) + 1,
           "$name: the page's share count grew by one");
        is($c->{page_after}{own}, $a->{shares_by_channel}{$ch},
           "$name: the page shows the server's count");
        is($c->{location}, $PAGE, "$name: the reader stays on the page");

        if ($ch eq 'weibo' || $ch eq 'qq') {
            my $site = $ch eq 'weibo'
                ? 'https://service.weibo.com/share/share.php?'
                : 'https://connect.qq.com/widget/shareqq/index.html?';
            my @o = @{ $c->{opened} // [] };

            is(scalar @o, 1, "$name: one window opened");
            is(index($o[0]{url} // '', $site), 0, "$name: $site");
            is_deeply(query($o[0]{url} // ''),
                      { url => $PAGE, title => $TITLE },
                      "$name: with the page's address and title");
            is($o[0]{target}, '_blank', "$name: in a new window");
        } else {
            is_deeply($c->{opened}, [], "$name: no window");
            is($c->{clipboard}, $PAGE, "$name: the address copied");
            is($c->{note}, $ch eq 'wechat'
                           ? '链接已复制，可粘贴到微信；也可用浏览器或微信自带的分享'
                           : '链接已复制',
               "$name: the page says so");
            cmp_ok($c->{page_after}{note_width} // 0, '>=',
                   ($c->{page_after}{share_width} // 1e9) - 1,
                   "$name: the note across the share bar");
        }
    }

    my $re = $s->{reloaded} // {};
    my $srv = $re->{server} // {};

    is($re->{total}, $srv->{shares},
       'shares: a new reader sees the server\'s total');
    is_deeply($re->{buttons}, $srv->{shares_by_channel},
              'shares: and each channel\'s count on its button');

    my $rv = $s->{revisited} // {};

    is($rv->{total}, ($rv->{server} // {})->{shares},
       'shares: the reader who shared sees them on the next load');
    is_deeply($rv->{buttons}, ($rv->{server} // {})->{shares_by_channel},
              'shares: and each channel\'s count on its button');

    screenshot($s->{screenshot}, 'shares: the page after four shares');
}


sub no_script {
    for my $w (qw(360 1280)) {
        my $p = $r->{nojs}{$w} // {};
        my $name = "without JavaScript at $w px";

        clean_load($p, $name);
        fits($p, $name, $w);
        screenshot($p->{screenshot}, $name);
        ok(!$p->{js_class}, "$name: no script ran");
        is($p->{h1}, $TITLE, "$name: the title");
        like($p->{body_text} // '', qr/发挥积极作用/, "$name: the text");
        like($p->{views} // '', qr/^\d+$/, "$name: the views");
        ok($p->{views_shown}, "$name: views on screen");
        is_deeply([map { $_->{channel} }
                   grep { $_->{shown} && ($_->{count} // '') =~ /^\d+$/ }
                   @{ $p->{buttons} // [] }], \@CHANNELS,
                  "$name: the share counts show");
    }
}


sub navigation {
    my $n = $r->{navigation} // {};

    is($n->{crumb}{url}, "${BASE}_c-briefs",
       'the breadcrumb\'s category opens its list');
    is($n->{crumb}{h1}, '活动简报', 'the category\'s list page');
    is($n->{list_link}{url}, $PAGE, 'the list\'s link opens the bulletin');
    is($n->{list_link}{h1}, $TITLE, 'the bulletin');
}


# Every load of the page by the browser was counted once, and nothing
# else was: the shares counted no views.

sub counted {
    my ($start, $end) = map { $_ // {} } @$r{qw(server_start server_end)};

    is($start->{views}, 0, 'a new zone: no views yet');
    is($end->{views} - ($start->{views} // 0),
       $r->{page_loads} + $r->{other_loads},
       "views: each of the browser's $r->{page_loads} loads and the other "
       . "client's $r->{other_loads} counted once");

    my $res = $t->http_get("/bulletin_status?id=$ID");
    my $st = eval { JSON::PP->new->utf8->decode($res->body) } // {};

    is_deeply($st->{shares_by_channel}, { map { $_ => 1 } @CHANNELS },
              'status: one share on each channel');
    is($st->{shares}, scalar @CHANNELS, 'status: four shares');
}


sub no_browser_left {
    my $tmp = $t->path('browser-tmp');
    my @left;

    for my $cmd (glob '/proc/[0-9]*/cmdline') {
        open my $fh, '<', $cmd or next;
        local $/;
        my $line = <$fh> // '';
        push @left, $cmd =~ m{/proc/(\d+)/} if index($line, $tmp) >= 0;
    }

    is_deeply(\@left, [], 'no browser process left');
}
