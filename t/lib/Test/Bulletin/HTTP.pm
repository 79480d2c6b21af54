package Test::Bulletin::HTTP;

# A small HTTP/1.x client for the tests: one request per connection
# (Connection: close), or keep-alive connections that read exactly one
# response at a time.  Responses are Test::Bulletin::Response objects.
#
# Nothing here dies on a network problem: a response that could not be
# read has an undefined status and says why in $res->error.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);


# Builds the request bytes.  %args: method (GET), uri (/), protocol
# (HTTP/1.1), headers (a flat list of name => value pairs; a value of
# undef removes a default header), body, keepalive (no Connection: close).

sub build_request {
    my (%args) = @_;

    my $method = $args{method} // 'GET';
    my $uri = $args{uri} // '/';
    my $protocol = $args{protocol} // 'HTTP/1.1';
    my @given = @{ $args{headers} // [] };

    die "headers must be name => value pairs\n" if @given % 2;

    my %seen;
    for (my $i = 0; $i < @given; $i += 2) {
        $seen{ lc $given[$i] } = 1;
    }

    my @headers;
    push @headers, Host => 'localhost' unless $seen{host};
    push @headers, Connection => 'close'
        unless $seen{connection} || $args{keepalive};
    push @headers, 'Content-Length' => length $args{body}
        if defined $args{body}
            && !$seen{'content-length'} && !$seen{'transfer-encoding'};
    push @headers, @given;

    my $request = "$method $uri $protocol\r\n";

    while (my ($name, $value) = splice @headers, 0, 2) {
        $request .= "$name: $value\r\n" if defined $value;
    }

    $request .= "\r\n";
    $request .= $args{body} if defined $args{body};

    return $request;
}


# One request on a new connection; reads until the server closes it.
# %args: port, timeout, raw (exact bytes to send) or build_request's.

sub request {
    my (%args) = @_;

    my $method = $args{method} // 'GET';
    my $bytes = $args{raw} // build_request(%args);
    my $deadline = time + ($args{timeout} // 10);

    if (defined $args{raw} && $args{raw} =~ /\A(\S+)/) {
        $method = $1;
    }

    my $sock = connect_to($args{port}, $deadline);

    return Test::Bulletin::Response->failed("connect: $@") unless $sock;

    # read even when sending failed: the server may have answered early
    my $send_err = send_all($sock, $bytes, $deadline);
    my ($raw, $eof, $err) = read_more($sock, '', $deadline, 1);

    close $sock;
    $err //= $send_err;

    my $res = Test::Bulletin::Response->parse($raw // '', $method, 1);

    $res->{error} //= $err if defined $err && !defined $res->{status};
    $res->{error} //= "timed out before the server closed the connection"
        unless $eof || defined $res->{error};

    return $res;
}


sub connect_to {
    my ($port, $deadline) = @_;

    my $timeout = $deadline - time;
    $timeout = 0.1 if $timeout < 0.1;

    my $sock = IO::Socket::INET->new(
        Proto    => 'tcp',
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Timeout  => $timeout,
    );

    $sock->blocking(0) if $sock;

    return $sock;
}


# Returns an error message, or undef once every byte is sent.

sub send_all {
    my ($sock, $bytes, $deadline) = @_;

    my $select = IO::Select->new($sock);
    my $off = 0;

    local $SIG{PIPE} = 'IGNORE';

    while ($off < length $bytes) {
        my $left = $deadline - time;

        return "timed out sending the request" if $left <= 0;
        next unless $select->can_write($left);

        my $n = syswrite $sock, $bytes, length($bytes) - $off, $off;

        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            return "send: $!";
        }

        $off += $n;
    }

    return undef;
}


# Reads what arrives before the deadline, appending to $buf.  With
# $until_eof it keeps reading until the peer closes; otherwise it returns
# after the first successful read.  Returns ($buf, $eof, $error).

sub read_more {
    my ($sock, $buf, $deadline, $until_eof) = @_;

    my $select = IO::Select->new($sock);

    for ( ;; ) {
        my $left = $deadline - time;

        return ($buf, 0, "timed out reading the response") if $left <= 0;
        next unless $select->can_read($left);

        my $n = sysread $sock, $buf, 65536, length $buf;

        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            return ($buf, 1, undef) if $!{ECONNRESET};
            return ($buf, 0, "read: $!");
        }

        return ($buf, 1, undef) if $n == 0;
        return ($buf, 0, undef) unless $until_eof;
    }
}


# Decodes a chunked body starting at $pos.  Returns (body, end) when the
# last chunk and the trailer are in $buf, () when more bytes are needed,
# and dies on a malformed chunk.

sub dechunk {
    my ($buf, $pos) = @_;

    my $body = '';

    for ( ;; ) {
        my $eol = index $buf, "\r\n", $pos;

        return () if $eol < 0;

        my $line = substr $buf, $pos, $eol - $pos;

        die "bad chunk size line \"$line\"\n"
            unless $line =~ /\A([0-9a-fA-F]+)(?:;.*)?\z/;

        my $size = hex $1;

        $pos = $eol + 2;

        if ($size == 0) {
            for ( ;; ) {
                $eol = index $buf, "\r\n", $pos;
                return () if $eol < 0;
                my $empty = $eol == $pos;
                $pos = $eol + 2;
                return ($body, $pos) if $empty;
            }
        }

        return () if length($buf) < $pos + $size + 2;
        die "chunk of $size bytes not followed by CRLF\n"
            unless substr($buf, $pos + $size, 2) eq "\r\n";

        $body .= substr $buf, $pos, $size;
        $pos += $size + 2;
    }
}


package Test::Bulletin::Response;

# A parsed response.  Fields (also methods): status, reason, protocol,
# headers (an array of [name, value] in the order received), body (with
# chunked transfer decoded), raw (the bytes received), error.

use strict;
use warnings;


sub failed {
    my ($class, $error, $raw) = @_;

    return bless { status => undef, headers => [], body => undef,
                   raw => $raw // '', error => $error }, $class;
}


# Parses the first response in $raw.  With $complete, $raw is all the
# server will send; otherwise a response still missing bytes returns
# undef, so that a keep-alive reader can read on.

sub parse {
    my ($class, $raw, $method, $complete) = @_;

    my $head_end = index $raw, "\r\n\r\n";

    if ($head_end < 0) {
        return undef unless $complete;
        return $class->failed(length $raw ? "incomplete response header"
                                          : "no response", $raw);
    }

    my ($status_line, @lines) = split /\r\n/, substr($raw, 0, $head_end);

    return $class->failed("bad status line \"$status_line\"", $raw)
        unless $status_line =~ m{\A(HTTP/\d\.\d) (\d{3})(?: (.*))?\z};

    my $self = bless { protocol => $1, status => $2, reason => $3 // '',
                       headers => [], raw => $raw }, $class;

    for my $line (@lines) {
        return $class->failed("bad header line \"$line\"", $raw)
            unless $line =~ /\A([^:\s]+):[ \t]*(.*?)[ \t]*\z/;
        push @{ $self->{headers} }, [$1, $2];
    }

    return $self->take_body($head_end + 4, $method, $complete);
}


sub take_body {
    my ($self, $start, $method, $complete) = @_;

    my $raw = $self->{raw};
    my $status = $self->{status};
    my ($te) = $self->header_values('Transfer-Encoding');
    my ($length) = $self->header_values('Content-Length');
    my $end;

    if (uc($method // '') eq 'HEAD' || $status =~ /\A(?:1..|204|304)\z/) {
        $self->{body} = '';
        $end = $start;

    } elsif (defined $te && $te =~ /chunked/i) {
        my ($body, $pos) = eval { Test::Bulletin::HTTP::dechunk($raw, $start) };

        return $self->broken("chunked body: $@") if $@;

        if (!defined $body) {
            return undef unless $complete;
            return $self->broken("incomplete chunked body");
        }

        $self->{body} = $body;
        $self->{chunked} = 1;
        $end = $pos;

    } elsif (defined $length) {
        return $self->broken("bad Content-Length \"$length\"")
            unless $length =~ /\A\d+\z/;

        if (length($raw) - $start < $length) {
            return undef unless $complete;
            return $self->broken("body shorter than Content-Length");
        }

        $self->{body} = substr $raw, $start, $length;
        $end = $start + $length;

    } else {
        return undef unless $complete;
        $self->{body} = substr $raw, $start;
        $end = length $raw;
    }

    $self->{length} = $end;

    return $self;
}


sub broken {
    my ($self, $error) = @_;

    $self->{error} = $error;
    $self->{body} = undef;

    return $self;
}


sub status   { $_[0]{status} }
sub reason   { $_[0]{reason} }
sub protocol { $_[0]{protocol} }
sub body     { $_[0]{body} }
sub raw      { $_[0]{raw} }
sub error    { $_[0]{error} }
sub headers  { $_[0]{headers} }


# All values of a header, in order; the name is case-insensitive.

sub header_values {
    my ($self, $name) = @_;

    return map { $_->[1] }
           grep { lc $_->[0] eq lc $name } @{ $self->{headers} };
}


# The first value of a header (undef when absent); all values in list
# context.

sub header {
    my ($self, $name) = @_;

    my @values = $self->header_values($name);

    return wantarray ? @values : $values[0];
}


sub header_count {
    my ($self, $name) = @_;

    my @values = $self->header_values($name);

    return scalar @values;
}


# The body, gunzipped: undef (and $res->error set) when it is not a
# single valid gzip member.

sub gunzipped {
    my ($self) = @_;

    my ($plain, $err) = Test::Bulletin::gunzip($self->{body});

    $self->{error} = "gunzip: $err" if defined $err;

    return $plain;
}


# The response head as text, for diagnostics.

sub head {
    my ($self) = @_;

    return 'no response' . (defined $self->{error} ? ": $self->{error}" : '')
        unless defined $self->{status};

    return join '', "$self->{protocol} $self->{status} $self->{reason}\n",
                    map { "$_->[0]: $_->[1]\n" } @{ $self->{headers} };
}


package Test::Bulletin::Connection;

# A keep-alive connection: $c->request(%args) sends one request and
# reads exactly one response; $c->send_raw and $c->read_response split
# the two; $c->closed_by_peer tells whether the server closed it.

use strict;
use warnings;

use Time::HiRes qw(time);


sub new {
    my ($class, %args) = @_;

    my $timeout = $args{timeout} // 10;
    my $sock = Test::Bulletin::HTTP::connect_to($args{port},
                                                time + $timeout);

    die "keep-alive connection to port $args{port}: $@\n" unless $sock;

    return bless { sock => $sock, buf => '', timeout => $timeout,
                   port => $args{port} }, $class;
}


sub request {
    my ($self, %args) = @_;

    my $method = $args{method} // 'GET';
    my $err = $self->send_raw(
        Test::Bulletin::HTTP::build_request(keepalive => 1, %args));

    return Test::Bulletin::Response->failed($err) if defined $err;
    return $self->read_response(method => $method, %args);
}


sub send_raw {
    my ($self, $bytes) = @_;

    return "connection closed" unless $self->{sock};
    return Test::Bulletin::HTTP::send_all($self->{sock}, $bytes,
                                          time + $self->{timeout});
}


sub read_response {
    my ($self, %args) = @_;

    my $deadline = time + ($args{timeout} // $self->{timeout});
    my $method = $args{method} // 'GET';

    for ( ;; ) {
        my $res = Test::Bulletin::Response->parse($self->{buf}, $method,
                                                  $self->{eof});

        if ($res) {
            my $used = $res->{length} // length $self->{buf};

            $res->{raw} = substr $self->{buf}, 0, $used;
            substr($self->{buf}, 0, $used) = '';
            return $res;
        }

        return Test::Bulletin::Response->failed("connection closed")
            unless $self->{sock};

        my ($buf, $eof, $err) = Test::Bulletin::HTTP::read_more(
            $self->{sock}, $self->{buf}, $deadline, 0);

        $self->{buf} = $buf;

        return Test::Bulletin::Response->failed($err, $buf) if defined $err;

        $self->close_socket if $eof;
        $self->{eof} = 1 if $eof;
    }
}


# True when the server has closed the connection (waiting up to $wait
# seconds for it); bytes that arrive meanwhile are kept for
# read_response.

sub closed_by_peer {
    my ($self, $wait) = @_;

    return 1 if $self->{eof};

    my ($buf, $eof) = Test::Bulletin::HTTP::read_more(
        $self->{sock}, $self->{buf}, time + ($wait // 0), 1);

    $self->{buf} = $buf;

    if ($eof) {
        $self->close_socket;
        $self->{eof} = 1;
    }

    return $eof ? 1 : 0;
}


sub close_socket {
    my ($self) = @_;

    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
}


sub close {
    my ($self) = @_;

    $self->close_socket;
    $self->{eof} = 1;
}


1;
