
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_bulletin_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_bulletin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_bulletin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bulletin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_bulletin_page(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_bulletin_needs_store(ngx_conf_t *cf);


static ngx_command_t  ngx_http_bulletin_commands[] = {

    { ngx_string("bulletin_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_bulletin_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_page"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_bulletin_page,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_gzip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bulletin_loc_conf_t, gzip),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_bulletin_module_ctx = {
    ngx_http_bulletin_preconfiguration,    /* preconfiguration */
    ngx_http_bulletin_postconfiguration,   /* postconfiguration */

    ngx_http_bulletin_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_bulletin_create_loc_conf,     /* create location configuration */
    ngx_http_bulletin_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_bulletin_module = {
    NGX_MODULE_V1,
    &ngx_http_bulletin_module_ctx,         /* module context */
    ngx_http_bulletin_commands,            /* module directives */
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


static ngx_int_t
ngx_http_bulletin_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_bulletin_add_variables(cf);
}


/*
 * Directives may come in any order inside http{}, so what depends on
 * what is checked once the whole block is read.
 */

static ngx_int_t
ngx_http_bulletin_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_bulletin_main_conf_t  *bmcf;

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bulletin_module);

    if (bmcf->needs_store.line && bmcf->path.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"bulletin_store\" is not set, but the bulletin "
                      "directive in %V:%ui needs it",
                      &bmcf->needs_store.file, bmcf->needs_store.line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_bulletin_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_bulletin_main_conf_t  *bmcf;

    bmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_bulletin_main_conf_t));
    if (bmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     bmcf->path = { 0, NULL };
     *     bmcf->store = { 0 };
     *     bmcf->needs_store = { { 0, NULL }, 0 };
     */

    return bmcf;
}


static void *
ngx_http_bulletin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_bulletin_loc_conf_t  *blcf;

    blcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_bulletin_loc_conf_t));
    if (blcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     blcf->page = NULL;
     */

    blcf->gzip = NGX_CONF_UNSET;

    return blcf;
}


static char *
ngx_http_bulletin_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_bulletin_loc_conf_t  *prev = parent;
    ngx_http_bulletin_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->gzip, prev->gzip, 1);

    return NGX_CONF_OK;
}


static char *
ngx_http_bulletin_page(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bulletin_loc_conf_t *blcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    if (blcf->page != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    blcf->page = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (blcf->page == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = blcf->page;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_bulletin_page_handler;

    ngx_http_bulletin_needs_store(cf);

    return NGX_CONF_OK;
}


static void
ngx_http_bulletin_needs_store(ngx_conf_t *cf)
{
    ngx_http_bulletin_main_conf_t  *bmcf;

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bulletin_module);

    if (bmcf->needs_store.line == 0) {
        bmcf->needs_store.file = cf->conf_file->file.name;
        bmcf->needs_store.line = cf->conf_file->line;
    }
}


int64_t
ngx_http_bulletin_find(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, ngx_str_t *id)
{
    int64_t                    page;
    ngx_uint_t                 valid;
    ngx_http_core_loc_conf_t  *clcf;

    valid = bulletin_id_valid(id->data, id->len, 1);

    if (valid) {
        page = bulletin_store_find(&bmcf->store, id->data, id->len);

        if (page >= 0) {
            return page;
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

    return -1;
}


ngx_int_t
ngx_http_bulletin_not_allowed(ngx_http_request_t *r, char *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return NGX_HTTP_NOT_ALLOWED;
}
