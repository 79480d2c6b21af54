
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_bulletin_module.h"


typedef struct {
    void                           *addr;
    size_t                          size;
} ngx_http_bulletin_mapping_t;


static char *ngx_http_bulletin_store_map(ngx_conf_t *cf,
    ngx_http_bulletin_main_conf_t *bmcf);
static ngx_int_t ngx_http_bulletin_store_trusted(ngx_conf_t *cf,
    u_char *name, ngx_file_info_t *fi);
static void ngx_http_bulletin_store_unmap(void *data);


char *
ngx_http_bulletin_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bulletin_main_conf_t *bmcf = conf;

    ngx_str_t  *value;

    if (bmcf->path.data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"bulletin_store\" is duplicate, first set in "
                           "%V:%ui", &bmcf->store_at.file,
                           bmcf->store_at.line);
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty path";
    }

    bmcf->path = value[1];
    bmcf->store_at.file = cf->conf_file->file.name;
    bmcf->store_at.line = cf->conf_file->line;

    if (ngx_conf_full_name(cf->cycle, &bmcf->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* "nginx -s" only signals the running master: it maps nothing */

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        return NGX_CONF_OK;
    }

    return ngx_http_bulletin_store_map(cf, bmcf);
}


/*
 * The master maps and verifies the store while it reads the
 * configuration, so every worker inherits one read-only mapping that the
 * request path can trust; the mapping lives as long as the cycle's pool.
 */

static char *
ngx_http_bulletin_store_map(ngx_conf_t *cf,
    ngx_http_bulletin_main_conf_t *bmcf)
{
    int                           rc;
    u_char                       *name;
    ngx_err_t                     err;
    size_t                        size;
    ngx_fd_t                      fd;
    ngx_file_info_t               fi;
    ngx_pool_cleanup_t           *cln;
    ngx_http_bulletin_mapping_t  *m;

    name = bmcf->path.data;

    /*
     * Not through a link, and never blocking: a FIFO renamed over the
     * store would otherwise hang the master in open(), and with it
     * "nginx -t" and every later reload.
     */

    fd = ngx_open_file(name, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK
                             |NGX_FILE_NOFOLLOW|O_CLOEXEC,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ELOOP) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bulletin store \"%s\" is refused: it is "
                               "a symbolic link, which is not followed",
                               name);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                               "bulletin store \"%s\": "
                               ngx_open_file_n " failed", name);
        }

        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "bulletin store \"%s\": "
                           ngx_fd_info_n " failed", name);
        goto failed;
    }

    if (ngx_http_bulletin_store_trusted(cf, name, &fi) != NGX_OK) {
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bulletin store \"%s\" is empty", name);
        goto failed;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_http_bulletin_mapping_t));
    if (cln == NULL) {
        goto failed;
    }

    m = cln->data;

    m->addr = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

    if (m->addr == MAP_FAILED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "bulletin store \"%s\": mmap(%uz) failed",
                           name, size);
        goto failed;
    }

    m->size = size;
    cln->handler = ngx_http_bulletin_store_unmap;

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           "bulletin store \"%s\": "
                           ngx_close_file_n " failed", name);
    }

#if (NGX_LINUX) && defined(MADV_HUGEPAGE)

    /*
     * Huge pages where the kernel can: the check below reads the file
     * in through this mapping, and a page cache filled so holds 2 MB
     * folios, which a worker then maps with one TLB entry each.  On a
     * large store every request reaches some six places megabytes apart
     * (index, record, id, segments, slots, page), each a TLB miss with
     * 4 KB pages.  Where the file is already cached in small pages, or
     * the kernel has no huge pages for files, this changes nothing.
     */

    (void) madvise(m->addr, size, MADV_HUGEPAGE);

#endif

    rc = bulletin_store_open(&bmcf->store, m->addr, size);

    if (rc != BULLETIN_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bulletin store \"%s\" is refused: %s: %s",
                           name, bulletin_strerror(rc), bmcf->store.detail);
        ngx_memzero(&bmcf->store, sizeof(bulletin_store_t));
        return NGX_CONF_ERROR;
    }

    /*
     * The check read the file from end to end; requests read a record
     * and a page's segments here and there: no readahead, and no mapping
     * of the pages around the one a request touches (fault-around), so
     * that a worker's resident set is what its requests read
     */

    if (madvise(m->addr, size, MADV_RANDOM) == -1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno,
                           "bulletin store \"%s\": madvise(MADV_RANDOM) "
                           "failed", name);
    }

    bmcf->loaded_at = ngx_time();
    bmcf->generation.data = (u_char *) bmcf->store.header->generation;
    bmcf->generation.len = sizeof(bmcf->store.header->generation);

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           "bulletin store \"%s\": "
                           ngx_close_file_n " failed", name);
    }

    return NGX_CONF_ERROR;
}


/*
 * Workers serve what the mapping holds, and a file mapped shared shows
 * every later write to it: whoever may write the store may change what
 * the workers send.  So only root or nginx's own user may own it, and
 * nobody else may write it; a build user publishes through root.
 */

static ngx_int_t
ngx_http_bulletin_store_trusted(ngx_conf_t *cf, u_char *name,
    ngx_file_info_t *fi)
{
    uid_t  euid;

    if (!ngx_is_file(fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bulletin store \"%s\" is refused: it is not a "
                           "regular file", name);
        return NGX_ERROR;
    }

    euid = geteuid();

    if (fi->st_uid != 0 && fi->st_uid != euid) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bulletin store \"%s\" is refused: it is owned "
                           "by uid %uL, not by root or nginx's uid %uL; "
                           "publish a store as root: build it into a "
                           "staging folder, \"install -m 0644\" it to a "
                           "temporary name beside the store, \"mv\" it "
                           "into place and reload", name,
                           (uint64_t) fi->st_uid, (uint64_t) euid);
        return NGX_ERROR;
    }

    if (fi->st_mode & (S_IWGRP|S_IWOTH)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bulletin store \"%s\" is refused: group or "
                           "others may write it (mode 0%uD%uD%uD); publish "
                           "it with \"install -m 0644\"", name,
                           (uint32_t) (fi->st_mode >> 6) & 7,
                           (uint32_t) (fi->st_mode >> 3) & 7,
                           (uint32_t) fi->st_mode & 7);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_bulletin_store_unmap(void *data)
{
    ngx_http_bulletin_mapping_t  *m = data;

    if (munmap(m->addr, m->size) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "munmap(%uz) of bulletin store failed", m->size);
    }
}
