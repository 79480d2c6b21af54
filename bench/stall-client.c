
/*
 * Copyright (C) bulletin authors
 */

/*
 * The status stall's own client (issue 17, bench/status-stall.pl):
 *
 *   stall-client -p PORT -u PAGE [-c CONNS] [-d SECONDS] [-s STATUS]
 *                [-t TIMEOUT_MS]
 *
 * CONNS connections (4) GET PAGE on 127.0.0.1:PORT in a closed loop,
 * keep-alive, for SECONDS (10); each request's latency, from its send to
 * its last byte (CLOCK_MONOTONIC), goes into a histogram of 1 us buckets.
 * With -s, one more connection on the same event loop fetches
 * STATUS?top=all and STATUS?top=all&format=prometheus in turn the whole
 * time, reading and dropping the documents in large reads.
 *
 * One process, one thread, one epoll loop: a scrape's reading delays a
 * page's measurement by one read at most, never by a scheduler slice as
 * with two processes (wrk and curl) sharing a core.  What is measured is
 * the server.
 *
 * It prints one line of key=value pairs: p50 p75 p90 p99 max (us),
 * requests, rps, errors (always 0: any error ends the run, non-zero),
 * and per format the documents scraped, the last one's bytes and the
 * mean ms a document took.  Every wait is bounded: the run's deadline,
 * and TIMEOUT_MS (10,000) for any request, which fails the run.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>


#define PAGE_BUF      65536
#define SCRAPE_BUF    (256 * 1024)      /* one read of a document */
#define HEAD_MAX      8192
#define HIST_US       1000000           /* 1 us buckets up to 1 s */
#define CONNS_MAX     256
#define REQ_MAX       1024


enum {
    FORMAT_JSON = 0,
    FORMAT_PROMETHEUS,
    FORMATS
};


typedef struct {
    int            fd;
    int            scraper;
    int            format;          /* the scraper's document */
    int            connecting;
    int            close;           /* the server said Connection: close */
    char           req[REQ_MAX];
    size_t         req_len;
    size_t         sent;
    int            in_head;
    char           head[HEAD_MAX];
    size_t         head_len;
    long long      body_left;
    long long      body_len;
    int64_t        start;           /* ns: the request's send */
    int64_t        deadline;        /* ns: its timeout */
    int            busy;            /* a request in flight */
} conn_t;


static const char  *formats[FORMATS] = { "json", "prometheus" };

static uint32_t     hist[HIST_US + 1];
static uint64_t     requests;
static int64_t      max_ns;

static uint64_t     docs[FORMATS];
static uint64_t     doc_ns[FORMATS];
static long long    doc_bytes[FORMATS];

static int          ep;
static int          port;
static const char  *page;
static const char  *status;
static int64_t      timeout_ns = 10000LL * 1000000;
static char         buf[SCRAPE_BUF];


static void
fail(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "stall-client: ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");

    exit(1);
}


static int64_t
now(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        fail("clock_gettime: %s", strerror(errno));
    }

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static const char *
name(conn_t *c)
{
    return c->scraper ? formats[c->format] : "page";
}


/* what the connection waits for: op, EPOLL_CTL_ADD or EPOLL_CTL_MOD */

static void
conn_events(conn_t *c, int op, uint32_t events)
{
    struct epoll_event  ee;

    ee.events = events;
    ee.data.ptr = c;

    if (epoll_ctl(ep, op, c->fd, &ee) != 0) {
        fail("epoll_ctl(%s): %s", op == EPOLL_CTL_ADD ? "ADD" : "MOD",
             strerror(errno));
    }
}


static void
conn_open(conn_t *c)
{
    int                 one;
    struct sockaddr_in  sin;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd == -1) {
        fail("socket: %s", strerror(errno));
    }

    one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        fail("setsockopt(TCP_NODELAY): %s", strerror(errno));
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    c->connecting = 1;
    c->close = 0;
    c->deadline = now() + timeout_ns;

    if (connect(c->fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        if (errno != EINPROGRESS) {
            fail("connect to 127.0.0.1:%d: %s", port, strerror(errno));
        }
    }

    conn_events(c, EPOLL_CTL_ADD, EPOLLOUT);
}


static void
conn_close(conn_t *c)
{
    if (c->fd != -1) {
        close(c->fd);       /* and out of the epoll set */
        c->fd = -1;
    }
}


static void
request_start(conn_t *c)
{
    const char  *q;
    int          n;

    if (c->scraper) {
        q = (c->format == FORMAT_JSON) ? "?top=all"
                                       : "?top=all&format=prometheus";
        n = snprintf(c->req, sizeof(c->req),
                     "GET %s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                     status, q);

    } else {
        n = snprintf(c->req, sizeof(c->req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", page);
    }

    if (n < 0 || (size_t) n >= sizeof(c->req)) {
        fail("the request line is too long");
    }

    c->req_len = n;
    c->sent = 0;
    c->in_head = 1;
    c->head_len = 0;
    c->body_left = 0;
    c->body_len = 0;
    c->busy = 1;
    c->start = now();
    c->deadline = c->start + timeout_ns;
}


static void
request_send(conn_t *c)
{
    ssize_t  n;

    while (c->sent < c->req_len) {
        n = send(c->fd, c->req + c->sent, c->req_len - c->sent,
                 MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_events(c, EPOLL_CTL_MOD, EPOLLOUT);
                return;
            }

            fail("%s request: send: %s", name(c), strerror(errno));
        }

        c->sent += n;
    }

    conn_events(c, EPOLL_CTL_MOD, EPOLLIN);
}


static void
request_next(conn_t *c)
{
    if (c->close) {
        conn_close(c);
        c->busy = 0;
        conn_open(c);
        return;
    }

    request_start(c);
    request_send(c);
}


static void
record(conn_t *c)
{
    int64_t  ns, us;

    ns = now() - c->start;

    if (c->scraper) {
        docs[c->format]++;
        doc_ns[c->format] += ns;
        doc_bytes[c->format] = c->body_len;
        c->format = (c->format + 1) % FORMATS;
        return;
    }

    us = ns / 1000;
    hist[us < HIST_US ? us : HIST_US]++;
    requests++;

    if (ns > max_ns) {
        max_ns = ns;
    }
}


/* the status line and headers, whole: code 200 and a Content-Length */

static void
parse_head(conn_t *c, size_t len)
{
    int          code;
    char        *p, *end, *line, *eol;
    long long    cl;

    c->head[len] = '\0';

    if (sscanf(c->head, "HTTP/1.%*1d %3d", &code) != 1) {
        fail("%s request: a bad status line: %.60s", name(c), c->head);
    }

    if (code != 200) {
        fail("%s request: status %d, not 200", name(c), code);
    }

    cl = -1;
    end = c->head + len;

    for (line = strstr(c->head, "\r\n") + 2; line < end; line = eol + 2) {
        eol = strstr(line, "\r\n");
        if (eol == NULL || eol == line) {
            break;
        }

        *eol = '\0';

        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            errno = 0;
            cl = strtoll(line + 15, &p, 10);
            if (errno || cl < 0 || p == line + 15) {
                fail("%s request: a bad Content-Length: %s", name(c), line);
            }

        } else if (strncasecmp(line, "Connection:", 11) == 0
                   && strcasestr(line + 11, "close"))
        {
            c->close = 1;

        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            fail("%s request: %s, not a Content-Length", name(c), line);
        }
    }

    if (cl < 0) {
        fail("%s request: no Content-Length", name(c));
    }

    c->body_len = cl;
    c->body_left = cl;
    c->in_head = 0;
}


/*
 * What the socket holds: a page's connection reads until its response is
 * whole or the socket is empty (a page is a few KB); the scraper reads
 * once a readiness, SCRAPE_BUF at most, so that the pages' connections
 * come next.
 */

static void
conn_read(conn_t *c)
{
    char     *b, *h;
    size_t    size, rest;
    ssize_t   n;

    for ( ;; ) {
        if (c->in_head) {
            b = c->head + c->head_len;
            size = HEAD_MAX - 1 - c->head_len;

            if (size == 0) {
                fail("%s request: headers over %d bytes", name(c),
                     HEAD_MAX - 1);
            }

        } else {
            b = buf;
            size = c->scraper ? SCRAPE_BUF : PAGE_BUF;
        }

        n = recv(c->fd, b, size, 0);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }

            fail("%s request: recv: %s", name(c), strerror(errno));
        }

        if (n == 0) {
            fail("%s request: the server closed the connection after "
                 "%lld of %lld body bytes%s", name(c),
                 c->body_len - c->body_left, c->body_len,
                 c->in_head ? " (in the headers)" : "");
        }

        if (c->in_head) {
            c->head_len += n;
            c->head[c->head_len] = '\0';

            h = strstr(c->head, "\r\n\r\n");
            if (h == NULL) {
                continue;
            }

            size = h + 4 - c->head;
            rest = c->head_len - size;

            parse_head(c, size);

            n = rest;

        }

        if (n > c->body_left) {
            fail("%s request: %lld bytes more than Content-Length %lld",
                 name(c), (long long) n - c->body_left, c->body_len);
        }

        c->body_left -= n;

        if (c->body_left == 0) {
            record(c);
            c->busy = 0;
            request_next(c);
            return;
        }

        if (c->scraper) {
            return;
        }
    }
}


static void
conn_event(conn_t *c, uint32_t events)
{
    int        err;
    socklen_t  len;

    if (c->connecting) {
        len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            fail("getsockopt(SO_ERROR): %s", strerror(errno));
        }

        if (err) {
            fail("connect to 127.0.0.1:%d: %s", port, strerror(err));
        }

        c->connecting = 0;
        request_start(c);
        request_send(c);
        return;
    }

    if (events & EPOLLOUT) {
        request_send(c);
        return;
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(c);
    }
}


static long long
percentile(double p)
{
    uint64_t  rank, seen;
    long      us;

    rank = (uint64_t) (p * requests + 0.999999);
    if (rank == 0) {
        rank = 1;
    }

    seen = 0;

    for (us = 0; us <= HIST_US; us++) {
        seen += hist[us];
        if (seen >= rank) {
            return us;
        }
    }

    return HIST_US;
}


static long
number(const char *s, const char *what, long min, long max)
{
    char  *end;
    long   v;

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno || *end != '\0' || end == s || v < min || v > max) {
        fail("%s: \"%s\" is not a number from %ld to %ld", what, s, min,
             max);
    }

    return v;
}


int
main(int argc, char **argv)
{
    int                  i, n, nall, nconns, opt, wait;
    long                 seconds;
    conn_t              *conns, *c;
    int64_t              t0, end, t, next;
    struct epoll_event   events[CONNS_MAX + 1];

    nconns = 4;
    seconds = 10;

    while ((opt = getopt(argc, argv, "p:u:c:d:s:t:")) != -1) {
        switch (opt) {
        case 'p':
            port = (int) number(optarg, "-p", 1, 65535);
            break;
        case 'u':
            page = optarg;
            break;
        case 'c':
            nconns = (int) number(optarg, "-c", 1, CONNS_MAX);
            break;
        case 'd':
            seconds = number(optarg, "-d", 1, 3600);
            break;
        case 's':
            status = optarg;
            break;
        case 't':
            timeout_ns = number(optarg, "-t", 1, 3600000) * 1000000LL;
            break;
        default:
            fail("usage: stall-client -p PORT -u PAGE [-c CONNS] "
                 "[-d SECONDS] [-s STATUS] [-t TIMEOUT_MS]");
        }
    }

    if (port == 0 || page == NULL || optind != argc) {
        fail("usage: stall-client -p PORT -u PAGE [-c CONNS] "
             "[-d SECONDS] [-s STATUS] [-t TIMEOUT_MS]");
    }

    if (page[0] != '/' || (status && status[0] != '/')) {
        fail("the paths begin with /");
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        fail("epoll_create1: %s", strerror(errno));
    }

    nall = nconns + (status != NULL);

    conns = calloc(nall, sizeof(conn_t));
    if (conns == NULL) {
        fail("calloc: %s", strerror(errno));
    }

    for (i = 0; i < nall; i++) {
        conns[i].fd = -1;
        conns[i].scraper = (i == nconns);
        conn_open(&conns[i]);
    }

    t0 = now();
    end = t0 + seconds * 1000000000LL;

    for ( ;; ) {
        t = now();

        if (t >= end) {
            break;
        }

        next = end;

        for (i = 0; i < nall; i++) {
            c = &conns[i];

            if (!c->busy && !c->connecting) {
                continue;
            }

            if (t >= c->deadline && c->connecting) {
                fail("%s connection: no connect in %lld ms", name(c),
                     (long long) (timeout_ns / 1000000));
            }

            if (t >= c->deadline) {
                fail("%s request: no response in %lld ms (%lld of %lld "
                     "body bytes)", name(c),
                     (long long) (timeout_ns / 1000000),
                     c->body_len - c->body_left, c->body_len);
            }

            if (c->deadline < next) {
                next = c->deadline;
            }
        }

        wait = (int) ((next - t + 999999) / 1000000);

        n = epoll_wait(ep, events, CONNS_MAX + 1, wait);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            fail("epoll_wait: %s", strerror(errno));
        }

        for (i = 0; i < n; i++) {
            conn_event(events[i].data.ptr, events[i].events);
        }
    }

    t = now();

    printf("p50=%lld p75=%lld p90=%lld p99=%lld max=%lld requests=%llu "
           "rps=%.0f errors=0", percentile(0.50), percentile(0.75),
           percentile(0.90), percentile(0.99), (long long) (max_ns / 1000),
           (unsigned long long) requests, requests * 1e9 / (t - t0));

    for (i = 0; status && i < FORMATS; i++) {
        printf(" %s_docs=%llu %s_bytes=%lld %s_ms=%.1f", formats[i],
               (unsigned long long) docs[i], formats[i], doc_bytes[i],
               formats[i], docs[i] ? doc_ns[i] / 1e6 / docs[i] : 0.0);
    }

    printf("\n");

    if (requests == 0) {
        fail("no page request completed in %ld s", seconds);
    }

    if (status && docs[FORMAT_JSON] + docs[FORMAT_PROMETHEUS] == 0) {
        fail("no status document completed in %ld s", seconds);
    }

    return 0;
}
