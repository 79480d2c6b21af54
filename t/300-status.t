#!/usr/bin/perl

# bulletin_status (issue 6): the JSON document field by field after
# known traffic, totals over ids that left the store, ?top, ?id and
# bulletin_status_top, bulletin_status_max (?top=all and ?top=N over
# it 400, bulletin_status_top over it refused by nginx -t), the nginx
# version hidden by server_tokens off, bad arguments, methods and
# headers, titles that try to break JSON, the Prometheus text (promtool,
# families, values equal to the JSON's), consistency under concurrent
# traffic, a list document sent in slices (much larger than one: whole
# and the same to a fast reader, a slow one and through gzip; HEAD;
# clients gone mid-way; keepalive after; a reload mid-way; over HTTP/2,
# fast, slow, gzip and HEAD), access
# control the nginx way, the largest document at the default maximum
# (long titles; sizes reported with diag), and a store of 100,000 pages
# (refused by default; then valid, sorted and complete).
# The status's times over 100,000 pages are t/530-scale.t's (make soak).

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode qw(decode);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Test::More;
use Test::Bulletin;
use Test::Bulletin::Scale;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);


my $t = Test::Bulletin->new;

$t->skip_unless_builder;

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

my $JSON = JSON::PP->new->utf8;
my @CHANNELS = qw(wechat weibo qq link);
my $PROMTOOL = Test::Bulletin::find_in_path('promtool');
my $ISO = qr/\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z\z/;

# the page, share and status locations most cases use; ids may begin
# with "_" here so that the builder's list page can be viewed

my $LOCATIONS = <<'EOF';
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9_][A-Za-z0-9_-]*)$ {
    bulletin_page $bulletin_id;
}
location ~ ^/bulletin/(?<bulletin_id>[A-Za-z0-9_][A-Za-z0-9_-]*)/share$ {
    bulletin_share $bulletin_id;
}
location = /status {
    bulletin_status;
}
EOF


$t->block_defaults(http_config => "bulletin_store sample.blt;\n"
                                . "bulletin_counters zone=bulletin:1m;\n",
                   config => "location = /status {\n"
                           . "    bulletin_status;\n}\n")->run_blocks;

fields();
file_zone();
no_zone();
top();
status_max();
tokens();
by_id();
bad_arguments();
departed_reload();
departed_restart();
hostile_titles();
channels();
prometheus();
concurrent();
sliced();
sliced_h2();
denied_address();
at_max();
big_store();


#### helpers

sub bulletin {
    my ($id, $title) = @_;

    return {
        id => $id,
        title => $title // "Bulletin $id",
        published => '2020-05-20',
        blocks => [{ paragraph => "The text of $id." }],
    };
}


# writes the bulletins into a folder of the prefix; returns its name

sub bulletins {
    my ($dir, @bulletins) = @_;

    $t->write_json("$dir/$_->{id}.json", $_) for @bulletins;

    return $dir;
}






# builds a store; returns what the builder said, and when

sub build {
    my ($output, @inputs) = @_;

    my %args = ref $inputs[-1] eq 'HASH' ? %{ pop @inputs } : ();
    my $before = time;

    my ($rc, $out, $err) = $t->build_store(inputs => [@inputs],
                                           output => $output, %args);

    my $after = time;

    is($rc, 0, "bulletin-build $output") or diag $err;

    my ($generation) = $out =~ /generation ([0-9a-f]+)/;
    my ($pages) = $out =~ /(\d+) pages/;

    return { generation => $generation // '', pages => $pages // 0,
             before => $before, after => $after };
}


sub restart {
    my (%config) = @_;

    $t->stop->config(%config)->run;
}


sub status_config {
    my ($store, $counters, $more) = @_;

    my $http = "bulletin_store $store;\n";
    $http .= "bulletin_counters $counters;\n" if defined $counters;
    $http .= "bulletin_count_exclude bot;\n";
    $http .= $more // '';

    # bulletin_share needs the counters
    my $server = $LOCATIONS;
    $server =~ s{location ~ [^\n]*/share\$ \{.*?\n\}\n}{}s
        unless defined $counters;

    return (http => $http, server => $server);
}


# GET /status?QUERY: (response, document or undef, decoding error)

sub status {
    my ($query, %args) = @_;

    my $uri = '/status' . (defined $query && length $query ? "?$query" : '');
    my $res = $t->http_get($uri, %args);
    my $doc = eval { $JSON->decode($res->body // '') };

    return ($res, $doc, $@);
}


# the document, or a failed test and an empty document

sub status_doc {
    my ($query, $name) = @_;

    my ($res, $doc, $err) = status($query);

    is($res->status, 200, "$name: 200");
    ok(defined $doc, "$name: valid JSON") or diag $err, $res->raw;

    return $doc // {};
}


sub views {
    my ($id, $n, @headers) = @_;

    my $c = $t->keepalive;
    my $ok = 0;

    for (1 .. $n) {
        my $res = $c->request(uri => "/bulletin/$id", headers => [@headers]);
        $ok++ if ($res->status // 0) == 200;
    }

    $c->close;

    is($ok, $n, "$n views of $id served");
}


sub shares {
    my ($id, $channel, $n) = @_;

    my $c = $t->keepalive;
    my $ok = 0;

    for (1 .. $n) {
        my $res = $c->request(method => 'POST',
                              uri => "/bulletin/$id/share?channel=$channel");
        $ok++ if ($res->status // 0) == 204;
    }

    $c->close;

    is($ok, $n, "$n shares of $id on $channel");
}


sub epoch {
    my ($iso) = @_;

    my @f = ($iso // '') =~ $ISO or return undef;

    return timegm($f[5], $f[4], $f[3], $f[2], $f[1] - 1, $f[0]);
}


sub between {
    my ($iso, $from, $to, $name) = @_;

    like($iso // '', $ISO, "$name: ISO 8601 UTC");

    my $e = epoch($iso) // -1;

    ok($e >= int($from) && $e <= int($to) + 1,
       "$name: $iso is between " . int($from) . ' and ' . int($to))
        or diag "epoch $e";
}


# the ids of a store in the prefix, as bulletin-build --list shows them:
# the bulletins and the builder's own pages (_index, _index-2, ...)

sub store_ids {
    my ($store) = @_;

    my ($rc, $out, $err) = $t->run_builder('--list', $t->path($store));

    die "bulletin-build --list $store: $err" if $rc;

    return map { (split /\t/)[0] } split /\n/, $out;
}


# pages ordered as the contract says: views descending, then id

sub sorted_ids {
    my ($expect) = @_;

    return sort { $expect->{$b}{views} <=> $expect->{$a}{views} || $a cmp $b }
           keys %$expect;
}


sub page_expect {
    my ($views, %shares) = @_;

    my %by = map { $_ => $shares{$_} // 0 } @CHANNELS;
    my $sum = 0;

    $sum += $_ for values %by;

    return { views => $views, shares => $sum, shares_by_channel => \%by };
}


# the page object as the status shows it, without extra keys

sub page_of {
    my ($p) = @_;

    return { map { $_ => $p->{$_} } qw(views shares shares_by_channel) };
}


# well-formed UTF-8 (RFC 3629: no surrogates, nothing past U+10FFFF;
# noncharacters are allowed), which Encode's strict UTF-8 is not

sub utf8_ok {
    my ($bytes) = @_;

    my $chars = $bytes;

    return 0 unless utf8::decode($chars);
    return $chars !~ /[\x{D800}-\x{DFFF}]|[^\x{0}-\x{10FFFF}]/;
}


sub nginx_version {
    my ($rc, $out) = $t->capture([$Test::Bulletin::NGINX, '-v'], 1);

    return $out =~ m{nginx/(\S+)} ? $1 : 'unknown';
}




#### Prometheus

# (families, problems): families{name} = {help, type, kind, samples
# {canonical labels => value}, first, last}

sub prom_parse {
    my ($text) = @_;

    my (%f, @bad);
    my $n = 0;

    for my $line (split /\n/, $text) {
        $n++;

        if ($line =~ /\A# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            $f{$1}{help}++;

        } elsif ($line =~ /\A# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)\z/) {
            $f{$1}{type}++;
            $f{$1}{kind} = $2;

        } elsif ($line =~ /\A([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)\z/)
        {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
            my $key = join ',', map { "$_=$l{$_}" } sort keys %l;

            push @bad, "line $n: $name\{$key} twice"
                if exists $f{$name}{samples}{$key};
            push @bad, "line $n: $name is not contiguous"
                if defined $f{$name}{last} && $f{$name}{last} != $n - 1
                   && $f{$name}{samples_seen};

            $f{$name}{samples}{$key} = $value;
            $f{$name}{first} //= $n;
            $f{$name}{last} = $n;
            $f{$name}{samples_seen} = 1;

        } else {
            push @bad, "line $n: not a sample: $line";
        }
    }

    for my $name (sort keys %f) {
        push @bad, "$name: HELP " . ($f{$name}{help} // 0) . " times"
            unless ($f{$name}{help} // 0) == 1;
        push @bad, "$name: TYPE " . ($f{$name}{type} // 0) . " times"
            unless ($f{$name}{type} // 0) == 1;
    }

    return (\%f, \@bad);
}


sub prom_value {
    my ($f, $name, %labels) = @_;

    my $key = join ',', map { "$_=$labels{$_}" } sort keys %labels;

    return $f->{$name}{samples}{$key};
}


sub promtool {
    my ($text, $name) = @_;

    SKIP: {
        skip 'no promtool (Debian package prometheus, installed by make)', 1
            unless $PROMTOOL;

        my $file = $t->write_file('promtool.txt', $text);
        my $out = `$PROMTOOL check metrics < '$file' 2>&1`;

        is($? >> 8, 0, "promtool check metrics: $name") or diag $out;
    }
}


# the Prometheus text of a query: (families, response), after the
# checks every scrape must pass

sub scrape {
    my ($query, $name) = @_;

    my $res = $t->http_get("/status?format=prometheus"
                           . (length $query ? "&$query" : ''));

    is($res->status, 200, "$name: 200");
    is(scalar $res->header('Content-Type'),
       'text/plain; version=0.0.4; charset=utf-8', "$name: Content-Type");

    my $text = $res->body // '';

    ok(utf8_ok($text), "$name: valid UTF-8");
    like($text, qr/\n\z/, "$name: ends with a newline");

    my ($f, $bad) = prom_parse($text);

    ok(!@$bad, "$name: HELP and TYPE once per family, samples contiguous")
        or diag join "\n", @$bad;

    promtool($text, $name);

    return ($f, $res);
}


# every value of the Prometheus text equals the JSON's

sub prom_matches_json {
    my ($f, $doc, $name) = @_;

    my @bad;
    my $check = sub {
        my ($what, $got, $want) = @_;
        push @bad, "$what: " . ($got // 'absent') . ", JSON $want"
            unless defined $got && $got eq $want;
    };

    $check->('store_info', prom_value($f, 'bulletin_store_info',
                                      generation => $doc->{store}{generation}),
             1);
    $check->('store_pages', prom_value($f, 'bulletin_store_pages'),
             $doc->{store}{pages});

    if ($doc->{zone}) {
        $check->('views_total', prom_value($f, 'bulletin_views_total'),
                 $doc->{totals}{views});
        $check->('excluded_total', prom_value($f, 'bulletin_excluded_total'),
                 $doc->{totals}{excluded});
        $check->('slots_used', prom_value($f, 'bulletin_zone_slots_used'),
                 $doc->{zone}{slots_used});
        $check->('slots_total', prom_value($f, 'bulletin_zone_slots_total'),
                 $doc->{zone}{slots_total});
        $check->('since',
                 prom_value($f, 'bulletin_counters_start_time_seconds'),
                 epoch($doc->{zone}{since}));

        for my $ch (sort keys %{ $doc->{totals}{shares_by_channel} }) {
            $check->("shares_total $ch",
                     prom_value($f, 'bulletin_shares_total', channel => $ch),
                     $doc->{totals}{shares_by_channel}{$ch});
        }

        for my $p (@{ $doc->{pages} }) {
            $check->("page $p->{id} views",
                     prom_value($f, 'bulletin_page_views_total',
                                id => $p->{id}),
                     $p->{views});

            for my $ch (sort keys %{ $p->{shares_by_channel} }) {
                $check->("page $p->{id} $ch",
                         prom_value($f, 'bulletin_page_shares_total',
                                    id => $p->{id}, channel => $ch),
                         $p->{shares_by_channel}{$ch});
            }
        }

        my $listed = keys %{ $f->{bulletin_page_views_total}{samples} // {} };

        $check->('page series', $listed, scalar @{ $doc->{pages} });
    }

    ok(!@bad, "$name: values equal the JSON's") or diag join "\n", @bad;
}


#### field by field

# The store: the sample, and pages whose ids sort around "_index" (byte
# order: digits, upper case, "_", lower case) so that ties show the
# order; traffic: views and shares per page and channel, plus requests
# that count nothing (HEAD, an excluded agent, an unknown channel).

sub traffic_store {
    bulletins('src-fields', map { bulletin($_) }
              qw(0-digit A-upper tie-a tie-b));

    return build('fields.blt', "$FindBin::Bin/../sample", 'src-fields');
}


sub traffic {
    my %expect = map { $_ => page_expect(0) }
        qw(_index 0-digit A-upper tie-a tie-b bj-sociorg-2020-01
           bj-sociorg-2020-01-03 bj-sociorg-2020-02 bj-sociorg-2020-03);

    views($_, 3) for qw(tie-b tie-a _index A-upper 0-digit);
    views('bj-sociorg-2020-02', 5);
    views('bj-sociorg-2020-01', 1);

    $expect{$_} = page_expect(3) for qw(tie-b tie-a _index A-upper 0-digit);

    shares('bj-sociorg-2020-02', 'wechat', 2);
    shares('bj-sociorg-2020-02', 'qq', 1);
    shares('bj-sociorg-2020-01', 'link', 4);
    shares('tie-a', 'weibo', 1);

    $expect{'bj-sociorg-2020-02'} = page_expect(5, wechat => 2, qq => 1);
    $expect{'bj-sociorg-2020-01'} = page_expect(1, link => 4);
    $expect{'tie-a'} = page_expect(3, weibo => 1);

    # counted apart or not at all
    views('bj-sociorg-2020-03', 2, 'User-Agent' => 'Googlebot/2.1');

    my $res = $t->request(method => 'HEAD', uri => '/bulletin/tie-b');
    is($res->status, 200, 'a HEAD of a page, not a view');

    $res = $t->request(method => 'POST',
                       uri => '/bulletin/tie-b/share?channel=fax');
    is($res->status, 400, 'a share of an unknown channel, not counted');

    return \%expect;
}


sub fields {
    my $built = traffic_store();
    my $start = time;

    restart(status_config('fields.blt', 'zone=bulletin:1m'));

    my $started = time;
    my $expect = traffic();

    my ($res, $doc, $err) = status('', headers => [
        'User-Agent' => 'agent-7f3a9', Cookie => 'session=cookie-7f3a9',
        'X-Forwarded-For' => '192.0.2.79',
    ]);

    is($res->status, 200, 'status: 200');
    ok(defined $doc, 'status: valid JSON') or diag $err, $res->raw;
    $doc //= {};

    is(scalar $res->header('Content-Type'), 'application/json',
       'status: Content-Type');
    is(scalar $res->header('Cache-Control'), 'no-store',
       'status: Cache-Control');
    is($res->header_count('Cache-Control'), 1, 'status: one Cache-Control');
    is(scalar $res->header('Content-Length'), length $res->body,
       'status: Content-Length');
    unlike($res->body, qr/7f3a9|192\.0\.2\.79/,
           'status: nothing of the request it answers');

    is($doc->{module}, Test::Bulletin::version(), 'module');
    is($doc->{nginx}, nginx_version(), 'nginx: the running version');

    my $s = $doc->{store} // {};

    is($s->{path}, $t->path('fields.blt'), 'store.path: absolute');
    is($s->{generation}, $built->{generation},
       'store.generation: what bulletin-build printed');
    between($s->{built_at}, $built->{before}, $built->{after},
            'store.built_at');
    between($s->{loaded_at}, $start, $started, 'store.loaded_at');
    is($s->{pages}, 9, 'store.pages: 8 bulletins and the list');
    is($s->{pages}, $built->{pages}, 'store.pages: as bulletin-build said');
    is($s->{bytes}, -s $t->path('fields.blt'), 'store.bytes: the file size');
    is_deeply($s->{channels}, \@CHANNELS, 'store.channels: the default');

    my $z = $doc->{zone} // {};

    is($z->{name}, 'bulletin', 'zone.name');
    is($z->{size}, 1048576, 'zone.size: the configured 1m, in bytes');
    ok(exists $z->{file} && !defined $z->{file},
       'zone.file: null without file=');
    between($z->{since}, $start, $started, 'zone.since: a new zone');
    is($z->{slots_used}, 9, 'zone.slots_used: one per page');
    ok(($z->{slots_total} // 0) >= 9
       && ($z->{slots_total} // 0) * 48 <= 1048576,
       "zone.slots_total: $z->{slots_total}, fits the size");

    my %total = (views => 0, shares => 0);
    my %by = map { $_ => 0 } @CHANNELS;

    for my $p (values %$expect) {
        $total{views} += $p->{views};
        $total{shares} += $p->{shares};
        $by{$_} += $p->{shares_by_channel}{$_} for @CHANNELS;
    }

    is_deeply($doc->{totals}, { %total, excluded => 2,
                                shares_by_channel => \%by },
              'totals: views, shares, excluded, shares by channel');

    my @pages = @{ $doc->{pages} // [] };

    is_deeply([map { $_->{id} } @pages], [sorted_ids($expect)],
              'pages: by views descending, then id (byte order)');
    is_deeply({ map { $_->{id} => page_of($_) } @pages }, $expect,
              'pages: views, shares and shares by channel of each');

    my %titles = map { (split /\t/)[0, 2] }
                 split /\n/, decode('UTF-8', ($t->run_builder(
                     '--list', $t->path('fields.blt')))[1]);

    is_deeply({ map { $_->{id} => $_->{title} } @pages }, \%titles,
              'pages: titles, as in the store');
    is($titles{'bj-sociorg-2020-02'}, "北京市社会组织工作动态【第2期】",
       'pages: a Chinese title');

    my @keys = grep { !exists $doc->{$_} }
               qw(module nginx store zone totals pages);

    ok(!@keys, 'the contract\'s keys') or diag "missing: @keys";

    # HEAD: the headers of the GET, no body

    my $head = $t->request(method => 'HEAD', uri => '/status');

    is($head->status, 200, 'HEAD: 200');
    is($head->body, '', 'HEAD: no body');
    is(scalar $head->header('Content-Length'),
       scalar $res->header('Content-Length'),
       'HEAD: the GET\'s Content-Length');
    is(scalar $head->header('Content-Type'), 'application/json',
       'HEAD: Content-Type');
    is(scalar $head->header('Cache-Control'), 'no-store',
       'HEAD: Cache-Control');

    # a status request is no view: the counts are unchanged

    my $again = status_doc('', 'status again');

    is_deeply($again->{totals}, $doc->{totals}, 'status counts nothing');

    # methods

    for my $method (qw(POST PUT DELETE OPTIONS)) {
        my $r = $t->request(method => $method, uri => '/status',
                            body => 'x=1');

        is($r->status, 405, "$method: 405");
        is(scalar $r->header('Allow'), 'GET, HEAD', "$method: Allow");
    }

    # ?format=json is the default

    my $explicit = status_doc('format=json', '?format=json');

    is_deeply($explicit->{pages}, $doc->{pages}, '?format=json: the same');
}


# file=: zone.file is its absolute path, zone.since survives restarts

sub file_zone {
    my $start = time;

    restart(status_config('fields.blt', 'zone=durable:1m file=counters'));

    my $started = time;

    views('tie-a', 2);

    my $doc = status_doc('', 'file zone');
    my $z = $doc->{zone} // {};

    is($z->{name}, 'durable', 'file zone: name');
    is($z->{file}, $t->path('counters'), 'file zone: file, absolute');
    is($z->{size}, 1048576, 'file zone: size');
    between($z->{since}, $start, $started, 'file zone: since');
    is($doc->{totals}{views}, 2, 'file zone: its own counts');

    sleep 1.1;
    restart(status_config('fields.blt', 'zone=durable:1m file=counters'));

    my $after = status_doc('', 'file zone, restarted');

    is($after->{zone}{since}, $z->{since}, 'file zone: since kept');
    is($after->{totals}{views}, 2, 'file zone: counts kept');
    isnt($after->{store}{loaded_at}, undef, 'file zone: loaded_at');
    ok(epoch($after->{store}{loaded_at}) > epoch($z->{since}),
       'file zone: loaded_at is the new load');
}


# without bulletin_counters: zone null, counts zero, still well formed

sub no_zone {
    restart(status_config('fields.blt'));

    my $res = $t->http_get('/bulletin/tie-a');

    is($res->status, 200, 'no zone: pages served');

    my $doc = status_doc('', 'no zone');

    ok(exists $doc->{zone} && !defined $doc->{zone}, 'no zone: zone null');
    is($doc->{totals}{views}, 0, 'no zone: totals.views 0');
    is($doc->{totals}{shares}, 0, 'no zone: totals.shares 0');
    is($doc->{totals}{excluded}, 0, 'no zone: totals.excluded 0');
    is(scalar @{ $doc->{pages} // [] }, 9, 'no zone: every page listed');
    ok(!grep({ $_->{views} || $_->{shares} } @{ $doc->{pages} // [] }),
       'no zone: pages count nothing');
    is_deeply([map { $_->{id} } @{ $doc->{pages} // [] }],
              [sort map { $_->{id} } @{ $doc->{pages} // [] }],
              'no zone: pages by id');

    is_deeply($doc->{totals}{shares_by_channel},
              { map { $_ => 0 } @CHANNELS },
              'no zone: totals.shares_by_channel lists the channels');

    my ($f) = scrape('', 'no zone, Prometheus');

    is(prom_value($f, 'bulletin_store_info',
                  generation => $doc->{store}{generation}), 1,
       'no zone, Prometheus: store_info');
    is(prom_value($f, 'bulletin_store_pages'), 9,
       'no zone, Prometheus: store_pages');
    prom_matches_json($f, $doc, 'no zone, Prometheus');
}


#### ?top and bulletin_status_top

# 115 bulletins and their 6 list pages (_index, _index-2 ... _index-6
# at 20 a page): 121 pages.  Bulletin NNN gets NNN % 7 views, the list
# pages none, so the order is deterministic and full of ties

sub top {
    my @b = map { bulletin(sprintf 'p%03d', $_) } 0 .. 114;

    bulletins('src-top', @b);
    build('top.blt', 'src-top');

    my @ids = store_ids('top.blt');

    is(scalar @ids, 121, 'top.blt: 121 pages');
    is_deeply([grep { /\A_/ } @ids], ['_index', map { "_index-$_" } 2 .. 6],
              'top.blt: 6 list pages');

    my $conf = <<'EOF';
location = /status2 {
    bulletin_status;
    bulletin_status_top 2;
}
EOF

    $t->stop->config(http => "bulletin_store top.blt;\n"
                           . "bulletin_counters zone=bulletin:1m;\n",
                     server => $LOCATIONS . $conf)->run;

    my %expect = map { $_ => page_expect(0) } @ids;

    my $c = $t->keepalive;

    for my $i (0 .. 114) {
        my $id = sprintf 'p%03d', $i;

        for (1 .. $i % 7) {
            $c->request(uri => "/bulletin/$id");
        }

        $expect{$id} = page_expect($i % 7);
    }

    $c->close;

    my @order = sorted_ids(\%expect);

    my $all = status_doc('top=all', '?top=all');

    is(scalar @{ $all->{pages} // [] }, 121, '?top=all: every page');
    is_deeply([map { $_->{id} } @{ $all->{pages} // [] }], \@order,
              '?top=all: in order');
    is_deeply({ map { $_->{id} => page_of($_) } @{ $all->{pages} // [] } },
              \%expect, '?top=all: counts');

    my $default = status_doc('', 'default');

    is_deeply([map { $_->{id} } @{ $default->{pages} // [] }],
              [@order[0 .. 99]], 'default: the first 100');

    for my $n (0, 1, 5, 99, 100, 101, 121, 122, 10000) {
        my $doc = status_doc("top=$n", "?top=$n");
        my $want = $n < 121 ? $n : 121;

        is_deeply([map { $_->{id} } @{ $doc->{pages} // [] }],
                  [@order[0 .. $want - 1]], "?top=$n: the first $want");
        is_deeply($doc->{totals}, $all->{totals},
                  "?top=$n: totals cover every page");
    }

    my $zero = status_doc('top=0', '?top=0');

    is_deeply($zero->{pages}, [], '?top=0: pages is an empty array');

    my $padded = status_doc('top=007', '?top=007');

    is(scalar @{ $padded->{pages} // [] }, 7, '?top=007: 7');

    # bulletin_status_top 2 in the location, and ?top= over it

    my $res = $t->http_get('/status2');
    my $doc = eval { $JSON->decode($res->body) } // {};

    is_deeply([map { $_->{id} } @{ $doc->{pages} // [] }], [@order[0, 1]],
              'bulletin_status_top 2: the first 2');

    $doc = eval { $JSON->decode($t->http_get('/status2?top=3')->body) } // {};
    is(scalar @{ $doc->{pages} // [] }, 3, 'bulletin_status_top 2, ?top=3');

    $doc = eval { $JSON->decode($t->http_get('/status2?top=all')->body) }
           // {};
    is(scalar @{ $doc->{pages} // [] }, 121,
       'bulletin_status_top 2, ?top=all');

    # in http{}, inherited; 0 lists nothing

    $t->stop->config(http => "bulletin_store top.blt;\n"
                           . "bulletin_counters zone=bulletin:1m;\n"
                           . "bulletin_status_top 0;\n",
                     server => $LOCATIONS . $conf)->run;

    my $inherited = status_doc('', 'bulletin_status_top 0 in http');

    is_deeply($inherited->{pages}, [], 'bulletin_status_top 0: no pages');

    $doc = eval { $JSON->decode($t->http_get('/status2')->body) } // {};
    is(scalar @{ $doc->{pages} // [] }, 2,
       'bulletin_status_top: the location\'s wins');

    my ($rc, $out) = $t->test_config(
        http => "bulletin_store top.blt;\nbulletin_status_top -1;\n");

    isnt($rc, 0, 'bulletin_status_top -1: nginx -t fails');
    $t->expect_errors(qr/bulletin_status_top/);
}


#### bulletin_status_max

# top.blt has 121 pages: a maximum of 120 refuses ?top=all and ?top=121,
# 121 lets them through; the default is 10000

sub status_max {
    my $conf = <<'EOF';
location = /status120 {
    bulletin_status;
    bulletin_status_max 120;
}
location = /status121 {
    bulletin_status;
    bulletin_status_max 121;
}
location = /status50 {
    bulletin_status;
    bulletin_status_max 50;
}
EOF

    $t->stop->config(http => "bulletin_store top.blt;\n"
                           . "bulletin_counters zone=bulletin:1m;\n",
                     server => $LOCATIONS . $conf)->run;

    my $too_many = sub {
        my ($uri, $what) = @_;
        my $res = $t->http_get($uri);
        my $body = $res->body // '';

        is($res->status, 400, "$what: 400");
        like($body, qr/\A[^\n]*bulletin_status_max[^\n]*\n\z/,
             "$what: one line naming bulletin_status_max") or diag $body;
        like(scalar $res->header('Content-Type') // '',
             $uri =~ /prometheus/ ? qr{\Atext/plain}
                                  : qr{\Aapplication/json\z},
             "$what: the format's type");

        return $body;
    };

    my $body = $too_many->('/status120?top=all',
                           'bulletin_status_max 120, ?top=all of 121');

    like($body, qr/\b121 pages\b.*\b120\b/,
         'bulletin_status_max 120, ?top=all: says how many, and the max');
    $too_many->('/status120?format=prometheus&top=all',
                'bulletin_status_max 120, Prometheus ?top=all');
    $too_many->('/status120?top=121', 'bulletin_status_max 120, ?top=121');
    $too_many->('/status?top=10001', 'the default maximum, ?top=10001');
    $too_many->('/status?top=999999999',
                'the default maximum, ?top=999999999');

    my $res = $t->request(method => 'HEAD', uri => '/status120?top=all');

    is($res->status, 400, 'bulletin_status_max 120, HEAD ?top=all: 400');
    is($res->body, '', 'bulletin_status_max 120, HEAD ?top=all: no body');

    my $doc = status_doc('top=all', 'the default maximum, ?top=all of 121');

    is(scalar @{ $doc->{pages} // [] }, 121,
       'the default maximum, ?top=all: every page');

    for my $case (['/status121?top=all', 121], ['/status120?top=120', 120],
                  ['/status120?top=7', 7], ['/status120', 100],
                  ['/status50', 50], ['/status?top=10000', 121],
                  ['/status120?id=p001&top=all', undef])
    {
        my ($uri, $n) = @$case;
        my $res = $t->http_get($uri);
        my $doc = eval { $JSON->decode($res->body // '') } // {};

        is($res->status, 200, "$uri: 200");
        is(scalar @{ $doc->{pages} // [] }, $n, "$uri: $n pages")
            if defined $n;
    }

    # nginx -t: a default top over the maximum, an inherited one, bounds

    my @refused = (
        ['bulletin_status_top 10001', "bulletin_status_top 10001;\n", ''],
        ['bulletin_status_top 51, bulletin_status_max 50',
         "bulletin_status_max 50;\nbulletin_status_top 51;\n", ''],
        ['bulletin_status_top 500 in http, max 200 in a location',
         "bulletin_status_top 500;\n",
         "location = /s {\n    bulletin_status;\n"
         . "    bulletin_status_max 200;\n}\n"],
    );

    my $more = qr/"bulletin_status_top \d+" is more than /;

    for my $case (@refused) {
        my ($what, $http, $server) = @$case;
        my ($rc, $out) = $t->test_config(
            http => "bulletin_store top.blt;\n$http", server => $server);

        isnt($rc, 0, "$what: nginx -t fails");
        like($out, qr/$more"bulletin_status_max \d+"/, "$what: says so")
            or diag $out;
    }

    my ($rc, $out) = $t->test_config(
        http => "bulletin_store top.blt;\nbulletin_status_max 1000000000;\n");

    isnt($rc, 0, 'bulletin_status_max 1000000000: nginx -t fails');
    like($out, qr/"bulletin_status_max" directive must be a number of (?#
                 )pages from 0 to 999999999 in \S+test\.conf:\d+/,
         'bulletin_status_max 1000000000: names the directive, the file');

    ($rc, $out) = $t->test_config(
        http => "bulletin_store top.blt;\nbulletin_status_max 20;\n"
              . "bulletin_status_top 20;\n");

    is($rc, 0, 'bulletin_status_top 20, bulletin_status_max 20: nginx -t')
        or diag $out;

    $t->expect_errors(qr/bulletin_status_max|bulletin_status_top/);
}


#### server_tokens

sub tokens {
    for my $tokens (qw(off on build)) {
        restart(status_config('fields.blt', 'zone=bulletin:1m',
                              "server_tokens $tokens;\n"));

        my ($res, $doc, $err) = status('');
        my $prom = $t->http_get('/status?format=prometheus')->body // '';

        if ($tokens eq 'off') {
            ok($doc && exists $doc->{nginx} && !defined $doc->{nginx},
               'server_tokens off: "nginx":null');
            unlike($res->body // '', qr/\Q${\ nginx_version()}\E/,
                   'server_tokens off: no version in the JSON');
            unlike($prom, qr/\Q${\ nginx_version()}\E/,
                   'server_tokens off: no version in the Prometheus text');
            is(scalar $res->header('Server'), 'nginx',
               'server_tokens off: as the Server header');

        } else {
            is($doc->{nginx}, nginx_version(),
               "server_tokens $tokens: the version");
        }
    }
}


#### ?id

sub by_id {
    restart(status_config('fields.blt', 'zone=bulletin:1m'));

    my $expect = traffic();
    my $all = status_doc('top=all', 'by id: ?top=all');
    my %listed = map { $_->{id} => $_ } @{ $all->{pages} // [] };

    for my $id (qw(bj-sociorg-2020-02 tie-a _index bj-sociorg-2020-03)) {
        my ($res, $doc, $err) = status("id=$id");

        is($res->status, 200, "?id=$id: 200");
        is(scalar $res->header('Content-Type'), 'application/json',
           "?id=$id: Content-Type");
        is(scalar $res->header('Cache-Control'), 'no-store',
           "?id=$id: Cache-Control");
        is_deeply($doc, $listed{$id}, "?id=$id: the page's object")
            or diag $err, $res->body;
        is_deeply(page_of($doc // {}), $expect->{$id}, "?id=$id: counts");
    }

    for my $id (qw(nope bj-sociorg-2020-99 Tie-a), 'a' x 65, '-x') {
        my $res = $t->http_get("/status?id=$id");
        my $what = '?id=' . substr($id, 0, 10);

        is($res->status, 404, "$what: 404");
        is(scalar $res->header('Content-Type'), 'application/json',
           "$what: a JSON document");
        is($res->body, qq({"error":"no such page"}\n), "$what: the error");
    }

    my $res = $t->request(method => 'HEAD', uri => '/status?id=tie-a');

    is($res->status, 200, 'HEAD ?id: 200');
    is($res->body, '', 'HEAD ?id: no body');

    my ($f) = scrape('id=bj-sociorg-2020-02', '?id, Prometheus');

    is(prom_value($f, 'bulletin_page_views_total',
                  id => 'bj-sociorg-2020-02'), 5, '?id, Prometheus: views');
    is(prom_value($f, 'bulletin_page_shares_total',
                  id => 'bj-sociorg-2020-02', channel => 'wechat'), 2,
       '?id, Prometheus: shares');
    is(scalar keys %{ $f->{bulletin_page_views_total}{samples} // {} }, 1,
       '?id, Prometheus: that page only');

    $res = $t->http_get('/status?format=prometheus&id=nope');
    is($res->status, 404, '?id unknown, Prometheus: 404');
    is($res->body, "no such page\n", '?id unknown, Prometheus: one line');
}


#### bad arguments

sub bad_arguments {
    my @bad = ('top=-1', 'top=abc', 'top=', 'top', 'top=1x', 'top=+1',
               'top=1000000000', 'top=ALL', 'format=xml', 'format=',
               'format=JSON', 'id=', 'id', 'debug=1', 'TOP=1',
               'top=1&x=2', 'format=%3Cscript%3E', 'format=<b>');

    for my $q (@bad) {
        my $res = $t->http_get("/status?$q");
        my $body = $res->body // '';

        is($res->status, 400, "?$q: 400");
        like($body, qr/\A\{"error":"[^\n]+"\}\n\z/,
             "?$q: a one-line JSON reason") or diag $body;
        ok(eval { JSON::PP->new->decode($body)->{error} },
           "?$q: valid JSON");
        is(scalar $res->header('Content-Type') // '', 'application/json',
           "?$q: application/json");
        unlike($body, qr/script|<b>|abc|xml|debug/i,
               "?$q: the reason does not echo the request");
    }

    my $res = $t->request(method => 'HEAD', uri => '/status?top=-1');

    is($res->status, 400, 'HEAD ?top=-1: 400');
    is($res->body, '', 'HEAD ?top=-1: no body');

    # arguments that are fine

    for my $q ('', 'top=3&format=json', 'format=prometheus&top=all',
               'top=2&top=3', '&top=1&', 'id=tie-a&format=json')
    {
        is($t->http_get("/status?$q")->status, 200, "?$q: 200");
    }
}


#### ids that left the store

# store A has x and y; counts; store B has x only: totals still count
# y, pages do not list it; store C brings y back with its counts

sub departed_setup {
    bulletins('src-a', bulletin('x'), bulletin('y'));
    bulletins('src-b', bulletin('x'));

    return build('departed.blt', 'src-a');
}


sub departed_traffic {
    views('x', 2);
    views('y', 3);
    shares('y', 'qq', 2);
    shares('x', 'wechat', 1);
    views('y', 1, 'User-Agent' => 'somebot');
}


sub departed_check {
    my ($name, $built, $a) = @_;

    my $doc = status_doc('top=all', "$name: ?top=all");

    is($doc->{store}{generation}, $built->{generation},
       "$name: the new generation");
    isnt($doc->{store}{generation}, $a->{store}{generation},
         "$name: not the old one");
    is($doc->{store}{pages}, 2, "$name: store.pages");
    is_deeply([sort map { $_->{id} } @{ $doc->{pages} // [] }],
              ['_index', 'x'], "$name: y is not listed");
    is_deeply($doc->{totals}, {
                  views => 5, shares => 3, excluded => 1,
                  shares_by_channel => { wechat => 1, weibo => 0, qq => 2,
                                         link => 0 } },
              "$name: totals include y");
    is($doc->{zone}{slots_used}, 3, "$name: y keeps its slot");
    is($doc->{zone}{since}, $a->{zone}{since}, "$name: since unchanged");
    is($t->http_get('/status?id=y')->status, 404, "$name: ?id=y is 404");

    my ($f) = scrape('top=all', "$name, Prometheus");

    is(prom_value($f, 'bulletin_views_total'), 5,
       "$name, Prometheus: views_total includes y");
    is(prom_value($f, 'bulletin_shares_total', channel => 'qq'), 2,
       "$name, Prometheus: shares_total includes y");
    is(prom_value($f, 'bulletin_excluded_total'), 1,
       "$name, Prometheus: excluded_total includes y");
    ok(!grep({ /\bid=y\b/ }
             map { keys %{ $f->{$_}{samples} // {} } }
             qw(bulletin_page_views_total bulletin_page_shares_total)),
       "$name, Prometheus: no series of y");
    prom_matches_json($f, $doc, "$name, Prometheus");

    return $doc;
}


sub departed_reload {
    SKIP: {
        $t->skip_if_valgrind('a reload needs a master process', 28);

        departed_setup();
        restart(status_config('departed.blt', 'zone=bulletin:1m'));
        departed_traffic();

        my $a = status_doc('top=all', 'departed: store A');

        is($a->{totals}{views}, 5, 'departed: store A counts y');

        my $built = build('departed.blt', 'src-b');
        my $before = time;

        $t->reload;

        my $b = departed_check('departed, reload', $built, $a);

        ok(epoch($b->{store}{loaded_at}) >= int($before),
           'departed, reload: loaded_at is the reload\'s');

        # y comes back: its slot, its counts

        build('departed.blt', 'src-a');
        $t->reload;

        my $c = status_doc('id=y', 'departed, y back');

        is($c->{views}, 3, 'departed, y back: its views');
        is($c->{shares_by_channel}{qq}, 2, 'departed, y back: its shares');
    }
}


# the same with file= and a restart, which valgrind mode can do

sub departed_restart {
    departed_setup();
    unlink $t->path('departed.counters');

    my $conf = 'zone=bulletin:1m file=departed.counters';

    restart(status_config('departed.blt', $conf));
    departed_traffic();

    my $a = status_doc('top=all', 'departed, file: store A');
    my $built = build('departed.blt', 'src-b');

    restart(status_config('departed.blt', $conf));
    departed_check('departed, file and restart', $built, $a);
}


#### titles that try to break JSON

sub hostile_titles {
    my $bs = chr 92;
    my %titles = (
        quotes => q{He said "hi" and 'bye'},
        backslash => "back${bs}slash ${bs}${bs} ${bs}n ${bs}u0041 ${bs}",
        controls => "tab\there, \x01 one, \x1f unit, \x7f del, \r\n\f\x08",
        markup => '</script><b>bold</b><!-- --> &amp; <script>x</script>',
        astral => "\x{20000} ext-B, \x{1F600} emoji, \x{10FFFF}",
        separators => "\x{2028}line\x{2029}para \x{FEFF} \x{200B}",
        quote_end => 'ends with a quote"',
        backslash_end => "ends with a backslash${bs}",
    );

    my @b = map { bulletin("hostile-$_", $titles{$_}) } sort keys %titles;

    bulletins('src-hostile', @b);
    build('hostile.blt', 'src-hostile');
    restart(status_config('hostile.blt', 'zone=bulletin:1m'));

    views('hostile-quotes', 1);

    my $res = $t->http_get('/status?top=all');
    my $body = $res->body // '';

    ok(utf8_ok($body), 'hostile titles: valid UTF-8');
    unlike($body, qr/[\x00-\x1f](?<!\n)/,
           'hostile titles: no raw control character but newlines');

    my $doc = eval { $JSON->decode($body) };

    ok(defined $doc, 'hostile titles: valid JSON') or diag $@, $body;

    my %got = map { $_->{id} => $_->{title} } @{ $doc->{pages} // [] };

    for my $name (sort keys %titles) {
        is($got{"hostile-$name"}, $titles{$name},
           "hostile titles: $name, exactly");

        my ($r, $one) = status("id=hostile-$name");

        is($one && $one->{title}, $titles{$name},
           "hostile titles: ?id=hostile-$name");
    }

    scrape('top=all', 'hostile titles, Prometheus');
}


#### channels of the store's own

# --channels line,mail: the status names those; a later store with
# "mail,x" counts mail's shares where they were, by name

sub channels {
    bulletins('src-channels', bulletin('ch'));
    build('channels.blt', 'src-channels',
          { channels => 'line,mail' });

    my $conf = 'zone=bulletin:1m file=channels.counters';

    restart(status_config('channels.blt', $conf));
    shares('ch', 'mail', 2);

    my $doc = status_doc('', 'channels');

    is_deeply($doc->{store}{channels}, ['line', 'mail'],
              'channels: store.channels');
    is_deeply($doc->{totals}{shares_by_channel}, { line => 0, mail => 2 },
              'channels: totals.shares_by_channel');
    my ($ch) = grep { $_->{id} eq 'ch' } @{ $doc->{pages} // [] };

    is_deeply($ch->{shares_by_channel}, { line => 0, mail => 2 },
              'channels: the page\'s shares_by_channel');

    my ($f) = scrape('', 'channels, Prometheus');

    is(prom_value($f, 'bulletin_shares_total', channel => 'mail'), 2,
       'channels, Prometheus: shares_total{channel="mail"}');
    is(prom_value($f, 'bulletin_page_shares_total', id => 'ch',
                  channel => 'mail'), 2,
       'channels, Prometheus: the page\'s mail shares');

    build('channels.blt', 'src-channels', { channels => 'mail,x' });
    restart(status_config('channels.blt', $conf));
    shares('ch', 'mail', 1);
    shares('ch', 'x', 1);

    $doc = status_doc('', 'channels changed');

    is_deeply($doc->{store}{channels}, ['mail', 'x'],
              'channels changed: store.channels');
    is($doc->{totals}{shares_by_channel}{mail}, 3,
       'channels changed: mail\'s shares where they were');
    is($doc->{totals}{shares_by_channel}{x}, 1, 'channels changed: x');
    is($doc->{totals}{shares}, 4, 'channels changed: totals.shares');
    is_deeply([inconsistencies($doc)], [], 'channels changed: consistent');

    ($f) = scrape('', 'channels changed, Prometheus');
    prom_matches_json($f, $doc, 'channels changed, Prometheus');
}


#### Prometheus

sub prometheus {
    restart(status_config('fields.blt', 'zone=bulletin:1m'));

    my $expect = traffic();
    my $doc = status_doc('top=all', 'Prometheus: the JSON');

    my ($f, $res) = scrape('top=all', 'Prometheus ?top=all');

    is(scalar $res->header('Cache-Control'), 'no-store',
       'Prometheus: Cache-Control');

    my %kinds = (
        bulletin_views_total => 'counter',
        bulletin_shares_total => 'counter',
        bulletin_excluded_total => 'counter',
        bulletin_page_views_total => 'counter',
        bulletin_page_shares_total => 'counter',
        bulletin_store_info => 'gauge',
        bulletin_store_pages => 'gauge',
        bulletin_zone_slots_used => 'gauge',
        bulletin_counters_start_time_seconds => 'gauge',
    );

    for my $name (sort keys %kinds) {
        is($f->{$name}{kind}, $kinds{$name}, "Prometheus: $name is a "
                                           . $kinds{$name});
    }

    ok(defined $f->{bulletin_zone_slots_total}{kind},
       'Prometheus: bulletin_zone_slots_total has a TYPE');

    like($res->body, qr/^bulletin_store_info\{generation="\Q$doc->{store}{generation}\E"\} 1$/m,
         'Prometheus: bulletin_store_info{generation="..."} 1');

    prom_matches_json($f, $doc, 'Prometheus ?top=all');

    is(scalar keys %{ $f->{bulletin_page_views_total}{samples} }, 9,
       'Prometheus ?top=all: a views series per page');
    is(scalar keys %{ $f->{bulletin_page_shares_total}{samples} }, 9 * 4,
       'Prometheus ?top=all: a shares series per page and channel');

    # the totals do not follow top; the page series do

    for my $n (0, 2) {
        my ($g) = scrape("top=$n", "Prometheus ?top=$n");
        my $d = status_doc("top=$n", "Prometheus ?top=$n: the JSON");

        is(prom_value($g, 'bulletin_views_total'), $doc->{totals}{views},
           "Prometheus ?top=$n: views_total covers every page");
        is(prom_value($g, 'bulletin_shares_total', channel => 'link'), 4,
           "Prometheus ?top=$n: shares_total covers every page");
        is(scalar keys %{ $g->{bulletin_page_views_total}{samples} // {} },
           $n, "Prometheus ?top=$n: $n page series");
        prom_matches_json($g, $d, "Prometheus ?top=$n");
    }

    my ($g) = scrape('', 'Prometheus default');

    is(prom_value($g, 'bulletin_page_views_total', id => 'bj-sociorg-2020-02'),
       5, 'Prometheus: a page\'s views');
    is(prom_value($g, 'bulletin_page_shares_total', id => 'bj-sociorg-2020-01',
                  channel => 'link'), 4, 'Prometheus: a page\'s shares');

    my $head = $t->request(method => 'HEAD',
                           uri => '/status?format=prometheus');

    is($head->status, 200, 'Prometheus HEAD: 200');
    is($head->body, '', 'Prometheus HEAD: no body');
    is(scalar $head->header('Content-Type'),
       'text/plain; version=0.0.4; charset=utf-8',
       'Prometheus HEAD: Content-Type');

    # a file zone

    restart(status_config('fields.blt', 'zone=bulletin:1m file=prom.counters'));
    views('tie-b', 1);

    my ($h) = scrape('top=all', 'Prometheus, file zone');

    prom_matches_json($h, status_doc('top=all', 'Prometheus, file zone'),
                      'Prometheus, file zone');
}


#### concurrent traffic

# Forked clients view and share three hot pages of a store of 20,000
# pages (the scan of every slot between reading and writing a count is
# the window) while this process reads ?top=5 and ?id=: every document
# must be valid JSON and consistent: sorted, each page's shares the sum
# of its channels, the listed pages within the totals, totals that
# never go back.  Once the clients stop, the counts are exact.

sub concurrent {
    my $n = $t->valgrind ? 2000 : 20000;

    many_bulletins($t, 'src-concurrent', 'c', $n);
    build('concurrent.blt', 'src-concurrent',
          { template => small_template($t) });
    restart(status_config('concurrent.blt', 'zone=bulletin:8m'));

    my @hot = qw(c00100 c00200 c00300);
    my $clients = 3;
    my $seconds = $t->valgrind ? 20 : 5;
    my $stop = $t->path('concurrent.stop');
    my @pids;

    for my $k (1 .. $clients) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            my %n = (views => 0, shares => 0, failed => 0);
            my $c;
            my $i = $k;

            until (-e $stop) {
                $c = $t->keepalive if $i % 200 == $k;
                $i++;

                my $id = $hot[$i % 3];
                my $res = $i % 5
                    ? $c->request(uri => "/bulletin/$id")
                    : $c->request(method => 'POST', uri =>
                          "/bulletin/$id/share?channel=$CHANNELS[$i % 4]");
                my $status = $res->status // 0;

                if ($status == 200) {
                    $n{views}++;
                } elsif ($status == 204) {
                    $n{shares}++;
                } else {
                    $n{failed}++;
                    $c = $t->keepalive;
                }
            }

            $t->write_file("concurrent.$k", join ' ', %n);
            POSIX::_exit(0);
        }

        push @pids, $pid;
    }

    my (@bad, $prev);
    my ($docs, $invalid) = (0, 0);
    my $deadline = time + $seconds;

    while (time < $deadline) {
        my $id = $docs % 10 == 9 ? $hot[$docs / 10 % 3] : undef;
        my ($res, $doc, $err) = status($id ? "id=$id" : 'top=5');

        $docs++;

        unless (($res->status // 0) == 200 && ref $doc eq 'HASH') {
            $invalid++;
            push @bad, "invalid: " . ($res->status // $res->error) . " $err";
            next;
        }

        if ($id) {
            my $sum = 0;

            $sum += $_ for values %{ $doc->{shares_by_channel} // {} };
            push @bad, "?id=$id: shares $doc->{shares}, by channel $sum"
                unless $sum == ($doc->{shares} // -1);
            next;
        }

        push @bad, inconsistencies($doc);
        push @bad, "only " . @{ $doc->{pages} } . " pages"
            unless @{ $doc->{pages} } == 5;

        if ($prev) {
            for my $k (qw(views shares)) {
                push @bad, "totals.$k went back"
                    if $doc->{totals}{$k} < $prev->{totals}{$k};
            }
        }

        $prev = $doc;
    }

    $t->write_file('concurrent.stop', '');
    waitpid $_, 0 for @pids;

    my %sent = (views => 0, shares => 0, failed => 0);

    for my $k (1 .. $clients) {
        my %n = split ' ', eval { $t->read_file("concurrent.$k") } // '';
        $sent{$_} += $n{$_} // 0 for keys %sent;
    }

    diag "concurrent: $docs status documents read while clients made "
       . "$sent{views} views and $sent{shares} shares";

    ok($docs >= 20 && $sent{views} > 100, 'concurrent: traffic and reads');
    is($sent{failed}, 0, 'concurrent: no request failed');
    is($invalid, 0, 'concurrent: every status document is valid JSON');
    ok(!@bad, 'concurrent: every document consistent (sorted, shares '
            . 'equal their channels, pages within the totals, totals '
            . 'never go back)')
        or diag scalar(@bad) . " problems in $docs documents: "
              . scalar(grep { / before / } @bad) . " out of order, "
              . scalar(grep { /listed pages have/ } @bad)
              . " listed pages above the totals, "
              . scalar(grep { /by channel/ } @bad)
              . " shares not the sum of their channels, "
              . scalar(grep { /went back/ } @bad)
              . " totals going back; the first:\n"
              . join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];

    my $doc = status_doc('top=5', 'concurrent: at rest');
    my $views = 0;

    $views += $_->{views} for @{ $doc->{pages} // [] };

    is($doc->{totals}{views}, $sent{views}, 'concurrent: every view counted');
    is($doc->{totals}{shares}, $sent{shares},
       'concurrent: every share counted');
    is($views, $sent{views}, 'concurrent: the hot pages sum to the totals');
    is_deeply([inconsistencies($doc)], [], 'concurrent: at rest, consistent');
}


#### a list document sent in slices

# A list document is sent 32 KB an event-loop pass, the next slice once
# the last has left.  On the store of concurrent() (20,001 pages, 2,001
# in valgrind mode), ?top=all is many slices: it must arrive whole and
# the same whether read at once, slowly (the socket full, the worker
# waiting for it) or through gzip; HEAD gives its length alone; clients
# that leave mid-way leave the worker serving; a reload mid-way lets the
# document end.

sub sliced {
    my $server = $LOCATIONS;

    $server =~ s/(bulletin_status;)/$1\n    bulletin_status_max 100001;/;
    $server .= "location = /status_rate {\n    bulletin_status;\n"
             . "    bulletin_status_max 100001;\n    limit_rate 8m;\n}\n";

    restart(http => "bulletin_store concurrent.blt;\n"
                  . "bulletin_counters zone=bulletin:8m;\n"
                  . "gzip on;\ngzip_types application/json text/plain;\n",
            server => $server);

    views('c00100', 3);
    views('c00200', 2);
    shares('c00200', 'qq', 1);

    my @pids = $t->worker_pids;
    my $pages = () = store_ids('concurrent.blt');
    my %body;

    for my $q ('top=all', 'top=all&format=prometheus') {
        my $name = "sliced, ?$q";
        my $res = $t->http_get("/status?$q");
        my $body = $res->body // '';
        my $length = $res->header('Content-Length') // -1;

        is($res->status, 200, "$name: 200");
        ok(length $body > 4 * 32768, "$name: more than 4 slices ("
           . length($body) . " bytes)");
        is(length $body, $length, "$name: as long as its Content-Length");

        my $slow = slow_get("/status?$q");

        ok($slow eq $body, "$name: the same to a slow reader")
            or diag length($slow) . " bytes, not " . length($body);

        my $rate = $t->http_get("/status_rate?$q");

        ok(($rate->body // '') eq $body, "$name: the same at limit_rate")
            or diag(($rate->status // $rate->error) . ', '
                    . length($rate->body // '') . ' bytes');

        my $gz = $t->http_get("/status?$q",
                              headers => ['Accept-Encoding' => 'gzip']);
        my ($plain, $err) = $t->gunzip($gz->body);

        is(scalar $gz->header('Content-Encoding'), 'gzip',
           "$name: gzip applies");
        ok(defined $plain && $plain eq $body, "$name: the same through gzip")
            or diag $err // length($plain) . ' bytes';

        my $head = $t->request(method => 'HEAD', uri => "/status?$q");

        is($head->status, 200, "$name: HEAD 200");
        is(scalar $head->header('Content-Length'), $length,
           "$name: HEAD, the same Content-Length");
        is(length($head->body // ''), 0, "$name: HEAD, no body");

        $body{$q} = $body;
    }

    my $doc = eval { $JSON->decode($body{'top=all'}) } // {};

    is(scalar @{ $doc->{pages} // [] }, $pages,
       "sliced: JSON lists every page ($pages)");
    is_deeply([inconsistencies($doc)], [], 'sliced: JSON consistent');

    my ($f, $bad) = prom_parse($body{'top=all&format=prometheus'});

    ok(!@$bad, 'sliced: Prometheus families whole') or diag join "\n", @$bad;
    prom_matches_json($f, $doc, 'sliced');

    # clients gone: mid-document, before the first byte, with a reset

    for my $how ('after 40 KB', 'at once', 'reset after 40 KB') {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $t->port, Timeout => 5)
            or die "connect: $!";

        print $sock "GET /status?top=all HTTP/1.1\r\nHost: localhost\r\n\r\n";

        my $got = '';

        while ($how ne 'at once' && length $got < 40960) {
            last unless sysread $sock, $got, 65536, length $got;
        }

        setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
                   pack('ii', 1, 0))
            if $how =~ /reset/;
        close $sock;
    }

    sleep 0.5;

    is(status_doc('top=5', 'sliced, after clients left')->{pages}[0]{id},
       'c00100', 'sliced, after clients left: the document as before');
    is($t->http_get('/bulletin/c00300')->status, 200,
       'sliced, after clients left: a page served');
    is_deeply([$t->worker_pids], \@pids,
              'sliced, after clients left: the same workers');

    # the documents' buffers go with them, sent or not: the workers'
    # anonymous memory does not grow by the documents it sent

    SKIP: {
        $t->skip_if_valgrind('the memory is valgrind\'s', 1);

        my $rss = sub {
            my $kb = 0;

            for my $pid ($t->worker_pids) {
                my $text = eval { $t->read_file("/proc/$pid/status") } // '';
                $kb += $1 if $text =~ /^RssAnon:\s+(\d+) kB/m;
            }

            return $kb;
        };

        $t->http_get("/status?$_") for 'top=all', 'top=all&format=prometheus';

        my $before = $rss->();

        for (1 .. 10) {
            $t->http_get("/status?$_")
                for 'top=all', 'top=all&format=prometheus';

            my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                             PeerPort => $t->port,
                                             Timeout => 5)
                or die "connect: $!";

            print $sock "GET /status?top=all HTTP/1.1\r\n"
                      . "Host: localhost\r\n\r\n";
            sysread $sock, my $buf, 40960;
            close $sock;
        }

        sleep 0.5;

        my $grown = $rss->() - $before;

        ok($grown < length($body{'top=all'}) / 1024,
           "sliced, 30 documents later: the workers' memory grew "
           . "${grown} kB");
    }

    # keepalive: a page on the connection that read the document (the
    # page just viewed changed the document)

    my $want = $t->http_get('/status?top=all')->body // '';
    my $c = $t->keepalive;
    my $one = $c->request(uri => '/status?top=all');
    my $two = $c->request(uri => '/bulletin/c00300');

    ok(($one->status // 0) == 200 && ($one->body // '') eq $want,
       'sliced, keepalive: the document whole')
        or diag(($one->status // $one->error) . ', '
                . length($one->body // '') . ' bytes');
    is($two->status, 200, 'sliced, keepalive: then a page on it');
    $c->close;

    # a reload while a slow reader is mid-way: the old worker ends it

    SKIP: {
        $t->skip_if_valgrind('a reload needs a master process', 1);

        my $want = $t->http_get('/status?top=all')->body // '';
        my $body = slow_get('/status?top=all', sub { $t->reload });

        ok($body eq $want, 'sliced, a reload mid-way: the document whole')
            or diag length($body) . ' bytes';
    }
}


# A list document over HTTP/2: the slices go out as the stream's flow
# control lets them, the same bytes as over HTTP/1.1 (JSON, Prometheus,
# gzip, HEAD, a slow reader).  A request a connection: Debian 12's curl
# (7.88.1) fails a second request on an h2c prior-knowledge connection
# ("Error in the HTTP2 framing layer") with any server, nginx's own
# "return" too.

sub sliced_h2 {
    SKIP: {
        skip 'no curl with HTTP/2 for h2c with prior knowledge', 14
            unless $t->curl_h2;

        my $server = $LOCATIONS;

        $server =~ s/(bulletin_status;)/$1\n    bulletin_status_max 100001;/;
        $server = $t->h2_listen . $server;

        restart(http => "bulletin_store concurrent.blt;\n"
                      . "bulletin_counters zone=bulletin:8m;\n"
                      . "gzip on;\ngzip_types application/json text/plain;\n",
                server => $server);

        for my $q ('top=all', 'top=all&format=prometheus') {
            my $name = "HTTP/2, ?$q";
            my $h1 = $t->http_get("/status?$q")->body // '';
            my $res = $t->h2('GET', "/status?$q");

            is("$res->{protocol} $res->{status}", 'HTTP/2 200', "$name: 200");
            ok(length $h1 > 4 * 32768 && $res->{body} eq $h1,
               "$name: the same bytes as HTTP/1.1's (" . length($h1)
               . ')')
                or diag length($res->{body}) . ' bytes over HTTP/2';

            $res = $t->h2('GET', "/status?$q", 'Accept-Encoding: gzip');

            my ($plain, $err) = $t->gunzip($res->{body});

            is(join(',', $t->h2_values($res, 'content-encoding')),
               'gzip', "$name, gzip: gzip applies");
            ok(defined $plain && $plain eq $h1, "$name, gzip: the same")
                or diag $err // length($plain) . ' bytes';

            $res = $t->h2('HEAD', "/status?$q");

            is(join(',', $t->h2_values($res, 'content-length')),
               length $h1, "$name, HEAD: the same Content-Length");
            is(length $res->{body}, 0, "$name, HEAD: no body");

            # a slow reader: the stream's window fills, the slices wait
            # for the connection's WINDOW_UPDATEs

            my $out = $t->path('h2-slow.body');

            unlink $out;

            my $rc = system('curl', '-sS', '--http2-prior-knowledge',
                            '--limit-rate', '4M', '--max-time', $t->timeout,
                            '--stderr', $t->path('h2-slow.err'), '-o', $out,
                            'http://127.0.0.1:' . $t->port(2) . "/status?$q");

            ok($rc == 0 && -e $out && $t->read_file($out) eq $h1,
               "$name, a slow reader: the same bytes")
                or diag "curl $rc, " . (-e $out ? -s $out : 'no') . ' bytes';
        }
    }
}


# the body of a GET read 16 KB at a time, after a pause once the first
# bytes arrived (when $during runs), so that the socket fills

sub slow_get {
    my ($uri, $during) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t->port, Timeout => 5)
        or die "connect: $!";

    setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 16384);
    print $sock "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";

    my $raw = '';
    my $deadline = time + ($t->valgrind ? 600 : 60);
    my $reads = 0;

    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno $sock, 1) = 1;

        last unless select($rin, undef, undef, $deadline - time) > 0;
        last unless sysread $sock, $raw, 16384, length $raw;

        if ($reads++ == 0) {
            $during->() if $during;
            sleep 0.3;
        }

        sleep 0.002 if $reads % 8 == 0;
    }

    close $sock;

    my (undef, $body) = split /\r\n\r\n/, $raw, 2;

    return $body // '';
}


#### access from another address

sub denied_address {
    restart(http => "bulletin_store fields.blt;\n",
            server => <<'EOF');
location = /status {
    bulletin_status;
    allow 127.0.0.1;
    deny all;
}
EOF

    is($t->http_get('/status')->status, 200, 'allow 127.0.0.1: 200');

    my $sock = IO::Socket::INET->new(
        Proto => 'tcp', LocalAddr => '127.0.0.2',
        PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5);

    SKIP: {
        skip "can't connect from 127.0.0.2: $@", 2 unless $sock;

        print $sock "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
        local $/;
        my $raw = <$sock> // '';

        like($raw, qr{\AHTTP/1\.1 403 }, 'from 127.0.0.2: 403');
        unlike($raw, qr/"generation"/, 'from 127.0.0.2: no status');
    }
}


#### 100,000 pages











# The largest document at the default maximum: 10,000 pages (9,990
# bulletins and their 10 list pages, a site file's page_size 1000 making
# them as few as can be) with 64-byte ids, titles of 100 Chinese
# characters and 8 channels of 15-byte names, every bulletin and channel
# counted.  Its sizes are reported; they must stay a few MB.

sub at_max {
    return pass('at the maximum: not in valgrind mode') if $t->valgrind;

    my $n = 9_990;
    my $path = $t->path('src-max');
    my @channels = map { sprintf 'channel-%07d', $_ } 1 .. 8;
    my $title = '长' x 99;

    mkdir $path or die "mkdir $path: $!";

    for my $i (0 .. $n - 1) {
        my $id = sprintf 'm%063d', $i;

        open my $fh, '>:raw', "$path/$id.json" or die "$id: $!";
        print $fh JSON::PP->new->utf8->encode({
            id => $id, title => "$title$i", published => '2020-05-20',
            blocks => [{ paragraph => "Text $i." }] }), "\n";
        close $fh;
    }

    $t->write_json('max-site.json', { page_size => 1000 });
    build('max.blt', 'src-max', { template => small_template($t),
                                  channels => join(',', @channels),
                                  options => ['--site',
                                              $t->path('max-site.json')] });

    my $pages = () = store_ids('max.blt');

    is($pages, 10_000, 'at the maximum: max.blt has 10,000 pages');

    restart(http => "bulletin_store max.blt;\n"
                  . "bulletin_counters zone=bulletin:8m;\n",
            server => $LOCATIONS);

    # one view and one share per channel of every page, pipelined

    my @req = map {
        my $id = sprintf 'm%063d', $_;
        ("GET /bulletin/$id HTTP/1.1\r\nHost: localhost\r\n\r\n",
         map { "POST /bulletin/$id/share?channel=$_ HTTP/1.1\r\n"
               . "Host: localhost\r\nContent-Length: 0\r\n\r\n" }
             @channels)
    } 0 .. $n - 1;

    my $sent = () = pipelined($t, @req) =~ m{^HTTP/1\.1 20[04] }mg;

    is($sent, 9 * $n, 'at the maximum: every view and share served');

    # JSON::PP would take a minute over it: the page objects are counted

    my $res = $t->http_get('/status?top=all');
    my $body = $res->body // '';
    my $json = length $body;
    my $listed = () = $body =~ /^\{"id":"/mg;

    is($res->status, 200, 'at the maximum: ?top=all 200');
    is($listed, $pages, 'at the maximum: ?top=all lists 10,000 pages');
    like($body, qr/"views":1,"shares":8,/,
         'at the maximum: pages with their counts');

    my $prom = $t->http_get('/status?format=prometheus&top=all');
    my $text = length($prom->body // '');

    is($prom->status, 200, 'at the maximum: Prometheus ?top=all 200');

    diag sprintf "at bulletin_status_max 10000 (64-byte ids, 300-byte "
               . "titles, 8 channels): JSON %d bytes, Prometheus %d bytes",
                 $json, $text;

    ok($json < 8 << 20, 'at the maximum: JSON under 8 MB');
    ok($text < 16 << 20, 'at the maximum: Prometheus under 16 MB');
}


# 95,239 bulletins and their 4,762 list pages (20 a page): 100,001
# pages, as many as big_locations()' bulletin_status_max

sub big_store {
    my $n = 95_239;

    many_bulletins($t, 'src-big', 'b', $n);

    build('big.blt', 'src-big', { template => small_template($t) });

    my @store = store_ids('big.blt');
    my $all = @store;
    my $lists = grep { /\A_index(?:-\d+)?\z/ } @store;

    is($all, 100_001, '100,000 pages: big.blt has 100,001 pages');
    is($lists, 4_762, '100,000 pages: 4,762 of them list pages');

    $t->stop->config(http => "bulletin_store big.blt;\n"
                           . "bulletin_counters zone=bulletin:32m;\n",
                     server => big_locations() . <<'EOF')->run;
location = /status_default {
    bulletin_status;
}
EOF

    # the default maximum refuses every page, and builds nothing

    for my $q ('top=all', 'format=prometheus&top=all') {
        my $res = $t->http_get("/status_default?$q");

        is($res->status, 400,
           "100,000 pages, the default maximum, ?$q: 400");
        like($res->body // '',
             qr/100001 pages, more than bulletin_status_max 10000/,
             "100,000 pages, the default maximum, ?$q: says why");
    }

    is($t->http_get('/status_default?top=10000')->status, 200,
       '100,000 pages, the default maximum, ?top=10000: 200');

    # sparse traffic: 300 pages viewed once, 100 of them twice

    my @sparse = map { sprintf 'b%05d', ($_ * 7919) % $n } 1 .. 300;
    my $views = pipelined_views($t, @sparse, @sparse[0 .. 99]);

    is($views, 400, '100,000 pages: 400 views served');

    my $timeout = $t->valgrind ? 900 : 120;
    my ($first, $last, $bytes, $body) = timed_get($t, '/status?top=all',
                                                  $timeout);
    my ($doc, $err) = big_document($t, $body);

    ok(defined $doc, "100,000 pages: ?top=all is valid JSON ($bytes bytes)")
        or diag $err;
    $doc //= {};

    my @pages = @{ $doc->{pages} // [] };

    is(scalar @pages, $all, '100,000 pages: ?top=all lists 100,001');

    my %ids = map { $_->{id} => 1 } @pages;

    is(scalar keys %ids, $all, '100,000 pages: ids unique');
    is_deeply([grep { !$ids{$_} } @store], [],
              '100,000 pages: every page of the store listed');
    ok($ids{_index} && $ids{"_index-$lists"} && $ids{b00000}
       && $ids{sprintf 'b%05d', $n - 1},
       '100,000 pages: the first, the last and the lists');
    is(scalar(grep { $_->{title} =~ /\ABulletin \d+ "q" 简报\z/ } @pages),
       $n, '100,000 pages: the titles');

    my @bad = inconsistencies($doc);

    ok(!@bad, '100,000 pages: sorted') or diag join "\n", @bad[0 .. 4];
    is($doc->{totals}{views}, 400, '100,000 pages: totals.views');
    is($pages[0]{views}, 2, '100,000 pages: the most viewed first');
    is(scalar(grep { $_->{views} } @pages), 300,
       '100,000 pages: 300 viewed');
    is($doc->{store}{pages}, $all, '100,000 pages: store.pages');
    is($doc->{zone}{slots_used}, $all, '100,000 pages: slots_used');

    my $top10 = status_doc('top=10', '100,000 pages: ?top=10');

    is_deeply($top10->{pages}, [@pages[0 .. 9]],
              '100,000 pages: ?top=10 is the head of ?top=all');

    my $default = status_doc('', '100,000 pages: default');

    is_deeply($default->{pages}, [@pages[0 .. 99]],
              '100,000 pages: the default is the first 100');

}


__DATA__

=== TEST 1: a GET: application/json, no-store
--- init
$t->build_store(inputs => ["$FindBin::Bin/../sample"], output => 'sample.blt');
--- request
GET /status
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like: \A\{.*"generation":"[0-9a-f]+".*\}\n\z
--- no_error_log
[error]

=== TEST 2: HEAD: the headers, no body
--- request
HEAD /status
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Content-Length
--- response_body chomp

=== TEST 3: POST is 405 with Allow: GET, HEAD
--- request
POST /status
a=1
--- error_code: 405
--- response_headers
Allow: GET, HEAD

=== TEST 4: ?format=prometheus: the text format's Content-Type
--- request
GET /status?format=prometheus
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
Cache-Control: no-store
--- response_body_like: (?m)^bulletin_views_total 0$

=== TEST 5: a bad argument: 400, one line of JSON
--- request
GET /status?top=-1
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: \A\{"error":"[^\n]+"\}\n\z

=== TEST 6: allow 127.0.0.1; deny all: the client at 127.0.0.1 reads it
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    allow 127.0.0.1;
    deny all;
}
--- request
GET /status
--- response_body_like eval
qr/"module":"\Q${\ Test::Bulletin::version()}\E"/

=== TEST 7: deny all: 403
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    deny all;
}
--- request
GET /status
--- error_code: 403
--- response_body_like: 403 Forbidden

=== TEST 8: auth_basic without credentials: 401
--- init
$t->write_file('conf/htpasswd',
               "plain:{PLAIN}pl4in-secret\n"
               . 'crypt:' . crypt('cr7pt-secret', '$6$bulletin$') . "\n");
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    auth_basic "status";
    auth_basic_user_file htpasswd;
}
--- request
GET /status
--- error_code: 401
--- response_headers
WWW-Authenticate: Basic realm="status"
--- response_body_like: 401 Authorization Required

=== TEST 9: auth_basic with a wrong password: 401
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    auth_basic "status";
    auth_basic_user_file htpasswd;
}
--- request
GET /status
--- more_headers eval
'Authorization: Basic ' . encode_base64('plain:wrong', '')
--- error_code: 401

=== TEST 10: auth_basic with a {PLAIN} entry: 200
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    auth_basic "status";
    auth_basic_user_file htpasswd;
}
--- request
GET /status
--- more_headers eval
'Authorization: Basic ' . encode_base64('plain:pl4in-secret', '')
--- response_body_like eval
qr/"module":"\Q${\ Test::Bulletin::version()}\E"/

=== TEST 11: auth_basic with a crypt() entry: 200
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    auth_basic "status";
    auth_basic_user_file htpasswd;
}
--- request
GET /status
--- more_headers eval
'Authorization: Basic ' . encode_base64('crypt:cr7pt-secret', '')
--- response_body_like eval
qr/"module":"\Q${\ Test::Bulletin::version()}\E"/

=== TEST 12: auth_basic and allow: satisfy all, the default
--- http_config
bulletin_store sample.blt;
--- config
location = /status {
    bulletin_status;
    allow 127.0.0.1;
    deny all;
    auth_basic "status";
    auth_basic_user_file htpasswd;
}
--- request
GET /status
--- error_code: 401
