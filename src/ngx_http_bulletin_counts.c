
/*
 * Copyright (C) bulletin authors
 *
 * bulletin_counts: a page's counts as its readers see them, for a page
 * the browser showed from its cache.  Public and cheap: no title, no
 * store bytes but the id, nothing counted.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


#define NGX_HTTP_BULLETIN_COUNTS_HEAD                                         \
    "{\"id\":\"\",\"views\":,\"shares\":,\"shares_by_channel\":{}}"

#define NGX_HTTP_BULLETIN_COUNTS_CHANNEL  "\"\":,"


static ngx_buf_t *ngx_http_bulletin_counts_json(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page, u_char *id,
    size_t id_len);


ngx_int_t
ngx_http_bulletin_counts_handler(ngx_http_request_t *r)
{
    u_char                          id[BULLETIN_ID_MAX];
    uint32_t                        page;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_chain_t                     out;
    bulletin_store_record_t         rec;
    ngx_http_bulletin_main_conf_t  *bmcf;

    rc = ngx_http_bulletin_accept(r, NGX_HTTP_GET|NGX_HTTP_HEAD, "GET, HEAD");

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_bulletin_request_page(r, &page);

    if (rc != NGX_OK) {
        return rc;
    }

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);

    /* the id as the store has it, checked: the mapping may have changed */

    if (ngx_http_bulletin_record(r, bmcf, page, &rec) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(id, bmcf->store.base + rec.id_off, rec.id_len);

    if (!bulletin_id_valid(id, rec.id_len, 1)) {
        ngx_http_bulletin_log_changed(r, bmcf, page, BULLETIN_ERR_CHANGED);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_http_bulletin_counts_json(r, bmcf, page, id, rec.id_len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_bulletin_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * What the page shows (own and the fleet's), by the store's channels in
 * the store's order, as its share bar; ids and channel names need no
 * escaping in JSON
 */

static ngx_buf_t *
ngx_http_bulletin_counts_json(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page, u_char *id,
    size_t id_len)
{
    size_t                          len;
    uint32_t                        j;
    ngx_buf_t                      *b;
    const char                     *name;
    ngx_http_bulletin_zone_t       *zone;
    bulletin_counters_slot_t       *slot;
    const bulletin_store_header_t  *sh;

    zone = bmcf->zone;
    slot = zone->slots[page];
    sh = bmcf->store.header;

    len = sizeof(NGX_HTTP_BULLETIN_COUNTS_HEAD) - 1 + id_len
          + 2 * NGX_INT64_LEN
          + sh->nchannels * (sizeof(NGX_HTTP_BULLETIN_COUNTS_CHANNEL) - 1
                             + BULLETIN_CHANNEL_MAX + NGX_INT64_LEN);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"id\":\"%*s\",\"views\":%uL,\"shares\":%uL,"
                          "\"shares_by_channel\":{",
                          id_len, id,
                          ngx_http_bulletin_fleet(slot, views, fleet_views),
                          ngx_http_bulletin_shares(zone, slot));

    for (j = 0; j < sh->nchannels; j++) {
        name = sh->channels[j];

        b->last = ngx_sprintf(b->last, "%s\"%*s\":%uL", j ? "," : "",
                              ngx_strnlen((u_char *) name,
                                          BULLETIN_CHANNEL_SIZE),
                              name,
                              ngx_http_bulletin_shares_of(zone, slot,
                                                          zone->channel[j]));
    }

    *b->last++ = '}';
    *b->last++ = '}';

    return b;
}
