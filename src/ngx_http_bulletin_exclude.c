
/*
 * Copyright (C) bulletin authors
 *
 * bulletin_count_exclude: User-Agents served but not counted.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


/* the expressions, and a worker's verdicts on the agents it saw last */

#define NGX_HTTP_BULLETIN_AGENTS     64
#define NGX_HTTP_BULLETIN_AGENT_MAX  240

typedef struct {
    uint64_t                        hash;
    uint32_t                        len;
    unsigned                        valid:1;     /* 0: never used */
    unsigned                        excluded:1;
    u_char                          agent[NGX_HTTP_BULLETIN_AGENT_MAX];
} ngx_http_bulletin_agent_t;


struct ngx_http_bulletin_exclude_s {
    ngx_array_t                    *regex;       /* of ngx_regex_elt_t */
    ngx_http_bulletin_agent_t       agents[NGX_HTTP_BULLETIN_AGENTS];
};


char *
ngx_http_bulletin_count_exclude(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
#if (NGX_PCRE)
    ngx_http_bulletin_loc_conf_t *blcf = conf;

    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t           *value;
    ngx_uint_t           i;
    ngx_regex_elt_t     *re;
    ngx_regex_compile_t  rc;

    if (blcf->exclude == NGX_CONF_UNSET_PTR) {
        blcf->exclude = ngx_pcalloc(cf->pool,
                                    sizeof(ngx_http_bulletin_exclude_t));
        if (blcf->exclude == NULL) {
            return NGX_CONF_ERROR;
        }

        blcf->exclude->regex = ngx_array_create(cf->pool, 2,
                                                sizeof(ngx_regex_elt_t));
        if (blcf->exclude->regex == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    for (i = 1; i < cf->args->nelts; i++) {

        re = ngx_array_push(blcf->exclude->regex);
        if (re == NULL) {
            return NGX_CONF_ERROR;
        }

        rc.pattern = value[i];
        rc.options = NGX_REGEX_CASELESS;

        if (ngx_regex_compile(&rc) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
            return NGX_CONF_ERROR;
        }

        re->regex = rc.regex;
        re->name = value[i].data;
    }

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"bulletin_count_exclude\" requires PCRE library");

    return NGX_CONF_ERROR;

#endif
}


/*
 * Whether this request's User-Agent is excluded.  The expressions run
 * once per agent a worker sees: its verdict is kept in a small table, as
 * browsers send the same agent again and again.
 */

ngx_int_t
ngx_http_bulletin_excluded(ngx_http_request_t *r,
    ngx_http_bulletin_loc_conf_t *blcf)
{
#if (NGX_PCRE)

    u_char                       *p, *last;
    uint64_t                      h, w;
    ngx_str_t                    *ua;
    ngx_int_t                     rc;
    ngx_http_bulletin_agent_t    *a;
    ngx_http_bulletin_exclude_t  *ex;

    static ngx_str_t              none = ngx_string("");

    ex = blcf->exclude;

    if (ex == NULL) {
        return 0;
    }

    /* no User-Agent is the empty one, which "^$" may exclude */

    ua = r->headers_in.user_agent ? &r->headers_in.user_agent->value : &none;

    if (ua->len > NGX_HTTP_BULLETIN_AGENT_MAX) {
        return ngx_regex_exec_array(ex->regex, ua, r->connection->log)
               == NGX_OK;
    }

    /* a hash of the agent eight bytes a step, then this worker's verdict */

    h = ua->len;
    p = ua->data;
    last = p + ua->len;

    for ( /* void */ ; last - p >= 8; p += 8) {
        ngx_memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }

    for ( /* void */ ; p < last; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }

    h ^= h >> 29;

    a = &ex->agents[h % NGX_HTTP_BULLETIN_AGENTS];

    /* the empty agent hashes to 0, as an unused slot would */

    if (a->valid && a->len == ua->len && a->hash == h
        && ngx_memcmp(a->agent, ua->data, ua->len) == 0)
    {
        return a->excluded;
    }

    rc = ngx_regex_exec_array(ex->regex, ua, r->connection->log);

    if (rc == NGX_ERROR) {
        return 0;
    }

    a->hash = h;
    a->len = ua->len;
    a->valid = 1;
    a->excluded = (rc == NGX_OK);
    ngx_memcpy(a->agent, ua->data, ua->len);

    return a->excluded;

#else

    return 0;

#endif
}
