
/*
 * Copyright (C) bulletin authors
 */


#ifndef _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_
#define _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "bulletin_store.h"


#define NGX_HTTP_BULLETIN_VERSION  "0.1.0"


typedef struct {
    ngx_str_t                       file;
    ngx_uint_t                      line;
} ngx_http_bulletin_where_t;


typedef struct {
    ngx_str_t                       path;
    bulletin_store_t                store;       /* size 0: not mapped */
    time_t                          loaded_at;
    ngx_str_t                       generation;

    ngx_http_bulletin_where_t       store_at;
    ngx_http_bulletin_where_t       needs_store; /* first directive that
                                                    needs the store */
} ngx_http_bulletin_main_conf_t;


typedef struct {
    ngx_http_complex_value_t       *page;
    ngx_flag_t                      gzip;
} ngx_http_bulletin_loc_conf_t;


char *ngx_http_bulletin_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_bulletin_page_handler(ngx_http_request_t *r);
int64_t ngx_http_bulletin_find(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, ngx_str_t *id);
ngx_int_t ngx_http_bulletin_not_allowed(ngx_http_request_t *r, char *allow);
ngx_int_t ngx_http_bulletin_add_variables(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_bulletin_module;


#endif /* _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_ */
