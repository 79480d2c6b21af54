
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_count_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_bulletin_generation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_bulletin_vars[] = {

    { ngx_string("bulletin_views"), NULL,
      ngx_http_bulletin_count_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("bulletin_shares"), NULL,
      ngx_http_bulletin_count_variable, 1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("bulletin_generation"), NULL,
      ngx_http_bulletin_generation_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_bulletin_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_bulletin_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the views this request made or saw; the shares, read when asked */

static ngx_int_t
ngx_http_bulletin_count_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    uint64_t                  n;
    ngx_http_bulletin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_bulletin_module);

    if (ctx == NULL || ctx->slot == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = data ? ngx_http_bulletin_shares(ctx->zone, ctx->slot) : ctx->views;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uL", n) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bulletin_generation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_bulletin_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bulletin_module);

    if (bmcf == NULL || bmcf->generation.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = bmcf->generation.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = bmcf->generation.data;

    return NGX_OK;
}
