
/*
 * Copyright (C) bulletin authors
 *
 * What the page, share, counts and status handlers share: their first
 * step, the id of the request's page, its look-up, and the checked copy
 * of a page's record.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_uri_id(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf, ngx_str_t *id);
static ngx_int_t ngx_http_bulletin_not_allowed(ngx_http_request_t *r,
    char *allow);


/*
 * A handler's first step: the method, then the body, discarded.  NGX_OK,
 * or what the handler returns.
 */

ngx_int_t
ngx_http_bulletin_accept(ngx_http_request_t *r, ngx_uint_t methods,
    char *allow)
{
    if (!(r->method & methods)) {
        return ngx_http_bulletin_not_allowed(r, allow);
    }

    return ngx_http_discard_request_body(r);
}


/* the page the location's id names: NGX_OK, or what the handler returns */

ngx_int_t
ngx_http_bulletin_request_page(ngx_http_request_t *r, uint32_t *page)
{
    ngx_str_t                       id;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_bulletin_loc_conf_t   *blcf;
    ngx_http_bulletin_main_conf_t  *bmcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bulletin_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);

    if (blcf->id_from == NGX_HTTP_BULLETIN_ID_VALUE) {

        if (ngx_http_complex_value(r, blcf->id, &id) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ngx_http_bulletin_uri_id(r, blcf, &id) != NGX_OK) {

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (clcf->log_not_found) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "no bulletin id in the URI \"%V\"", &r->uri);
        }

        return NGX_HTTP_NOT_FOUND;
    }

    return ngx_http_bulletin_find(r, bmcf, &id, page);
}


/*
 * The id in the URI, pointing into it: NGX_DECLINED when the URI is not
 * the location's prefix and an id (a "rewrite ... break" may have
 * changed it), or not an id and "/share".  The id is as the client sent
 * it: a path nginx decoded ('%') or normalized ("//", "/./", "/../", after
 * which it decodes too) is declined.  The look-up checks the id itself.
 */

static ngx_int_t
ngx_http_bulletin_uri_id(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf, ngx_str_t *id)
{
    u_char  *p, *start, *end;

    if (r->quoted_uri || r->complex_uri) {
        return NGX_DECLINED;
    }

    if (blcf->id_from == NGX_HTTP_BULLETIN_ID_PREFIX) {

        if (r->uri.len < blcf->prefix.len
            || ngx_strncmp(r->uri.data, blcf->prefix.data, blcf->prefix.len)
               != 0)
        {
            return NGX_DECLINED;
        }

        id->data = r->uri.data + blcf->prefix.len;
        id->len = r->uri.len - blcf->prefix.len;

        return NGX_OK;
    }

    /* NGX_HTTP_BULLETIN_ID_SHARE: "/ID/share" at the end */

    if (r->uri.len < sizeof("//share") - 1
        || ngx_strncmp(r->uri.data + r->uri.len - (sizeof("/share") - 1),
                       "/share", sizeof("/share") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    end = r->uri.data + r->uri.len - (sizeof("/share") - 1);

    /* no further back than the longest id */

    start = end - ngx_min((size_t) (end - r->uri.data), BULLETIN_ID_MAX + 1);

    for (p = end; p > start; p--) {
        if (p[-1] == '/') {
            id->data = p;
            id->len = end - p;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* NGX_OK, or NGX_HTTP_NOT_FOUND, logged as nginx logs a missing file */

ngx_int_t
ngx_http_bulletin_find(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, ngx_str_t *id, uint32_t *page)
{
    int64_t                    found;
    uint32_t                   hash;
    ngx_uint_t                 valid;
    ngx_http_core_loc_conf_t  *clcf;

    valid = bulletin_id_check(id->data, id->len, &hash);

    if (valid) {
        found = bulletin_store_find_hash(&bmcf->store, id->data, id->len,
                                         hash);

        if (found >= 0) {
            *page = (uint32_t) found;
            return NGX_OK;
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->log_not_found) {

        /* an invalid id is not logged: it may hold anything */

        if (valid) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "bulletin \"%V\" not found", id);

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "invalid bulletin id of %uz bytes", id->len);
        }
    }

    return NGX_HTTP_NOT_FOUND;
}


/*
 * A page's record, copied out of the mapping and checked.  When the file
 * was rewritten in place under nginx, the request is answered 500: the
 * id is in the index, and a 404 would tell caches and crawlers that the
 * page is gone.  One error a worker and store says so: every request
 * would log it again until the store is replaced and nginx reloaded.
 */

ngx_int_t
ngx_http_bulletin_record(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page,
    bulletin_store_record_t *rec)
{
    int  rc;

    rc = bulletin_store_record(&bmcf->store, page, rec);

    if (rc == BULLETIN_OK) {
        return NGX_OK;
    }

    ngx_http_bulletin_log_changed(r, bmcf, page, rc);

    return NGX_ERROR;
}


void
ngx_http_bulletin_log_changed(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page, int err)
{
    static ngx_http_bulletin_main_conf_t  *logged;

    if (logged == bmcf) {
        return;
    }

    logged = bmcf;

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "bulletin store \"%V\", page %uD: %s: replace a store "
                  "by rename, then reload (logged once a worker)",
                  &bmcf->path, page, bulletin_strerror(err));
}


static ngx_int_t
ngx_http_bulletin_not_allowed(ngx_http_request_t *r, char *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_http_bulletin_header(r, "Allow");
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return NGX_HTTP_NOT_ALLOWED;
}


/* "Cache-Control: no-store", for what shows counts as they are now */

ngx_int_t
ngx_http_bulletin_no_store(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_http_bulletin_header(r, "Cache-Control");
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->value, "no-store");

    return NGX_OK;
}


/*
 * A response header of the module's own, as nginx's modules push one;
 * nginx 1.23 chains headers of one name through "next".
 */

ngx_table_elt_t *
ngx_http_bulletin_push_header(ngx_http_request_t *r, char *key, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}
