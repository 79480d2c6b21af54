
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_share_foreign(ngx_http_request_t *r);
static ngx_int_t ngx_http_bulletin_header_is(ngx_table_elt_t *h,
    const char *lowcase);
static ngx_int_t ngx_http_bulletin_value_is(ngx_str_t *value,
    const char *s);


ngx_int_t
ngx_http_bulletin_share_handler(ngx_http_request_t *r)
{
    int                             j;
    uint32_t                        page;
    ngx_int_t                       rc;
    ngx_http_bulletin_ctx_t        *ctx;
    ngx_http_bulletin_zone_t       *zone;
    bulletin_counters_slot_t       *slot;
    ngx_http_bulletin_loc_conf_t   *blcf;
    ngx_http_bulletin_main_conf_t  *bmcf;

    rc = ngx_http_bulletin_accept(r, NGX_HTTP_POST, "POST");

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_bulletin_share_foreign(r)) {
        return NGX_HTTP_FORBIDDEN;
    }

    rc = ngx_http_bulletin_request_page(r, &page);

    if (rc != NGX_OK) {
        return rc;
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bulletin_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);

    j = bulletin_share_channel(r->args.data, r->args.len,
                               bmcf->store.header);

    if (j < 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      j == BULLETIN_CHANNEL_MISSING
                      ? "bulletin share without a channel"
                      : "bulletin share of an unknown channel");
        return NGX_HTTP_BAD_REQUEST;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_bulletin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_bulletin_module);

    zone = bmcf->zone;
    slot = zone->slots[page];

    if (r == r->main && !ngx_http_bulletin_excluded(r, blcf)) {
        (void) ngx_http_bulletin_add(&slot->shares[zone->channel[j]]);
    }

    ctx->views = ngx_http_bulletin_fleet(slot, views, fleet_views);
    ctx->zone = zone;
    ctx->slot = slot;

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/*
 * Any page on the web can make a browser POST here (a form, or a fetch
 * of text/plain, needs no CORS preflight): a share counts only from this
 * site's own pages.  Browsers say who made the request in Sec-Fetch-Site,
 * older ones only in Origin, compared with this request's own scheme
 * and Host.  "same-site" is a sibling host, that is another site's
 * content: it needs this site's Origin too.  A client that sends neither
 * header is no browser a page could drive, and limit_req is for it.
 */

static ngx_int_t
ngx_http_bulletin_share_foreign(ngx_http_request_t *r)
{
    ngx_str_t        *site, *origin, scheme, host;
    ngx_uint_t        i, repeated;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    site = NULL;
    origin = NULL;
    repeated = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_bulletin_header_is(&h[i], "sec-fetch-site")) {
            repeated |= (site != NULL);
            site = &h[i].value;

        } else if (ngx_http_bulletin_header_is(&h[i], "origin")) {
            repeated |= (origin != NULL);
            origin = &h[i].value;
        }
    }

    if (repeated) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "bulletin share refused: a repeated "
                      "\"Sec-Fetch-Site\" or \"Origin\" header");
        return 1;
    }

    if (site != NULL) {

        if (ngx_http_bulletin_value_is(site, "same-origin")
            || ngx_http_bulletin_value_is(site, "none"))
        {
            return 0;
        }

        if (ngx_http_bulletin_value_is(site, "cross-site")) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "bulletin share refused: "
                          "\"Sec-Fetch-Site: %V\"", site);
            return 1;
        }

        if (ngx_http_bulletin_value_is(site, "same-site") && origin == NULL)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "bulletin share refused: "
                          "\"Sec-Fetch-Site: %V\" without \"Origin\"",
                          site);
            return 1;
        }

        /* "same-site" and values to come: as the Origin says */
    }

    if (origin == NULL) {
        return 0;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");

    } else
#endif
    {
        ngx_str_set(&scheme, "http");
    }

    if (r->headers_in.host != NULL) {
        host = r->headers_in.host->value;

    } else {
        ngx_str_null(&host);
    }

    if (host.len
        && origin->len == scheme.len + sizeof("://") - 1 + host.len
        && ngx_strncasecmp(origin->data, scheme.data, scheme.len) == 0
        && ngx_strncmp(origin->data + scheme.len, "://",
                       sizeof("://") - 1) == 0
        && ngx_strncasecmp(origin->data + scheme.len + sizeof("://") - 1,
                           host.data, host.len) == 0)
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "bulletin share refused: \"Origin: %V\" is not "
                  "\"%V://%V\"", origin, &scheme, &host);

    return 1;
}


static ngx_int_t
ngx_http_bulletin_header_is(ngx_table_elt_t *h, const char *lowcase)
{
    size_t  len;

    len = ngx_strlen(lowcase);

    return h->key.len == len
           && ngx_strncmp(h->lowcase_key, lowcase, len) == 0;
}


static ngx_int_t
ngx_http_bulletin_value_is(ngx_str_t *value, const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return value->len == len
           && ngx_strncasecmp(value->data, (u_char *) s, len) == 0;
}
