
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


#define NGX_HTTP_BULLETIN_OUT_SIZE    16384

/*
 * A list's buffers are mapped 256 KB at a time, more than the 33 pages
 * up to which x86 Linux flushes an unmapped range from the TLB page by
 * page (tlb_single_page_flush_ceiling): in a VM each page's flush can be
 * a call to the hypervisor, and a 16 KB buffer took a worker 40 us to
 * unmap, a 256 KB one 66 us.  Once a part holds 2 MB, its next buffers
 * are 2 MB, MADV_HUGEPAGE: one fault each where there were 512 (12 us
 * each in that VM); a document of 100,000 pages took the worker 100 ms
 * instead of 345.  The slices are cut out of them.
 */
#define NGX_HTTP_BULLETIN_MAP_SIZE    262144
#define NGX_HTTP_BULLETIN_HUGE_SIZE   2097152

/*
 * A document of many pages is made in steps, each returning to the event
 * loop (ngx_posted_next_events), so that the pages this worker serves
 * meanwhile wait for one step at most: a step reads this many pages or
 * slots, or writes this many listed pages.  It is sent in steps too, a
 * slice of at most STEP_SEND bytes each, the next one only once the last
 * has left: a write event of nginx's own sends up to sendfile_max_chunk
 * (2 MB), about 4 ms of copying into a loopback socket.
 */
#define NGX_HTTP_BULLETIN_STEP_READ   1024   /* about 0.05 ms */
#define NGX_HTTP_BULLETIN_STEP_WRITE  32     /* about 0.03 ms of JSON */
#define NGX_HTTP_BULLETIN_STEP_SEND   32768  /* about 0.05 ms of writev */

/* 11 bits: a histogram of 8 KB, not 256 KB zeroed (and faulted) in a step */
#define NGX_HTTP_BULLETIN_RADIX_BITS  11
#define NGX_HTTP_BULLETIN_RADIX       (1 << NGX_HTTP_BULLETIN_RADIX_BITS)


typedef struct {
    uint64_t                        views;
    uint32_t                        page;
} ngx_http_bulletin_rank_t;


/* this node's counts, and with the other nodes' (fleet_*) */

typedef struct {
    uint64_t                        views;
    uint64_t                        excluded;
    uint64_t                        shares;
    uint64_t                        channel[BULLETIN_CHANNELS_MAX];
    uint64_t                        fleet_views;
    uint64_t                        fleet_shares;
    uint64_t                        fleet_channel[BULLETIN_CHANNELS_MAX];
} ngx_http_bulletin_totals_t;


/*
 * The document, written into a chain of buffers as it grows.  A list's
 * buffers are mapped one by one (mapped) and unmapped as soon as they
 * have been sent: tens of MB freed at once at the end of the request
 * took milliseconds of the worker's time.
 */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_chain_t                    *first;
    ngx_chain_t                   **last;
    ngx_buf_t                      *buf;
    off_t                           size;        /* before buf's bytes */
    ngx_uint_t                      mapped;
} ngx_http_bulletin_out_t;


typedef struct {
    ngx_http_request_t             *request;
    ngx_http_bulletin_main_conf_t  *main;
    ngx_http_bulletin_zone_t       *zone;
    const bulletin_store_t         *store;
    ngx_http_bulletin_out_t         out;
    bulletin_fleet_state_t          fleet;
    ngx_uint_t                      synced;      /* fleet holds a state */
} ngx_http_bulletin_status_t;


typedef enum {
    NGX_HTTP_BULLETIN_READ = 0,     /* each page's views */
    NGX_HTTP_BULLETIN_COUNT,        /* radix sort: a digit's histogram */
    NGX_HTTP_BULLETIN_SCATTER,      /* radix sort: the entries by it */
    NGX_HTTP_BULLETIN_WRITE,        /* the listed pages (Prometheus: the
                                       views family) */
    NGX_HTTP_BULLETIN_WRITE_SHARES, /* Prometheus: the shares family */
    NGX_HTTP_BULLETIN_TOTALS,       /* every slot */
    NGX_HTTP_BULLETIN_DONE,         /* the head, then the header sent */
    NGX_HTTP_BULLETIN_SEND          /* the body, a slice at a time */
} ngx_http_bulletin_phase_e;


/* a list document (every request but ?id=), made in steps */

typedef struct {
    ngx_http_bulletin_status_t      st;
    ngx_uint_t                      format;
    ngx_http_bulletin_phase_e       phase;
    uint32_t                        next;        /* in the phase */
    uint32_t                        pages;       /* the store's */
    uint32_t                        k;           /* the entries ranked */
    uint32_t                        n;           /* those listed */
    ngx_uint_t                      all;         /* every page ranked,
                                                    by a radix sort */
    ngx_http_bulletin_rank_t       *rank;
    ngx_http_bulletin_rank_t       *tmp;
    uint32_t                       *count;
    ngx_uint_t                      shift;
    uint64_t                        max;         /* views, of any page */
    ngx_http_bulletin_totals_t      t;
    ngx_http_bulletin_out_t         views;       /* the pages' part */
    ngx_http_bulletin_out_t         shares;      /* Prometheus: its 2nd */
    ngx_chain_t                    *send;        /* the body not passed */
    ngx_chain_t                    *sent;        /* passed, still mapped */
    ngx_chain_t                    *free;        /* slices' buffers */
    ngx_chain_t                    *busy;
    ngx_event_t                     ev;
} ngx_http_bulletin_list_t;


static ngx_int_t ngx_http_bulletin_status_send(ngx_http_request_t *r,
    ngx_http_bulletin_out_t *out, ngx_uint_t status, ngx_str_t *type);
static ngx_int_t ngx_http_bulletin_status_header(ngx_http_request_t *r,
    ngx_http_bulletin_out_t *out, ngx_uint_t status, ngx_str_t *type);
static ngx_int_t ngx_http_bulletin_bad_request(ngx_http_request_t *r,
    const char *reason, ngx_uint_t format);
static ngx_int_t ngx_http_bulletin_status_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason, ngx_uint_t format);
static ngx_int_t ngx_http_bulletin_too_many(ngx_http_request_t *r,
    uint32_t top, uint32_t pages, ngx_uint_t max, ngx_uint_t format);
static ngx_int_t ngx_http_bulletin_list(ngx_http_request_t *r,
    ngx_http_bulletin_status_t *st, ngx_uint_t top, ngx_uint_t format);
static void ngx_http_bulletin_list_handler(ngx_event_t *ev);
static void ngx_http_bulletin_list_write_handler(ngx_http_request_t *r);
static void ngx_http_bulletin_list_send(ngx_http_bulletin_list_t *l);
static ngx_chain_t *ngx_http_bulletin_list_slice(ngx_http_bulletin_list_t *l);
static void ngx_http_bulletin_list_cleanup(void *data);
static ngx_int_t ngx_http_bulletin_list_step(ngx_http_bulletin_list_t *l);
static void ngx_http_bulletin_list_read(ngx_http_bulletin_list_t *l,
    uint32_t from, uint32_t to);
static void ngx_http_bulletin_list_radix(ngx_http_bulletin_list_t *l,
    uint32_t from, uint32_t to);
static ngx_int_t ngx_http_bulletin_list_write(ngx_http_bulletin_list_t *l,
    uint32_t from, uint32_t to);
static ngx_int_t ngx_http_bulletin_list_finish(ngx_http_bulletin_list_t *l);
static void ngx_http_bulletin_rank_sift(ngx_http_bulletin_rank_t *heap,
    ngx_uint_t n, ngx_uint_t i);
static int ngx_http_bulletin_rank_cmp(const void *one, const void *two);
static void ngx_http_bulletin_totals(ngx_http_bulletin_zone_t *zone,
    ngx_http_bulletin_totals_t *t, uint32_t from, uint32_t to);
static void ngx_http_bulletin_totals_end(ngx_http_bulletin_zone_t *zone,
    ngx_http_bulletin_totals_t *t);
static ngx_int_t ngx_http_bulletin_json(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t, ngx_http_bulletin_out_t *pages);
static ngx_int_t ngx_http_bulletin_json_nginx(ngx_http_bulletin_status_t *st);
static ngx_int_t ngx_http_bulletin_json_store(ngx_http_bulletin_status_t *st);
static ngx_int_t ngx_http_bulletin_json_zone(ngx_http_bulletin_status_t *st);
static ngx_int_t ngx_http_bulletin_json_totals(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t);
static ngx_int_t ngx_http_bulletin_json_fleet(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t);
static ngx_int_t ngx_http_bulletin_json_ms(ngx_http_bulletin_out_t *out,
    int64_t ms);
static ngx_int_t ngx_http_bulletin_prometheus_fleet(
    ngx_http_bulletin_status_t *st);
static ngx_int_t ngx_http_bulletin_json_page(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_out_t *out, uint32_t page, uint64_t views);
static ngx_int_t ngx_http_bulletin_json_channels(
    ngx_http_bulletin_status_t *st, ngx_http_bulletin_out_t *out,
    uint64_t *count);
static ngx_int_t ngx_http_bulletin_prometheus(
    ngx_http_bulletin_status_t *st, ngx_http_bulletin_totals_t *t,
    ngx_http_bulletin_out_t *views, ngx_http_bulletin_out_t *shares);
static ngx_int_t ngx_http_bulletin_prometheus_views(
    ngx_http_bulletin_status_t *st, ngx_http_bulletin_out_t *out,
    ngx_http_bulletin_rank_t *rank, ngx_uint_t from, ngx_uint_t to);
static ngx_int_t ngx_http_bulletin_prometheus_shares(
    ngx_http_bulletin_status_t *st, ngx_http_bulletin_out_t *out,
    ngx_http_bulletin_rank_t *rank, ngx_uint_t from, ngx_uint_t to);
static void ngx_http_bulletin_out_init(ngx_http_bulletin_out_t *out,
    ngx_pool_t *pool, ngx_uint_t mapped);
static size_t ngx_http_bulletin_out_size(ngx_http_bulletin_out_t *out,
    size_t size);
static ngx_buf_t *ngx_http_bulletin_out_buf(ngx_http_bulletin_out_t *out,
    size_t size);
static void ngx_http_bulletin_out_free(ngx_http_bulletin_out_t *out,
    ngx_buf_t *b);
static void ngx_http_bulletin_out_unmap(ngx_chain_t *cl);
static void ngx_http_bulletin_out_append(ngx_http_bulletin_out_t *out,
    ngx_http_bulletin_out_t *tail);
static ngx_int_t ngx_http_bulletin_printf(ngx_http_bulletin_out_t *out,
    const char *fmt, ...);
static ngx_int_t ngx_http_bulletin_text(ngx_http_bulletin_out_t *out,
    const char *s);
static ngx_int_t ngx_http_bulletin_json_string(ngx_http_bulletin_out_t *out,
    const u_char *s, size_t len);
static ngx_int_t ngx_http_bulletin_json_time(ngx_http_bulletin_out_t *out,
    time_t t);
static ngx_buf_t *ngx_http_bulletin_room(ngx_http_bulletin_out_t *out,
    size_t size);
static ngx_int_t ngx_http_bulletin_out_link(ngx_http_bulletin_out_t *out,
    ngx_buf_t *b);
static ngx_int_t ngx_http_bulletin_id_of(ngx_http_bulletin_status_t *st,
    uint32_t page, bulletin_store_record_t *rec, u_char *id);
static uint64_t ngx_http_bulletin_views(ngx_http_bulletin_status_t *st,
    uint32_t page);


static ngx_str_t  ngx_http_bulletin_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_bulletin_prometheus_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");
static ngx_str_t  ngx_http_bulletin_text_type =
    ngx_string("text/plain; charset=utf-8");


ngx_int_t
ngx_http_bulletin_status_handler(ngx_http_request_t *r)
{
    ngx_str_t                       id;
    uint32_t                        pages;
    const char                     *reason;
    ngx_int_t                       rc;
    bulletin_status_args_t          args;
    ngx_http_bulletin_rank_t        one;
    ngx_http_bulletin_status_t      st;
    ngx_http_bulletin_loc_conf_t   *blcf;

    rc = ngx_http_bulletin_accept(r, NGX_HTTP_GET|NGX_HTTP_HEAD, "GET, HEAD");

    if (rc != NGX_OK) {
        return rc;
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bulletin_module);

    args.format = BULLETIN_FORMAT_JSON;
    args.top = (uint32_t) (blcf->status_top != NGX_CONF_UNSET_UINT
                           ? blcf->status_top
                           : ngx_min(100, blcf->status_max));
    args.id = NULL;

    reason = bulletin_status_args(r->args.data, r->args.len, &args);

    if (reason != NULL) {
        return ngx_http_bulletin_bad_request(r, reason, args.format);
    }

    ngx_memzero(&st, sizeof(ngx_http_bulletin_status_t));

    st.request = r;
    st.main = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);
    st.zone = st.main->zone;
    st.store = &st.main->store;

    /* what bulletin-sync last said, if it ever ran on this file */

    if (st.zone && st.zone->file.len) {
        st.synced = bulletin_fleet_read(st.zone->region, &st.fleet);
    }

    pages = st.store->header->page_count;

    if (args.id == NULL
        && (args.top == BULLETIN_TOP_ALL ? pages : args.top)
           > blcf->status_max)
    {
        return ngx_http_bulletin_too_many(r, args.top, pages,
                                          blcf->status_max, args.format);
    }

    ngx_http_bulletin_out_init(&st.out, r->pool, 0);

    if (args.id == NULL) {
        return ngx_http_bulletin_list(r, &st, args.top, args.format);
    }

    id.data = (u_char *) args.id;
    id.len = args.id_len;

    rc = ngx_http_bulletin_find(r, st.main, &id, &one.page);

    if (rc == NGX_HTTP_NOT_FOUND) {
        return ngx_http_bulletin_status_error(r, NGX_HTTP_NOT_FOUND,
                                              "no such page",
                                              args.format);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    one.views = ngx_http_bulletin_views(&st, one.page);

    if (args.format == BULLETIN_FORMAT_JSON) {
        rc = ngx_http_bulletin_json_page(&st, &st.out, one.page, one.views);

        if (rc == NGX_OK) {
            rc = ngx_http_bulletin_text(&st.out, "\n");
        }

    } else {
        rc = ngx_http_bulletin_prometheus_views(&st, &st.out, &one, 0, 1);

        if (rc == NGX_OK) {
            rc = ngx_http_bulletin_prometheus_shares(&st, &st.out, &one,
                                                     0, 1);
        }
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_bulletin_status_send(r, &st.out, NGX_HTTP_OK,
                                         args.format == BULLETIN_FORMAT_JSON
                                         ? &ngx_http_bulletin_json_type
                                         : &ngx_http_bulletin_prometheus_type);
}


static ngx_int_t
ngx_http_bulletin_status_send(ngx_http_request_t *r,
    ngx_http_bulletin_out_t *out, ngx_uint_t status, ngx_str_t *type)
{
    ngx_int_t  rc;

    rc = ngx_http_bulletin_status_header(r, out, status, type);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (out->first == NULL) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    return ngx_http_output_filter(r, out->first);
}


/* the header, and the body's last buffer marked as the last */

static ngx_int_t
ngx_http_bulletin_status_header(ngx_http_request_t *r,
    ngx_http_bulletin_out_t *out, ngx_uint_t status, ngx_str_t *type)
{
    ngx_int_t  rc;

    r->headers_out.status = status;
    r->headers_out.content_length_n = out->size
                                      + (out->buf ? out->buf->last
                                                    - out->buf->pos
                                                  : 0);

    /* the parameters are part of the type: charset filters keep off */

    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = ngx_strlchr(type->data,
                                                  type->data + type->len,
                                                  ';')
                                      ? sizeof("text/plain") - 1
                                      : type->len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_bulletin_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (out->first) {
        out->buf->last_buf = (r == r->main) ? 1 : 0;
        out->buf->last_in_chain = 1;
    }

    return rc;
}


static ngx_int_t
ngx_http_bulletin_bad_request(ngx_http_request_t *r, const char *reason,
    ngx_uint_t format)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "bulletin status: %s", reason);

    return ngx_http_bulletin_status_error(r, NGX_HTTP_BAD_REQUEST, reason,
                                          format);
}


/*
 * An error of the status as a document of its format: {"error":"..."}
 * for JSON, a line of text for Prometheus (a scraper shows it as it is)
 */

static ngx_int_t
ngx_http_bulletin_status_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason, ngx_uint_t format)
{
    ngx_str_t                *type;
    ngx_http_bulletin_out_t   out;

    ngx_http_bulletin_out_init(&out, r->pool, 0);

    if (format == BULLETIN_FORMAT_JSON) {
        type = &ngx_http_bulletin_json_type;

        if (ngx_http_bulletin_text(&out, "{\"error\":") != NGX_OK
            || ngx_http_bulletin_json_string(&out, (u_char *) reason,
                                             ngx_strlen(reason))
               != NGX_OK
            || ngx_http_bulletin_text(&out, "}\n") != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        type = &ngx_http_bulletin_text_type;

        if (ngx_http_bulletin_printf(&out, "%s\n", reason) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_bulletin_status_send(r, &out, status, type);
}


/*
 * A document of more pages than bulletin_status_max is refused rather than
 * built, as it would be built whole in this worker's memory.  ?top=N over
 * the maximum is refused whatever the store's size: a script that asks
 * for it fails at once, not the day the store grows.
 */

static ngx_int_t
ngx_http_bulletin_too_many(ngx_http_request_t *r, uint32_t top,
    uint32_t pages, ngx_uint_t max, ngx_uint_t format)
{
    u_char  *p, reason[128];

    if (top == BULLETIN_TOP_ALL) {
        p = ngx_snprintf(reason, sizeof(reason) - 1,
                         "top=all would list %uD pages, more than "
                         "bulletin_status_max %ui", pages, max);

    } else {
        p = ngx_snprintf(reason, sizeof(reason) - 1,
                         "top is more than bulletin_status_max %ui", max);
    }

    *p = '\0';

    return ngx_http_bulletin_bad_request(r, (char *) reason, format);
}


/*
 * A list document: the most viewed pages, then the totals, made in steps
 * (see NGX_HTTP_BULLETIN_STEP_READ), then sent in slices.  The request
 * waits, counted, for the last slice, which finalizes it.  The send
 * timer is set from the first step: a worker shutting down waits for
 * the document, as for any response still being sent.
 */

static ngx_int_t
ngx_http_bulletin_list(ngx_http_request_t *r, ngx_http_bulletin_status_t *st,
    ngx_uint_t top, ngx_uint_t format)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_bulletin_list_t  *l;

    l = ngx_pcalloc(r->pool, sizeof(ngx_http_bulletin_list_t));
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    l->st = *st;
    l->format = format;
    l->pages = st->store->header->page_count;
    l->n = (uint32_t) ngx_min(top, l->pages);

    /*
     * The top few of many pages: a min-heap of the best seen so far, one
     * pass and a sort of the few.  More than half of them: every page,
     * sorted by a stable radix sort of the views, which steps as well.
     */

    l->all = (l->n > l->pages / 2);
    l->k = l->all ? l->pages : l->n;

    if (l->n) {
        l->rank = ngx_palloc(r->pool,
                             l->k * sizeof(ngx_http_bulletin_rank_t));
        if (l->rank == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the copy's chain must not point into the caller's */

    ngx_http_bulletin_out_init(&l->st.out, r->pool, 1);
    ngx_http_bulletin_out_init(&l->views, r->pool, 1);
    ngx_http_bulletin_out_init(&l->shares, r->pool, 1);

    l->phase = l->n ? NGX_HTTP_BULLETIN_READ : NGX_HTTP_BULLETIN_TOTALS;

    /* a request freed before the last step takes its event along */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_bulletin_list_cleanup;
    cln->data = l;

    l->ev.handler = ngx_http_bulletin_list_handler;
    l->ev.data = l;
    l->ev.log = r->connection->log;

    r->main->count++;
    r->write_event_handler = ngx_http_bulletin_list_write_handler;

    clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);

    ngx_add_timer(r->connection->write, clcf->send_timeout);

    ngx_post_event(&l->ev, &ngx_posted_next_events);

    return NGX_DONE;
}


static void
ngx_http_bulletin_list_handler(ngx_event_t *ev)
{
    ngx_http_bulletin_list_t *l = ev->data;

    ngx_int_t            rc;
    ngx_str_t           *type;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = l->st.request;
    c = r->connection;

    if (l->phase == NGX_HTTP_BULLETIN_SEND) {
        ngx_http_bulletin_list_send(l);
        ngx_http_run_posted_requests(c);
        return;
    }

    rc = ngx_http_bulletin_list_step(l);

    if (rc == NGX_AGAIN) {
        ngx_post_event(ev, &ngx_posted_next_events);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    type = (l->format == BULLETIN_FORMAT_JSON)
           ? &ngx_http_bulletin_json_type
           : &ngx_http_bulletin_prometheus_type;

    rc = ngx_http_bulletin_status_header(r, &l->st.out, NGX_HTTP_OK, type);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only
        || l->st.out.first == NULL)
    {
        if (rc == NGX_OK && !r->header_only) {
            rc = ngx_http_send_special(r, NGX_HTTP_LAST);
        }

        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(c);
        return;
    }

    l->send = l->st.out.first;
    l->sent = l->send;
    l->phase = NGX_HTTP_BULLETIN_SEND;

    ngx_http_bulletin_list_send(l);
    ngx_http_run_posted_requests(c);
}


/*
 * The connection's write events: the socket took a slice that did not
 * fit at first, or the send timer ran out.  A step or a slice already
 * posted goes first.
 */

static void
ngx_http_bulletin_list_write_handler(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_pool_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_bulletin_list_t  *l;

    c = r->connection;
    wev = c->write;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;

        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    /* the list is the data of its cleanup, the request's only link to it */

    l = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_bulletin_list_cleanup) {
            l = cln->data;
            break;
        }
    }

    if (l == NULL || l->phase != NGX_HTTP_BULLETIN_SEND || l->ev.posted) {
        return;
    }

    if (wev->delayed) {
        clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    ngx_http_bulletin_list_send(l);
}


/*
 * One pass of the event loop sends one slice, or the rest of the last
 * one: a slice that left at once is followed by the next in the next
 * pass; one that did not waits for the socket.  The last slice is
 * nginx's to finish, as a handler's whole response would be.
 */

static void
ngx_http_bulletin_list_send(ngx_http_bulletin_list_t *l)
{
    ngx_int_t                  rc;
    ngx_event_t               *wev;
    ngx_chain_t               *slice;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = l->st.request;
    c = r->connection;
    wev = c->write;

    clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);

    /*
     * the buffers cut up to the end are unmapped once every slice cut
     * out of them has been sent (or taken by a filter)
     */

    slice = NULL;

    ngx_chain_update_chains(r->pool, &l->free, &l->busy, &slice,
                            (ngx_buf_tag_t) &ngx_http_bulletin_module);

    while (l->busy == NULL && l->sent != l->send) {
        ngx_http_bulletin_out_free(&l->st.out, l->sent->buf);
        l->sent = l->sent->next;
    }

    if (c->buffered & (NGX_HTTP_WRITE_BUFFERED|NGX_LOWLEVEL_BUFFERED)) {
        rc = ngx_http_output_filter(r, NULL);

        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, rc);
            return;
        }

        if (c->buffered & (NGX_HTTP_WRITE_BUFFERED|NGX_LOWLEVEL_BUFFERED)) {
            goto wait;
        }

        goto next;
    }

    slice = ngx_http_bulletin_list_slice(l);
    if (slice == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    rc = ngx_http_output_filter(r, slice);

    ngx_chain_update_chains(r->pool, &l->free, &l->busy, &slice,
                            (ngx_buf_tag_t) &ngx_http_bulletin_module);

    if (rc == NGX_ERROR || l->send == NULL) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (c->buffered & (NGX_HTTP_WRITE_BUFFERED|NGX_LOWLEVEL_BUFFERED)) {
        goto wait;
    }

next:

    /* limit_rate: the write filter's timer says when */

    if (wev->delayed) {
        goto wait;
    }

    ngx_add_timer(wev, clcf->send_timeout);
    ngx_post_event(&l->ev, &ngx_posted_next_events);

    return;

wait:

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * The next STEP_SEND bytes of the body, in buffers of their own that
 * point into the document's (in a subrequest, the rest whole); the last
 * one cut carries the document's last_buf; NULL: no memory
 */

static ngx_chain_t *
ngx_http_bulletin_list_slice(ngx_http_bulletin_list_t *l)
{
    size_t        size, n;
    ngx_buf_t    *b, *piece;
    ngx_chain_t  *cl, *slice, **last;

    slice = NULL;
    last = &slice;
    size = 0;

    while (l->send) {
        b = l->send->buf;
        n = b->last - b->pos;

        if (l->st.request == l->st.request->main) {
            if (size == NGX_HTTP_BULLETIN_STEP_SEND) {
                break;
            }

            n = ngx_min(n, NGX_HTTP_BULLETIN_STEP_SEND - size);
        }

        if (n == 0 && l->send->next) {
            l->send = l->send->next;
            continue;
        }

        cl = ngx_chain_get_free_buf(l->st.request->pool, &l->free);
        if (cl == NULL) {
            return NULL;
        }

        piece = cl->buf;
        ngx_memzero(piece, sizeof(ngx_buf_t));

        piece->start = b->pos;
        piece->pos = b->pos;
        piece->last = b->pos + n;
        piece->end = piece->last;
        piece->temporary = 1;
        piece->tag = (ngx_buf_tag_t) &ngx_http_bulletin_module;

        b->pos += n;
        size += n;

        if (b->pos == b->last) {
            piece->last_buf = b->last_buf;
            piece->last_in_chain = b->last_in_chain;
            piece->sync = (n == 0 && !b->last_buf);
            l->send = l->send->next;
        }

        *last = cl;
        last = &cl->next;
    }

    return slice;
}


/*
 * The request is freed: the buffers still mapped go, sent or not (a
 * client gone mid-way, an error, a worker exiting); the pages' parts are
 * the document's own once appended to it
 */

static void
ngx_http_bulletin_list_cleanup(void *data)
{
    ngx_http_bulletin_list_t *l = data;

    if (l->ev.posted) {
        ngx_delete_posted_event(&l->ev);
    }

    ngx_http_bulletin_out_unmap(l->sent ? l->sent : l->st.out.first);
    ngx_http_bulletin_out_unmap(l->views.first);
    ngx_http_bulletin_out_unmap(l->shares.first);
}


/* one step: NGX_AGAIN while the document is not whole */

static ngx_int_t
ngx_http_bulletin_list_step(ngx_http_bulletin_list_t *l)
{
    uint32_t                   from, to, end;
    ngx_uint_t                 i;
    ngx_http_bulletin_rank_t  *t;

    from = l->next;

    switch (l->phase) {

    case NGX_HTTP_BULLETIN_READ:
        to = ngx_min(from + NGX_HTTP_BULLETIN_STEP_READ, l->pages);

        ngx_http_bulletin_list_read(l, from, to);

        if (to < l->pages) {
            break;
        }

        if (!l->all) {
            ngx_qsort(l->rank, l->k, sizeof(ngx_http_bulletin_rank_t),
                      ngx_http_bulletin_rank_cmp);
            l->phase = NGX_HTTP_BULLETIN_WRITE;

        } else if (l->max) {
            l->tmp = ngx_palloc(l->st.request->pool,
                                l->k * sizeof(ngx_http_bulletin_rank_t));
            l->count = ngx_palloc(l->st.request->pool,
                                  NGX_HTTP_BULLETIN_RADIX * sizeof(uint32_t));

            if (l->tmp == NULL || l->count == NULL) {
                return NGX_ERROR;
            }

            l->phase = NGX_HTTP_BULLETIN_COUNT;

        } else {
            l->phase = NGX_HTTP_BULLETIN_WRITE;     /* all ties: by id */
        }

        to = 0;
        break;

    case NGX_HTTP_BULLETIN_COUNT:
    case NGX_HTTP_BULLETIN_SCATTER:
        to = ngx_min(from + NGX_HTTP_BULLETIN_STEP_READ, l->k);

        ngx_http_bulletin_list_radix(l, from, to);

        if (to < l->k) {
            break;
        }

        if (l->phase == NGX_HTTP_BULLETIN_COUNT) {

            /* where each digit's entries begin */

            for (i = 0, end = 0; i < NGX_HTTP_BULLETIN_RADIX; i++) {
                from = l->count[i];
                l->count[i] = end;
                end += from;
            }

            l->phase = NGX_HTTP_BULLETIN_SCATTER;

        } else {
            t = l->rank;
            l->rank = l->tmp;
            l->tmp = t;

            l->shift += NGX_HTTP_BULLETIN_RADIX_BITS;

            l->phase = (l->shift < 64 && (l->max >> l->shift))
                       ? NGX_HTTP_BULLETIN_COUNT : NGX_HTTP_BULLETIN_WRITE;
        }

        to = 0;
        break;

    case NGX_HTTP_BULLETIN_WRITE:
    case NGX_HTTP_BULLETIN_WRITE_SHARES:

        /*
         * the sort's arrays (MBs of them) freed one at a time, each in
         * a step of its own, not all at once with the request
         */

        if (l->tmp) {
            ngx_pfree(l->st.request->pool, l->tmp);
            ngx_pfree(l->st.request->pool, l->count);
            l->tmp = NULL;
            l->count = NULL;
        }

        to = ngx_min(from + NGX_HTTP_BULLETIN_STEP_WRITE, l->n);

        if (ngx_http_bulletin_list_write(l, from, to) != NGX_OK) {
            return NGX_ERROR;
        }

        if (to < l->n) {
            break;
        }

        l->phase = (l->phase == NGX_HTTP_BULLETIN_WRITE
                    && l->format != BULLETIN_FORMAT_JSON)
                   ? NGX_HTTP_BULLETIN_WRITE_SHARES : NGX_HTTP_BULLETIN_TOTALS;
        to = 0;
        break;

    case NGX_HTTP_BULLETIN_TOTALS:
        if (l->rank) {
            ngx_pfree(l->st.request->pool, l->rank);
            l->rank = NULL;
        }

        end = l->st.zone ? l->st.zone->info.used : 0;
        to = ngx_min(from + NGX_HTTP_BULLETIN_STEP_READ, end);

        ngx_http_bulletin_totals(l->st.zone, &l->t, from, to);

        if (to < end) {
            break;
        }

        ngx_http_bulletin_totals_end(l->st.zone, &l->t);

        l->phase = NGX_HTTP_BULLETIN_DONE;
        to = 0;
        break;

    default: /* NGX_HTTP_BULLETIN_DONE */
        return ngx_http_bulletin_list_finish(l);
    }

    l->next = to;

    return NGX_AGAIN;
}


/*
 * Each page's views are read once, here, and the document shows what was
 * read, so its order is consistent; records are sorted by id, so the page
 * index breaks ties as the id does.
 */

static void
ngx_http_bulletin_list_read(ngx_http_bulletin_list_t *l, uint32_t from,
    uint32_t to)
{
    uint32_t                   p;
    uint64_t                   views;
    ngx_uint_t                 i;
    ngx_http_bulletin_rank_t  *heap;

    heap = l->rank;

    for (p = from; p < to; p++) {
        views = ngx_http_bulletin_views(&l->st, p);

        if (l->all) {
            heap[p].views = views;
            heap[p].page = p;
            l->max = ngx_max(l->max, views);
            continue;
        }

        if (p < l->k) {
            heap[p].views = views;
            heap[p].page = p;

            if (p == l->k - 1) {
                for (i = l->k / 2; i-- > 0; /* void */) {
                    ngx_http_bulletin_rank_sift(heap, l->k, i);
                }
            }

            continue;
        }

        /* a later page with as many views ranks lower: its id is */

        if (views <= heap[0].views) {
            continue;
        }

        heap[0].views = views;
        heap[0].page = p;

        ngx_http_bulletin_rank_sift(heap, l->k, 0);
    }
}


/*
 * Every page, by views descending: a least significant digit first radix
 * sort of (max - views), 16 bits a pass, as many passes as max has
 * digits.  Stable, so equal views stay in page order, the ids' order.
 */

static void
ngx_http_bulletin_list_radix(ngx_http_bulletin_list_t *l, uint32_t from,
    uint32_t to)
{
    uint32_t                   i, d;
    ngx_http_bulletin_rank_t  *e;

    if (l->phase == NGX_HTTP_BULLETIN_COUNT && from == 0) {
        ngx_memzero(l->count, NGX_HTTP_BULLETIN_RADIX * sizeof(uint32_t));
    }

    for (i = from; i < to; i++) {
        e = &l->rank[i];
        d = (uint32_t) ((l->max - e->views) >> l->shift)
            & (NGX_HTTP_BULLETIN_RADIX - 1);

        if (l->phase == NGX_HTTP_BULLETIN_COUNT) {
            l->count[d]++;

        } else {
            l->tmp[l->count[d]++] = *e;
        }
    }
}


static ngx_int_t
ngx_http_bulletin_list_write(ngx_http_bulletin_list_t *l, uint32_t from,
    uint32_t to)
{
    uint32_t  i;

    if (l->format != BULLETIN_FORMAT_JSON) {
        return (l->phase == NGX_HTTP_BULLETIN_WRITE)
               ? ngx_http_bulletin_prometheus_views(&l->st, &l->views,
                                                    l->rank, from, to)
               : ngx_http_bulletin_prometheus_shares(&l->st, &l->shares,
                                                     l->rank, from, to);
    }

    for (i = from; i < to; i++) {
        if (ngx_http_bulletin_text(&l->views, i ? ",\n" : "\n") != NGX_OK
            || ngx_http_bulletin_json_page(&l->st, &l->views, l->rank[i].page,
                                           l->rank[i].views)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_list_finish(ngx_http_bulletin_list_t *l)
{
    if (l->format == BULLETIN_FORMAT_JSON) {
        return ngx_http_bulletin_json(&l->st, &l->t, &l->views);
    }

    return ngx_http_bulletin_prometheus(&l->st, &l->t, &l->views, &l->shares);
}


/* the heap's root is the lowest rank: fewer views, or a later id */

static void
ngx_http_bulletin_rank_sift(ngx_http_bulletin_rank_t *heap, ngx_uint_t n,
    ngx_uint_t i)
{
    ngx_uint_t                l, low;
    ngx_http_bulletin_rank_t  t;

    for ( ;; ) {
        low = i;

        for (l = 2 * i + 1; l <= 2 * i + 2 && l < n; l++) {
            if (ngx_http_bulletin_rank_cmp(&heap[l], &heap[low]) > 0) {
                low = l;
            }
        }

        if (low == i) {
            return;
        }

        t = heap[i];
        heap[i] = heap[low];
        heap[low] = t;

        i = low;
    }
}


/* negative when one ranks higher */

static int
ngx_http_bulletin_rank_cmp(const void *one, const void *two)
{
    const ngx_http_bulletin_rank_t  *a = one;
    const ngx_http_bulletin_rank_t  *b = two;

    if (a->views != b->views) {
        return a->views > b->views ? -1 : 1;
    }

    if (a->page != b->page) {
        return a->page < b->page ? -1 : 1;
    }

    return 0;
}


/* the totals of slots [from, to), added to t (zeroed at first) */

static void
ngx_http_bulletin_totals(ngx_http_bulletin_zone_t *zone,
    ngx_http_bulletin_totals_t *t, uint32_t from, uint32_t to)
{
    uint32_t                   i, k;
    uint64_t                   n;
    bulletin_counters_slot_t  *slot;

    for (i = from; i < to; i++) {
        slot = bulletin_counters_slot(zone->region, i);

        t->views += ngx_http_bulletin_read(&slot->views);
        t->excluded += ngx_http_bulletin_read(&slot->excluded);
        t->fleet_views += ngx_http_bulletin_read(&slot->fleet_views);

        for (k = 0; k < zone->info.nchannels; k++) {
            n = ngx_http_bulletin_read(&slot->shares[k]);
            t->channel[k] += n;
            t->shares += n;

            n = ngx_http_bulletin_read(&slot->fleet_channel[k]);
            t->fleet_channel[k] += n;
            t->fleet_shares += n;
        }
    }
}


/* every slot added: the fleet's totals are this node's and the others' */

static void
ngx_http_bulletin_totals_end(ngx_http_bulletin_zone_t *zone,
    ngx_http_bulletin_totals_t *t)
{
    uint32_t  k;

    if (zone == NULL) {
        return;
    }

    t->fleet_views += t->views;
    t->fleet_shares += t->shares;

    for (k = 0; k < zone->info.nchannels; k++) {
        t->fleet_channel[k] += t->channel[k];
    }
}


/*
 * The pages were written first, from the views the ranking read, then the
 * totals read after them: counts only grow, so the listed pages never add
 * up to more than the totals.  The head goes before the pages in the
 * document.
 */

static ngx_int_t
ngx_http_bulletin_json(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t, ngx_http_bulletin_out_t *pages)
{
    ngx_http_bulletin_out_t  *out;

    out = &st->out;

    if (ngx_http_bulletin_text(out, "{\"module\":\""
                               NGX_HTTP_BULLETIN_VERSION "\",\"nginx\":")
        != NGX_OK
        || ngx_http_bulletin_json_nginx(st) != NGX_OK
        || ngx_http_bulletin_json_store(st) != NGX_OK
        || ngx_http_bulletin_json_zone(st) != NGX_OK
        || ngx_http_bulletin_json_totals(st, t) != NGX_OK
        || ngx_http_bulletin_json_fleet(st, t) != NGX_OK
        || ngx_http_bulletin_text(out, ",\n\"pages\":[") != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_bulletin_out_append(out, pages);

    return ngx_http_bulletin_text(out, "]}\n");
}


/* nginx's version as its Server header shows it: none with server_tokens off */

static ngx_int_t
ngx_http_bulletin_json_nginx(ngx_http_bulletin_status_t *st)
{
    ngx_str_t                  ver;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(st->request, ngx_http_core_module);

    switch (clcf->server_tokens) {

    case NGX_HTTP_SERVER_TOKENS_OFF:
        return ngx_http_bulletin_text(&st->out, "null");

    case NGX_HTTP_SERVER_TOKENS_BUILD:
        ngx_str_set(&ver, NGINX_VER_BUILD);
        break;

    default:
        ngx_str_set(&ver, NGINX_VER);
    }

    return ngx_http_bulletin_json_string(&st->out,
                                         ver.data + sizeof("nginx/") - 1,
                                         ver.len - (sizeof("nginx/") - 1));
}


static ngx_int_t
ngx_http_bulletin_json_store(ngx_http_bulletin_status_t *st)
{
    uint32_t                        k;
    ngx_http_bulletin_out_t        *out;
    const bulletin_store_header_t  *h;

    out = &st->out;
    h = st->store->header;

    if (ngx_http_bulletin_text(out, ",\n\"store\":{\"path\":") != NGX_OK
        || ngx_http_bulletin_json_string(out, st->main->path.data,
                                         st->main->path.len)
           != NGX_OK
        || ngx_http_bulletin_printf(out, ",\"generation\":\"%*s\","
                                    "\"built_at\":",
                                    sizeof(h->generation), h->generation)
           != NGX_OK
        || ngx_http_bulletin_json_time(out, (time_t) h->built_at) != NGX_OK
        || ngx_http_bulletin_text(out, ",\"loaded_at\":") != NGX_OK
        || ngx_http_bulletin_json_time(out, st->main->loaded_at) != NGX_OK
        || ngx_http_bulletin_printf(out, ",\"pages\":%uD,\"bytes\":%uL,"
                                    "\"channels\":[",
                                    h->page_count, h->file_size)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < h->nchannels; k++) {
        if (ngx_http_bulletin_printf(out, "%s\"%s\"", k ? "," : "",
                                     h->channels[k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_bulletin_text(out, "]}");
}


static ngx_int_t
ngx_http_bulletin_json_zone(ngx_http_bulletin_status_t *st)
{
    ngx_int_t                  rc;
    ngx_http_bulletin_out_t   *out;
    ngx_http_bulletin_zone_t  *zone;

    out = &st->out;
    zone = st->zone;

    if (zone == NULL) {
        return ngx_http_bulletin_text(out, ",\n\"zone\":null");
    }

    /* a file may be larger than configured: it never shrinks */

    if (ngx_http_bulletin_text(out, ",\n\"zone\":{\"name\":") != NGX_OK
        || ngx_http_bulletin_json_string(out, zone->name.data,
                                         zone->name.len)
           != NGX_OK
        || ngx_http_bulletin_printf(out, ",\"size\":%uz,\"file\":",
                                    zone->file.len ? zone->region_size
                                                   : zone->size)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (zone->file.len == 0) {
        rc = ngx_http_bulletin_text(out, "null");

    } else {
        rc = ngx_http_bulletin_json_string(out, zone->file.data,
                                           zone->file.len);
    }

    if (rc != NGX_OK
        || ngx_http_bulletin_text(out, ",\"since\":") != NGX_OK
        || ngx_http_bulletin_json_time(out, (time_t) zone->info.created)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_bulletin_printf(out, ",\"slots_used\":%uD,"
                                    "\"slots_total\":%uD}",
                                    zone->info.used, zone->info.capacity);
}


static ngx_int_t
ngx_http_bulletin_json_totals(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t)
{
    if (ngx_http_bulletin_printf(&st->out, ",\n\"totals\":{\"views\":%uL,"
                                 "\"shares\":%uL,\"excluded\":%uL,"
                                 "\"shares_by_channel\":{",
                                 t->views, t->shares, t->excluded)
        != NGX_OK
        || ngx_http_bulletin_json_channels(st, &st->out, t->channel)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_bulletin_text(&st->out, "}}");
}


/*
 * The fleet, as bulletin-sync last wrote it into the counters file: null
 * on a node it never ran on.  The totals are what readers see, this
 * node's counts and the other nodes', over the ids of this zone.  The
 * strings were cleaned to printable ASCII as they were read.
 */

static ngx_int_t
ngx_http_bulletin_json_fleet(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t)
{
    ngx_int_t                 rc;
    bulletin_fleet_state_t   *f;
    ngx_http_bulletin_out_t  *out;

    out = &st->out;
    f = &st->fleet;

    if (!st->synced) {
        return ngx_http_bulletin_text(out, ",\n\"fleet\":null");
    }

    if (ngx_http_bulletin_printf(out, ",\n\"fleet\":{\"node\":\"%s\","
                                 "\"redis\":\"%s\",\"pid\":%L,"
                                 "\"interval_ms\":%uD,\"started\":",
                                 f->node, f->redis, f->pid, f->interval)
        != NGX_OK
        || ngx_http_bulletin_json_ms(out, f->started) != NGX_OK
        || ngx_http_bulletin_text(out, ",\"tick\":") != NGX_OK
        || ngx_http_bulletin_json_ms(out, f->tick) != NGX_OK
        || ngx_http_bulletin_text(out, ",\"synced\":") != NGX_OK
        || ngx_http_bulletin_json_ms(out, f->synced) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (f->lag < 0) {
        rc = ngx_http_bulletin_text(out, ",\"lag_ms\":null");

    } else {
        rc = ngx_http_bulletin_printf(out, ",\"lag_ms\":%L", f->lag);
    }

    if (rc != NGX_OK
        || ngx_http_bulletin_printf(out, ",\"nodes\":%uD,\"nodes_live\":%uD,"
                                    "\"syncs\":%uL,\"errors\":%uL,"
                                    "\"error\":",
                                    f->nodes, f->nodes_live, f->syncs,
                                    f->errors)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (f->error[0] == '\0') {
        rc = ngx_http_bulletin_text(out, "null");

    } else {
        rc = ngx_http_bulletin_printf(out, "\"%s\"", f->error);
    }

    if (rc != NGX_OK
        || ngx_http_bulletin_text(out, ",\"error_at\":") != NGX_OK
        || ngx_http_bulletin_json_ms(out, f->error[0] ? f->error_at : 0)
           != NGX_OK
        || ngx_http_bulletin_printf(out, ",\n \"totals\":{\"views\":%uL,"
                                    "\"shares\":%uL,"
                                    "\"shares_by_channel\":{",
                                    t->fleet_views, t->fleet_shares)
           != NGX_OK
        || ngx_http_bulletin_json_channels(st, out, t->fleet_channel)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_bulletin_text(out, "}}}");
}


/* a time in ms as the document's times are, to the second; 0 is null */

static ngx_int_t
ngx_http_bulletin_json_ms(ngx_http_bulletin_out_t *out, int64_t ms)
{
    if (ms <= 0) {
        return ngx_http_bulletin_text(out, "null");
    }

    return ngx_http_bulletin_json_time(out, (time_t) (ms / 1000));
}


/* each counter is read once, and the page's shares are their sum */

static ngx_int_t
ngx_http_bulletin_json_page(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_out_t *out, uint32_t page, uint64_t views)
{
    u_char                     id[BULLETIN_ID_MAX];
    u_char                     title[BULLETIN_TITLE_MAX];
    uint32_t                   k, nchannels;
    uint64_t                   shares, fleet_views, fleet_shares;
    uint64_t                   channel[BULLETIN_CHANNELS_MAX];
    uint64_t                   fleet_channel[BULLETIN_CHANNELS_MAX];
    bulletin_counters_slot_t  *slot;
    bulletin_store_record_t    rec;

    if (ngx_http_bulletin_id_of(st, page, &rec, id) != NGX_OK) {
        return NGX_ERROR;
    }

    /* escaped in two passes: from a copy that cannot change in between */

    ngx_memcpy(title, st->store->base + rec.title_off, rec.title_len);

    if (!bulletin_utf8_valid(title, rec.title_len)) {
        ngx_http_bulletin_log_changed(st->request, st->main, page,
                                      BULLETIN_ERR_CHANGED);
        return NGX_ERROR;
    }

    slot = st->zone ? st->zone->slots[page] : NULL;
    nchannels = st->zone ? st->zone->info.nchannels
                         : st->store->header->nchannels;

    shares = 0;
    fleet_shares = 0;

    for (k = 0; k < nchannels; k++) {
        channel[k] = slot ? ngx_http_bulletin_read(&slot->shares[k]) : 0;
        shares += channel[k];

        fleet_channel[k] = channel[k];

        if (st->synced) {
            fleet_channel[k] += ngx_http_bulletin_read(
                                                  &slot->fleet_channel[k]);
        }

        fleet_shares += fleet_channel[k];
    }

    if (ngx_http_bulletin_text(out, "{\"id\":") != NGX_OK
        || ngx_http_bulletin_json_string(out, id, rec.id_len) != NGX_OK
        || ngx_http_bulletin_text(out, ",\"title\":") != NGX_OK
        || ngx_http_bulletin_json_string(out, title, rec.title_len)
           != NGX_OK
        || ngx_http_bulletin_printf(out, ",\"views\":%uL,\"shares\":%uL,"
                                    "\"shares_by_channel\":{",
                                    views, shares)
           != NGX_OK
        || ngx_http_bulletin_json_channels(st, out, channel) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!st->synced) {
        return ngx_http_bulletin_text(out, "}}");
    }

    /* what a reader of this node sees */

    fleet_views = views + ngx_http_bulletin_read(&slot->fleet_views);

    if (ngx_http_bulletin_printf(out, "},\"fleet\":{\"views\":%uL,"
                                 "\"shares\":%uL,\"shares_by_channel\":{",
                                 fleet_views, fleet_shares)
        != NGX_OK
        || ngx_http_bulletin_json_channels(st, out, fleet_channel) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_bulletin_text(out, "}}}");
}


/* the members of "shares_by_channel", by the zone's channels or the store's */

static ngx_int_t
ngx_http_bulletin_json_channels(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_out_t *out, uint64_t *count)
{
    uint32_t                        k, n;
    ngx_http_bulletin_zone_t       *zone;
    const bulletin_store_header_t  *h;

    zone = st->zone;
    h = st->store->header;

    n = zone ? zone->info.nchannels : h->nchannels;

    for (k = 0; k < n; k++) {
        if (ngx_http_bulletin_printf(out, "%s\"%s\":%uL", k ? "," : "",
                                     zone ? zone->info.channels[k]
                                          : h->channels[k],
                                     count[k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_prometheus(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_totals_t *t, ngx_http_bulletin_out_t *views,
    ngx_http_bulletin_out_t *shares)
{
    uint32_t                        k;
    ngx_http_bulletin_zone_t       *zone;
    ngx_http_bulletin_out_t        *out;
    const bulletin_store_header_t  *h;

    out = &st->out;
    zone = st->zone;
    h = st->store->header;

    if (ngx_http_bulletin_printf(out,
            "# HELP bulletin_store_info The store served, by generation.\n"
            "# TYPE bulletin_store_info gauge\n"
            "bulletin_store_info{generation=\"%*s\"} 1\n"
            "# HELP bulletin_store_pages Pages in the store.\n"
            "# TYPE bulletin_store_pages gauge\n"
            "bulletin_store_pages %uD\n",
            sizeof(h->generation), h->generation, h->page_count)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (zone == NULL) {
        return NGX_OK;
    }

    /*
     * bulletin_zone_slots_total is a capacity, not a counter; the text
     * format reserves "_total" for counters, so it is declared untyped
     */

    if (ngx_http_bulletin_printf(out,
            "# HELP bulletin_zone_slots_used Counter slots given to ids.\n"
            "# TYPE bulletin_zone_slots_used gauge\n"
            "bulletin_zone_slots_used %uD\n"
            "# HELP bulletin_zone_slots_total Counter slots the zone "
            "holds.\n"
            "# TYPE bulletin_zone_slots_total untyped\n"
            "bulletin_zone_slots_total %uD\n"
            "# HELP bulletin_counters_start_time_seconds When the counters "
            "began, as a unix time.\n"
            "# TYPE bulletin_counters_start_time_seconds gauge\n"
            "bulletin_counters_start_time_seconds %L\n"
            "# HELP bulletin_views_total Page views counted, all pages.\n"
            "# TYPE bulletin_views_total counter\n"
            "bulletin_views_total %uL\n"
            "# HELP bulletin_excluded_total Views not counted as their "
            "User-Agent is excluded, all pages.\n"
            "# TYPE bulletin_excluded_total counter\n"
            "bulletin_excluded_total %uL\n"
            "# HELP bulletin_shares_total Shares counted, all pages, "
            "by channel.\n"
            "# TYPE bulletin_shares_total counter\n",
            zone->info.used, zone->info.capacity, zone->info.created,
            t->views, t->excluded)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < zone->info.nchannels; k++) {
        if (ngx_http_bulletin_printf(out,
                                     "bulletin_shares_total{channel=\"%s\"} "
                                     "%uL\n", zone->info.channels[k],
                                     t->channel[k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (st->synced && ngx_http_bulletin_prometheus_fleet(st) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_bulletin_out_append(out, views);
    ngx_http_bulletin_out_append(out, shares);

    return NGX_OK;
}


/*
 * The sidecar's health.  The fleet's counts are not here: each node
 * gives its own, and a sum() over the nodes is the fleet's.
 */

static ngx_int_t
ngx_http_bulletin_prometheus_fleet(ngx_http_bulletin_status_t *st)
{
    double                   lag;
    bulletin_fleet_state_t  *f;

    f = &st->fleet;

    lag = f->lag < 0 ? 0 : f->lag / 1000.0;

    return ngx_http_bulletin_printf(&st->out,
        "# HELP bulletin_fleet_info The node's bulletin-sync: node name "
        "and Redis.\n"
        "# TYPE bulletin_fleet_info gauge\n"
        "bulletin_fleet_info{node=\"%s\",redis=\"%s\"} 1\n"
        "# HELP bulletin_fleet_nodes Nodes whose counts the fleet sums.\n"
        "# TYPE bulletin_fleet_nodes gauge\n"
        "bulletin_fleet_nodes %uD\n"
        "# HELP bulletin_fleet_nodes_live Nodes that published within "
        "the last minute.\n"
        "# TYPE bulletin_fleet_nodes_live gauge\n"
        "bulletin_fleet_nodes_live %uD\n"
        "# HELP bulletin_fleet_last_sync_timestamp_seconds When the last "
        "sync succeeded, as a unix time (0: never).\n"
        "# TYPE bulletin_fleet_last_sync_timestamp_seconds gauge\n"
        "bulletin_fleet_last_sync_timestamp_seconds %L.%03L\n"
        "# HELP bulletin_fleet_last_tick_timestamp_seconds When "
        "bulletin-sync last tried, as a unix time.\n"
        "# TYPE bulletin_fleet_last_tick_timestamp_seconds gauge\n"
        "bulletin_fleet_last_tick_timestamp_seconds %L.%03L\n"
        "# HELP bulletin_fleet_lag_seconds Age of the newest other node's "
        "counts at the last sync.\n"
        "# TYPE bulletin_fleet_lag_seconds gauge\n"
        "bulletin_fleet_lag_seconds %.3f\n"
        "# HELP bulletin_fleet_syncs_total Successful syncs.\n"
        "# TYPE bulletin_fleet_syncs_total counter\n"
        "bulletin_fleet_syncs_total %uL\n"
        "# HELP bulletin_fleet_sync_errors_total Syncs that failed.\n"
        "# TYPE bulletin_fleet_sync_errors_total counter\n"
        "bulletin_fleet_sync_errors_total %uL\n",
        f->node, f->redis, f->nodes, f->nodes_live,
        f->synced / 1000, f->synced % 1000, f->tick / 1000, f->tick % 1000,
        lag, f->syncs, f->errors);
}


/*
 * A family's samples stand together: views of every listed page, then
 * their shares, each family written in steps of [from, to), its head
 * first.  Ids, channel names and generations need no escaping: the
 * store's checks allow only A-Z a-z 0-9 _ - and hex in them.
 */

static ngx_int_t
ngx_http_bulletin_prometheus_views(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_out_t *out, ngx_http_bulletin_rank_t *rank,
    ngx_uint_t from, ngx_uint_t to)
{
    u_char                   id[BULLETIN_ID_MAX];
    size_t                   len;
    ngx_uint_t               i;
    bulletin_store_record_t  rec;

    if (st->zone == NULL) {
        return NGX_OK;
    }

    if (from == 0
        && ngx_http_bulletin_text(out,
               "# HELP bulletin_page_views_total Views of the listed pages.\n"
               "# TYPE bulletin_page_views_total counter\n")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = from; i < to; i++) {
        if (ngx_http_bulletin_id_of(st, rank[i].page, &rec, id) != NGX_OK) {
            return NGX_ERROR;
        }

        len = rec.id_len;

        if (ngx_http_bulletin_printf(out,
                                     "bulletin_page_views_total{id=\"%*s\"} "
                                     "%uL\n", len, id, rank[i].views)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_prometheus_shares(ngx_http_bulletin_status_t *st,
    ngx_http_bulletin_out_t *out, ngx_http_bulletin_rank_t *rank,
    ngx_uint_t from, ngx_uint_t to)
{
    u_char                     id[BULLETIN_ID_MAX];
    size_t                     len;
    uint32_t                   k;
    ngx_uint_t                 i;
    bulletin_store_record_t    rec;
    bulletin_counters_slot_t  *slot;

    if (st->zone == NULL) {
        return NGX_OK;
    }

    if (from == 0
        && ngx_http_bulletin_text(out,
               "# HELP bulletin_page_shares_total Shares of the listed pages, "
               "by channel.\n"
               "# TYPE bulletin_page_shares_total counter\n")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = from; i < to; i++) {
        if (ngx_http_bulletin_id_of(st, rank[i].page, &rec, id) != NGX_OK) {
            return NGX_ERROR;
        }

        len = rec.id_len;
        slot = st->zone->slots[rank[i].page];

        for (k = 0; k < st->zone->info.nchannels; k++) {
            if (ngx_http_bulletin_printf(out,
                                         "bulletin_page_shares_total"
                                         "{id=\"%*s\",channel=\"%s\"} %uL\n",
                                         len, id, st->zone->info.channels[k],
                                         ngx_http_bulletin_read(
                                             &slot->shares[k]))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static uint64_t
ngx_http_bulletin_views(ngx_http_bulletin_status_t *st, uint32_t page)
{
    if (st->zone == NULL) {
        return 0;
    }

    return ngx_http_bulletin_read(&st->zone->slots[page]->views);
}


static void
ngx_http_bulletin_out_init(ngx_http_bulletin_out_t *out, ngx_pool_t *pool,
    ngx_uint_t mapped)
{
    out->pool = pool;
    out->first = NULL;
    out->last = &out->first;
    out->buf = NULL;
    out->size = 0;
    out->mapped = mapped;
}


/* tail's buffers become out's: tail is left empty */

static void
ngx_http_bulletin_out_append(ngx_http_bulletin_out_t *out,
    ngx_http_bulletin_out_t *tail)
{
    if (tail->first == NULL) {
        return;
    }

    out->size += (out->buf ? out->buf->last - out->buf->pos : 0)
                 + tail->size;

    *out->last = tail->first;
    out->last = tail->last;
    out->buf = tail->buf;

    tail->first = NULL;
    tail->last = &tail->first;
    tail->buf = NULL;
    tail->size = 0;
}


/* the size of out's next buffer, for at least size bytes */

static size_t
ngx_http_bulletin_out_size(ngx_http_bulletin_out_t *out, size_t size)
{
    size_t  least;

    if (!out->mapped) {
        least = NGX_HTTP_BULLETIN_OUT_SIZE;

    } else if (out->size + (out->buf ? out->buf->last - out->buf->pos : 0)
               >= NGX_HTTP_BULLETIN_HUGE_SIZE)
    {
        least = NGX_HTTP_BULLETIN_HUGE_SIZE;

    } else {
        least = NGX_HTTP_BULLETIN_MAP_SIZE;
    }

    return ngx_max(size, least);
}


static ngx_buf_t *
ngx_http_bulletin_out_buf(ngx_http_bulletin_out_t *out, size_t size)
{
    u_char     *p;
    ngx_buf_t  *b;

    if (!out->mapped) {
        return ngx_create_temp_buf(out->pool, size);
    }

    b = ngx_calloc_buf(out->pool);
    if (b == NULL) {
        return NULL;
    }

    p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
             -1, 0);

    if (p == MAP_FAILED) {
        ngx_log_error(NGX_LOG_ALERT, out->pool->log, ngx_errno,
                      "mmap(MAP_ANONYMOUS, %uz) failed", size);
        return NULL;
    }

#if (NGX_LINUX) && defined(MADV_HUGEPAGE)

    /* without transparent huge pages, 4 KB pages: nothing to say */

    if (size >= NGX_HTTP_BULLETIN_HUGE_SIZE) {
        (void) madvise(p, size, MADV_HUGEPAGE);
    }

#endif

    b->start = p;
    b->pos = p;
    b->last = p;
    b->end = p + size;
    b->temporary = 1;

    return b;
}


static void
ngx_http_bulletin_out_free(ngx_http_bulletin_out_t *out, ngx_buf_t *b)
{
    if (!out->mapped) {
        ngx_pfree(out->pool, b->start);
        return;
    }

    if (b->start == NULL) {
        return;
    }

    if (munmap(b->start, b->end - b->start) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "munmap(%p, %uz) failed", b->start,
                      (size_t) (b->end - b->start));
    }

    b->start = NULL;
    b->pos = NULL;
    b->last = NULL;
    b->end = NULL;
}


/* every buffer of a mapped chain, from cl */

static void
ngx_http_bulletin_out_unmap(ngx_chain_t *cl)
{
    ngx_http_bulletin_out_t  mapped;

    ngx_memzero(&mapped, sizeof(ngx_http_bulletin_out_t));
    mapped.mapped = 1;

    for ( /* void */ ; cl; cl = cl->next) {
        ngx_http_bulletin_out_free(&mapped, cl->buf);
    }
}


/*
 * Text goes into the document three ways, and no caller gives a size:
 * printf formats up to the end of the buffer and, when the text did not
 * fit, formats it again into a new buffer, larger each time until it
 * fits; text copies a string, and json_string escapes one, into room
 * for the size they compute.
 */

static ngx_int_t
ngx_http_bulletin_printf(ngx_http_bulletin_out_t *out, const char *fmt, ...)
{
    u_char     *p;
    size_t      size;
    va_list     args;
    ngx_buf_t  *b;

    b = out->buf;

    if (b != NULL) {
        va_start(args, fmt);
        p = ngx_vslprintf(b->last, b->end, fmt, args);
        va_end(args);

        /* short of the end: nothing was cut off */

        if (p < b->end) {
            b->last = p;
            return NGX_OK;
        }
    }

    for (size = ngx_http_bulletin_out_size(out, 0); /* void */ ; size *= 2) {

        b = ngx_http_bulletin_out_buf(out, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        va_start(args, fmt);
        p = ngx_vslprintf(b->last, b->end, fmt, args);
        va_end(args);

        if (p < b->end) {
            b->last = p;
            return ngx_http_bulletin_out_link(out, b);
        }

        ngx_http_bulletin_out_free(out, b);
    }
}


static ngx_int_t
ngx_http_bulletin_text(ngx_http_bulletin_out_t *out, const char *s)
{
    size_t      len;
    ngx_buf_t  *b;

    len = ngx_strlen(s);

    b = ngx_http_bulletin_room(out, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, s, len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_json_string(ngx_http_bulletin_out_t *out, const u_char *s,
    size_t len)
{
    u_char     *p;
    ngx_buf_t  *b;

    b = ngx_http_bulletin_room(out,
                               len + ngx_escape_json(NULL, (u_char *) s, len)
                               + 2);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;

    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, (u_char *) s, len);
    *p++ = '"';

    b->last = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_json_time(ngx_http_bulletin_out_t *out, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_http_bulletin_printf(out,
                                    "\"%4d-%02d-%02dT%02d:%02d:%02dZ\"",
                                    tm.ngx_tm_year, tm.ngx_tm_mon,
                                    tm.ngx_tm_mday, tm.ngx_tm_hour,
                                    tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* the buffer written into, with at least size bytes free */

static ngx_buf_t *
ngx_http_bulletin_room(ngx_http_bulletin_out_t *out, size_t size)
{
    ngx_buf_t  *b;

    b = out->buf;

    if (b != NULL && (size_t) (b->end - b->last) >= size) {
        return b;
    }

    b = ngx_http_bulletin_out_buf(out, ngx_http_bulletin_out_size(out, size));
    if (b == NULL) {
        return NULL;
    }

    if (ngx_http_bulletin_out_link(out, b) != NGX_OK) {
        return NULL;
    }

    return b;
}


/* the document's next buffer, and the one written into */

static ngx_int_t
ngx_http_bulletin_out_link(ngx_http_bulletin_out_t *out, ngx_buf_t *b)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(out->pool);
    if (cl == NULL) {
        ngx_http_bulletin_out_free(out, b);
        return NGX_ERROR;
    }

    if (out->buf) {
        out->size += out->buf->last - out->buf->pos;
    }

    cl->buf = b;
    cl->next = NULL;

    *out->last = cl;
    out->last = &cl->next;
    out->buf = b;

    return NGX_OK;
}


/*
 * The page's record and id, copied out of the mapping: ids are printed
 * unescaped in Prometheus labels, so a copy that is no longer an id (a
 * store rewritten in place) fails the document.
 */

static ngx_int_t
ngx_http_bulletin_id_of(ngx_http_bulletin_status_t *st, uint32_t page,
    bulletin_store_record_t *rec, u_char *id)
{
    if (ngx_http_bulletin_record(st->request, st->main, page, rec)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(id, st->store->base + rec->id_off, rec->id_len);

    if (!bulletin_id_valid(id, rec->id_len, 1)) {
        ngx_http_bulletin_log_changed(st->request, st->main, page,
                                      BULLETIN_ERR_CHANGED);
        return NGX_ERROR;
    }

    return NGX_OK;
}
