
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


static ngx_int_t ngx_http_bulletin_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_bulletin_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_bulletin_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_bulletin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_bulletin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bulletin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_bulletin_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_bulletin_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_bulletin_id_from_uri(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_bulletin_loc_conf_t *blcf);
static ngx_http_complex_value_t *ngx_http_bulletin_compile_id(
    ngx_conf_t *cf, ngx_str_t *value);
static void ngx_http_bulletin_remember_where(ngx_conf_t *cf,
    ngx_http_bulletin_where_t *where);


static char *ngx_http_bulletin_check_pages(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_t  ngx_http_bulletin_pages_post = {
    ngx_http_bulletin_check_pages
};


static ngx_command_t  ngx_http_bulletin_commands[] = {

    { ngx_string("bulletin_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_bulletin_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_counters"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_bulletin_counters,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_count_exclude"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_bulletin_count_exclude,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_page"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_bulletin_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_bulletin_page_handler },

    { ngx_string("bulletin_share"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_bulletin_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_bulletin_share_handler },

    { ngx_string("bulletin_counts"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_bulletin_location,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_bulletin_counts_handler },

    { ngx_string("bulletin_gzip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bulletin_loc_conf_t, gzip),
      NULL },

    { ngx_string("bulletin_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_bulletin_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bulletin_status_top"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bulletin_loc_conf_t, status_top),
      &ngx_http_bulletin_pages_post },

    { ngx_string("bulletin_status_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bulletin_loc_conf_t, status_max),
      &ngx_http_bulletin_pages_post },

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
    ngx_http_bulletin_init_module,         /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * One line a load, once every zone is in place, so that error.log says
 * which store each configuration serves and how full its counters are.
 */

static ngx_int_t
ngx_http_bulletin_init_module(ngx_cycle_t *cycle)
{
    ngx_http_bulletin_zone_t       *zone;
    ngx_http_bulletin_main_conf_t  *bmcf;

    if (ngx_test_config || cycle->conf_ctx[ngx_http_module.index] == NULL) {
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_bulletin_module);

    if (bmcf == NULL || bmcf->store.size == 0) {
        return NGX_OK;
    }

    zone = bmcf->zone;

    if (zone == NULL) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "bulletin " NGX_HTTP_BULLETIN_VERSION ": store \"%V\": "
                      "generation %V, %uD pages, %uz bytes; no counters",
                      &bmcf->path,
                      &bmcf->generation, bmcf->store.header->page_count,
                      bmcf->store.size);
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "bulletin " NGX_HTTP_BULLETIN_VERSION ": store \"%V\": "
                  "generation %V, %uD pages, %uz bytes; counters zone "
                  "\"%V\" %s%V%s: %uD of %uD slots used",
                  &bmcf->path, &bmcf->generation,
                  bmcf->store.header->page_count, bmcf->store.size,
                  &zone->name, zone->file.len ? "in file \"" : "",
                  &zone->file, zone->file.len ? "\"" : "in shared memory",
                  zone->info.used, zone->info.capacity);

    return NGX_OK;
}


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

    if (bmcf->needs_zone.line && bmcf->zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"bulletin_counters\" is not set, but "
                      "\"%V\" in %V:%ui needs it",
                      &bmcf->needs_zone.name, &bmcf->needs_zone.file,
                      bmcf->needs_zone.line);
        return NGX_ERROR;
    }

    if (bmcf->zone && bmcf->path.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"bulletin_store\" is not set, but "
                      "\"bulletin_counters\" in %V:%ui needs it",
                      &bmcf->zone->at.file, bmcf->zone->at.line);
        return NGX_ERROR;
    }

    /* "nginx -s" maps nothing */

    if (bmcf->zone && bmcf->store.size) {
        return ngx_http_bulletin_counters_init(cf, bmcf->zone);
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
     *     blcf->id_from = 0;
     *     blcf->id = NULL;
     *     blcf->prefix = { 0, NULL };
     */

    blcf->gzip = NGX_CONF_UNSET;
    blcf->status_top = NGX_CONF_UNSET_UINT;
    blcf->status_max = NGX_CONF_UNSET_UINT;
    blcf->exclude = NGX_CONF_UNSET_PTR;

    return blcf;
}


static char *
ngx_http_bulletin_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_bulletin_loc_conf_t  *prev = parent;
    ngx_http_bulletin_loc_conf_t  *conf = child;

    /* what "if" in a location needs: it runs the location's handler */

    if (conf->id_from == 0) {
        conf->id_from = prev->id_from;
        conf->id = prev->id;
        conf->prefix = prev->prefix;
    }

    ngx_conf_merge_value(conf->gzip, prev->gzip, 1);

    /*
     * bulletin_status_max bounds a status document, and a worker's memory;
     * an unset bulletin_status_top stays unset, as its default, 100, falls
     * to a lower maximum set further in
     */

    ngx_conf_merge_uint_value(conf->status_max, prev->status_max, 10000);
    ngx_conf_merge_uint_value(conf->status_top, prev->status_top,
                              NGX_CONF_UNSET_UINT);

    if (conf->status_top != NGX_CONF_UNSET_UINT
        && conf->status_top > conf->status_max)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"bulletin_status_top %ui\" is more than "
                           "\"bulletin_status_max %ui\"",
                           conf->status_top, conf->status_max);
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->exclude, prev->exclude, NULL);

    return NGX_CONF_OK;
}


/* bulletin_page, bulletin_share and bulletin_counts: the id, the handler */

static char *
ngx_http_bulletin_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bulletin_loc_conf_t *blcf = conf;

    char                           *rv;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_bulletin_main_conf_t  *bmcf;

    if (blcf->id_from) {
        return "is duplicate";
    }

    if (cf->args->nelts == 1) {
        rv = ngx_http_bulletin_id_from_uri(cf, cmd, blcf);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

    } else {
        blcf->id = ngx_http_bulletin_compile_id(cf, cf->args->elts);
        if (blcf->id == NULL) {
            return NGX_CONF_ERROR;
        }

        blcf->id_from = NGX_HTTP_BULLETIN_ID_VALUE;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bulletin_module);
    ngx_http_bulletin_remember_where(cf, &bmcf->needs_store);

    if (clcf->handler != ngx_http_bulletin_page_handler
        && bmcf->needs_zone.line == 0)
    {
        ngx_http_bulletin_remember_where(cf, &bmcf->needs_zone);
        bmcf->needs_zone.name = cmd->name;
    }

    return NGX_CONF_OK;
}


/*
 * The id from the URI, with no regex: after the prefix of a location
 * such as "location /bulletin/", or before "/share" at the end.  A page
 * or counts location must be a prefix location ending in a slash: in
 * an exact, regex or named location, or in "if", the prefix is not the
 * URI's.
 */

static char *
ngx_http_bulletin_id_from_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_bulletin_loc_conf_t *blcf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (cmd->post == ngx_http_bulletin_share_handler) {
        blcf->id_from = NGX_HTTP_BULLETIN_ID_SHARE;
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named || clcf->noname || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
        || clcf->name.len == 0
        || clcf->name.data[clcf->name.len - 1] != '/')
    {
        return "without an id needs a prefix location ending in \"/\", "
               "such as \"location /bulletin/\"";
    }

    blcf->id_from = NGX_HTTP_BULLETIN_ID_PREFIX;
    blcf->prefix = clcf->name;

    return NGX_CONF_OK;
}


static char *
ngx_http_bulletin_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_bulletin_main_conf_t  *bmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_bulletin_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_bulletin_status_handler;

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_bulletin_module);
    ngx_http_bulletin_remember_where(cf, &bmcf->needs_store);

    return NGX_CONF_OK;
}


static ngx_http_complex_value_t *
ngx_http_bulletin_compile_id(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (cv == NULL) {
        return NULL;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return cv;
}


/* as ngx_conf_check_num_bounds(), in a message that names the directive */

static char *
ngx_http_bulletin_check_pages(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np > BULLETIN_TOP_MAX) {
        return "must be a number of pages from 0 to " BULLETIN_TOP_MAX_TEXT;
    }

    return NGX_CONF_OK;
}


/* where the first directive that needs the store (or the zone) stands */

static void
ngx_http_bulletin_remember_where(ngx_conf_t *cf,
    ngx_http_bulletin_where_t *where)
{
    if (where->line == 0) {
        where->file = cf->conf_file->file.name;
        where->line = cf->conf_file->line;
    }
}
