/*
 * Copyright (C) bulletin authors
 *
 * Writing the store (bulletin-build only; the module never links this).
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bulletin_arena.h"
#include "bulletin_crc.h"
#include "bulletin_idtab.h"
#include "bulletin_store.h"
#include "bulletin_writer.h"


#define BULLETIN_WBUF_SIZE      (256 * 1024)
#define BULLETIN_PAGES_MAX      (1u << 30)


/* a page as added, in the order added */
typedef struct {
    const uint8_t           *id;            /* a copy, in the arena */
    uint64_t                 str_off;       /* id, title, published, etag */
    uint32_t                 id_len;
    uint32_t                 title_len;
    uint32_t                 published_len;
    uint32_t                 nslots;
    uint32_t                 type;
    uint64_t                 hash;
    uint64_t                 inputs;
    int64_t                  last_modified;
    uint64_t                 plain_len;
    uint64_t                 gzip_len;
    uint64_t                 segment_first; /* in w->segments */
    uint64_t                 slot_first;    /* in w->slots */
    bulletin_store_source_t  source;        /* zeros: none */
} bulletin_wrec_t;


/* a slot until commit resolves its id to a record */
typedef struct {
    const uint8_t           *ref;           /* a copy; NULL: this page */
    uint32_t                 ref_len;
    uint32_t                 kind;
} bulletin_wref_t;


struct bulletin_writer_s {
    char                    *path;
    char                    *tmp;           /* NULL once gone */
    int                      fd;
    int                      failed;        /* a write failed: no commit */

    uint64_t                 off;           /* file offset of buf[0] */
    size_t                   buf_len;
    uint8_t                 *buf;
    uint32_t                 crc;           /* of the bytes after the
                                               header written so far */

    int64_t                  built_at;
    const bulletin_store_t  *prev;
    uint32_t                 nchannels;
    char                     channels[BULLETIN_CHANNELS_MAX]
                                    [BULLETIN_CHANNEL_SIZE];

    bulletin_wrec_t         *recs;
    uint32_t                 nrecs;
    uint32_t                 recs_cap;

    bulletin_store_segment_t *segments;     /* the order added */
    uint64_t                 nsegments;
    uint64_t                 segments_cap;

    bulletin_wref_t         *refs;
    uint64_t                 nrefs;
    uint64_t                 refs_cap;

    bulletin_idtab_t         table;         /* id -> record added */

    bulletin_arena_t         arena;

    uint32_t                 kept;
    uint32_t                 nsources;      /* pages with a source */
    char                     detail[BULLETIN_DETAIL_MAX];
};


static int bulletin_writer_channels_valid(const char *const *channels,
    size_t nchannels);
static int bulletin_writer_open(bulletin_writer_t *w);
static int bulletin_writer_system(bulletin_writer_t *w, const char *what);
static int bulletin_writer_check(bulletin_writer_t *w,
    const bulletin_wpage_t *page, uint64_t *plain, uint64_t *gzip);
static int bulletin_writer_check_id(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id);
static int bulletin_writer_check_text(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id);
static int bulletin_writer_check_segments(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id, uint64_t *plain,
    uint64_t *gzip);
static int bulletin_writer_check_source(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id);
static int bulletin_writer_check_slots(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id);
static int bulletin_writer_refs(bulletin_writer_t *w,
    const bulletin_wpage_t *page);
static uint64_t bulletin_writer_hash(const bulletin_wpage_t *page);
static int64_t bulletin_writer_last_modified(bulletin_writer_t *w,
    const bulletin_wpage_t *page, uint64_t hash);
static int bulletin_writer_page(bulletin_writer_t *w,
    const bulletin_wpage_t *page, uint64_t hash);
static void bulletin_writer_sort(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, uint32_t *rank);
static int bulletin_writer_resolve(bulletin_writer_t *w);
static int bulletin_writer_index(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static int bulletin_writer_records(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static int bulletin_writer_segments(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static int bulletin_writer_slots(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, uint32_t *rank,
    bulletin_store_header_t *header);
static int bulletin_writer_sources(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static int bulletin_writer_inputs(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static int bulletin_writer_header(bulletin_writer_t *w,
    bulletin_wrec_t **sorted, bulletin_store_header_t *header);
static uint64_t bulletin_writer_generation(bulletin_writer_t *w,
    bulletin_wrec_t **sorted);
static int bulletin_writer_durable(bulletin_writer_t *w);
static int bulletin_writer_reserve(bulletin_writer_t *w, uint32_t nslots);
static int bulletin_writer_write(bulletin_writer_t *w, const void *data,
    size_t len);
static int bulletin_writer_copy(bulletin_writer_t *w, const void *data,
    size_t len, uint32_t crc, uint32_t op);
static int bulletin_writer_put(bulletin_writer_t *w, const void *data,
    size_t len);
static int bulletin_writer_flush(bulletin_writer_t *w);
static int bulletin_writer_pad(bulletin_writer_t *w);
static int bulletin_write_full(int fd, const uint8_t *p, size_t len,
    uint64_t off);
static const uint8_t *bulletin_writer_key(const void *ctx, uint32_t rec,
    size_t *len);
static int bulletin_wrec_cmp(const void *a, const void *b);
static void bulletin_writer_cleanup(bulletin_writer_t *w);
static void bulletin_writer_free(bulletin_writer_t *w);
static void bulletin_printable(char *dst, size_t size, const uint8_t *src,
    size_t len);


bulletin_writer_t *
bulletin_writer_create(const char *path, const char *const *channels,
    size_t nchannels, int64_t built_at, const bulletin_store_t *prev,
    int *err)
{
    int                 e;
    size_t              i, len;
    bulletin_writer_t  *w;

    if (nchannels > BULLETIN_CHANNELS_MAX) {
        *err = BULLETIN_ERR_CHANNEL;
        return NULL;
    }

    /* it becomes the Last-Modified of pages: the verifier's range */
    if (!bulletin_time_valid(built_at)) {
        *err = BULLETIN_ERR_TIME;
        return NULL;
    }

    if (!bulletin_writer_channels_valid(channels, nchannels)) {
        *err = BULLETIN_ERR_CHANNEL;
        return NULL;
    }

    w = calloc(1, sizeof(bulletin_writer_t));
    if (w == NULL) {
        *err = BULLETIN_ERR_NOMEM;
        return NULL;
    }

    w->fd = -1;
    w->built_at = built_at;
    w->prev = prev;
    w->nchannels = (uint32_t) nchannels;

    for (i = 0; i < nchannels; i++) {
        memcpy(w->channels[i], channels[i], strlen(channels[i]));
    }

    len = strlen(path);

    w->path = malloc(len + 1);
    w->tmp = malloc(len + sizeof(".") + sizeof(".XXXXXX"));
    w->buf = malloc(BULLETIN_WBUF_SIZE);
    bulletin_idtab_init(&w->table, NULL, 0, bulletin_writer_key, w);

    if (w->path == NULL || w->tmp == NULL || w->buf == NULL) {
        bulletin_writer_free(w);
        *err = BULLETIN_ERR_NOMEM;
        return NULL;
    }

    memcpy(w->path, path, len + 1);

    if (bulletin_writer_open(w) != 0) {
        e = errno;
        bulletin_writer_free(w);
        errno = e;
        *err = BULLETIN_ERR_SYSTEM;
        return NULL;
    }

    return w;
}


/* valid names, none twice */

static int
bulletin_writer_channels_valid(const char *const *channels,
    size_t nchannels)
{
    size_t  i, k;

    for (i = 0; i < nchannels; i++) {
        if (!bulletin_channel_valid((const uint8_t *) channels[i],
                                    strlen(channels[i])))
        {
            return 0;
        }

        for (k = 0; k < i; k++) {
            if (strcmp(channels[k], channels[i]) == 0) {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * The temporary file, "dir/.name.XXXXXX": in the same file system as
 * the output, hidden from globs; the page bytes start after the header.
 * -1 with errno.
 */

static int
bulletin_writer_open(bulletin_writer_t *w)
{
    int          fd;
    char        *slash;
    size_t       dir_len;
    const char  *path;

    path = w->path;
    slash = strrchr(path, '/');
    dir_len = (slash == NULL) ? 0 : (size_t) (slash - path + 1);

    memcpy(w->tmp, path, dir_len);
    sprintf(w->tmp + dir_len, ".%s.XXXXXX", path + dir_len);

    fd = mkstemp(w->tmp);
    if (fd == -1) {
        free(w->tmp);
        w->tmp = NULL;
        return -1;
    }

    w->fd = fd;

    if (fchmod(fd, 0644) == -1) {
        return -1;
    }

    w->off = sizeof(bulletin_store_header_t);

    if (lseek(fd, (off_t) w->off, SEEK_SET) == -1) {
        return -1;
    }

    return 0;
}


int
bulletin_writer_add(bulletin_writer_t *w, const bulletin_wpage_t *page)
{
    int               rc;
    uint64_t          plain, gzip;
    bulletin_wrec_t  *r;

    if (w->failed) {
        return w->failed;
    }

    rc = bulletin_writer_check(w, page, &plain, &gzip);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_writer_reserve(w, page->nslots);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    r = &w->recs[w->nrecs];
    memset(r, 0, sizeof(bulletin_wrec_t));

    r->id = bulletin_arena_copy(&w->arena, page->id, page->id_len);
    if (r->id == NULL) {
        return bulletin_fail(w->detail, BULLETIN_ERR_NOMEM, "out of memory");
    }

    r->id_len = (uint32_t) page->id_len;
    r->title_len = (uint32_t) page->title_len;
    r->published_len = (uint32_t) page->published_len;
    r->nslots = page->nslots;
    r->type = page->type;
    r->inputs = page->inputs;
    r->plain_len = plain;
    r->gzip_len = gzip;
    r->segment_first = w->nsegments;
    r->slot_first = w->nrefs;

    rc = bulletin_writer_refs(w, page);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    r->hash = page->reused ? page->hash : bulletin_writer_hash(page);
    r->last_modified = bulletin_writer_last_modified(w, page, r->hash);
    r->str_off = w->off + w->buf_len;

    rc = bulletin_writer_page(w, page, r->hash);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_idtab_add(&w->table, w->nrecs);
    if (rc != BULLETIN_OK) {
        w->failed = bulletin_fail(w->detail, rc, "out of memory");
        return rc;
    }

    w->nrecs++;
    w->nsegments += page->nslots + 1;
    w->nrefs += page->nslots;

    return BULLETIN_OK;
}


static int
bulletin_writer_check(bulletin_writer_t *w, const bulletin_wpage_t *page,
    uint64_t *plain, uint64_t *gzip)
{
    int   rc;
    char  id[BULLETIN_ID_MAX + 1];

    bulletin_printable(id, sizeof(id), page->id, page->id_len);

    rc = bulletin_writer_check_id(w, page, id);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_writer_check_text(w, page, id);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_writer_check_segments(w, page, id, plain, gzip);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_writer_check_source(w, page, id);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    return bulletin_writer_check_slots(w, page, id);
}


/* what the verifier wants of a source */

static int
bulletin_writer_check_source(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id)
{
    const bulletin_wsource_t  *src;

    src = page->source;

    if (src == NULL) {
        return BULLETIN_OK;
    }

    if (page->type != BULLETIN_TYPE_HTML
        || src->path_len == 0 || src->path_len > BULLETIN_SOURCE_PATH_MAX
        || src->category_len > BULLETIN_CATEGORY_MAX)
    {
        return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                             "page \"%s\": a source path of %zu bytes "
                             "(1 to %d) or a category of %zu (at most %d)",
                             id, src->path_len, BULLETIN_SOURCE_PATH_MAX,
                             src->category_len, BULLETIN_CATEGORY_MAX);
    }

    if (memchr(src->path, '\0', src->path_len) != NULL
        || !bulletin_utf8_valid(src->category, src->category_len)
        || !bulletin_time_valid(src->published_at))
    {
        return bulletin_fail(w->detail, BULLETIN_ERR_TEXT,
                             "page \"%s\": a NUL in its source path, a "
                             "category not UTF-8 or a time out of range",
                             id);
    }

    return BULLETIN_OK;
}


/* a valid id not added yet, and room for the page in the store */

static int
bulletin_writer_check_id(bulletin_writer_t *w, const bulletin_wpage_t *page,
    const char *id)
{
    if (!bulletin_id_valid(page->id, page->id_len, 1)) {
        return bulletin_fail(w->detail, BULLETIN_ERR_ID, "invalid id \"%s\"",
                             id);
    }

    if (bulletin_idtab_find(&w->table, page->id, page->id_len) >= 0) {
        return bulletin_fail(w->detail, BULLETIN_ERR_DUPLICATE,
                             "duplicate id \"%s\"", id);
    }

    if (page->type > BULLETIN_TYPE_LAST
        || (page->type != BULLETIN_TYPE_HTML
            && (page->id[0] != '_' || page->nslots != 0)))
    {
        return bulletin_fail(w->detail, BULLETIN_ERR_ID,
                             "page \"%s\": type %u is for the builder's "
                             "own pages (\"_\" and no count slot)", id,
                             page->type);
    }

    if (w->nrecs >= BULLETIN_PAGES_MAX) {
        return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                             "page \"%s\": more than %u pages", id,
                             BULLETIN_PAGES_MAX);
    }

    if (page->nslots > BULLETIN_SLOTS_MAX) {
        return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                             "page \"%s\": %u slots, at most %d", id,
                             page->nslots, BULLETIN_SLOTS_MAX);
    }

    if (w->nsegments + page->nslots + 1 > UINT32_MAX
        || w->nrefs + page->nslots > UINT32_MAX)
    {
        return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                             "page \"%s\": more than %u segments or "
                             "slots in the store", id, UINT32_MAX);
    }

    return BULLETIN_OK;
}


/* what the verifier will want of the title and the published date */

static int
bulletin_writer_check_text(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id)
{
    if (page->title_len > BULLETIN_TITLE_MAX) {
        return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                             "page \"%s\": a title of %zu bytes, at "
                             "most %d", id, page->title_len,
                             BULLETIN_TITLE_MAX);
    }

    if (!bulletin_utf8_valid(page->title, page->title_len)) {
        return bulletin_fail(w->detail, BULLETIN_ERR_TEXT,
                             "page \"%s\": the title is not valid "
                             "UTF-8", id);
    }

    if (!bulletin_published_valid(page->published, page->published_len)) {
        return bulletin_fail(w->detail, BULLETIN_ERR_TEXT,
                             "page \"%s\": published is not "
                             "YYYY-MM-DD, then up to %d of "
                             "0-9 T Z : . + -", id,
                             BULLETIN_PUBLISHED_MAX - 10);
    }

    return BULLETIN_OK;
}


/* the segments' sizes, CRCs and flushes; *plain and *gzip their sums */

static int
bulletin_writer_check_segments(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id, uint64_t *plain,
    uint64_t *gzip)
{
    uint32_t                    i, crc;
    const bulletin_wsegment_t  *seg;

    *plain = 0;
    *gzip = 0;

    for (i = 0; i <= page->nslots; i++) {
        seg = &page->segments[i];

        if (seg->plain_len > BULLETIN_PAGE_MAX - *plain) {
            return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                                 "page \"%s\": over %d bytes", id,
                                 BULLETIN_PAGE_MAX);
        }

        if ((seg->plain_len == 0) != (seg->gzip_len == 0)) {
            return bulletin_fail(w->detail, BULLETIN_ERR_RECORD,
                                 "page \"%s\": segment %u has %zu "
                                 "plain and %zu gzip bytes", id, i,
                                 seg->plain_len, seg->gzip_len);
        }

        if (seg->gzip_len > UINT32_MAX) {
            return bulletin_fail(w->detail, BULLETIN_ERR_TOO_LARGE,
                                 "page \"%s\": segment %u has %zu "
                                 "gzip bytes", id, i, seg->gzip_len);
        }

        crc = page->reused ? seg->crc
                           : (uint32_t) crc32_z(0, seg->plain, seg->plain_len);

        if (crc != seg->crc) {
            return bulletin_fail(w->detail, BULLETIN_ERR_RECORD,
                                 "page \"%s\": segment %u has CRC-32 "
                                 "%08x, its bytes %08x", id, i,
                                 seg->crc, crc);
        }

        if (seg->gzip_len != 0
            && (seg->gzip_len < 4
                || memcmp(seg->gzip + seg->gzip_len - 4, "\x00\x00\xff\xff",
                          4) != 0))
        {
            return bulletin_fail(w->detail, BULLETIN_ERR_RECORD,
                                 "page \"%s\": gzip segment %u does "
                                 "not end on a full flush "
                                 "(00 00 ff ff)", id, i);
        }

        *plain += seg->plain_len;
        *gzip += seg->gzip_len;
    }

    return BULLETIN_OK;
}


static int
bulletin_writer_check_slots(bulletin_writer_t *w,
    const bulletin_wpage_t *page, const char *id)
{
    char                     ref[96];
    uint32_t                 i;
    const bulletin_wslot_t  *slot;

    for (i = 0; i < page->nslots; i++) {
        slot = &page->slots[i];

        if (slot->kind >= BULLETIN_SLOT_CHANNEL + w->nchannels) {
            return bulletin_fail(w->detail, BULLETIN_ERR_SLOT,
                                 "page \"%s\": slot %u of kind %u, "
                                 "with %u channels", id, i,
                                 slot->kind, w->nchannels);
        }

        if (slot->ref != NULL
            && !bulletin_id_valid(slot->ref, slot->ref_len, 1))
        {
            bulletin_printable(ref, sizeof(ref), slot->ref, slot->ref_len);

            return bulletin_fail(w->detail, BULLETIN_ERR_REFERENCE,
                                 "page \"%s\": slot %u counts the "
                                 "invalid id \"%s\"", id, i, ref);
        }
    }

    return BULLETIN_OK;
}


/* the page's slots until commit resolves their ids, which are copied */

static int
bulletin_writer_refs(bulletin_writer_t *w, const bulletin_wpage_t *page)
{
    uint32_t                 i;
    bulletin_wref_t         *wr;
    const bulletin_wslot_t  *slot;

    for (i = 0; i < page->nslots; i++) {
        slot = &page->slots[i];
        wr = &w->refs[w->nrefs + i];

        wr->kind = slot->kind;
        wr->ref = NULL;
        wr->ref_len = 0;

        if (slot->ref != NULL) {
            wr->ref = bulletin_arena_copy(&w->arena, slot->ref, slot->ref_len);
            if (wr->ref == NULL) {
                return bulletin_fail(w->detail, BULLETIN_ERR_NOMEM,
                                     "out of memory");
            }

            wr->ref_len = (uint32_t) slot->ref_len;
        }
    }

    return BULLETIN_OK;
}


/*
 * The content hash: what the page shows, so that it is the same from
 * one build to the next whatever the other pages are.
 */

static uint64_t
bulletin_writer_hash(const bulletin_wpage_t *page)
{
    uint32_t                    i, ref_len;
    uint64_t                    h;
    const uint8_t              *ref;
    const bulletin_wslot_t     *slot;
    const bulletin_wsegment_t  *ws;

    h = BULLETIN_FNV64_INIT;

    for (i = 0; i <= page->nslots; i++) {
        ws = &page->segments[i];
        h = bulletin_fnv64_u64(h, ws->plain_len);
        h = bulletin_fnv64(h, ws->plain, ws->plain_len);

        if (i == page->nslots) {
            break;
        }

        slot = &page->slots[i];
        ref = (slot->ref != NULL) ? slot->ref : page->id;
        ref_len = (slot->ref != NULL) ? (uint32_t) slot->ref_len
                                      : (uint32_t) page->id_len;

        h = bulletin_fnv64_u32(h, slot->kind);
        h = bulletin_fnv64_u32(h, ref_len);
        h = bulletin_fnv64(h, ref, ref_len);
    }

    return h;
}


/* the previous store's, when the page is unchanged, or built_at */

static int64_t
bulletin_writer_last_modified(bulletin_writer_t *w,
    const bulletin_wpage_t *page, uint64_t hash)
{
    int64_t                  found;
    bulletin_store_record_t  pr;

    if (w->prev == NULL) {
        return w->built_at;
    }

    found = bulletin_store_find(w->prev, page->id, page->id_len);

    /* the record as verified, with a Last-Modified in range */

    if (found >= 0
        && bulletin_store_record(w->prev, (uint32_t) found, &pr)
           == BULLETIN_OK
        && pr.hash == hash)
    {
        w->kept++;
        return pr.last_modified;
    }

    return w->built_at;
}


/*
 * The page's bytes in the data section: id, title, published, etag, its
 * plain segments, its gzip segments; their places go to w->segments.
 */

static int
bulletin_writer_page(bulletin_writer_t *w, const bulletin_wpage_t *page,
    uint64_t hash)
{
    uint8_t                     etag[BULLETIN_ETAG_LEN];
    uint32_t                    i;
    bulletin_store_source_t    *rs;
    bulletin_store_segment_t   *seg;
    const bulletin_wsegment_t  *ws;
    const bulletin_wsource_t   *src;

    bulletin_etag(etag, hash);

    if (bulletin_writer_write(w, page->id, page->id_len) != BULLETIN_OK
        || bulletin_writer_write(w, page->title, page->title_len)
           != BULLETIN_OK
        || bulletin_writer_write(w, page->published, page->published_len)
           != BULLETIN_OK
        || bulletin_writer_write(w, etag, BULLETIN_ETAG_LEN) != BULLETIN_OK)
    {
        return w->failed;
    }

    for (i = 0; i <= page->nslots; i++) {
        ws = &page->segments[i];
        seg = &w->segments[w->nsegments + i];

        seg->plain_off = w->off + w->buf_len;
        seg->plain_len = (uint32_t) ws->plain_len;
        seg->crc = ws->crc;
        seg->crc_op = page->reused ? ws->crc_op
                                   : bulletin_crc32_op(ws->plain_len);

        if (page->reused) {
            if (bulletin_writer_copy(w, ws->plain, ws->plain_len, ws->crc,
                                     seg->crc_op)
                != BULLETIN_OK)
            {
                return w->failed;
            }

            continue;
        }

        if (bulletin_writer_write(w, ws->plain, ws->plain_len)
            != BULLETIN_OK)
        {
            return w->failed;
        }
    }

    for (i = 0; i <= page->nslots; i++) {
        ws = &page->segments[i];
        seg = &w->segments[w->nsegments + i];

        seg->gzip_off = w->off + w->buf_len;
        seg->gzip_len = (uint32_t) ws->gzip_len;

        if (bulletin_writer_write(w, ws->gzip, ws->gzip_len) != BULLETIN_OK) {
            return w->failed;
        }
    }

    /* then its source's path and category */

    if (page->source == NULL) {
        return BULLETIN_OK;
    }

    src = page->source;
    rs = &w->recs[w->nrecs].source;

    rs->path_off = w->off + w->buf_len;
    rs->path_len = (uint32_t) src->path_len;

    if (bulletin_writer_write(w, src->path, src->path_len) != BULLETIN_OK) {
        return w->failed;
    }

    rs->category_off = src->category_len ? w->off + w->buf_len : 0;
    rs->category_len = (uint32_t) src->category_len;

    if (bulletin_writer_write(w, src->category, src->category_len)
        != BULLETIN_OK)
    {
        return w->failed;
    }

    rs->hash = src->hash;
    rs->published_at = src->published_at;
    rs->line = src->line;
    rs->col = src->col;

    w->nsources++;

    return BULLETIN_OK;
}


/*
 * The tables after the data section, in the order the header lists
 * them, the header last, then the file made durable under its name.
 */

int
bulletin_writer_commit(bulletin_writer_t *w, bulletin_wsummary_t *sum)
{
    int                       rc;
    uint32_t                 *rank;
    bulletin_wrec_t         **sorted;
    bulletin_store_header_t   header;

    if (w->failed) {
        return w->failed;
    }

    sorted = malloc((w->nrecs + 1) * sizeof(bulletin_wrec_t *));
    rank = malloc((w->nrecs + 1) * sizeof(uint32_t));

    if (sorted == NULL || rank == NULL) {
        rc = bulletin_fail(w->detail, BULLETIN_ERR_NOMEM, "out of memory");
        goto failed;
    }

    bulletin_writer_sort(w, sorted, rank);

    rc = bulletin_writer_resolve(w);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    memset(&header, 0, sizeof(bulletin_store_header_t));

    /* the data section ends, the tables follow */

    rc = bulletin_writer_pad(w);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    header.data_off = sizeof(bulletin_store_header_t);
    header.data_size = w->off + w->buf_len - sizeof(bulletin_store_header_t);

    rc = bulletin_writer_index(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_records(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_segments(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_slots(w, sorted, rank, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_inputs(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_sources(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_header(w, sorted, &header);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    rc = bulletin_writer_durable(w);
    if (rc != BULLETIN_OK) {
        goto failed;
    }

    if (sum != NULL) {
        sum->pages = w->nrecs;
        sum->bytes = header.file_size;
        memcpy(sum->generation, header.generation, 16);
        sum->generation[16] = '\0';
        sum->kept = w->kept;
    }

    free(sorted);
    free(rank);
    bulletin_writer_free(w);

    return BULLETIN_OK;

failed:

    free(sorted);
    free(rank);

    if (w->failed == 0) {
        w->failed = rc;
    }

    bulletin_writer_cleanup(w);

    return rc;
}


/* sorted: the records by id; rank: a record's place in sorted */

static void
bulletin_writer_sort(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    uint32_t *rank)
{
    uint32_t  i;

    for (i = 0; i < w->nrecs; i++) {
        sorted[i] = &w->recs[i];
    }

    qsort(sorted, w->nrecs, sizeof(bulletin_wrec_t *), bulletin_wrec_cmp);

    for (i = 0; i < w->nrecs; i++) {
        rank[sorted[i] - w->recs] = i;
    }
}


/* every count's id must be a page of this store */

static int
bulletin_writer_resolve(bulletin_writer_t *w)
{
    char              id[BULLETIN_ID_MAX + 1], ref[BULLETIN_ID_MAX + 1];
    uint32_t          i, j;
    bulletin_wrec_t  *r;
    bulletin_wref_t  *wr;

    for (i = 0; i < w->nrecs; i++) {
        r = &w->recs[i];

        for (j = 0; j < r->nslots; j++) {
            wr = &w->refs[r->slot_first + j];

            if (wr->ref == NULL
                || bulletin_idtab_find(&w->table, wr->ref, wr->ref_len) >= 0)
            {
                continue;
            }

            bulletin_printable(id, sizeof(id), r->id, r->id_len);
            bulletin_printable(ref, sizeof(ref), wr->ref, wr->ref_len);

            return bulletin_fail(w->detail, BULLETIN_ERR_REFERENCE,
                                 "page \"%s\": slot %u counts \"%s\", "
                                 "which is not in the store", id, j, ref);
        }
    }

    return BULLETIN_OK;
}


/*
 * The index, as bulletin_store.h has it: at least 8 buckets and 2 a
 * page, a record's in the first empty one from its id's hash.
 */

static int
bulletin_writer_index(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    int                       rc;
    uint32_t                  i, k, hash, size;
    bulletin_wrec_t          *r;
    bulletin_store_bucket_t  *index;

    size = 8;

    while (size < 2 * (uint64_t) w->nrecs) {
        size *= 2;
    }

    index = calloc(size, sizeof(bulletin_store_bucket_t));
    if (index == NULL) {
        return bulletin_fail(w->detail, BULLETIN_ERR_NOMEM, "out of memory");
    }

    for (i = 0; i < w->nrecs; i++) {
        r = sorted[i];
        hash = bulletin_id_hash(r->id, r->id_len);

        for (k = hash & (size - 1); index[k].record != 0;
             k = (k + 1) & (size - 1))
        {
            /* void */
        }

        index[k].hash = hash;
        index[k].record = i + 1;
    }

    header->index_off = w->off + w->buf_len;
    header->index_size = size;

    rc = bulletin_writer_write(w, index,
                               size * sizeof(bulletin_store_bucket_t));

    free(index);

    return rc;
}


static int
bulletin_writer_records(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    uint32_t                  i;
    uint64_t                  nsegments, nslots;
    bulletin_wrec_t          *r;
    bulletin_store_record_t   rec;

    header->records_off = w->off + w->buf_len;
    nsegments = 0;
    nslots = 0;

    for (i = 0; i < w->nrecs; i++) {
        r = sorted[i];

        memset(&rec, 0, sizeof(bulletin_store_record_t));

        rec.id_off = r->str_off;
        rec.id_len = r->id_len;
        rec.title_off = rec.id_off + r->id_len;
        rec.title_len = r->title_len;
        rec.published_off = rec.title_off + r->title_len;
        rec.published_len = r->published_len;
        rec.etag_off = rec.published_off + r->published_len;
        rec.etag_len = BULLETIN_ETAG_LEN;
        rec.last_modified = r->last_modified;
        rec.hash = r->hash;
        rec.type = r->type;
        rec.plain_len = r->plain_len;
        rec.gzip_len = r->gzip_len;
        rec.segment_first = (uint32_t) nsegments;
        rec.slot_first = (uint32_t) nslots;
        rec.nslots = r->nslots;

        nsegments += r->nslots + 1;
        nslots += r->nslots;

        if (bulletin_writer_write(w, &rec, sizeof(bulletin_store_record_t))
            != BULLETIN_OK)
        {
            return w->failed;
        }
    }

    header->nsegments = nsegments;
    header->nslots = nslots;

    return BULLETIN_OK;
}


static int
bulletin_writer_segments(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    uint32_t          i;
    bulletin_wrec_t  *r;

    header->segments_off = w->off + w->buf_len;

    for (i = 0; i < w->nrecs; i++) {
        r = sorted[i];

        if (bulletin_writer_write(w, &w->segments[r->segment_first],
                                  (r->nslots + 1)
                                  * sizeof(bulletin_store_segment_t))
            != BULLETIN_OK)
        {
            return w->failed;
        }
    }

    return BULLETIN_OK;
}


static int
bulletin_writer_slots(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    uint32_t *rank, bulletin_store_header_t *header)
{
    uint32_t                i, j;
    int64_t                 found;
    bulletin_wrec_t        *r;
    bulletin_wref_t        *wr;
    bulletin_store_slot_t   slot;

    header->slots_off = w->off + w->buf_len;

    for (i = 0; i < w->nrecs; i++) {
        r = sorted[i];

        for (j = 0; j < r->nslots; j++) {
            wr = &w->refs[r->slot_first + j];

            found = (wr->ref == NULL)
                    ? r - w->recs
                    : bulletin_idtab_find(&w->table, wr->ref, wr->ref_len);

            slot.page = rank[found];
            slot.kind = wr->kind;

            if (bulletin_writer_write(w, &slot, sizeof(bulletin_store_slot_t))
                != BULLETIN_OK)
            {
                return w->failed;
            }
        }
    }

    return BULLETIN_OK;
}


static int
bulletin_writer_inputs(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    uint32_t  i;

    header->inputs_off = w->off + w->buf_len;

    for (i = 0; i < w->nrecs; i++) {
        if (bulletin_writer_write(w, &sorted[i]->inputs, sizeof(uint64_t))
            != BULLETIN_OK)
        {
            return w->failed;
        }
    }

    return BULLETIN_OK;
}


static int
bulletin_writer_sources(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    uint32_t  i;

    if (w->nsources == 0) {
        return BULLETIN_OK;
    }

    header->sources_off = w->off + w->buf_len;

    for (i = 0; i < w->nrecs; i++) {
        if (bulletin_writer_write(w, &sorted[i]->source,
                                  sizeof(bulletin_store_source_t))
            != BULLETIN_OK)
        {
            return w->failed;
        }
    }

    return BULLETIN_OK;
}


/*
 * The header, at offset 0 once every table is out: its checksum is the
 * CRC of the header combined with that of the bytes written after it.
 */

static int
bulletin_writer_header(bulletin_writer_t *w, bulletin_wrec_t **sorted,
    bulletin_store_header_t *header)
{
    uint32_t  crc, op;

    if (bulletin_writer_flush(w) != BULLETIN_OK) {
        return w->failed;
    }

    memcpy(header->magic, BULLETIN_STORE_MAGIC, sizeof(header->magic));
    header->version = BULLETIN_STORE_VERSION;
    header->byte_order = BULLETIN_STORE_BYTE_ORDER;
    header->file_size = w->off;
    header->header_size = sizeof(bulletin_store_header_t);
    header->built_at = w->built_at;
    bulletin_hex64(header->generation, bulletin_writer_generation(w, sorted));
    header->page_count = w->nrecs;
    header->nchannels = w->nchannels;
    memcpy(header->channels, w->channels, sizeof(header->channels));

    crc = (uint32_t) crc32_z(0, (const uint8_t *) header,
                             sizeof(bulletin_store_header_t));
    op = bulletin_crc32_op(w->off - sizeof(bulletin_store_header_t));
    header->checksum = bulletin_crc32_combine_op(crc, w->crc, op);

    if (bulletin_write_full(w->fd, (const uint8_t *) header,
                            sizeof(bulletin_store_header_t), 0)
        != BULLETIN_OK)
    {
        return bulletin_writer_system(w, "write");
    }

    return BULLETIN_OK;
}


/* the channels, then each record's id and content hash, in id order */

static uint64_t
bulletin_writer_generation(bulletin_writer_t *w, bulletin_wrec_t **sorted)
{
    uint32_t          i, len;
    uint64_t          gen;
    bulletin_wrec_t  *r;

    gen = BULLETIN_FNV64_INIT;
    gen = bulletin_fnv64_u32(gen, w->nchannels);

    for (i = 0; i < w->nchannels; i++) {
        len = (uint32_t) strlen(w->channels[i]);
        gen = bulletin_fnv64_u32(gen, len);
        gen = bulletin_fnv64(gen, w->channels[i], len);
    }

    for (i = 0; i < w->nrecs; i++) {
        r = sorted[i];

        gen = bulletin_fnv64_u32(gen, r->id_len);
        gen = bulletin_fnv64(gen, r->id, r->id_len);
        gen = bulletin_fnv64_u64(gen, r->hash);
    }

    return gen;
}


/* synced, renamed into place, and the rename synced with its folder */

static int
bulletin_writer_durable(bulletin_writer_t *w)
{
    int    dfd;
    char  *slash;

    if (fsync(w->fd) == -1) {
        return bulletin_writer_system(w, "fsync");
    }

    /*
     * The new store leaves the page cache, now that it is on disk: the
     * check nginx runs on it reads it in again through a mapping advised
     * MADV_HUGEPAGE, and the kernel then keeps it in 2 MB pages where it
     * can, one TLB entry for what the writes would have left in 512.
     * Only a hint, for clean pages: nothing else changes.
     */

    (void) posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);

    if (close(w->fd) == -1) {
        w->fd = -1;
        return bulletin_writer_system(w, "close");
    }

    w->fd = -1;

    if (rename(w->tmp, w->path) == -1) {
        return bulletin_writer_system(w, "rename");
    }

    free(w->tmp);
    w->tmp = NULL;

    /* the rename itself is durable only once the folder is synced */

    slash = strrchr(w->path, '/');

    if (slash == w->path) {
        dfd = open("/", O_RDONLY);

    } else if (slash != NULL) {
        *slash = '\0';
        dfd = open(w->path, O_RDONLY);
        *slash = '/';

    } else {
        dfd = open(".", O_RDONLY);
    }

    if (dfd == -1) {
        return bulletin_writer_system(w, "open of the folder");
    }

    if (fsync(dfd) == -1) {
        bulletin_writer_system(w, "fsync of the folder");
        close(dfd);
        return BULLETIN_ERR_SYSTEM;
    }

    close(dfd);

    return BULLETIN_OK;
}


void
bulletin_writer_abort(bulletin_writer_t *w)
{
    if (w != NULL) {
        bulletin_writer_free(w);
    }
}


const char *
bulletin_writer_detail(const bulletin_writer_t *w)
{
    return w->detail;
}


static int
bulletin_writer_reserve(bulletin_writer_t *w, uint32_t nslots)
{
    void      *p;
    uint64_t   n;

    if (w->nrecs == w->recs_cap) {
        n = w->recs_cap ? 2 * (uint64_t) w->recs_cap : 64;
        p = realloc(w->recs, n * sizeof(bulletin_wrec_t));
        if (p == NULL) {
            goto nomem;
        }

        w->recs = p;
        w->recs_cap = (uint32_t) n;
    }

    if (w->nsegments + nslots + 1 > w->segments_cap) {
        n = w->segments_cap ? 2 * w->segments_cap : 256;

        while (n < w->nsegments + nslots + 1) {
            n *= 2;
        }

        p = realloc(w->segments, n * sizeof(bulletin_store_segment_t));
        if (p == NULL) {
            goto nomem;
        }

        w->segments = p;
        w->segments_cap = n;
    }

    if (w->nrefs + nslots > w->refs_cap) {
        n = w->refs_cap ? 2 * w->refs_cap : 256;

        while (n < w->nrefs + nslots) {
            n *= 2;
        }

        p = realloc(w->refs, n * sizeof(bulletin_wref_t));
        if (p == NULL) {
            goto nomem;
        }

        w->refs = p;
        w->refs_cap = n;
    }

    return BULLETIN_OK;

nomem:

    return bulletin_fail(w->detail, BULLETIN_ERR_NOMEM, "out of memory");
}


/* the page bytes go to the file as they come; only ids stay in memory */

static int
bulletin_writer_write(bulletin_writer_t *w, const void *data, size_t len)
{
    /* zlib's CRC of no bytes at NULL is 0, not the CRC so far */
    if (len == 0) {
        return BULLETIN_OK;
    }

    w->crc = (uint32_t) crc32_z(w->crc, data, len);

    return bulletin_writer_put(w, data, len);
}


/* bytes whose CRC-32 (and its operator) is known: no pass over them */

static int
bulletin_writer_copy(bulletin_writer_t *w, const void *data, size_t len,
    uint32_t crc, uint32_t op)
{
    if (len == 0) {
        return BULLETIN_OK;
    }

    w->crc = bulletin_crc32_combine_op(w->crc, crc, op);

    return bulletin_writer_put(w, data, len);
}


static int
bulletin_writer_put(bulletin_writer_t *w, const void *data, size_t len)
{
    size_t          n;
    const uint8_t  *p;

    p = data;

    while (len != 0) {
        if (w->buf_len == 0 && len >= BULLETIN_WBUF_SIZE) {
            if (bulletin_write_full(w->fd, p, len, w->off) != BULLETIN_OK) {
                return bulletin_writer_system(w, "write");
            }

            w->off += len;
            return BULLETIN_OK;
        }

        n = BULLETIN_WBUF_SIZE - w->buf_len;
        if (n > len) {
            n = len;
        }

        memcpy(w->buf + w->buf_len, p, n);
        w->buf_len += n;
        p += n;
        len -= n;

        if (w->buf_len == BULLETIN_WBUF_SIZE) {
            if (bulletin_writer_flush(w) != BULLETIN_OK) {
                return w->failed;
            }
        }
    }

    return BULLETIN_OK;
}


static int
bulletin_writer_flush(bulletin_writer_t *w)
{
    if (w->buf_len == 0) {
        return BULLETIN_OK;
    }

    if (bulletin_write_full(w->fd, w->buf, w->buf_len, w->off)
        != BULLETIN_OK)
    {
        return bulletin_writer_system(w, "write");
    }

    w->off += w->buf_len;
    w->buf_len = 0;

    return BULLETIN_OK;
}


static int
bulletin_writer_pad(bulletin_writer_t *w)
{
    size_t                 n;
    static const uint8_t   zero[8];

    n = (size_t) ((w->off + w->buf_len) & 7);

    if (n == 0) {
        return BULLETIN_OK;
    }

    return bulletin_writer_write(w, zero, 8 - n);
}


static int
bulletin_write_full(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    ssize_t  n;

    while (len != 0) {
        n = pwrite(fd, p, len, (off_t) off);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return BULLETIN_ERR_SYSTEM;
        }

        p += n;
        len -= (size_t) n;
        off += (uint64_t) n;
    }

    return BULLETIN_OK;
}


static const uint8_t *
bulletin_writer_key(const void *ctx, uint32_t rec, size_t *len)
{
    const bulletin_writer_t  *w = ctx;

    *len = w->recs[rec].id_len;

    return w->recs[rec].id;
}


static int
bulletin_wrec_cmp(const void *a, const void *b)
{
    int                     rc;
    size_t                  n;
    const bulletin_wrec_t  *ra, *rb;

    ra = *(bulletin_wrec_t *const *) a;
    rb = *(bulletin_wrec_t *const *) b;

    n = ra->id_len < rb->id_len ? ra->id_len : rb->id_len;
    rc = memcmp(ra->id, rb->id, n);

    if (rc != 0) {
        return rc;
    }

    return (ra->id_len > rb->id_len) - (ra->id_len < rb->id_len);
}


/* removes the temporary file; the writer stays for its detail */

static void
bulletin_writer_cleanup(bulletin_writer_t *w)
{
    if (w->fd != -1) {
        close(w->fd);
        w->fd = -1;
    }

    if (w->tmp != NULL) {
        unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
    }
}


static void
bulletin_writer_free(bulletin_writer_t *w)
{
    bulletin_writer_cleanup(w);

    bulletin_arena_free(&w->arena);

    free(w->path);
    free(w->buf);
    free(w->recs);
    free(w->segments);
    free(w->refs);
    bulletin_idtab_free(&w->table);
    free(w);
}


static int
bulletin_writer_system(bulletin_writer_t *w, const char *what)
{
    int  err;

    err = errno;

    bulletin_fail(w->detail, BULLETIN_ERR_SYSTEM, "%s of \"%s\" failed: %s",
                  what, w->tmp != NULL ? w->tmp : w->path,
                  strerror(err));

    w->failed = BULLETIN_ERR_SYSTEM;
    errno = err;

    return BULLETIN_ERR_SYSTEM;
}


static void
bulletin_printable(char *dst, size_t size, const uint8_t *src, size_t len)
{
    size_t  i;

    if (len > size - 1) {
        len = size - 1;
    }

    for (i = 0; i < len; i++) {
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char) src[i] : '?';
    }

    dst[len] = '\0';
}
