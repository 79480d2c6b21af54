
/*
 * Copyright (C) bulletin authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/file.h>

#include "ngx_http_bulletin_module.h"
#include "bulletin_idtab.h"


static ngx_int_t ngx_http_bulletin_counters_params(ngx_conf_t *cf,
    ngx_str_t *name, ssize_t *size, ngx_str_t *file);
static ngx_int_t ngx_http_bulletin_counters_zone_param(ngx_conf_t *cf,
    ngx_str_t *value, ngx_str_t *name, ssize_t *size);
static ngx_int_t ngx_http_bulletin_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_bulletin_zone_adopt(ngx_shm_zone_t *shm_zone);
static ngx_int_t ngx_http_bulletin_counters_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone);
static ngx_int_t ngx_http_bulletin_counters_open(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t *fdp);
static ngx_fd_t ngx_http_bulletin_counters_open_folder(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, u_char *base, u_char **dirp);
static ngx_int_t ngx_http_bulletin_counters_open_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t dirfd, u_char *base,
    ngx_uint_t retry, ngx_fd_t *fdp);
static ngx_int_t ngx_http_bulletin_counters_create(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t dirfd, u_char *dir,
    u_char *base, ngx_uint_t retry, ngx_fd_t *fdp);
static u_char *ngx_http_bulletin_counters_base(ngx_str_t *path);
static ngx_int_t ngx_http_bulletin_counters_folder(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, u_char *dir,
    struct stat *st);
static ngx_int_t ngx_http_bulletin_counters_owned(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, ngx_file_info_t *fi);
static void ngx_http_bulletin_counters_not_file(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, struct stat *st);
static ngx_int_t ngx_http_bulletin_counters_fits(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, size_t size);
static u_char *ngx_http_bulletin_counters_mode(u_char *buf, mode_t mode);
static ngx_int_t ngx_http_bulletin_counters_map_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t fd, size_t size, int prot);
static ngx_int_t ngx_http_bulletin_counters_assign(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, uint32_t capacity,
    ngx_uint_t write);
static uint32_t *ngx_http_bulletin_counters_index(
    ngx_http_bulletin_zone_t *zone, ngx_pool_t *pool,
    bulletin_counters_info_t *info, uint32_t *freshp);
static const uint8_t *ngx_http_bulletin_counters_key(const void *region,
    uint32_t i, size_t *len);
static void ngx_http_bulletin_counters_write(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, bulletin_counters_info_t *info, uint32_t *index,
    uint32_t fresh);
static ngx_int_t ngx_http_bulletin_counters_channels(
    ngx_http_bulletin_zone_t *zone, bulletin_counters_info_t *info,
    ngx_log_t *log);
static ngx_int_t ngx_http_bulletin_counters_precheck(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, ngx_fd_t fd,
    size_t fsize, size_t size);
static ngx_int_t ngx_http_bulletin_counters_identity(
    ngx_http_bulletin_zone_t *zone, bulletin_counters_info_t *info,
    ngx_log_t *log);
static void ngx_http_bulletin_counters_refuse(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, int rc, char *detail);
static void ngx_http_bulletin_counters_too_small(
    ngx_http_bulletin_zone_t *zone, ngx_log_t *log, uint32_t need);
static u_char *ngx_http_bulletin_counters_describe(
    ngx_http_bulletin_zone_t *zone, u_char *buf, size_t len);
static void ngx_http_bulletin_counters_unmap(void *data);


typedef struct {
    void                           *addr;
    size_t                          size;
} ngx_http_bulletin_counters_map_t;


char *
ngx_http_bulletin_counters(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bulletin_main_conf_t *bmcf = conf;

    ssize_t                    size;
    ngx_str_t                  name, file;
    ngx_shm_zone_t            *shm_zone;
    ngx_http_bulletin_zone_t  *zone;

    if (bmcf->zone != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"bulletin_counters\" is duplicate, first set "
                           "in %V:%ui", &bmcf->zone->at.file,
                           bmcf->zone->at.line);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_bulletin_counters_params(cf, &name, &size, &file)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* a counters file records its zone's name */

    if (file.len
        && !bulletin_counters_zone_valid((char *) name.data, name.len))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone name \"%V\" cannot go with \"file=\": the "
                           "counters file records 1 to %d printable ASCII "
                           "characters, no quote or backslash", &name,
                           BULLETIN_COUNTERS_ZONE_MAX);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_bulletin_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name = name;
    zone->size = size;
    zone->file = file;
    zone->at.file = cf->conf_file->file.name;
    zone->at.line = cf->conf_file->line;
    zone->main = bmcf;

    bmcf->zone = zone;

    if (file.len) {
        return NGX_CONF_OK;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_bulletin_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "counters zone \"%V\" is already declared",
                           &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_bulletin_init_zone;
    shm_zone->data = zone;

    zone->shm_zone = shm_zone;

    return NGX_CONF_OK;
}


/* zone=NAME:SIZE and file=PATH, each checked as it is read */

static ngx_int_t
ngx_http_bulletin_counters_params(ngx_conf_t *cf, ngx_str_t *name,
    ssize_t *size, ngx_str_t *file)
{
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    *size = 0;
    name->len = 0;
    ngx_str_null(file);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (ngx_http_bulletin_counters_zone_param(cf, &value[i], name,
                                                      size)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "file=", 5) == 0) {

            file->data = value[i].data + 5;
            file->len = value[i].len - 5;

            if (file->len == 0 || file->data[file->len - 1] == '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_ERROR;
            }

            if (ngx_conf_full_name(cf->cycle, file, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* zone=NAME:SIZE, as limit_req_zone reads it */

static ngx_int_t
ngx_http_bulletin_counters_zone_param(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *name, ssize_t *size)
{
    u_char     *p;
    ngx_str_t   s;

    name->data = value->data + 5;

    p = (u_char *) ngx_strchr(name->data, ':');

    if (p == NULL || p == name->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected zone=NAME:SIZE",
                           value);
        return NGX_ERROR;
    }

    name->len = p - name->data;

    s.data = p + 1;
    s.len = value->data + value->len - s.data;

    *size = ngx_parse_size(&s);

    if (*size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", value);
        return NGX_ERROR;
    }

    if (*size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, the least is %uzk",
                           value, 8 * ngx_pagesize / 1024);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Called from postconfiguration, with the store mapped: the array from
 * page record to slot lives in the new cycle's pool, and a counters file
 * is mapped here; a shared memory zone is mapped later by nginx and
 * initialized in ngx_http_bulletin_init_zone().
 */

ngx_int_t
ngx_http_bulletin_counters_init(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone)
{
    zone->slots = ngx_pcalloc(cf->pool,
                              zone->main->store.header->page_count
                              * sizeof(bulletin_counters_slot_t *));
    if (zone->slots == NULL) {
        return NGX_ERROR;
    }

    if (zone->file.len) {
        return ngx_http_bulletin_counters_file(cf, zone);
    }

    return NGX_OK;
}


/*
 * The shares of a slot a reader sees, over the channels the zone counts:
 * this node's and the other nodes' (bulletin_fleet.h)
 */

uint64_t
ngx_http_bulletin_shares(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_slot_t *slot)
{
    uint32_t  k;
    uint64_t  n;

    n = ngx_http_bulletin_read(&slot->fleet_shares);

    for (k = 0; k < zone->info.nchannels; k++) {
        n += ngx_http_bulletin_read(&slot->shares[k]);
    }

    return n;
}


/* of the zone's channel k */

uint64_t
ngx_http_bulletin_shares_of(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_slot_t *slot, uint32_t k)
{
    return ngx_http_bulletin_read(&slot->shares[k])
           + ngx_http_bulletin_read(&slot->fleet_channel[k]);
}


static ngx_int_t
ngx_http_bulletin_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_bulletin_zone_t  *ozone = data;

    size_t                     size;
    ngx_slab_pool_t           *shpool;
    ngx_http_bulletin_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {

        /* a reload with the same size: nginx kept the zone and its data */

        zone->region = ozone->region;
        zone->region_size = ozone->region_size;

        return ngx_http_bulletin_counters_assign(zone, shm_zone->shm.log, 0,
                                                 1);
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    size = shpool->pfree << ngx_pagesize_shift;

    zone->region = ngx_slab_alloc(shpool, size);
    if (zone->region == NULL) {
        return NGX_ERROR;
    }

    zone->region_size = size;
    shpool->data = zone->region;

    bulletin_counters_format(zone->region, size, ngx_time(), NULL, 0);

    if (ngx_http_bulletin_zone_adopt(shm_zone) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_bulletin_counters_assign(zone, shm_zone->shm.log, 0, 1);
}


/*
 * A reload that resizes a zone gets a new one: nginx frees the old zone
 * only once the new cycle is in place, so its counts are still there to
 * copy, by id, as they are slots of the same layout.  The old zone is
 * only read: the new cycle may yet fail and the old one go on.
 */

static ngx_int_t
ngx_http_bulletin_zone_adopt(ngx_shm_zone_t *shm_zone)
{
    u_char                     what[NGX_MAX_ERROR_STR];
    char                       detail[BULLETIN_DETAIL_MAX];
    uint32_t                   capacity;
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_list_part_t           *part;
    ngx_shm_zone_t            *oshm_zone;
    bulletin_counters_info_t   info;
    ngx_http_bulletin_zone_t  *zone, *ozone;

    zone = shm_zone->data;

    part = &((ngx_cycle_t *) ngx_cycle)->shared_memory.part;
    oshm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_OK;
            }

            part = part->next;
            oshm_zone = part->elts;
            i = 0;
        }

        if (oshm_zone[i].tag == shm_zone->tag
            && oshm_zone[i].shm.name.len == shm_zone->shm.name.len
            && ngx_strncmp(oshm_zone[i].shm.name.data,
                           shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               == 0
            && oshm_zone[i].data != NULL)
        {
            break;
        }
    }

    ozone = oshm_zone[i].data;

    if (ozone->region == NULL) {
        return NGX_OK;
    }

    rc = bulletin_counters_check(ozone->region, ozone->region_size, &info,
                                 detail);

    if (rc != BULLETIN_COUNTERS_OK) {
        ngx_log_error(NGX_LOG_ALERT, shm_zone->shm.log, 0,
                      "the old counters zone \"%V\" is unreadable, its "
                      "counts are not copied: %s: %s",
                      &zone->name, bulletin_counters_strerror(rc), detail);
        return NGX_OK;
    }

    capacity = bulletin_counters_capacity(zone->region_size);

    if (info.used > capacity) {
        (void) ngx_http_bulletin_counters_describe(zone, what, sizeof(what));
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s cannot hold the %uD ids of the zone it resizes",
                      what, info.used);
        ngx_http_bulletin_counters_too_small(zone, shm_zone->shm.log,
                                             info.used);
        return NGX_ERROR;
    }

    ngx_memcpy(zone->region, ozone->region, BULLETIN_COUNTERS_HEADER);
    ngx_memcpy(bulletin_counters_slot(zone->region, 0),
               bulletin_counters_slot(ozone->region, 0),
               (size_t) info.used * sizeof(bulletin_counters_slot_t));

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "counters zone \"%V\" resized to %uz, counts of %uD ids "
                  "copied", &zone->name, zone->size, info.used);

    return NGX_OK;
}


/*
 * The file is created and grown by the master, as the user that starts
 * nginx, with its space reserved, so that a worker can never fault on
 * a full disk; new ids are appended under flock(), since two masters
 * run during a binary upgrade.  Every check runs, on a read-only
 * mapping, before the file is grown or written; "nginx -t" runs the
 * checks alone, and reads and writes nothing else.
 */

static ngx_int_t
ngx_http_bulletin_counters_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone)
{
    int               err;
    size_t            size, fsize;
    u_char           *name;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_uint_t        locked;
    ngx_file_info_t   fi;

    name = zone->file.data;
    fd = NGX_INVALID_FILE;

    rc = ngx_http_bulletin_counters_open(cf, zone, &fd);

    if (rc == NGX_DONE) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    locked = 0;

    if (!ngx_test_config) {
        if (flock(fd, LOCK_EX) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                          "counters file \"%s\": flock() failed", name);
            goto done;
        }

        locked = 1;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "counters file \"%s\": " ngx_fd_info_n " failed", name);
        goto done;
    }

    if (ngx_http_bulletin_counters_owned(zone, cf->log, &fi) != NGX_OK) {
        goto done;
    }

    fsize = (size_t) ngx_file_size(&fi);
    size = ngx_max(fsize, zone->size);

    if (ngx_http_bulletin_counters_precheck(zone, cf->log, fd, fsize, size)
        != NGX_OK)
    {
        goto done;
    }

    if (ngx_test_config) {
        rc = NGX_OK;
        goto done;
    }

    /*
     * every block reserved, also in a file that was copied sparse, since
     * a worker that writes into a hole on a full disk dies of SIGBUS
     */

    err = posix_fallocate(fd, 0, size);

    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                      "counters file \"%s\": posix_fallocate(%uz) failed",
                      name, size);
        goto done;
    }

    if (ngx_http_bulletin_counters_map_file(cf, zone, fd, size,
                                            PROT_READ|PROT_WRITE)
        != NGX_OK)
    {
        goto done;
    }

    if (fsize == 0) {
        bulletin_counters_format(zone->region, size, ngx_time(),
                                 (char *) zone->name.data, zone->name.len);
    }

    rc = ngx_http_bulletin_counters_assign(zone, cf->log, 0, 1);

done:

    /* the mapping keeps the open file, and so the lock, alive: unlock */

    if (locked && flock(fd, LOCK_UN) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      "counters file \"%s\": flock(LOCK_UN) failed", name);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      "counters file \"%s\": " ngx_close_file_n " failed",
                      name);
    }

    return rc;
}


/*
 * Opens the file in its folder, never through a symbolic link: whoever
 * can put a link or a file there could otherwise make the master, as
 * root, create, grow or format any file.  The folder is opened first
 * and checked, and the file is opened relative to it, so that both
 * checks hold for the same folder.  NGX_DONE: "nginx -t", no file yet,
 * and one could be made and would hold the store.
 */

static ngx_int_t
ngx_http_bulletin_counters_open(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t *fdp)
{
    u_char      *base, *dir;
    ngx_fd_t     dirfd;
    ngx_int_t    rc;
    ngx_uint_t   n;

    base = ngx_http_bulletin_counters_base(&zone->file);

    dirfd = ngx_http_bulletin_counters_open_folder(cf, zone, base, &dir);

    if (dirfd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    /* a file made or removed meanwhile by another master: look again */

    for (n = 0; /* void */ ; n++) {

        rc = ngx_http_bulletin_counters_open_file(cf, zone, dirfd, base,
                                                  n < 2, fdp);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_bulletin_counters_create(cf, zone, dirfd, dir,
                                                   base, n < 2, fdp);
        }

        if (rc != NGX_AGAIN) {
            break;
        }
    }

    if (close(dirfd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      "counters file \"%s\": close() of its folder failed",
                      zone->file.data);
    }

    return rc;
}


/* the folder, opened and checked: its descriptor, or NGX_INVALID_FILE */

static ngx_fd_t
ngx_http_bulletin_counters_open_folder(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, u_char *base, u_char **dirp)
{
    u_char       *name, *dir;
    size_t        len;
    ngx_fd_t      dirfd;
    ngx_err_t     err;
    struct stat   st;

    name = zone->file.data;
    len = base - name - 1;

    dir = ngx_pnalloc(cf->pool, len + 2);
    if (dir == NULL) {
        return NGX_INVALID_FILE;
    }

    /* the path is absolute: the file of "/x" is in "/" */

    *ngx_cpymem(dir, name, len ? len : 1) = '\0';

    dirfd = open((char *) dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);

    if (dirfd == -1) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "counters file \"%s\": its folder \"%s\" does not "
                          "exist", name, dir);

        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                          "counters file \"%s\": its folder \"%s\" cannot be "
                          "opened", name, dir);
        }

        return NGX_INVALID_FILE;
    }

    if (fstat(dirfd, &st) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "counters file \"%s\": fstat() of its folder \"%s\" "
                      "failed", name, dir);
        goto failed;
    }

    if (ngx_http_bulletin_counters_folder(zone, cf->log, dir, &st)
        != NGX_OK)
    {
        goto failed;
    }

    *dirp = dir;

    return dirfd;

failed:

    if (close(dirfd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      "counters file \"%s\": close() of its folder failed",
                      name);
    }

    return NGX_INVALID_FILE;
}


/*
 * The file as it is: NGX_OK, NGX_DECLINED when there is none, NGX_AGAIN
 * when it went between the look and the open, and retry allows another.
 */

static ngx_int_t
ngx_http_bulletin_counters_open_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t dirfd, u_char *base,
    ngx_uint_t retry, ngx_fd_t *fdp)
{
    int           flags;
    ngx_fd_t      fd;
    ngx_err_t     err;
    struct stat   st;

    if (fstatat(dirfd, (char *) base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                      "counters file \"%s\": fstatat() failed",
                      zone->file.data);
        return NGX_ERROR;
    }

    /* a FIFO or a device is never opened: that could block */

    if (!S_ISREG(st.st_mode)) {
        ngx_http_bulletin_counters_not_file(zone, cf->log, &st);
        return NGX_ERROR;
    }

    flags = (ngx_test_config ? O_RDONLY : O_RDWR)
            |O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK;

    fd = openat(dirfd, (char *) base, flags);

    if (fd != -1) {
        *fdp = fd;
        return NGX_OK;
    }

    err = ngx_errno;

    if (err == NGX_ENOENT && retry) {
        return NGX_AGAIN;
    }

    if (err == NGX_ELOOP) {
        ngx_http_bulletin_counters_not_file(zone, cf->log, NULL);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                      "counters file \"%s\": open() failed", zone->file.data);
    }

    return NGX_ERROR;
}


/*
 * A new file, that must hold the store: NGX_OK; NGX_DONE for "nginx -t",
 * which only checks that it could be made; NGX_AGAIN when another master
 * made it meanwhile, and retry allows another look.
 */

static ngx_int_t
ngx_http_bulletin_counters_create(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t dirfd, u_char *dir,
    u_char *base, ngx_uint_t retry, ngx_fd_t *fdp)
{
    u_char     *name;
    ngx_fd_t    fd;
    ngx_err_t   err;

    name = zone->file.data;

    if (ngx_http_bulletin_counters_fits(zone, cf->log, zone->size) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_test_config) {

        if (faccessat(dirfd, ".", W_OK|X_OK, 0) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                          "counters file \"%s\" cannot be created: its "
                          "folder \"%s\" is not writable", name, dir);
            return NGX_ERROR;
        }

        return NGX_DONE;
    }

    fd = openat(dirfd, (char *) base,
                O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);

    if (fd == -1) {
        err = ngx_errno;

        if (err == NGX_EEXIST && retry) {
            return NGX_AGAIN;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                      "counters file \"%s\" cannot be created in its folder "
                      "\"%s\"", name, dir);
        return NGX_ERROR;
    }

    /*
     * 0600 whatever the umask: no one else needs it, as the workers
     * inherit the mapping
     */

    if (fchmod(fd, 0600) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "counters file \"%s\": fchmod(0600) failed", name);

        if (close(fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                          "counters file \"%s\": close() failed", name);
        }

        return NGX_ERROR;
    }

    *fdp = fd;

    return NGX_OK;
}


/* the last part of an absolute path: what follows its last "/" */

static u_char *
ngx_http_bulletin_counters_base(ngx_str_t *path)
{
    u_char  *p;

    p = path->data + path->len;

    while (p > path->data && p[-1] != '/') {
        p--;
    }

    return p;
}


/*
 * Whoever may write into the folder may replace the file by a link, or
 * by another file, between two starts: only root or the master's user
 * may own it, and group and others may not write there, unless the
 * sticky bit keeps them from renaming or removing what is not theirs.
 */

static ngx_int_t
ngx_http_bulletin_counters_folder(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, u_char *dir, struct stat *st)
{
    u_char  mode[5];

    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: its folder \"%s\" "
                      "belongs to uid %d, who could replace the file; the "
                      "folder must belong to root or to nginx's master "
                      "(uid %d)", &zone->file, dir, (int) st->st_uid,
                      (int) geteuid());
        return NGX_ERROR;
    }

    if ((st->st_mode & (S_IWGRP|S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: its folder \"%s\" "
                      "is writable by group or others (mode %s), who "
                      "could replace the file; make it 0700", &zone->file,
                      dir, ngx_http_bulletin_counters_mode(mode,
                                                           st->st_mode));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The file the master maps and writes as root: its own, which nobody else
 * may write, and with no other name (a hard link planted in the folder
 * could name another of its files).  The workers inherit the mapping and
 * need no access: group and others need none, and are told so.
 */

static ngx_int_t
ngx_http_bulletin_counters_owned(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, ngx_file_info_t *fi)
{
    u_char  mode[5];

    if (!ngx_is_file(fi)) {
        ngx_http_bulletin_counters_not_file(zone, log, fi);
        return NGX_ERROR;
    }

    if (fi->st_uid != geteuid()) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: it belongs to uid "
                      "%d, not to nginx's master (uid %d)", &zone->file,
                      (int) fi->st_uid, (int) geteuid());
        return NGX_ERROR;
    }

    if (fi->st_mode & (S_IWGRP|S_IWOTH)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: it is writable by "
                      "group or others (mode %s); chmod 0600 it",
                      &zone->file,
                      ngx_http_bulletin_counters_mode(mode, fi->st_mode));
        return NGX_ERROR;
    }

    if (fi->st_nlink != 1) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: it has %d hard "
                      "links, not 1", &zone->file, (int) fi->st_nlink);
        return NGX_ERROR;
    }

    if (fi->st_mode & (S_IRGRP|S_IROTH)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "counters file \"%V\" is readable by group or others "
                      "(mode %s), who need not read it; chmod 0600 it",
                      &zone->file,
                      ngx_http_bulletin_counters_mode(mode, fi->st_mode));
    }

    return NGX_OK;
}


static void
ngx_http_bulletin_counters_not_file(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, struct stat *st)
{
    if (st == NULL || S_ISLNK(st->st_mode)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "counters file \"%V\" is refused: it is a symbolic "
                      "link, and nginx follows none there; give file= the "
                      "file's own path", &zone->file);
        return;
    }

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "counters file \"%V\" is refused: it is not a regular "
                  "file", &zone->file);
}


/* a new zone of size bytes must hold the store alone */

static ngx_int_t
ngx_http_bulletin_counters_fits(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, size_t size)
{
    uint32_t  n;

    n = zone->main->store.header->page_count;

    if (n > bulletin_counters_capacity(size)) {
        ngx_http_bulletin_counters_too_small(zone, log, n);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* four octal digits, as chmod takes them: ngx_sprintf() has no "%o" */

static u_char *
ngx_http_bulletin_counters_mode(u_char *buf, mode_t mode)
{
    ngx_uint_t  i;

    for (i = 0; i < 4; i++) {
        buf[i] = (u_char) ('0' + ((mode >> (9 - 3 * i)) & 7));
    }

    buf[4] = '\0';

    return buf;
}


static ngx_int_t
ngx_http_bulletin_counters_map_file(ngx_conf_t *cf,
    ngx_http_bulletin_zone_t *zone, ngx_fd_t fd, size_t size, int prot)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_bulletin_counters_map_t  *m;

    cln = ngx_pool_cleanup_add(cf->pool,
                               sizeof(ngx_http_bulletin_counters_map_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    m = cln->data;

    m->addr = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

    if (m->addr == MAP_FAILED) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "counters file \"%V\": mmap(%uz) failed",
                      &zone->file, size);
        return NGX_ERROR;
    }

    m->size = size;
    cln->handler = ngx_http_bulletin_counters_unmap;

    zone->region = m->addr;
    zone->region_size = size;

    return NGX_OK;
}


/*
 * Gives every page of the store its slot, appending the ids the zone
 * does not hold yet, and maps the store's channels to the zone's.  With
 * write 0 it only checks; capacity, if not 0, is what the region will
 * hold once grown.
 */

static ngx_int_t
ngx_http_bulletin_counters_assign(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, uint32_t capacity, ngx_uint_t write)
{
    int                        rc;
    char                       detail[BULLETIN_DETAIL_MAX];
    uint32_t                   fresh, *index;
    ngx_int_t                  ret;
    ngx_pool_t                *pool;
    bulletin_counters_info_t   info;

    rc = bulletin_counters_check(zone->region, zone->region_size, &info,
                                 detail);

    if (rc != BULLETIN_COUNTERS_OK) {
        ngx_http_bulletin_counters_refuse(zone, log, rc, detail);
        return NGX_ERROR;
    }

    if (capacity == 0) {
        capacity = info.capacity;
    }

    if (ngx_http_bulletin_counters_identity(zone, &info, log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_bulletin_counters_channels(zone, &info, log) != NGX_OK) {
        return NGX_ERROR;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ret = NGX_ERROR;

    index = ngx_http_bulletin_counters_index(zone, pool, &info, &fresh);

    if (index == NULL) {
        goto done;
    }

    if ((uint64_t) info.used + fresh > capacity) {
        ngx_http_bulletin_counters_too_small(zone, log, info.used + fresh);
        goto done;
    }

    if (write) {
        ngx_http_bulletin_counters_write(zone, log, &info, index, fresh);
    }

    ret = NGX_OK;

done:

    ngx_destroy_pool(pool);

    return ret;
}


/*
 * The slot of each page of the store: the one that holds its id, or the
 * fresh ones after the used slots, in the order of the pages.
 */

static uint32_t *
ngx_http_bulletin_counters_index(ngx_http_bulletin_zone_t *zone,
    ngx_pool_t *pool, bulletin_counters_info_t *info, uint32_t *freshp)
{
    size_t                          size;
    int64_t                         found;
    uint32_t                        i, p, fresh, *index;
    bulletin_idtab_t                table;
    bulletin_store_t               *store;
    const bulletin_store_record_t  *rec;

    store = &zone->main->store;

    /* the ids the zone holds, by slot */

    size = bulletin_idtab_size(info->used);

    index = ngx_palloc(pool, store->header->page_count * sizeof(uint32_t));
    table.entries = ngx_pcalloc(pool, size * sizeof(uint32_t));

    if (table.entries == NULL || index == NULL) {
        return NULL;
    }

    bulletin_idtab_init(&table, table.entries, size,
                        ngx_http_bulletin_counters_key, zone->region);

    for (i = 0; i < info->used; i++) {
        if (bulletin_idtab_add(&table, i) != BULLETIN_OK) {
            return NULL;
        }
    }

    fresh = 0;

    for (p = 0; p < store->header->page_count; p++) {
        rec = &store->records[p];
        found = bulletin_idtab_find(&table, store->base + rec->id_off,
                                    rec->id_len);

        index[p] = (found >= 0) ? (uint32_t) found : info->used + fresh++;
    }

    *freshp = fresh;

    return index;
}


/* the id of a slot, for the id table */

static const uint8_t *
ngx_http_bulletin_counters_key(const void *region, uint32_t i, size_t *len)
{
    bulletin_counters_slot_t  *slot;

    slot = bulletin_counters_slot((void *) region, i);
    *len = bulletin_counters_id_len(slot);

    return (const uint8_t *) slot->id;
}


/* the fresh ids first, then the state that covers them */

static void
ngx_http_bulletin_counters_write(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, bulletin_counters_info_t *info, uint32_t *index,
    uint32_t fresh)
{
    uint32_t                        p;
    bulletin_store_t               *store;
    bulletin_counters_slot_t       *slot;
    const bulletin_store_record_t  *rec;

    store = &zone->main->store;

    for (p = 0; p < store->header->page_count; p++) {
        slot = bulletin_counters_slot(zone->region, index[p]);

        if (index[p] >= info->used) {
            rec = &store->records[p];
            ngx_memzero(slot->id, sizeof(slot->id));
            ngx_memcpy(slot->id, store->base + rec->id_off, rec->id_len);
        }

        zone->slots[p] = slot;
    }

    info->used += fresh;

    if (zone->file.len && info->zone[0] == '\0') {

        /*
         * both copies cover the name: until then, a damaged name would
         * pass for none, as a copy that does not cover it stays valid
         */

        bulletin_counters_name(zone->region, info, (char *) zone->name.data,
                               zone->name.len);
        bulletin_counters_commit(zone->region, info);

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "counters file \"%V\" now belongs to zone \"%V\"",
                      &zone->file, &zone->name);
    }

    bulletin_counters_commit(zone->region, info);

    zone->info = *info;
}


/*
 * A file counts for one zone name: another nginx, or another http{},
 * that names its zone otherwise is refused it.  The masters of a binary
 * upgrade, and nginx instances that share the name on purpose, share
 * the counts: appends take the lock, and counts are atomic adds.
 */

static ngx_int_t
ngx_http_bulletin_counters_identity(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_info_t *info, ngx_log_t *log)
{
    if (zone->file.len == 0 || info->zone[0] == '\0') {
        return NGX_OK;
    }

    if (ngx_strlen(info->zone) == zone->name.len
        && ngx_strncmp(info->zone, zone->name.data, zone->name.len) == 0)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "counters file \"%V\" belongs to zone \"%s\", not \"%V\": "
                  "give this zone a file of its own, or the name \"%s\" "
                  "to share the counts", &zone->file, info->zone, &zone->name,
                  info->zone);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_bulletin_counters_channels(ngx_http_bulletin_zone_t *zone,
    bulletin_counters_info_t *info, ngx_log_t *log)
{
    u_char                          what[NGX_MAX_ERROR_STR];
    size_t                          len;
    uint32_t                        j, k;
    const char                     *name;
    const bulletin_store_header_t  *header;

    header = zone->main->store.header;

    for (j = 0; j < header->nchannels; j++) {
        name = header->channels[j];
        len = ngx_strnlen((u_char *) name, BULLETIN_CHANNEL_SIZE);

        for (k = 0; k < info->nchannels; k++) {
            if (ngx_strncmp(info->channels[k], name,
                            BULLETIN_CHANNEL_SIZE) == 0) {
                break;
            }
        }

        if (k == info->nchannels) {

            if (k == BULLETIN_CHANNELS_MAX) {
                (void) ngx_http_bulletin_counters_describe(zone, what,
                                                           sizeof(what));
                ngx_log_error(NGX_LOG_EMERG, log, 0,
                              "%s counts shares of %d channels already, "
                              "the store's channel \"%*s\" is one more",
                              what, BULLETIN_CHANNELS_MAX, len, name);
                return NGX_ERROR;
            }

            ngx_memzero(info->channels[k], BULLETIN_CHANNEL_SIZE);
            ngx_memcpy(info->channels[k], name, len);
            info->nchannels++;
        }

        zone->channel[j] = k;
    }

    return NGX_OK;
}


/*
 * Everything ngx_http_bulletin_counters_assign() checks, on a read-only
 * mapping of the file as it is, with the capacity the file will have:
 * a file that fails is refused before a byte of it changes.
 */

static ngx_int_t
ngx_http_bulletin_counters_precheck(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, ngx_fd_t fd, size_t fsize, size_t size)
{
    void       *addr;
    ngx_int_t   rc;

    if (fsize == 0) {
        return ngx_http_bulletin_counters_fits(zone, log, size);
    }

    addr = mmap(NULL, fsize, PROT_READ, MAP_SHARED, fd, 0);

    if (addr == MAP_FAILED) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "counters file \"%V\": mmap(%uz) failed",
                      &zone->file, fsize);
        return NGX_ERROR;
    }

    zone->region = addr;
    zone->region_size = fsize;

    rc = ngx_http_bulletin_counters_assign(zone, log,
                                           bulletin_counters_capacity(size),
                                           0);

    zone->region = NULL;
    zone->region_size = 0;

    if (munmap(addr, fsize) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "counters file \"%V\": munmap(%uz) failed",
                      &zone->file, fsize);
    }

    return rc;
}


static void
ngx_http_bulletin_counters_refuse(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, int rc, char *detail)
{
    u_char  what[NGX_MAX_ERROR_STR];

    (void) ngx_http_bulletin_counters_describe(zone, what, sizeof(what));

    ngx_log_error(NGX_LOG_EMERG, log, 0, "%s is refused: %s: %s",
                  what, bulletin_counters_strerror(rc), detail);
}


static void
ngx_http_bulletin_counters_too_small(ngx_http_bulletin_zone_t *zone,
    ngx_log_t *log, uint32_t need)
{
    u_char  what[NGX_MAX_ERROR_STR];
    size_t  size;

    size = bulletin_counters_size(need);

    if (zone->file.len == 0) {

        /* the slab allocator's page descriptors and its own header */

        size += size / ngx_pagesize * sizeof(ngx_slab_page_t)
                + 16 * ngx_pagesize;
    }

    (void) ngx_http_bulletin_counters_describe(zone, what, sizeof(what));

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "%s is too small: the store and the ids the zone holds "
                  "need %uD slots, make SIZE at least %uzk",
                  what, need, (size + 1023) / 1024);
}


static u_char *
ngx_http_bulletin_counters_describe(ngx_http_bulletin_zone_t *zone, u_char *buf,
    size_t len)
{
    u_char  *p;

    if (zone->file.len) {
        p = ngx_snprintf(buf, len - 1, "counters file \"%V\" of zone \"%V\"",
                         &zone->file, &zone->name);

    } else {
        p = ngx_snprintf(buf, len - 1, "counters zone \"%V\"", &zone->name);
    }

    *p = '\0';

    return buf;
}


static void
ngx_http_bulletin_counters_unmap(void *data)
{
    ngx_http_bulletin_counters_map_t  *m = data;

    if (munmap(m->addr, m->size) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "munmap(%uz) of counters file failed", m->size);
    }
}
