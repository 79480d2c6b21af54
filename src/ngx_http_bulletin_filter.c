
/*
 * Copyright (C) bulletin authors
 *
 * A page is sent with "Cache-Control: no-cache", so that every view
 * revalidates and is counted, unless the location sets Cache-Control
 * itself, with "expires" or "add_header": this filter runs after nginx's
 * headers filter (see the module order in config) and adds the default
 * only where nothing else did.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_filter_init(ngx_conf_t *cf);


static ngx_http_module_t  ngx_http_bulletin_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_bulletin_filter_init,         /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_bulletin_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_bulletin_filter_module_ctx,  /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_int_t
ngx_http_bulletin_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t          *h;
    ngx_http_bulletin_ctx_t  *ctx;
#if (nginx_version < 1023000)
    ngx_table_elt_t         **cc;
#endif

    ctx = ngx_http_get_module_ctx(r, ngx_http_bulletin_module);

    if (ctx == NULL
        || !ctx->no_cache
#if (nginx_version >= 1023000)
        || r->headers_out.cache_control != NULL
#else
        || r->headers_out.cache_control.nelts
#endif
        || (r->headers_out.status != NGX_HTTP_OK
            && r->headers_out.status != NGX_HTTP_NOT_MODIFIED))
    {
        return ngx_http_next_header_filter(r);
    }

    h = ngx_http_bulletin_header(r, "Cache-Control");
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->value, "no-cache");

    /* 1.23 chains Cache-Control headers; 1.22 keeps an array of them */

#if (nginx_version >= 1023000)

    r->headers_out.cache_control = h;

#else

    if (r->headers_out.cache_control.elts == NULL
        && ngx_array_init(&r->headers_out.cache_control, r->pool, 1,
                          sizeof(ngx_table_elt_t *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    cc = ngx_array_push(&r->headers_out.cache_control);
    if (cc == NULL) {
        return NGX_ERROR;
    }

    *cc = h;

#endif

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_bulletin_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_bulletin_header_filter;

    return NGX_OK;
}
