
/*
 * Copyright (C) bulletin authors
 */


#ifndef _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_
#define _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_BULLETIN_VERSION  "0.1.0"


extern ngx_module_t  ngx_http_bulletin_module;


#endif /* _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_ */
