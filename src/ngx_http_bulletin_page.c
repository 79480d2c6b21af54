
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


typedef struct {
    ngx_http_bulletin_zone_t       *zone;
    uint32_t                        page;
    uint64_t                        views;       /* of page, as shown */
} ngx_http_bulletin_show_t;


/*
 * nginx formats Last-Modified for every response it sends; the pages of
 * a store share a few times, so a worker keeps the last ones formatted
 */

#define NGX_HTTP_BULLETIN_TIMES  8

typedef struct {
    time_t                          time;
    u_char                          text[sizeof("Mon, 28 Sep 1970 06:00:00 GMT")
                                         - 1];
} ngx_http_bulletin_time_t;


static uint64_t ngx_http_bulletin_count(void *data, uint32_t page,
    uint32_t kind);
static uint64_t *ngx_http_bulletin_page_view(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf, ngx_http_bulletin_zone_t *zone,
    uint32_t page, ngx_http_bulletin_show_t *show);
static void ngx_http_bulletin_page_viewed(ngx_http_request_t *r,
    ngx_http_bulletin_ctx_t *ctx, uint64_t *counter);
static void ngx_http_bulletin_page_prefetch(
    ngx_http_bulletin_main_conf_t *bmcf, const bulletin_store_record_t *rec,
    uint32_t page);
static ngx_uint_t ngx_http_bulletin_speculative(ngx_http_request_t *r);
static ngx_int_t ngx_http_bulletin_page_headers(ngx_http_request_t *r,
    const bulletin_store_record_t *rec, u_char *etag, ngx_uint_t gzip,
    uint64_t len);
static ngx_int_t ngx_http_bulletin_page_body(ngx_http_request_t *r,
    bulletin_chunk_t *chunks, size_t n);


static ngx_http_bulletin_time_t  ngx_http_bulletin_times[
                                     NGX_HTTP_BULLETIN_TIMES];


/* by BULLETIN_TYPE_*, in range (bulletin_store_record()) */

static ngx_str_t  ngx_http_bulletin_types[] = {
    ngx_string("text/html"),
    ngx_string("application/xml"),
    ngx_string("application/atom+xml")
};


ngx_int_t
ngx_http_bulletin_page_handler(ngx_http_request_t *r)
{
    int                             err;
    size_t                          n, nmax, smax;
    uint8_t                        *scratch;
    u_char                         *etag;
    uint32_t                        page;
    uint64_t                        len, *counter;
    ngx_int_t                       rc;
    ngx_uint_t                      gzip;
    bulletin_chunk_t               *chunks;
    bulletin_count_pt               count;
    ngx_http_bulletin_ctx_t        *ctx;
    ngx_http_bulletin_show_t        show;
    bulletin_store_record_t         rec;
    ngx_http_bulletin_loc_conf_t   *blcf;
    ngx_http_bulletin_main_conf_t  *bmcf;

    rc = ngx_http_bulletin_accept(r, NGX_HTTP_GET|NGX_HTTP_HEAD, "GET, HEAD");

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_bulletin_request_page(r, &page);

    if (rc != NGX_OK) {
        return rc;
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bulletin_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);

    if (bmcf->zone) {
        bulletin_prefetch(&bmcf->zone->slots[page]);
    }

    /* the mapping is read through this copy from here on */

    if (ngx_http_bulletin_record(r, bmcf, page, &rec) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_bulletin_page_prefetch(bmcf, &rec, page);

    /* one allocation: the context, the body's pieces, scratch, the ETag */

    nmax = bulletin_body_chunks_max(&rec);
    smax = bulletin_body_scratch_max(&bmcf->store, &rec);

    ctx = ngx_palloc(r->pool, sizeof(ngx_http_bulletin_ctx_t)
                              + nmax * sizeof(bulletin_chunk_t)
                              + smax + BULLETIN_ETAG_LEN);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(ctx, sizeof(ngx_http_bulletin_ctx_t));

    chunks = (bulletin_chunk_t *) (ctx + 1);
    scratch = (uint8_t *) (chunks + nmax);
    etag = scratch + smax;

    ngx_http_set_ctx(r, ctx, ngx_http_bulletin_module);

    /* unless the location sets Cache-Control itself */
    ctx->no_cache = 1;

    count = NULL;
    counter = NULL;

    /* a sitemap or a feed shows no count and counts no view */

    if (bmcf->zone && rec.type == BULLETIN_TYPE_HTML) {
        counter = ngx_http_bulletin_page_view(r, blcf, bmcf->zone, page,
                                              &show);

        ctx->views = show.views;
        ctx->zone = bmcf->zone;
        ctx->slot = bmcf->zone->slots[page];

        count = ngx_http_bulletin_count;
    }

#if (NGX_HTTP_GZIP)
    gzip = blcf->gzip && ngx_http_gzip_ok(r) == NGX_OK;
#else
    gzip = 0;
#endif

    err = bulletin_body(&bmcf->store, &rec, gzip, count, &show, scratch, smax,
                        chunks, &n, &len);

    if (err != BULLETIN_OK) {
        ngx_http_bulletin_log_changed(r, bmcf, page, err);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* from the hash: the ETag's bytes in the file are checked at load only */
    bulletin_etag(etag, rec.hash);

    if (ngx_http_bulletin_page_headers(r, &rec, etag, gzip, len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (counter != NULL && rc != NGX_ERROR) {
        ngx_http_bulletin_page_viewed(r, ctx, counter);
    }

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (n == 0) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    return ngx_http_bulletin_page_body(r, chunks, n);
}


/*
 * A view is known only once the not modified filter has spoken (a 412
 * counts nothing), but the page shows its count, and its length depends
 * on it: the page shows the count this view will make, and the view is
 * counted after the header is sent.  Returns the counter this request
 * adds to, if any.
 */

static uint64_t *
ngx_http_bulletin_page_view(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf, ngx_http_bulletin_zone_t *zone,
    uint32_t page, ngx_http_bulletin_show_t *show)
{
    bulletin_counters_slot_t  *slot;

    slot = zone->slots[page];

    show->zone = zone;
    show->page = page;
    show->views = ngx_http_bulletin_fleet(slot, views, fleet_views);

    if (r != r->main
        || r->method != NGX_HTTP_GET
        || ngx_http_bulletin_speculative(r))
    {
        return NULL;
    }

    if (ngx_http_bulletin_excluded(r, blcf)) {
        return &slot->excluded;
    }

    show->views++;

    return &slot->views;
}


/* the header is sent: a 200 or a 304 is a view, a 412 is not */

static void
ngx_http_bulletin_page_viewed(ngx_http_request_t *r,
    ngx_http_bulletin_ctx_t *ctx, uint64_t *counter)
{
    uint64_t  views;

    if (r->headers_out.status != NGX_HTTP_OK
        && r->headers_out.status != NGX_HTTP_NOT_MODIFIED)
    {
        return;
    }

    views = ngx_http_bulletin_add(counter);

    if (counter == &ctx->slot->views) {
        ctx->views = views + ngx_http_bulletin_read(&ctx->slot->fleet_views);
    }
}


static uint64_t
ngx_http_bulletin_count(void *data, uint32_t page, uint32_t kind)
{
    ngx_http_bulletin_show_t  *show = data;

    bulletin_counters_slot_t  *slot;

    if (page == show->page && kind == BULLETIN_SLOT_VIEWS) {
        return show->views;
    }

    slot = show->zone->slots[page];

    switch (kind) {

    case BULLETIN_SLOT_VIEWS:
        return ngx_http_bulletin_fleet(slot, views, fleet_views);

    case BULLETIN_SLOT_SHARES:
        return ngx_http_bulletin_shares(show->zone, slot);

    default:
        return ngx_http_bulletin_shares_of(show->zone, slot,
                   show->zone->channel[kind - BULLETIN_SLOT_CHANNEL]);
    }
}


/*
 * On a store larger than the caches each of the page's segments, its
 * slots and its counters is a miss of its own; they do not depend on
 * each other, so they are asked for together, before the first is read
 */

static void
ngx_http_bulletin_page_prefetch(ngx_http_bulletin_main_conf_t *bmcf,
    const bulletin_store_record_t *rec, uint32_t page)
{
    bulletin_counters_slot_t  *slot;

    bulletin_prefetch(&bmcf->store.segments[rec->segment_first]);
    bulletin_prefetch(&bmcf->store.slots[rec->slot_first]);

    if (bmcf->zone == NULL || rec->type != BULLETIN_TYPE_HTML) {
        return;
    }

    slot = bmcf->zone->slots[page];

    bulletin_prefetch(&slot->views);
    bulletin_prefetch(&slot->fleet_views);
}


/* browsers announce speculative loads: they are not views */

static ngx_uint_t
ngx_http_bulletin_speculative(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if ((h[i].key.len == sizeof("Sec-Purpose") - 1
             && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Purpose",
                                sizeof("Sec-Purpose") - 1)
                == 0)
            || (h[i].key.len == sizeof("Purpose") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Purpose",
                                   sizeof("Purpose") - 1)
                   == 0))
        {
            if (ngx_strlcasestrn(h[i].value.data,
                                 h[i].value.data + h[i].value.len,
                                 (u_char *) "prefetch",
                                 sizeof("prefetch") - 1 - 1)
                != NULL)
            {
                return 1;
            }
        }
    }
}


static ngx_int_t
ngx_http_bulletin_page_headers(ngx_http_request_t *r,
    const bulletin_store_record_t *rec, u_char *etag, ngx_uint_t gzip,
    uint64_t len)
{
    ngx_table_elt_t           *h;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_bulletin_time_t  *t;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    /* in range (bulletin_store_record()), and an index is unsigned */
    t = &ngx_http_bulletin_times[(uint64_t) rec->last_modified
                                 % NGX_HTTP_BULLETIN_TIMES];

    if (t->time != rec->last_modified || t->text[0] == '\0') {
        (void) ngx_http_time(t->text, rec->last_modified);
        t->time = rec->last_modified;
    }

    h = ngx_http_bulletin_header(r, "Last-Modified");
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, sizeof(t->text));
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_cpymem(h->value.data, t->text, sizeof(t->text))
                   - h->value.data;

    r->headers_out.last_modified = h;
    r->headers_out.last_modified_time = rec->last_modified;

    r->headers_out.content_type = ngx_http_bulletin_types[rec->type];
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_set(&r->headers_out.charset, "utf-8");

    h = ngx_http_bulletin_header(r, "ETag");
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = etag;
    h->value.len = BULLETIN_ETAG_LEN;
    r->headers_out.etag = h;

    if (gzip) {
        h = ngx_http_bulletin_header(r, "Content-Encoding");
        if (h == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&h->value, "gzip");
        r->headers_out.content_encoding = h;
    }

    /*
     * "Vary: Accept-Encoding" on every response, exactly once: through
     * r->gzip_vary where gzip_vary is on, as nginx's gzip filter may set
     * it too; as a header of our own where it is off, since the header
     * filter then drops r->gzip_vary
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

#if (NGX_HTTP_GZIP)
    if (clcf->gzip_vary) {
        r->gzip_vary = 1;
        return NGX_OK;
    }
#endif

    h = ngx_http_bulletin_header(r, "Vary");
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->value, "Accept-Encoding");

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_page_body(ngx_http_request_t *r, bulletin_chunk_t *chunks,
    size_t n)
{
    size_t        i;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_palloc(r->pool, n * (sizeof(ngx_chain_t) + sizeof(ngx_buf_t)));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = (ngx_buf_t *) (cl + n);

    ngx_memzero(b, n * sizeof(ngx_buf_t));

    for (i = 0; i < n; i++) {
        b[i].pos = (u_char *) chunks[i].data;
        b[i].last = b[i].pos + chunks[i].len;
        b[i].memory = 1;

        cl[i].buf = &b[i];
        cl[i].next = &cl[i + 1];
    }

    b[n - 1].last_buf = (r == r->main) ? 1 : 0;
    b[n - 1].last_in_chain = 1;
    cl[n - 1].next = NULL;

    return ngx_http_output_filter(r, cl);
}
