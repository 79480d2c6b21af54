#!/usr/bin/perl

# bulletin_counts (issue 16): GET or HEAD of a page's counts as its
# readers see them, {"id","views","shares","shares_by_channel"} with the
# store's channels in its order, application/json, Cache-Control:
# no-store, no ETag; counting nothing; 404 for an unknown or invalid id,
# 405 with Allow: GET, HEAD; the id as a value (variables allowed) or
# from the URI; the fleet's counts added when a sidecar wrote them into
# the counters file; nginx -t fails without bulletin_counters.
#
# Record types: a store (t/tools/typed-store.c) with a sitemap and an
# Atom feed is served as application/xml and application/atom+xml, plain
# and gzip, with ETag, Last-Modified, 304, HEAD and 405 as pages have,
# and neither counts a view.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP ();
use Test::More;
use Test::Bulletin;

use CountersTest qw(site status counts shown);


my $t = Test::Bulletin->new;
$t->skip_unless_builder;

Test::Bulletin::skip_all_unless(Test::Bulletin::find_in_path('cc'),
                                'no cc to build t/tools/typed-store.c');

my $ROOT = "$FindBin::Bin/..";
my ($A, $B) = @CountersTest::IDS;
my $SITE = ['Sec-Fetch-Site' => 'same-origin'];

my $SLOT = 192;
my $SLOTS_AT = 4096;

my $SERVER = <<'EOF';
location /bulletin/ { bulletin_page; }
location /bulletin/counts/ { bulletin_counts; }
location ~ ^/bulletin/[^/]+/share$ { bulletin_share; }
location = /counts { bulletin_counts $arg_id; }
location = /status { bulletin_status; }
EOF

site($t, 'site.blt');

$t->config(http => "bulletin_store site.blt;\n"
                   . "bulletin_counters zone=bulletin:64k file=c.cnt;\n",
           server => $SERVER)->run;

shape();
after_views_and_shares();
methods_and_errors();
counts_nothing();
fleet();
needs_counters();
record_types();


sub get_counts {
    my ($uri) = @_;

    my $res = $t->http_get($uri);

    return undef unless ($res->status // 0) == 200;

    return eval { JSON::PP->new->decode($res->body) };
}


sub shape {
    my $res = $t->http_get("/bulletin/counts/$A");

    is($res->status, 200, 'counts: 200');
    is($res->header('Content-Type'), 'application/json', 'counts: JSON');
    is($res->header('Cache-Control'), 'no-store', 'counts: no-store');
    is($res->header_count('Cache-Control'), 1, 'counts: one Cache-Control');
    ok(!defined $res->header('ETag'), 'counts: no ETag');
    ok(!defined $res->header('Last-Modified'), 'counts: no Last-Modified');
    is($res->header('Content-Length'), length $res->body,
       'counts: Content-Length');

    is($res->body, qq({"id":"$A","views":0,"shares":0,"shares_by_channel":)
                   . '{"wechat":0,"weibo":0,"qq":0,"link":0}}',
       'counts: the document, the store\'s channels in its order');

    my $doc = get_counts("/counts?id=$B");

    is($doc && $doc->{id}, $B, 'counts: the id as a value');
}


sub after_views_and_shares {
    $t->http_get("/bulletin/$A") for 1 .. 3;

    for my $ch (qw(wechat wechat weibo)) {
        $t->request(method => 'POST',
                    uri => "/bulletin/$A/share?channel=$ch",
                    headers => $SITE);
    }

    my $doc = get_counts("/bulletin/counts/$A");
    my $st = counts(status($t), $A);

    is($doc->{views}, 3, 'counts: views');
    is($doc->{shares}, 3, 'counts: shares');
    is_deeply($doc->{shares_by_channel},
              { wechat => 2, weibo => 1, qq => 0, link => 0 },
              'counts: by channel');
    is($doc->{views}, $st->{views}, 'counts: views as the status\'s');
    is_deeply($doc->{shares_by_channel}, $st->{ch},
              'counts: shares as the status\'s');

    my $p = shown($t, "/bulletin/$A");

    is($p->{views}, $doc->{views}, 'counts: as the page shows them');
    is($p->{shares}, $doc->{shares}, 'counts: shares as the page');
}


sub methods_and_errors {
    my $get = $t->http_get("/bulletin/counts/$A");
    my $head = $t->request(method => 'HEAD', uri => "/bulletin/counts/$A");

    is($head->status, 200, 'HEAD: 200');
    is($head->header('Content-Length'), length $get->body,
       'HEAD: the length of the GET');
    is($head->body // '', '', 'HEAD: no body');
    is($head->header('Cache-Control'), 'no-store', 'HEAD: no-store');

    for my $method (qw(POST PUT DELETE)) {
        my $res = $t->request(method => $method,
                              uri => "/bulletin/counts/$A", body => '{}');
        is($res->status, 405, "$method: 405");
        is($res->header('Allow'), 'GET, HEAD', "$method: Allow");
    }

    for my $uri ('/bulletin/counts/nope', '/bulletin/counts/',
                 '/bulletin/counts/a.b', '/counts?id=nope', '/counts',
                 '/counts?id=' . ('a' x 65), '/counts?id=%41',
                 "/bulletin/counts/$A/")
    {
        is($t->http_get($uri)->status, 404, "$uri: 404");
    }
}


sub counts_nothing {
    my $before = counts(status($t), $A);

    $t->http_get("/bulletin/counts/$A") for 1 .. 50;
    $t->request(method => 'HEAD', uri => "/bulletin/counts/$A") for 1 .. 5;

    is_deeply(counts(status($t), $A), $before, 'counts: counts nothing');

    my $excluded = status($t)->{totals}{excluded} // 0;

    is($excluded, 0, 'counts: nor as excluded');
}


# other nodes' counts, as bulletin-sync writes them (t/610-fleet-state.t)

sub fleet {
    put_slot($B, 1000, 7, 5);

    my $doc = get_counts("/bulletin/counts/$B");
    my $p = shown($t, "/bulletin/$B");

    is($doc->{views}, 1000, 'fleet: views own + others');
    is($doc->{shares}, 12, 'fleet: shares own + others');
    is($doc->{shares_by_channel}{wechat}, 7, 'fleet: wechat');
    is($doc->{shares_by_channel}{weibo}, 5, 'fleet: weibo');
    is($p->{views}, $doc->{views}, 'fleet: as the page shows');
    is($p->{shares}, $doc->{shares}, 'fleet: shares as the page shows');
    is($p->{ch}{wechat}, 7, 'fleet: the share bar too');

    $t->http_get("/bulletin/$B");

    is(get_counts("/bulletin/counts/$B")->{views}, 1001,
       'fleet: a view on top');
}


sub needs_counters {
    my ($status, $out) = $t->test_config(
        http => "bulletin_store site.blt;\n",
        server => "location = /c {\n    bulletin_counts $A;\n}\n");

    isnt($status, 0, 'nginx -t: bulletin_counts without bulletin_counters');
    like($out, qr/"bulletin_counters" is not set, but "bulletin_counts" in /,
         'nginx -t: names bulletin_counts');

    $t->expect_errors(qr/"bulletin_counters" is not set/);
}


sub record_types {
    my $tool = $t->path('typed-store');
    my @cc = ('cc', '-std=gnu99', '-O2', '-Wall', '-Wextra',
              '-Wno-unused-parameter', '-Werror', "-I$ROOT/src", '-o', $tool,
              "$ROOT/t/tools/typed-store.c",
              "$Test::Bulletin::BUILD/libbulletin.a", '-lz');

    system(@cc) == 0 or die "can't build t/tools/typed-store.c: @cc\n";

    my %body = (
        a1 => "<!doctype html><p>views=<b id=\"views\">{{views}}</b></p>\n",
        _sitemap => qq(<?xml version="1.0" encoding="UTF-8"?>\n)
                    . qq(<urlset xmlns="http://www.sitemaps.org/schemas/)
                    . qq(sitemap/0.9"><url><loc>http://127.0.0.1/bulletin/)
                    . qq(a1</loc></url></urlset>\n),
        _feed => qq(<?xml version="1.0" encoding="utf-8"?>\n)
                 . qq(<feed xmlns="http://www.w3.org/2005/Atom">)
                 . qq(<title>简报</title></feed>\n),
    );

    my %type = (a1 => 'html', _sitemap => 'sitemap', _feed => 'atom');

    for my $id (keys %body) {
        $t->write_file("$id.body", $body{$id});
    }

    $t->stop;

    my @args = map { ($_, $type{$_}, $t->path("$_.body")) } sort keys %body;
    system($tool, $t->path('typed.blt'), @args) == 0
        or die "typed-store failed\n";

    $t->config(http => "bulletin_store typed.blt;\n"
                       . "bulletin_counters zone=typed:64k;\n",
               server => $SERVER . <<'EOF')->run;
location = /bulletin/sitemap.xml { bulletin_page _sitemap; }
location = /bulletin/feed.atom { bulletin_page _feed; }
EOF

    my %ct = (_sitemap => 'application/xml; charset=utf-8',
              _feed => 'application/atom+xml; charset=utf-8');
    my %uri = (_sitemap => '/bulletin/sitemap.xml',
               _feed => '/bulletin/feed.atom');

    (my $plain_a1 = $body{a1}) =~ s/\{\{views\}\}/1/;

    my $res = $t->http_get('/bulletin/a1');

    is($res->header('Content-Type'), 'text/html; charset=utf-8',
       'types: html stays text/html');
    is($res->body, $plain_a1, 'types: html counts its view');

    for my $id (qw(_sitemap _feed)) {
        for my $uri ($uri{$id}, "/bulletin/$id") {
            $res = $t->http_get($uri);

            is($res->status, 200, "types: $uri");
            is($res->header('Content-Type'), $ct{$id},
               "types: $uri: Content-Type");
            is($res->body, $body{$id}, "types: $uri: the bytes");
            ok(defined $res->header('ETag'), "types: $uri: ETag");
            ok(defined $res->header('Last-Modified'),
               "types: $uri: Last-Modified");
            is($res->header('Vary'), 'Accept-Encoding', "types: $uri: Vary");

            my $gz = $t->http_get($uri,
                                  headers => ['Accept-Encoding' => 'gzip']);

            is($gz->header('Content-Encoding'), 'gzip', "types: $uri: gzip");
            is($gz->gunzipped, $body{$id}, "types: $uri: gzip's bytes");

            my $nm = $t->http_get($uri, headers => [
                         'If-None-Match' => $res->header('ETag')]);
            is($nm->status, 304, "types: $uri: 304");

            my $head = $t->request(method => 'HEAD', uri => $uri);
            is($head->status, 200, "types: $uri: HEAD");
            is($head->header('Content-Length'), length $body{$id},
               "types: $uri: HEAD's length");

            my $post = $t->request(method => 'POST', uri => $uri);
            is($post->status, 405, "types: $uri: POST is 405");
        }
    }

    my $st = status($t);

    is(counts($st, '_sitemap')->{views}, 0, 'types: the sitemap counts no view');
    is(counts($st, '_feed')->{views}, 0, 'types: the feed counts no view');
    is($st->{totals}{excluded}, 0, 'types: nor an excluded one');
    is(counts($st, 'a1')->{views}, 1, 'types: the page counts its own');

    my $doc = get_counts('/bulletin/counts/_feed');
    is($doc && $doc->{views}, 0, 'types: the feed\'s counts');
}


# other nodes' counts of id in the counters file: views, and shares of
# wechat and weibo (bulletin_counters.h's slot, as t/610-fleet-state.t)

sub put_slot {
    my ($id, $views, $wechat, $weibo) = @_;

    open(my $fh, '+<:raw', $t->path('c.cnt')) or die "c.cnt: $!";

    my $at;

    for my $i (0 .. 340) {
        sysseek($fh, $SLOTS_AT + $i * $SLOT + 128, 0) or last;
        sysread($fh, my $got, 64) == 64 or last;
        $got =~ s/\0+\z//;
        if ($got eq $id) {
            $at = $SLOTS_AT + $i * $SLOT + 80;
            last;
        }
    }

    die "no slot holds $id" unless defined $at;

    sysseek($fh, $at, 0) or die;
    syswrite($fh, pack('Q<Q<L<8', $views, $wechat + $weibo, $wechat, $weibo,
                       (0) x 6)) == 48 or die "write: $!";
    close $fh;
}
