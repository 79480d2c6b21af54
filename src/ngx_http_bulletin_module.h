
/*
 * Copyright (C) bulletin authors
 */


#ifndef _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_
#define _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "bulletin_body.h"
#include "bulletin_store.h"
#include "bulletin_counters.h"
#include "bulletin_fleet.h"
#include "bulletin_args.h"
#include "bulletin_version.h"


#define NGX_HTTP_BULLETIN_VERSION  BULLETIN_VERSION


typedef struct {
    ngx_str_t                       file;
    ngx_uint_t                      line;
    ngx_str_t                       name;        /* of the directive */
} ngx_http_bulletin_where_t;


typedef struct ngx_http_bulletin_main_conf_s  ngx_http_bulletin_main_conf_t;


typedef struct {
    ngx_str_t                       name;
    size_t                          size;        /* as configured */
    ngx_str_t                       file;        /* empty: shared memory */
    ngx_shm_zone_t                 *shm_zone;
    void                           *region;
    size_t                          region_size;
    bulletin_counters_info_t        info;        /* as this cycle set it */
    uint32_t                        channel[BULLETIN_CHANNELS_MAX];
                                                 /* store's -> zone's */
    bulletin_counters_slot_t      **slots;       /* of each store page */
    ngx_http_bulletin_main_conf_t  *main;
    ngx_http_bulletin_where_t       at;
} ngx_http_bulletin_zone_t;


struct ngx_http_bulletin_main_conf_s {
    ngx_str_t                       path;
    bulletin_store_t                store;       /* size 0: not mapped */
    time_t                          loaded_at;
    ngx_str_t                       generation;

    ngx_http_bulletin_where_t       store_at;
    ngx_http_bulletin_zone_t       *zone;

    ngx_http_bulletin_where_t       needs_store; /* first directive that
                                                    needs the store */
    ngx_http_bulletin_where_t       needs_zone;
};


typedef struct ngx_http_bulletin_exclude_s  ngx_http_bulletin_exclude_t;


/* where bulletin_page, bulletin_share or bulletin_counts take the id */
#define NGX_HTTP_BULLETIN_ID_VALUE      1        /* the directive's */
#define NGX_HTTP_BULLETIN_ID_PREFIX     2        /* the URI after the
                                                    location's prefix */
#define NGX_HTTP_BULLETIN_ID_SHARE      3        /* the URI's segment
                                                    before "/share" */

typedef struct {
    ngx_uint_t                      id_from;     /* 0: none */
    ngx_http_complex_value_t       *id;          /* ID_VALUE */
    ngx_str_t                       prefix;      /* ID_PREFIX */
    ngx_flag_t                      gzip;
    ngx_uint_t                      status_top;
    ngx_uint_t                      status_max;
    ngx_http_bulletin_exclude_t    *exclude;
} ngx_http_bulletin_loc_conf_t;


/*
 * What a request counted, for $bulletin_views and $bulletin_shares; and
 * whether the filter adds "Cache-Control: no-cache" (pages only)
 */

typedef struct {
    uint64_t                        views;
    ngx_http_bulletin_zone_t       *zone;
    bulletin_counters_slot_t       *slot;        /* for the shares */
    unsigned                        no_cache:1;
} ngx_http_bulletin_ctx_t;


#define ngx_http_bulletin_header(r, key)                                      \
    ngx_http_bulletin_push_header(r, key, sizeof(key) - 1)

#define ngx_http_bulletin_add(p)   __atomic_add_fetch(p, 1, __ATOMIC_RELAXED)
#define ngx_http_bulletin_read(p)  __atomic_load_n(p, __ATOMIC_RELAXED)

/*
 * What a reader sees: this node's count and the other nodes' that
 * bulletin-sync last wrote into the slot (zero without a fleet)
 */
#define ngx_http_bulletin_fleet(slot, own, other)                            \
    (ngx_http_bulletin_read(&(slot)->own)                                     \
     + ngx_http_bulletin_read(&(slot)->other))


char *ngx_http_bulletin_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_bulletin_counters(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_bulletin_counters_init(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone);
uint64_t ngx_http_bulletin_shares(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_slot_t *slot);
uint64_t ngx_http_bulletin_shares_of(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_slot_t *slot, uint32_t k);
ngx_int_t ngx_http_bulletin_share_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_bulletin_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_bulletin_counts_handler(ngx_http_request_t *r);
char *ngx_http_bulletin_count_exclude(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_bulletin_excluded(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf);
ngx_int_t ngx_http_bulletin_page_handler(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_bulletin_push_header(ngx_http_request_t *r,
    char *key, size_t len);
ngx_int_t ngx_http_bulletin_no_store(ngx_http_request_t *r);
ngx_int_t ngx_http_bulletin_accept(ngx_http_request_t *r, ngx_uint_t methods,
    char *allow);
ngx_int_t ngx_http_bulletin_request_page(ngx_http_request_t *r,
    uint32_t *page);
ngx_int_t ngx_http_bulletin_find(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, ngx_str_t *id, uint32_t *page);
ngx_int_t ngx_http_bulletin_record(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page,
    bulletin_store_record_t *rec);
void ngx_http_bulletin_log_changed(ngx_http_request_t *r,
    ngx_http_bulletin_main_conf_t *bmcf, uint32_t page, int err);
ngx_int_t ngx_http_bulletin_add_variables(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_bulletin_module;
extern ngx_module_t  ngx_http_bulletin_filter_module;


#endif /* _NGX_HTTP_BULLETIN_MODULE_H_INCLUDED_ */
