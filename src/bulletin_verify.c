
/*
 * Copyright (C) bulletin authors
 *
 * The store's verifier: what nginx -t and every configuration load run
 * on a store, and bulletin-build --verify.  After it, requests read the
 * store through bulletin_body.c alone.
 */


#include <string.h>
#include <zlib.h>

#include "bulletin_crc.h"
#include "bulletin_store.h"


#define BULLETIN_SECTIONS  8        /* with inputs and sources */
#define BULLETIN_PREFETCH  8        /* records ahead */


typedef char  bulletin_header_size_check
    [sizeof(bulletin_store_header_t) == 280 ? 1 : -1];
typedef char  bulletin_record_size_check
    [sizeof(bulletin_store_record_t) == 96 ? 1 : -1];
typedef char  bulletin_segment_size_check
    [sizeof(bulletin_store_segment_t) == 32 ? 1 : -1];
typedef char  bulletin_slot_size_check
    [sizeof(bulletin_store_slot_t) == 8 ? 1 : -1];
typedef char  bulletin_bucket_size_check
    [sizeof(bulletin_store_bucket_t) == 8 ? 1 : -1];
typedef char  bulletin_checksum_offset_check
    [offsetof(bulletin_store_header_t, checksum) == 28 ? 1 : -1];


typedef struct {
    const char              *name;
    uint64_t                 off;
    uint64_t                 len;
} bulletin_section_t;


#define BULLETIN_OPS  64          /* operators remembered, by length */

/* what the record checks carry from one record to the next */
typedef struct {
    const bulletin_store_record_t  *prev;
    uint64_t                        bytes;      /* the records refer to */

    /*
     * the pages of a store repeat a few segment lengths (the template's
     * markup between two counts): their operators, once each
     */
    uint32_t                        op_len[BULLETIN_OPS];
    uint32_t                        op[BULLETIN_OPS];
} bulletin_records_t;


static int bulletin_store_check_file(bulletin_store_t *st, const uint8_t *p,
    size_t size);
static int bulletin_store_check_checksum(bulletin_store_t *st,
    const uint8_t *p, size_t size);
static int bulletin_store_check_header(bulletin_store_t *st);
static int bulletin_store_check_channels(bulletin_store_t *st);
static int bulletin_store_check_sections(bulletin_store_t *st);
static int bulletin_store_check_records(bulletin_store_t *st);
static int bulletin_store_check_record(bulletin_store_t *st, uint32_t i,
    bulletin_records_t *rs);
static int bulletin_store_check_id(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, const bulletin_store_record_t *prev);
static int bulletin_store_check_fields(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_shared(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_text(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_limits(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_segments(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, bulletin_records_t *rs);
static int bulletin_store_check_probe(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_slots(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_index(bulletin_store_t *st);
static int bulletin_store_check_sources(bulletin_store_t *st);
static int bulletin_is_lower_hex(const char *p, size_t len);


int
bulletin_store_open(bulletin_store_t *st, const void *buf, size_t size)
{
    int             rc;
    const uint8_t  *p;

    memset(st, 0, sizeof(bulletin_store_t));

    p = buf;

    rc = bulletin_store_check_file(st, p, size);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_checksum(st, p, size);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    st->base = p;
    st->size = size;
    st->header = &st->hdr;

    rc = bulletin_store_check_header(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_channels(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_sections(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    st->index = (const bulletin_store_bucket_t *) (p + st->hdr.index_off);
    st->records = (const bulletin_store_record_t *) (p + st->hdr.records_off);
    st->segments = (const bulletin_store_segment_t *)
                       (p + st->hdr.segments_off);
    st->slots = (const bulletin_store_slot_t *) (p + st->hdr.slots_off);
    st->mask = st->hdr.index_size - 1;

    rc = bulletin_store_check_index(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_records(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    return bulletin_store_check_sources(st);
}


/*
 * Each source entry: zeros, or a path and a category inside the data
 * section and within their limits, a valid path and category, a time in
 * range, for an HTML page.
 */

static int
bulletin_store_check_sources(bulletin_store_t *st)
{
    uint32_t                        i;
    const bulletin_store_header_t  *h;
    const bulletin_store_source_t  *s;
    static const bulletin_store_source_t  zero;

    h = st->header;

    if (h->sources_off == 0) {
        return BULLETIN_OK;
    }

    s = (const bulletin_store_source_t *) (st->base + h->sources_off);

    for (i = 0; i < h->page_count; i++, s++) {
        if (s->path_len == 0) {
            if (memcmp(s, &zero, sizeof(zero)) != 0) {
                return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                     "source %u has no path but other "
                                     "fields", i);
            }

            continue;
        }

        if (st->records[i].type != BULLETIN_TYPE_HTML) {
            return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                 "source %u is of a page of type %u", i,
                                 st->records[i].type);
        }

        if (s->path_len > BULLETIN_SOURCE_PATH_MAX
            || s->category_len > BULLETIN_CATEGORY_MAX
            || !bulletin_store_in_data(h, s->path_off, s->path_len)
            || (s->category_len
                ? !bulletin_store_in_data(h, s->category_off, s->category_len)
                : s->category_off != 0))
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                                 "source %u: its path (offset %llu, %u "
                                 "bytes) or category (offset %llu, %u "
                                 "bytes) outside the data section or "
                                 "over %d bytes", i,
                                 (unsigned long long) s->path_off,
                                 s->path_len,
                                 (unsigned long long) s->category_off,
                                 s->category_len, BULLETIN_SOURCE_PATH_MAX);
        }

        if (memchr(st->base + s->path_off, '\0', s->path_len) != NULL
            || !bulletin_utf8_valid(st->base + s->category_off,
                                    s->category_len))
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_TEXT,
                                 "source %u: a NUL in its path, or a "
                                 "category that is not UTF-8", i);
        }

        if (!bulletin_time_valid(s->published_at)) {
            return bulletin_fail(st->detail, BULLETIN_ERR_TIME,
                                 "source %u: published_at %lld out of "
                                 "range", i, (long long) s->published_at);
        }
    }

    return BULLETIN_OK;
}


/* a store of this format, on this machine, the size it says */

static int
bulletin_store_check_file(bulletin_store_t *st, const uint8_t *p,
    size_t size)
{
    const bulletin_store_header_t  *h;

    if (((uintptr_t) p & 7) != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_ALIGN,
                             "the store is not mapped at an 8-byte "
                             "aligned address");
    }

    if (size < sizeof(bulletin_store_header_t)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_SHORT,
                             "%zu bytes, a header alone is %zu",
                             size, sizeof(bulletin_store_header_t));
    }

    /* what is checked here is what requests will check against */
    memcpy(&st->hdr, p, sizeof(bulletin_store_header_t));
    h = &st->hdr;

    if (memcmp(h->magic, BULLETIN_STORE_MAGIC, sizeof(h->magic)) != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_MAGIC,
                             "bad magic at offset 0");
    }

    if (h->version < BULLETIN_STORE_VERSION_MIN
        || h->version > BULLETIN_STORE_VERSION)
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_VERSION,
                             "version %u, expected %u to %u", h->version,
                             BULLETIN_STORE_VERSION_MIN,
                             BULLETIN_STORE_VERSION);
    }

    if (h->byte_order != BULLETIN_STORE_BYTE_ORDER) {
        return bulletin_fail(st->detail, BULLETIN_ERR_BYTE_ORDER,
                             "byte order mark 0x%08x, expected 0x%08x",
                             h->byte_order, BULLETIN_STORE_BYTE_ORDER);
    }

    if (h->header_size != sizeof(bulletin_store_header_t)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "header_size %u, expected %zu",
                             h->header_size,
                             sizeof(bulletin_store_header_t));
    }

    if (h->file_size != size) {
        return bulletin_fail(st->detail, BULLETIN_ERR_SIZE,
                             "the header says %llu bytes, "
                             "the file has %zu",
                             (unsigned long long) h->file_size, size);
    }

    return BULLETIN_OK;
}


/* the CRC-32 of the file, its own four bytes read as zero */

static int
bulletin_store_check_checksum(bulletin_store_t *st, const uint8_t *p,
    size_t size)
{
    size_t                 n;
    uint32_t               crc;
    static const uint8_t   zero[4];

    n = offsetof(bulletin_store_header_t, checksum);

    crc = (uint32_t) crc32_z(0, p, n);
    crc = (uint32_t) crc32_z(crc, zero, sizeof(zero));
    crc = (uint32_t) crc32_z(crc, p + n + sizeof(zero),
                             size - n - sizeof(zero));

    if (crc != st->hdr.checksum) {
        return bulletin_fail(st->detail, BULLETIN_ERR_CHECKSUM,
                             "CRC-32 of the file is %08x, "
                             "the header says %08x", crc,
                             st->hdr.checksum);
    }

    return BULLETIN_OK;
}


static int
bulletin_store_check_header(bulletin_store_t *st)
{
    const bulletin_store_header_t  *h;

    h = st->header;

    if (h->reserved0 != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "reserved0 is not zero");
    }

    /* versions 1 and 2 had reserved bytes there */
    if (h->version < 3 && h->sources_off != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "sources_off is not zero in a version %u "
                             "store", h->version);
    }

    /* version 1 had reserved bytes there */
    if (h->version < 2 && h->inputs_off != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "inputs_off is not zero in a version %u "
                             "store", h->version);
    }

    if (!bulletin_is_lower_hex(h->generation, sizeof(h->generation))) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "generation is not 16 lowercase hex "
                             "digits");
    }

    if (!bulletin_time_valid(h->built_at)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TIME,
                             "built_at %lld is not a time from "
                             "1970-01-01T00:00:00Z to "
                             "9999-12-31T23:59:59Z",
                             (long long) h->built_at);
    }

    if (h->index_size == 0 || (h->index_size & (h->index_size - 1)) != 0
        || h->index_size <= h->page_count)
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "index_size %u is not a power of 2 "
                             "above page_count %u",
                             h->index_size, h->page_count);
    }

    if ((st->size & 7) != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_ALIGN,
                             "file size %zu is not a multiple of 8",
                             st->size);
    }

    return BULLETIN_OK;
}


static int
bulletin_store_check_channels(bulletin_store_t *st)
{
    size_t                          len, j;
    uint32_t                        i, k;
    const char                     *name;
    const bulletin_store_header_t  *h;

    h = st->header;

    if (h->nchannels > BULLETIN_CHANNELS_MAX) {
        return bulletin_fail(st->detail, BULLETIN_ERR_CHANNEL,
                             "%u channels, at most %d",
                             h->nchannels, BULLETIN_CHANNELS_MAX);
    }

    for (i = 0; i < BULLETIN_CHANNELS_MAX; i++) {
        name = h->channels[i];

        for (len = 0; len < sizeof(h->channels[i]); len++) {
            if (name[len] == '\0') {
                break;
            }
        }

        for (j = len; j < sizeof(h->channels[i]); j++) {
            if (name[j] != '\0') {
                return bulletin_fail(st->detail, BULLETIN_ERR_CHANNEL,
                                     "channel %u is not NUL-padded",
                                     i);
            }
        }

        if (i >= h->nchannels) {
            if (len != 0) {
                return bulletin_fail(st->detail, BULLETIN_ERR_CHANNEL,
                                     "unused channel %u is not empty",
                                     i);
            }

            continue;
        }

        if (!bulletin_channel_valid((const uint8_t *) name, len)) {
            return bulletin_fail(st->detail, BULLETIN_ERR_CHANNEL,
                                 "channel %u has an invalid name", i);
        }

        for (k = 0; k < i; k++) {
            if (memcmp(h->channels[k], name, sizeof(h->channels[i])) == 0) {
                return bulletin_fail(st->detail, BULLETIN_ERR_CHANNEL,
                                     "channel \"%s\" twice (%u and %u)",
                                     name, k, i);
            }
        }
    }

    return BULLETIN_OK;
}


static int
bulletin_store_check_sections(bulletin_store_t *st)
{
    int                             i, j, n;
    bulletin_section_t              s[BULLETIN_SECTIONS], t;
    const bulletin_store_header_t  *h;

    h = st->header;

    /* keep the products below from wrapping */

    if (h->nsegments > st->size / sizeof(bulletin_store_segment_t)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                             "%llu segments cannot fit in the file",
                             (unsigned long long) h->nsegments);
    }

    if (h->nslots > st->size / sizeof(bulletin_store_slot_t)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                             "%llu slots cannot fit in the file",
                             (unsigned long long) h->nslots);
    }

    s[0].name = "header";
    s[0].off = 0;
    s[0].len = sizeof(bulletin_store_header_t);

    s[1].name = "index";
    s[1].off = h->index_off;
    s[1].len = (uint64_t) h->index_size * sizeof(bulletin_store_bucket_t);

    s[2].name = "records";
    s[2].off = h->records_off;
    s[2].len = (uint64_t) h->page_count * sizeof(bulletin_store_record_t);

    s[3].name = "segments";
    s[3].off = h->segments_off;
    s[3].len = h->nsegments * sizeof(bulletin_store_segment_t);

    s[4].name = "slots";
    s[4].off = h->slots_off;
    s[4].len = h->nslots * sizeof(bulletin_store_slot_t);

    s[5].name = "data";
    s[5].off = h->data_off;
    s[5].len = h->data_size;

    n = 6;

    if (h->inputs_off != 0) {
        s[6].name = "inputs";
        s[6].off = h->inputs_off;
        s[6].len = (uint64_t) h->page_count * sizeof(uint64_t);
        n = 7;
    }

    if (h->sources_off != 0) {
        s[n].name = "sources";
        s[n].off = h->sources_off;
        s[n].len = (uint64_t) h->page_count
                   * sizeof(bulletin_store_source_t);
        n++;
    }

    for (i = 1; i < n; i++) {
        if ((s[i].off & 7) != 0) {
            return bulletin_fail(st->detail, BULLETIN_ERR_ALIGN,
                                 "the %s section at offset %llu is "
                                 "not 8-byte aligned", s[i].name,
                                 (unsigned long long) s[i].off);
        }

        if (s[i].off > st->size || s[i].len > st->size - s[i].off) {
            return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                                 "the %s section (offset %llu, "
                                 "%llu bytes) ends past the file's "
                                 "%zu bytes", s[i].name,
                                 (unsigned long long) s[i].off,
                                 (unsigned long long) s[i].len,
                                 st->size);
        }
    }

    for (i = 1; i < n; i++) {
        t = s[i];

        for (j = i; j > 0
                    && (s[j - 1].off > t.off
                        || (s[j - 1].off == t.off && s[j - 1].len > t.len));
             j--)
        {
            s[j] = s[j - 1];
        }

        s[j] = t;
    }

    for (i = 1; i < n; i++) {
        if (s[i - 1].off + s[i - 1].len > s[i].off) {
            return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                                 "the %s section (offset %llu, "
                                 "%llu bytes) overlaps the %s "
                                 "section at offset %llu",
                                 s[i - 1].name,
                                 (unsigned long long) s[i - 1].off,
                                 (unsigned long long) s[i - 1].len,
                                 s[i].name,
                                 (unsigned long long) s[i].off);
        }
    }

    return BULLETIN_OK;
}


/*
 * Records are sorted by id, but the ids lie in the data section in the
 * order the pages were added: the id reads are scattered over the file,
 * hence the prefetch.
 */

static int
bulletin_store_check_records(bulletin_store_t *st)
{
    int                             rc;
    uint32_t                        i, n;
    bulletin_records_t              rs;
    const bulletin_store_record_t  *r;

    rs.prev = NULL;
    rs.bytes = 0;
    n = st->header->page_count;

    for (i = 0; i < BULLETIN_OPS; i++) {
        rs.op_len[i] = 0;
        rs.op[i] = bulletin_crc32_op(0);
    }

    for (i = 0; i < n; i++) {
        if (i + BULLETIN_PREFETCH < n) {
            r = &st->records[i + BULLETIN_PREFETCH];

            if (r->id_off < st->size) {
                bulletin_prefetch(st->base + r->id_off);
            }
        }

        /* the id prefetched earlier gives the bucket to prefetch */

        if (i + BULLETIN_PREFETCH / 2 < n) {
            r = &st->records[i + BULLETIN_PREFETCH / 2];

            if (r->id_len <= BULLETIN_ID_MAX
                && bulletin_store_in_data(st->header, r->id_off, r->id_len))
            {
                bulletin_prefetch(&st->index[bulletin_id_hash(
                                                 st->base + r->id_off,
                                                 r->id_len)
                                             & st->mask]);
            }
        }

        rc = bulletin_store_check_record(st, i, &rs);
        if (rc != BULLETIN_OK) {
            return rc;
        }

        rs.prev = &st->records[i];
    }

    return BULLETIN_OK;
}


static int
bulletin_store_check_record(bulletin_store_t *st, uint32_t i,
    bulletin_records_t *rs)
{
    int                             rc;
    const bulletin_store_record_t  *r;

    r = &st->records[i];

    rc = bulletin_store_check_id(st, i, r, rs->prev);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_fields(st, i, r);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    /*
     * The writer gives each page bytes of its own: bytes shared by pages
     * would let a small file make the checks of each page's text and
     * segments run for ever.
     */

    rs->bytes += (uint64_t) r->id_len + r->title_len + r->published_len
                 + r->etag_len;

    if (rs->bytes > st->header->data_size) {
        return bulletin_store_shared(st, i, r);
    }

    rc = bulletin_store_check_text(st, i, r);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_limits(st, i, r);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_segments(st, i, r, rs);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    rc = bulletin_store_check_probe(st, i, r);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    return bulletin_store_check_slots(st, i, r);
}


/* in the data section, valid, and after the previous record's id */

static int
bulletin_store_check_id(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, const bulletin_store_record_t *prev)
{
    int             cmp;
    size_t          n;
    const uint8_t  *id;

    if (!bulletin_store_in_data(st->header, r->id_off, r->id_len)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                             "page %u: id (offset %llu, %u bytes) "
                             "outside the data section", i,
                             (unsigned long long) r->id_off,
                             r->id_len);
    }

    id = st->base + r->id_off;

    if (!bulletin_id_valid(id, r->id_len, 1)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_ID,
                             "page %u: invalid id at offset %llu",
                             i, (unsigned long long) r->id_off);
    }

    if (prev == NULL) {
        return BULLETIN_OK;
    }

    n = prev->id_len < r->id_len ? prev->id_len : r->id_len;
    cmp = memcmp(st->base + prev->id_off, id, n);

    if (cmp == 0 && prev->id_len == r->id_len) {
        return bulletin_fail(st->detail, BULLETIN_ERR_DUPLICATE,
                             "page %u: id \"%.*s\" twice", i,
                             (int) r->id_len, (const char *) id);
    }

    if (cmp > 0 || (cmp == 0 && prev->id_len > r->id_len)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_INDEX,
                             "page %u \"%.*s\": records not "
                             "sorted by id", i,
                             (int) r->id_len, (const char *) id);
    }

    return BULLETIN_OK;
}


/* the strings inside the data section, the etag, the type, the time */

static int
bulletin_store_check_fields(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    uint8_t                         etag[BULLETIN_ETAG_LEN];
    const uint8_t                  *id;
    const bulletin_store_header_t  *h;

    h = st->header;
    id = st->base + r->id_off;

    if (!bulletin_store_in_data(h, r->title_off, r->title_len)
        || !bulletin_store_in_data(h, r->published_off, r->published_len)
        || !bulletin_store_in_data(h, r->etag_off, r->etag_len))
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                             "page %u \"%.*s\": title, published or "
                             "etag outside the data section", i,
                             (int) r->id_len, (const char *) id);
    }

    bulletin_etag(etag, r->hash);

    if (r->etag_len != BULLETIN_ETAG_LEN
        || memcmp(st->base + r->etag_off, etag, BULLETIN_ETAG_LEN) != 0)
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                             "page %u \"%.*s\": the etag is not "
                             "W/\"<hex of the content hash>\"", i,
                             (int) r->id_len, (const char *) id);
    }

    if (r->type > BULLETIN_TYPE_LAST) {
        return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                             "page %u \"%.*s\": type %u is not a page's",
                             i, (int) r->id_len, (const char *) id,
                             (unsigned) r->type);
    }

    if (r->type != BULLETIN_TYPE_HTML && (id[0] != '_' || r->nslots != 0)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                             "page %u \"%.*s\": a sitemap or a feed is the "
                             "builder's (an id beginning \"_\"), with no "
                             "count in it", i, (int) r->id_len,
                             (const char *) id);
    }

    if (!bulletin_time_valid(r->last_modified)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TIME,
                             "page %u \"%.*s\": last_modified %lld is "
                             "not a time from 1970-01-01T00:00:00Z to "
                             "9999-12-31T23:59:59Z", i,
                             (int) r->id_len, (const char *) id,
                             (long long) r->last_modified);
    }

    return BULLETIN_OK;
}


static int
bulletin_store_shared(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                         "page %u \"%.*s\": the pages up to this one "
                         "refer to more bytes than the data section's "
                         "%llu: pages share bytes", i, (int) r->id_len,
                         (const char *) st->base + r->id_off,
                         (unsigned long long) st->header->data_size);
}


/* the status prints titles as JSON strings, --list both as text */

static int
bulletin_store_check_text(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    const uint8_t  *id;

    id = st->base + r->id_off;

    if (r->title_len > BULLETIN_TITLE_MAX) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TOO_LARGE,
                             "page %u \"%.*s\": a title of %u bytes, "
                             "at most %d", i, (int) r->id_len,
                             (const char *) id, r->title_len,
                             BULLETIN_TITLE_MAX);
    }

    if (!bulletin_utf8_valid(st->base + r->title_off, r->title_len)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TEXT,
                             "page %u \"%.*s\": the title is not "
                             "valid UTF-8", i, (int) r->id_len,
                             (const char *) id);
    }

    if (!bulletin_published_valid(st->base + r->published_off,
                                  r->published_len))
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_TEXT,
                             "page %u \"%.*s\": published is not "
                             "YYYY-MM-DD, then up to %d of "
                             "0-9 T Z : . + -", i, (int) r->id_len,
                             (const char *) id,
                             BULLETIN_PUBLISHED_MAX - 10);
    }

    return BULLETIN_OK;
}


static int
bulletin_store_check_limits(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    const uint8_t                  *id;
    const bulletin_store_header_t  *h;

    h = st->header;
    id = st->base + r->id_off;

    if (r->nslots > BULLETIN_SLOTS_MAX) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TOO_LARGE,
                             "page %u \"%.*s\": %u slots, at most %d",
                             i, (int) r->id_len, (const char *) id,
                             r->nslots, BULLETIN_SLOTS_MAX);
    }

    if (r->plain_len > BULLETIN_PAGE_MAX) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TOO_LARGE,
                             "page %u \"%.*s\": %llu bytes, at most %d",
                             i, (int) r->id_len, (const char *) id,
                             (unsigned long long) r->plain_len,
                             BULLETIN_PAGE_MAX);
    }

    if ((uint64_t) r->segment_first + r->nslots + 1 > h->nsegments
        || (uint64_t) r->slot_first + r->nslots > h->nslots)
    {
        return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                             "page %u \"%.*s\": segments from %u or "
                             "slots from %u, %u slots, outside their "
                             "sections", i, (int) r->id_len,
                             (const char *) id, r->segment_first,
                             r->slot_first, r->nslots);
    }

    return BULLETIN_OK;
}


/*
 * The gzip body's trailer is combined from the segments' CRCs and
 * operators, so they are checked here, against the bytes: one CRC pass
 * over the plain segments, once, at load.
 */

static int
bulletin_store_check_segments(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, bulletin_records_t *rs)
{
    uint32_t                         j, k, crc;
    uint64_t                         plain, gzip;
    const uint8_t                   *id, *end;
    const bulletin_store_header_t   *h;
    const bulletin_store_segment_t  *seg;

    h = st->header;
    id = st->base + r->id_off;
    plain = 0;
    gzip = 0;
    seg = &st->segments[r->segment_first];

    for (j = 0; j <= r->nslots; j++, seg++) {
        if (!bulletin_store_in_data(h, seg->plain_off, seg->plain_len)
            || !bulletin_store_in_data(h, seg->gzip_off, seg->gzip_len))
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_BOUNDS,
                                 "page %u \"%.*s\": segment %u outside "
                                 "the data section", i,
                                 (int) r->id_len, (const char *) id,
                                 j);
        }

        if ((seg->plain_len == 0) != (seg->gzip_len == 0)) {
            return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                 "page %u \"%.*s\": segment %u has "
                                 "%u plain and %u gzip bytes", i,
                                 (int) r->id_len, (const char *) id,
                                 j, seg->plain_len, seg->gzip_len);
        }

        rs->bytes += (uint64_t) seg->plain_len + seg->gzip_len;

        if (rs->bytes > h->data_size) {
            return bulletin_store_shared(st, i, r);
        }

        k = seg->plain_len % BULLETIN_OPS;

        if (rs->op_len[k] != seg->plain_len) {
            rs->op_len[k] = seg->plain_len;
            rs->op[k] = bulletin_crc32_op(seg->plain_len);
        }

        if (seg->crc_op != rs->op[k]) {
            return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                 "page %u \"%.*s\": segment %u: "
                                 "crc_op %08x is not the operator of "
                                 "%u bytes, %08x", i, (int) r->id_len,
                                 (const char *) id, j, seg->crc_op,
                                 seg->plain_len,
                                 bulletin_crc32_op(seg->plain_len));
        }

        crc = (uint32_t) crc32_z(0, st->base + seg->plain_off,
                                 seg->plain_len);

        if (crc != seg->crc) {
            return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                 "page %u \"%.*s\": segment %u: its "
                                 "plain bytes' CRC-32 is %08x, the "
                                 "segment says %08x", i,
                                 (int) r->id_len, (const char *) id,
                                 j, crc, seg->crc);
        }

        end = st->base + seg->gzip_off + seg->gzip_len;

        if (seg->gzip_len != 0
            && (seg->gzip_len < 4
                || memcmp(end - 4, "\x00\x00\xff\xff", 4) != 0))
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                                 "page %u \"%.*s\": gzip segment %u "
                                 "does not end on a full flush "
                                 "(00 00 ff ff)", i, (int) r->id_len,
                                 (const char *) id, j);
        }

        plain += seg->plain_len;
        gzip += seg->gzip_len;
    }

    if (plain != r->plain_len || gzip != r->gzip_len) {
        return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                             "page %u \"%.*s\": segments sum to %llu "
                             "plain and %llu gzip bytes, the record "
                             "says %llu and %llu", i,
                             (int) r->id_len, (const char *) id,
                             (unsigned long long) plain,
                             (unsigned long long) gzip,
                             (unsigned long long) r->plain_len,
                             (unsigned long long) r->gzip_len);
    }

    return BULLETIN_OK;
}


/*
 * The ids are unique (strictly sorted): the look-up of this id returns
 * this record exactly when its probe meets this record's bucket, with
 * this id's hash, before an empty bucket.
 */

static int
bulletin_store_check_probe(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    uint32_t        b, hash;
    const uint8_t  *id;

    id = st->base + r->id_off;
    hash = bulletin_id_hash(id, r->id_len);

    for (b = hash & st->mask; /* void */; b = (b + 1) & st->mask) {
        if (st->index[b].record == i + 1 && st->index[b].hash == hash) {
            return BULLETIN_OK;
        }

        if (st->index[b].record == 0) {
            return bulletin_fail(st->detail, BULLETIN_ERR_INDEX,
                                 "page %u \"%.*s\" not found through "
                                 "the index", i, (int) r->id_len,
                                 (const char *) id);
        }
    }
}


static int
bulletin_store_check_slots(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r)
{
    uint32_t                        j;
    const bulletin_store_slot_t    *slot;
    const bulletin_store_header_t  *h;

    h = st->header;
    slot = &st->slots[r->slot_first];

    for (j = 0; j < r->nslots; j++, slot++) {
        if (slot->page >= h->page_count
            || slot->kind >= BULLETIN_SLOT_CHANNEL + h->nchannels)
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_SLOT,
                                 "page %u \"%.*s\": slot %u shows "
                                 "kind %u of page %u", i,
                                 (int) r->id_len,
                                 (const char *) st->base + r->id_off,
                                 j, slot->kind, slot->page);
        }
    }

    return BULLETIN_OK;
}


/*
 * With every bucket naming a record, as many used buckets as pages, and
 * every record's probe meeting its own bucket (checked with the record),
 * the used buckets are exactly one per record, each with its record's
 * hash; index_size > page_count leaves an empty bucket to end a probe.
 */

static int
bulletin_store_check_index(bulletin_store_t *st)
{
    uint32_t                        i, used;
    const bulletin_store_header_t  *h;

    h = st->header;
    used = 0;

    for (i = 0; i < h->index_size; i++) {
        if (st->index[i].record == 0) {
            continue;
        }

        if (st->index[i].record > h->page_count) {
            return bulletin_fail(st->detail, BULLETIN_ERR_INDEX,
                                 "bucket %u names record %u of %u",
                                 i, st->index[i].record - 1,
                                 h->page_count);
        }

        used++;
    }

    if (used != h->page_count) {
        return bulletin_fail(st->detail, BULLETIN_ERR_INDEX,
                             "%u buckets used for %u pages",
                             used, h->page_count);
    }

    return BULLETIN_OK;
}


static int
bulletin_is_lower_hex(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
    }

    return 1;
}
