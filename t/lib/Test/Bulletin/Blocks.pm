package Test::Bulletin::Blocks;

=head1 NAME

Test::Bulletin::Blocks - Test::Nginx-style data blocks for Test::Bulletin

=head1 FORMAT

    === TEST 1: name
    --- SECTION [eval] [chomp]
    value, up to the next "---" or "===" line
    --- SECTION: inline value

Text before the first C<===> is a comment.  C<< $t->block_defaults(NAME
=> TEXT, ...) >>, before C<run_blocks>, gives every block that lacks a
section that section's text: a file's blocks then say only what differs
(an empty section in a block overrides a default).  A multi-line value keeps one
final newline (trailing blank lines are dropped); C<chomp> removes it;
C<eval> evaluates the value as Perl (in package main, with C<$t> and
C<$block>) and uses the result.  Placeholders (C<%%PORT%%>, ...) are
expanded in every section but C<init>.  Unknown sections are errors.

Configuration: C<main_config>, C<http_config>, C<config> (in C<server>).
A block restarts nginx when its configuration differs from the running
one, or when it has C<init>: C<init> is Perl code run with C<$t> and
C<$block> after nginx stopped and before it starts, to write files or
build a store that nginx reads when it loads its configuration.

Request: C<request> (C<METHOD URI [PROTOCOL]>, HTTP/1.1 with C<Host:
localhost> and C<Connection: close>; further lines are the body),
C<request_body>, C<more_headers> (C<Name: value> lines; they replace the
default Host or Connection), C<raw_request> (exact bytes: use C<eval>
for C<"\r\n">).

Checks, one assertion each, named after the block:

=over

=item error_code

The status (default 200 when a request is made; empty: no response).

=item response_headers

C<Name: value>: the header appears B<exactly once> with that value (so
a duplicate fails); C<Name>: exactly once, any value; C<!Name>: absent.
Names are case-insensitive.  Repeated headers are checked with the API
(C<header_count>, C<header_values>).

=item response_headers_like

C<Name: regex>: exactly once, its value matching.

=item response_body, response_body_like

The body: exact, or matching a regex (with C</s>; the pattern's final
newline is dropped).

=item response_body_gunzip

A flag: the body must be one valid gzip member (CRC-32 and size
checked; one assertion) and the body checks see it gunzipped.

=item error_log, no_error_log

One item a line: a literal substring, or C</regex/flags>; with C<eval>,
an array of strings and C<qr//>.  Matched against the error log written
since the block started (for C<must_die>, also nginx's output).

=item must_die

nginx must refuse the configuration (C<nginx -t>, or else the start);
its error log lines are expected.

=item skip, ONLY

C<skip>: the reason; C<ONLY>: run only the blocks that have it.

=back

=cut

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);


my @SECTIONS = qw(
    main_config http_config config init
    request request_body more_headers raw_request
    error_code response_headers response_headers_like
    response_body response_body_like response_body_gunzip
    error_log no_error_log must_die skip ONLY
);

my %SECTION = map { $_ => 1 } @SECTIONS;


sub run {
    my ($t, $text) = @_;

    my @blocks = eval { parse($text) };

    defaults($_, $t->{block_defaults}) for @blocks;

    if ($@ || !@blocks) {
        fail('data blocks');
        diag $@ || 'no "=== TEST" block in __DATA__';
        return;
    }

    my @only = grep { $_->{raw}{ONLY} } @blocks;

    if (@only) {
        diag 'ONLY: running ' . join ', ', map { $_->{name} } @only;
        @blocks = @only;
    }

    run_block($t, $_) for @blocks;
}


#### parsing

sub parse {
    my ($text) = @_;

    my (@blocks, $block, $section);
    my $n = 0;

    for my $line (split /^/m, $text) {
        $n++;

        if ($line =~ /^===\s*(.*?)\s*$/) {
            $block = { name => $1 || "block at line $n", line => $n,
                       raw => {} };
            push @blocks, $block;
            $section = undef;

        } elsif ($line =~ /^---\s+(\w+)\s*(.*?)\s*$/) {
            die "line $n: section \"$1\" before any \"===\" line\n"
                unless $block;
            $section = new_section($block, $1, $2, $n);

        } elsif ($section && !$section->{inline}) {
            $section->{value} .= $line;

        } elsif ($block && $line =~ /\S/) {
            die "line $n: text outside a section in $block->{name}\n";
        }
    }

    for my $b (@blocks) {
        tidy($_) for values %{ $b->{raw} };
    }

    return @blocks;
}


# Sections a block does not have come from the file's defaults
# ($t->block_defaults), as if the block had them (placeholders and all).

sub defaults {
    my ($block, $defaults) = @_;

    for my $name (keys %{ $defaults // {} }) {
        $block->{raw}{$name} //= { value => $defaults->{$name}, mods => [],
                                   line => $block->{line} };
    }
}


sub new_section {
    my ($block, $name, $rest, $n) = @_;

    die "line $n: unknown section \"$name\"\n" unless $SECTION{$name};
    die "line $n: section \"$name\" twice in $block->{name}\n"
        if $block->{raw}{$name};

    my $section = { value => '', mods => [], line => $n };

    if ($rest =~ /\A:\s*(.*)\z/) {
        $section->{value} = $1;
        $section->{inline} = 1;

    } else {
        for my $mod (split ' ', $rest) {
            die "line $n: unknown modifier \"$mod\" (eval, chomp)\n"
                unless $mod =~ /\A(?:eval|chomp)\z/;
            push @{ $section->{mods} }, $mod;
        }
    }

    return $block->{raw}{$name} = $section;
}


sub tidy {
    my ($section) = @_;

    return if $section->{inline};

    $section->{value} =~ s/\n(?:[ \t]*\n)+\z/\n/;
    $section->{value} = '' if $section->{value} !~ /\S/;
}


# The value of a section: placeholders expanded, modifiers applied.

sub value {
    my ($t, $block, $name) = @_;

    my $section = $block->{raw}{$name};
    my $value = $section->{value};

    $value = $t->expand($value) unless $name eq 'init';

    for my $mod (@{ $section->{mods} }) {
        chomp $value if $mod eq 'chomp' && !ref $value;
        $value = perl($t, $block, $value, $section->{line})->($t, $block)
            if $mod eq 'eval';
    }

    return $value;
}


# Compiles Perl from a block into a sub taking ($t, $block); errors name
# the test file's __DATA__ line.

sub perl {
    my ($t, $block, $code, $line) = @_;

    $line++;

    my $sub = eval "package main;\n#line $line \"$0 __DATA__\"\n"
                 . "sub { my (\$t, \$block) = \@_;\n$code\n}";

    die $@ unless $sub;

    return $sub;
}


#### running

sub run_block {
    my ($t, $block) = @_;

    my $name = $block->{name};

    for my $s (grep { $_ ne 'init' } keys %{ $block->{raw} }) {
        next if eval { $block->{$s} = value($t, $block, $s); 1 };
        fail("$name: section $s");
        diag $@;
        return;
    }

    if (exists $block->{skip}) {
        Test::More->builder->skip("$name: " . ($block->{skip} || 'skip'));
        return;
    }

    my $config = $t->config_text(main   => $block->{main_config},
                                 http   => $block->{http_config},
                                 server => $block->{config});
    my $from = $t->error_log_size;

    return must_die($t, $block, $config, $from) if exists $block->{must_die};

    prepare($t, $block, $config) or return;

    if (defined $block->{request} || defined $block->{raw_request}) {
        my $access = access_log_size($t);
        my $res = send_request($t, $block);

        check_response($block, $res);
        wait_access_log($t, $access) if has_log_checks($block);
    }

    check_logs($t, $block, $from, '');
}


# Starts nginx with the block's configuration unless it runs already.

sub prepare {
    my ($t, $block, $config) = @_;

    my $init = $block->{raw}{init};

    return 1 if !$init && $t->running
                && ($t->{running_config} // '') eq $config;

    $t->stop;

    run_init($t, $block) or return 0;

    $t->config($config);

    my ($ok, $why) = $t->start;

    return 1 if $ok;

    fail("$block->{name}: nginx starts");
    diag $why;

    return 0;
}


sub run_init {
    my ($t, $block) = @_;

    my $init = $block->{raw}{init} or return 1;

    return 1 if eval {
        perl($t, $block, $init->{value}, $init->{line})->($t, $block);
        1;
    };

    fail("$block->{name}: init");
    diag $@;

    return 0;
}


sub must_die {
    my ($t, $block, $config, $from) = @_;

    my $name = $block->{name};

    if ($block->{raw}{init}) {
        $t->stop;
        run_init($t, $block) or return;
    }

    my ($status, $output) = $t->test_config($config);
    my $died = $status != 0;

    unless ($died) {
        $t->stop;
        $t->config($config);

        my ($ok, $why) = $t->start;

        $t->stop if $ok;
        $died = !$ok;
        $output .= $why // '';
    }

    ok($died, "$name: nginx refuses the configuration") or diag $output;

    $t->expect_log_range($from);
    check_logs($t, $block, $from, $output);
}


sub send_request {
    my ($t, $block) = @_;

    return $t->request(raw => $block->{raw_request})
        if defined $block->{raw_request};

    my ($line, $body) = split /\n/, $block->{request}, 2;
    my ($method, $uri, $protocol) = split ' ', $line // '';

    $body = $block->{request_body} if defined $block->{request_body};
    $body = undef if defined $body && $body eq ''
                     && !defined $block->{request_body};

    my @headers;

    for my $h (lines($block->{more_headers})) {
        die "more_headers: \"$h\" is not \"Name: value\"\n"
            unless $h =~ /\A([^:\s]+)\s*:\s*(.*)\z/;
        push @headers, $1, $2;
    }

    return $t->request(method => $method, uri => $uri,
                       protocol => $protocol, headers => \@headers,
                       body => $body);
}


#### checks

sub check_response {
    my ($block, $res) = @_;

    my $name = $block->{name};
    my $want = $block->{error_code} // 200;

    $want =~ s/\A\s+|\s+\z//g;

    if ($want eq '') {
        ok(!defined $res->status, "$name: no response")
            or diag $res->head;
    } else {
        is($res->status, $want, "$name: status")
            or diag $res->head;
    }

    for my $spec (lines($block->{response_headers})) {
        my ($ok, $why) = header_check($res, $spec);
        ok($ok, "$name: header $spec") or diag $why;
    }

    for my $spec (lines($block->{response_headers_like})) {
        my ($ok, $why) = header_like_check($res, $spec);
        ok($ok, "$name: header like $spec") or diag $why;
    }

    check_body($block, $res);
}


sub check_body {
    my ($block, $res) = @_;

    my $name = $block->{name};
    my $body = $res->body;

    if (flag($block->{response_body_gunzip})) {
        my ($plain, $err) = Test::Bulletin::gunzip($body);
        ok(!defined $err, "$name: body is valid gzip") or diag $err;
        $body = $plain;
    }

    is($body, $block->{response_body}, "$name: body")
        if defined $block->{response_body};

    if (defined $block->{response_body_like}) {
        my $re = $block->{response_body_like};

        unless (ref $re) {
            chomp $re;
            $re = qr/$re/s;
        }

        like($body // '', $re, "$name: body like");
    }
}


# (1) when the response satisfies a response_headers line, (0, why)
# otherwise.

sub header_check {
    my ($res, $spec) = @_;

    if ($spec =~ /\A!\s*([^:\s]+)\z/) {
        my @v = $res->header_values($1);
        return @v ? (0, "$1 present: " . join(' | ', @v)) : (1);
    }

    $spec =~ /\A([^:\s]+)\s*(?::\s*(.*))?\z/
        or return (0, "bad response_headers line \"$spec\"");

    my ($name, $want) = ($1, $2);
    my @v = $res->header_values($name);

    return (0, "$name appears " . @v . " times: " . join(' | ', @v)
               . "\n" . $res->head)
        unless @v == 1;

    return (1) if !defined $want || $v[0] eq $want;
    return (0, "$name is \"$v[0]\", expected \"$want\"");
}


sub header_like_check {
    my ($res, $spec) = @_;

    $spec =~ /\A([^:\s]+)\s*:\s*(.*)\z/
        or return (0, "bad response_headers_like line \"$spec\"");

    my ($name, $re) = ($1, $2);
    my @v = $res->header_values($name);

    return (0, "$name appears " . @v . " times: " . join(' | ', @v)
               . "\n" . $res->head)
        unless @v == 1;

    return (1) if $v[0] =~ /$re/;
    return (0, "$name is \"$v[0]\", not like /$re/");
}


sub has_log_checks {
    my ($block) = @_;

    return defined $block->{error_log} || defined $block->{no_error_log};
}


sub check_logs {
    my ($t, $block, $from, $extra) = @_;

    my $name = $block->{name};
    my @want = patterns($block->{error_log});
    my @unwanted = patterns($block->{no_error_log});
    my $deadline = time + 3 * ($t->valgrind ? 10 : 1);

    for my $p (@want) {
        my $found;

        for ( ;; ) {
            $found = ($extra . $t->error_log_since($from)) =~ $p->[1];
            last if $found || time > $deadline;
            sleep 0.05;
        }

        ok($found, "$name: error_log $p->[0]")
            or diag "not in:\n$extra" . $t->error_log_since($from);
    }

    for my $p (@unwanted) {
        my $text = $extra . $t->error_log_since($from);
        my @lines = grep { $_ =~ $p->[1] } split /^/m, $text;

        ok(!($text =~ $p->[1]), "$name: no_error_log $p->[0]")
            or diag @lines ? join '', @lines : $text;
    }
}


# Error log items: ([description, qr//], ...).

sub patterns {
    my ($value) = @_;

    my @items = ref $value eq 'ARRAY' ? @$value
              : ref $value eq 'Regexp' ? ($value) : lines($value);

    return map { pattern($_) } @items;
}


sub pattern {
    my ($item) = @_;

    return ["$item", $item] if ref $item eq 'Regexp';

    if ($item =~ m{\A/(.*)/([imsx]*)\z}) {
        my ($re, $flags) = ($1, $2 || 'm');
        return [$item, qr/(?$flags)$re/];
    }

    return ["\"$item\"", qr/\Q$item\E/];
}


sub lines {
    my ($value) = @_;

    return () unless defined $value;
    return @$value if ref $value eq 'ARRAY';

    return grep { length } map { s/\s+\z//r } split /\n/, $value;
}


sub flag {
    my ($value) = @_;

    return 0 unless defined $value;
    return $value =~ /\A\s*(?:0|no|off|false)\s*\z/i ? 0 : 1;
}


sub access_log_size {
    my ($t) = @_;

    return -s $t->path('logs/access.log') // 0;
}


# nginx writes the access log line last: once it grew, the request's
# error log lines are written.

sub wait_access_log {
    my ($t, $from) = @_;

    my $deadline = time + 2 * ($t->valgrind ? 10 : 1);

    sleep 0.01 until access_log_size($t) > $from || time > $deadline;
}


1;
