#!/usr/bin/perl

# The forms without an argument (issue 16): "bulletin_page;" and
# "bulletin_counts;" in a prefix location take the id from the URI after
# the location's prefix, "bulletin_share;" from the segment before
# "/share", with no regex.  The README's locations serve detail pages,
# the list pages (_index, and _index-2 when the store has it), shares and
# counts; the id is the URI as sent: empty, a slash, %-encoded, normalized
# ("//", "/./", "/../"), too long or with a dot is a 404, and so is a URI
# a "rewrite ... break" moved out of the prefix; the prefix form and the
# regex form give the same bytes and make the same counts; a form that
# cannot work where it stands fails nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP ();
use Test::More;
use Test::Bulletin;

use CountersTest qw(site status counts);


my $t = Test::Bulletin->new;
$t->skip_unless_builder;

my $ROOT = "$FindBin::Bin/..";
my ($A, $B) = @CountersTest::IDS;
my $SITE = ['Sec-Fetch-Site' => 'same-origin'];
my $BOT = ['User-Agent' => 'testbot'];

site($t, 'site.blt');

$t->config(http => <<'EOF', server => <<'EOF')->run;
bulletin_store site.blt;
bulletin_counters zone=bulletin:1m;
bulletin_count_exclude bot;
EOF
location = /bulletin/ { bulletin_page _index; }
location /bulletin/ { bulletin_page; }
location /bulletin/counts/ { bulletin_counts; }
location ~ ^/bulletin/[^/]+/share$ { bulletin_share; }

location ~ ^/regex/(?<bulletin_id>[A-Za-z0-9_][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}

location ~ ^/regex/(?<bulletin_id>[A-Za-z0-9_][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}

location /p/ { bulletin_page; }
location /s/ { bulletin_share; }

location /moved/ {
    rewrite ^/moved/(.*)$ /elsewhere/$1 break;
    bulletin_page;
}

location /if/ {
    if ($arg_x) {
        add_header X-If yes;
    }
    bulletin_page;
}

location = /status { bulletin_status; }

# nginx resolves "/bulletin/.." to "/" before it looks for a location
location / { return 404; }
EOF

pages();
list_pages();
shares();
counts_resource();
not_found();
equivalence();
config_errors();
shipped_locations();


sub pages {
    my $res = $t->http_get("/bulletin/$A");

    is($res->status, 200, 'prefix: a page');
    like($res->header('Content-Type') // '', qr{^text/html}, 'prefix: html');
    like($res->body // '', qr/<b id="views">1<\/b>/,
         'prefix: the page shows its view');

    is($t->http_get("/bulletin/$A?from=feed")->status, 200,
       'prefix: the query is not the id');
    is($t->http_get("/p/$B")->status, 200, 'prefix: another prefix');
    is($t->http_get("/if/$B?x=1")->header('X-If'), 'yes',
       'prefix: inside a location with "if"');
    is($t->http_get("/if/$B?x=1")->status, 200,
       'prefix: "if" keeps the prefix\'s id');

    $res = $t->request(method => 'HEAD', uri => "/bulletin/$A");
    is($res->status, 200, 'prefix: HEAD');

    $res = $t->request(method => 'POST', uri => "/bulletin/$A");
    is($res->status, 405, 'prefix: POST is 405');
    is($res->header('Allow'), 'GET, HEAD', 'prefix: Allow');
}


sub list_pages {
    my $list = $t->http_get('/bulletin/', headers => $BOT);
    my $same = $t->http_get('/bulletin/_index', headers => $BOT);

    is($list->status, 200, 'the list at /bulletin/');
    is($same->status, 200, 'the list at /bulletin/_index (prefix form)');
    ok(defined $list->body && $list->body eq ($same->body // ''),
       'the list: the same bytes either way');

    my $second = $t->http_get('/bulletin/_index-2');

    SKIP: {
        skip 'the store has no _index-2', 1 if $second->status == 404;
        is($second->status, 200, 'a second list page: /bulletin/_index-2');
    }
}


sub shares {
    my $before = counts(status($t), $A);

    my $res = $t->request(method => 'POST',
                          uri => "/bulletin/$A/share?channel=wechat",
                          headers => $SITE);
    is($res->status, 204, 'share: through the regex location, no argument');

    $res = $t->request(method => 'POST', uri => "/s/$A/share?channel=qq",
                       headers => $SITE);
    is($res->status, 204, 'share: in a prefix location, no argument');

    $res = $t->request(method => 'POST',
                       uri => "/regex/$A/share?channel=wechat",
                       headers => $SITE);
    is($res->status, 204, 'share: the regex form');

    my $after = counts(status($t), $A);

    is($after->{ch}{wechat}, $before->{ch}{wechat} + 2,
       'share: each form counts one');
    is($after->{ch}{qq}, $before->{ch}{qq} + 1, 'share: on its channel');

    for my $uri ('/bulletin/nope/share', '/s/share', '/s//share',
                 "/s/$A/share/", "/s/$A/shared", "/s/x/../$A/share",
                 "/s/%62j-sociorg-2020-01/share",
                 '/s/' . ('a' x 65) . '/share')
    {
        $res = $t->request(method => 'POST', uri => "$uri?channel=wechat",
                           headers => $SITE);
        is($res->status, 404, "share: $uri is 404");
    }

    is_deeply(counts(status($t), $A), $after, 'share: 404s count nothing');
}


sub counts_resource {
    my $res = $t->http_get("/bulletin/counts/$A");

    is($res->status, 200, 'counts: prefix form');

    my $doc = eval { JSON::PP->new->decode($res->body // '') } // {};
    my $st = counts(status($t), $A);

    is($doc->{id}, $A, 'counts: the id');
    is($doc->{views}, $st->{views}, 'counts: views as the status\'s');
    is_deeply($doc->{shares_by_channel}, $st->{ch}, 'counts: by channel');

    is($t->http_get('/bulletin/counts/_index')->status, 200,
       'counts: of a list page');
}


sub not_found {
    my $long = 'a' x 65;

    for my $uri ('/p/', '/bulletin/a/b', "/bulletin/$A/", '/bulletin/%41',
                 '/bulletin/%62j-sociorg-2020-01',
                 "/bulletin/x/../$A", "/bulletin/./$A",
                 "/bulletin//$A", '/bulletin/..', "/bulletin/$long",
                 '/bulletin/' . ('a' x 64), '/bulletin/a.b',
                 "/bulletin/$A.html", '/bulletin/nope', "/moved/$A",
                 '/bulletin/counts/', '/bulletin/counts/nope',
                 "/bulletin/counts/$A/x", '/bulletin/counts/%41',
                 "/bulletin/counts/$long")
    {
        is($t->http_get($uri)->status, 404, "$uri is 404");
    }

    like($t->error_log_text, qr/no bulletin id in the URI "\/elsewhere\/\Q$A\E"/,
         'a URI moved out of the prefix: logged');
}


# the same bytes, ETag and Last-Modified either way (an excluded agent
# shows the same count), and the same count made

sub equivalence {
    for my $gzip (0, 1) {
        my @h = (@$BOT, $gzip ? ('Accept-Encoding' => 'gzip') : ());
        my $one = $t->http_get("/bulletin/$B", headers => \@h);
        my $two = $t->http_get("/regex/$B", headers => \@h);

        my $what = $gzip ? 'gzip' : 'plain';

        ok(defined $one->body && length $one->body
           && $one->body eq ($two->body // ''),
           "equivalence: the same bytes ($what)");

        for my $name (qw(ETag Last-Modified Content-Length Content-Type
                         Cache-Control Vary Content-Encoding))
        {
            is($one->header($name), $two->header($name),
               "equivalence: $name ($what)");
        }
    }

    my $views = counts(status($t), $B)->{views};

    $t->http_get("/bulletin/$B");
    is(counts(status($t), $B)->{views}, $views + 1,
       'equivalence: the prefix form counts a view');

    $t->http_get("/regex/$B");
    is(counts(status($t), $B)->{views}, $views + 2,
       'equivalence: the regex form too');

    my $c1 = $t->http_get("/bulletin/counts/$B")->body;
    my $p = $t->http_get("/regex/$B", headers => $BOT)->body // '';

    like($p, qr/<b id="views">\Q${\($views + 2)}\E<\/b>/,
         'equivalence: the page shows what counts says')
        and like($c1 // '', qr/"views":\Q${\($views + 2)}\E,/,
                 'equivalence: counts');
}


sub config_errors {
    my $http = "bulletin_store site.blt;\nbulletin_counters zone=b:1m;\n";
    my $says = qr/without an id needs a prefix location ending in "\/"/;

    $t->expect_errors($says, qr/"bulletin_counts" directive is duplicate/,
                      qr/invalid number of arguments in "bulletin_page"/,
                      qr/"bulletin_counters" is not set/);

    my @cases = (
        [ 'bulletin_page in a regex location',
          'location ~ ^/b/ { bulletin_page; }', qr/"bulletin_page" directive $says/ ],
        [ 'bulletin_page in a named location',
          'location @b { bulletin_page; }', qr/"bulletin_page" directive $says/ ],
        [ 'bulletin_page in an exact location',
          'location = /b/ { bulletin_page; }', qr/"bulletin_page" directive $says/ ],
        [ 'bulletin_page in a prefix without a slash',
          'location /b { bulletin_page; }', qr/"bulletin_page" directive $says/ ],
        [ 'bulletin_counts in a regex location',
          'location ~ ^/c/ { bulletin_counts; }',
          qr/"bulletin_counts" directive $says/ ],
        [ 'two ids', 'location /b/ { bulletin_page; bulletin_counts; }',
          qr/"bulletin_counts" directive is duplicate/ ],
        [ 'two arguments', 'location /b/ { bulletin_page a b; }',
          qr/invalid number of arguments in "bulletin_page"/ ],
    );

    for my $case (@cases) {
        my ($name, $server, $re) = @$case;
        my ($status, $out) = $t->test_config(http => $http,
                                             server => $server);

        isnt($status, 0, "nginx -t: $name fails");
        like($out, $re, "nginx -t: $name: says why");
    }

    my ($status, $out) = $t->test_config(
        http => "bulletin_store site.blt;\n",
        server => "location /c/ {\n    bulletin_counts;\n}\n");

    isnt($status, 0, 'nginx -t: bulletin_counts without bulletin_counters');
    like($out, qr/but "bulletin_counts" in \S+test\.conf:\d+ needs it/,
         'nginx -t: bulletin_counts without counters: says where');

    ($status, $out) = $t->test_config(
        http => "bulletin_store site.blt;\n",
        server => "location ~ /share\$ { bulletin_share; }\n"
                  . "location ^~ /b/ { bulletin_page; }\n"
                  . "location /c/ { location /c/d/ { bulletin_page; } }\n");

    like($out, qr/"bulletin_share" in /,
         'nginx -t: bulletin_share anywhere; prefix pages with ^~ and '
         . 'nested');
    unlike($out, qr/needs a prefix/, 'nginx -t: those prefixes pass');
}


# conf/bulletin-locations.conf, as the packages ship it, with what
# conf/bulletin.conf gives http{}, and a store of the builder's pages
# when it makes them (--site: lists of 2, a sitemap and a feed)

sub shipped_locations {
    open my $fh, '<', "$ROOT/conf/bulletin-locations.conf"
        or die "conf/bulletin-locations.conf: $!";
    my $locations = do { local $/; <$fh> };

    $t->write_file('site.json',
        '{"base_url": "http://127.0.0.1/bulletin/", "page_size": 2}');

    my ($rc, $out, $err) = $t->build_store(
        inputs => [CountersTest::sample()], output => 'pages.blt',
        options => ['--site', $t->path('site.json')]);

    my $store = $rc == 0 ? 'pages.blt' : 'site.blt';

    $t->stop->config(http => <<"EOF", server => $locations)->run;
bulletin_store $store;
bulletin_counters zone=bulletin:1m;
limit_req_zone \$binary_remote_addr zone=bulletin_shares:1m rate=1r/s;
EOF

    is($t->http_get('/bulletin/')->status, 200, 'shipped: the list');

    SKIP: {
        skip 'the builder makes no second list page', 1
            unless $store eq 'pages.blt';
        is($t->http_get('/bulletin/_index-2')->status, 200,
           'shipped: the second list page');
    }

    is($t->http_get('/bulletin')->status, 301, 'shipped: /bulletin');
    is($t->http_get("/bulletin/$A")->status, 200, 'shipped: a page');
    is($t->http_get('/bulletin/_index')->status, 200,
       'shipped: _index by its id');

    my $res = $t->request(method => 'POST',
                          uri => "/bulletin/$A/share?channel=qq",
                          headers => $SITE);
    is($res->status, 204, 'shipped: a share');

    $res = $t->http_get("/bulletin/counts/$A");
    is($res->status, 200, 'shipped: counts');
    like($res->body // '', qr/^\{"id":"\Q$A\E","views":\d+,/,
         'shipped: counts\' document');

    for my $uri ('/bulletin/sitemap.xml', '/bulletin/feed.atom') {
        my $r = $t->http_get($uri);

        SKIP: {
            skip "$uri: the store has no sitemap or feed", 1
                if $r->status == 404;
            like($r->header('Content-Type') // '',
                 qr{^application/(?:atom\+)?xml}, "shipped: $uri");
        }
    }

    is($t->http_get('/bulletin_status')->status, 200,
       'shipped: the status, from 127.0.0.1');
}
