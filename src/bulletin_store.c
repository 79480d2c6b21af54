/*
 * Copyright (C) bulletin authors
 *
 * Reading the store: the verifier, the look-up and the response body.
 * This file is compiled into the nginx module: it only reads memory.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "bulletin_crc.h"
#include "bulletin_store.h"


#define BULLETIN_SECTIONS  6
#define BULLETIN_PREFETCH  8        /* records ahead */

#if defined(__GNUC__)
#define bulletin_prefetch(p)  __builtin_prefetch(p)
#else
#define bulletin_prefetch(p)
#endif

/*
 * The request path reads the mapping, which a file rewritten in place
 * changes under it, once: a record into a copy, a segment's or a slot's
 * fields into locals.  The empty asm says the copy or the local may have
 * changed, so that the compiler never reads the mapping again where the
 * code uses what it checked (and nothing else is reloaded).  Other
 * compilers are trusted not to read memory twice for one read.
 */
#if defined(__GNUC__)
#define bulletin_copy(dst, src)                                               \
    do {                                                                      \
        memcpy(dst, src, sizeof(*(dst)));                                     \
        __asm__ __volatile__ ("" : "+m" (*(dst)));                            \
    } while (0)
#define bulletin_once(x)      __asm__ __volatile__ ("" : "+r" (x))
#else
#define bulletin_copy(dst, src)  memcpy(dst, src, sizeof(*(dst)))
#define bulletin_once(x)
#endif

/* a segment's digits as a stored block, the most a slot takes */
#define BULLETIN_SLOT_SCRATCH  (BULLETIN_GZIP_STORED_LEN + BULLETIN_DIGITS_MAX)


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


/* what the record checks carry from one record to the next */
typedef struct {
    const bulletin_store_record_t  *prev;
    uint64_t                        bytes;      /* the records refer to */
} bulletin_records_t;


static int bulletin_store_check_header(bulletin_store_t *st);
static int bulletin_store_check_channels(bulletin_store_t *st);
static int bulletin_store_check_sections(bulletin_store_t *st);
static int bulletin_store_check_records(bulletin_store_t *st);
static int bulletin_store_check_record(bulletin_store_t *st, uint32_t i,
    bulletin_records_t *rs);
static int bulletin_store_shared(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_text(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r);
static int bulletin_store_check_segments(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, bulletin_records_t *rs);
static int bulletin_store_check_index(bulletin_store_t *st);
static int bulletin_time_valid(int64_t t);
static int bulletin_in_data(const bulletin_store_header_t *h, uint64_t off,
    uint64_t len);
static int bulletin_is_lower_hex(const char *p, size_t len);


static const char  *bulletin_errors[] = {
    "ok",
    "system error",
    "out of memory",
    "shorter than a store header",
    "not a bulletin store (bad magic)",
    "unsupported store version",
    "byte order differs from this machine's",
    "file size differs from the header's",
    "checksum mismatch",
    "misaligned section",
    "offset or length outside the file",
    "bad header field",
    "the index does not find every page",
    "invalid id",
    "duplicate id",
    "slot of an unknown page or kind",
    "bad channel name or list",
    "over a size limit",
    "slot refers to an id not in the store",
    "inconsistent page record",
    "time out of range (1970-01-01 to 9999-12-31)",
    "title or published date not as the builder writes them",
    "the store changed since it was verified (rewritten in place?)"
};

typedef char  bulletin_errors_check
    [sizeof(bulletin_errors) / sizeof(bulletin_errors[0])
     == BULLETIN_ERR_LAST ? 1 : -1];


static const uint8_t  bulletin_gzip_header[BULLETIN_GZIP_HEADER_LEN] = {
    0x1f, 0x8b,                 /* magic */
    0x08,                       /* deflate */
    0x00,                       /* no flags */
    0x00, 0x00, 0x00, 0x00,     /* no modification time */
    0x02,                       /* best compression */
    0x03                        /* unix */
};


static const char  bulletin_hex2[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";


static const uint64_t  bulletin_pow10[BULLETIN_DIGITS_MAX] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
    10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
    100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL,
    10000000000000000000ULL
};


static const char  bulletin_digits[] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";


const char *
bulletin_strerror(int err)
{
    if (err < 0 || err >= BULLETIN_ERR_LAST) {
        return "unknown error";
    }

    return bulletin_errors[err];
}


int
bulletin_id_valid(const uint8_t *id, size_t len, int reserved)
{
    size_t   i;
    uint8_t  c;

    if (len == 0 || len > BULLETIN_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = id[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (c == '_' && (i != 0 || reserved)) {
            continue;
        }

        if (c == '-' && i != 0) {
            continue;
        }

        return 0;
    }

    return 1;
}


/*
 * FNV-1a, then murmur3's finalizer: FNV's low bits depend only on the
 * low bits of each byte, and the bucket is the hash's low bits.  This
 * is part of the file format (the index stores it).
 */

uint32_t
bulletin_id_hash(const uint8_t *id, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h ^= id[i];
        h *= 16777619u;
    }

    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;

    return h;
}


int
bulletin_channel_valid(const uint8_t *name, size_t len)
{
    size_t   i;
    uint8_t  c;

    if (len == 0 || len > BULLETIN_CHANNEL_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = name[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


int
bulletin_store_open(bulletin_store_t *st, const void *buf, size_t size)
{
    int                             rc;
    size_t                          n;
    uint32_t                        crc;
    const uint8_t                  *p;
    const bulletin_store_header_t  *h;
    static const uint8_t            zero[4];

    memset(st, 0, sizeof(bulletin_store_t));

    p = buf;

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

    if (h->version != BULLETIN_STORE_VERSION) {
        return bulletin_fail(st->detail, BULLETIN_ERR_VERSION,
                             "version %u, expected %u",
                             h->version, BULLETIN_STORE_VERSION);
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

    n = offsetof(bulletin_store_header_t, checksum);

    crc = (uint32_t) crc32_z(0, p, n);
    crc = (uint32_t) crc32_z(crc, zero, sizeof(zero));
    crc = (uint32_t) crc32_z(crc, p + n + sizeof(zero),
                             size - n - sizeof(zero));

    if (crc != h->checksum) {
        return bulletin_fail(st->detail, BULLETIN_ERR_CHECKSUM,
                             "CRC-32 of the file is %08x, "
                             "the header says %08x", crc, h->checksum);
    }

    st->base = p;
    st->size = size;
    st->header = h;

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

    st->index = (const bulletin_store_bucket_t *) (p + h->index_off);
    st->records = (const bulletin_store_record_t *) (p + h->records_off);
    st->segments = (const bulletin_store_segment_t *) (p + h->segments_off);
    st->slots = (const bulletin_store_slot_t *) (p + h->slots_off);
    st->mask = h->index_size - 1;

    rc = bulletin_store_check_index(st);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    return bulletin_store_check_records(st);
}


static int
bulletin_store_check_header(bulletin_store_t *st)
{
    size_t                          i;
    const bulletin_store_header_t  *h;

    h = st->header;

    if (h->reserved0 != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                             "reserved0 is not zero");
    }

    for (i = 0; i < sizeof(h->reserved); i++) {
        if (h->reserved[i] != 0) {
            return bulletin_fail(st->detail, BULLETIN_ERR_HEADER,
                                 "reserved byte %zu is not zero", i);
        }
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
    int                             i, j;
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

    for (i = 1; i < BULLETIN_SECTIONS; i++) {
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

    for (i = 1; i < BULLETIN_SECTIONS; i++) {
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

    for (i = 1; i < BULLETIN_SECTIONS; i++) {
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
                && bulletin_in_data(st->header, r->id_off, r->id_len))
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
    int                              rc, cmp;
    uint8_t                          etag[BULLETIN_ETAG_LEN];
    size_t                           n;
    uint32_t                         j, b, nchannels, hash32;
    const uint8_t                   *id;
    const bulletin_store_slot_t     *slot;
    const bulletin_store_record_t   *r, *prev;
    const bulletin_store_header_t   *h;

    h = st->header;
    r = &st->records[i];
    prev = rs->prev;

    if (!bulletin_in_data(h, r->id_off, r->id_len)) {
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

    if (prev != NULL) {
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
    }

    if (!bulletin_in_data(h, r->title_off, r->title_len)
        || !bulletin_in_data(h, r->published_off, r->published_len)
        || !bulletin_in_data(h, r->etag_off, r->etag_len))
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

    if (r->reserved != 0) {
        return bulletin_fail(st->detail, BULLETIN_ERR_RECORD,
                             "page %u \"%.*s\": reserved is not zero",
                             i, (int) r->id_len, (const char *) id);
    }

    if (!bulletin_time_valid(r->last_modified)) {
        return bulletin_fail(st->detail, BULLETIN_ERR_TIME,
                             "page %u \"%.*s\": last_modified %lld is "
                             "not a time from 1970-01-01T00:00:00Z to "
                             "9999-12-31T23:59:59Z", i,
                             (int) r->id_len, (const char *) id,
                             (long long) r->last_modified);
    }

    /*
     * The writer gives each page bytes of its own: bytes shared by pages
     * would let a small file make the checks of each page's text and
     * segments run for ever.
     */

    rs->bytes += (uint64_t) r->id_len + r->title_len + r->published_len
                 + r->etag_len;

    if (rs->bytes > h->data_size) {
        return bulletin_store_shared(st, i, r);
    }

    rc = bulletin_store_check_text(st, i, r);
    if (rc != BULLETIN_OK) {
        return rc;
    }

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

    rc = bulletin_store_check_segments(st, i, r, rs);
    if (rc != BULLETIN_OK) {
        return rc;
    }

    /*
     * The ids are unique (strictly sorted): the look-up of this id
     * returns this record exactly when its probe meets this record's
     * bucket, with this id's hash, before an empty bucket.
     */

    hash32 = bulletin_id_hash(id, r->id_len);

    for (b = hash32 & st->mask; /* void */; b = (b + 1) & st->mask) {
        if (st->index[b].record == i + 1 && st->index[b].hash == hash32) {
            break;
        }

        if (st->index[b].record == 0) {
            return bulletin_fail(st->detail, BULLETIN_ERR_INDEX,
                                 "page %u \"%.*s\" not found through "
                                 "the index", i, (int) r->id_len,
                                 (const char *) id);
        }
    }

    nchannels = h->nchannels;
    slot = &st->slots[r->slot_first];

    for (j = 0; j < r->nslots; j++, slot++) {
        if (slot->page >= h->page_count
            || slot->kind >= BULLETIN_SLOT_CHANNEL + nchannels)
        {
            return bulletin_fail(st->detail, BULLETIN_ERR_SLOT,
                                 "page %u \"%.*s\": slot %u shows "
                                 "kind %u of page %u", i,
                                 (int) r->id_len, (const char *) id,
                                 j, slot->kind, slot->page);
        }
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


/*
 * The gzip body's trailer is combined from the segments' CRCs and
 * operators, so they are checked here, against the bytes: one CRC pass
 * over the plain segments, once, at load.
 */

static int
bulletin_store_check_segments(bulletin_store_t *st, uint32_t i,
    const bulletin_store_record_t *r, bulletin_records_t *rs)
{
    uint32_t                         j, crc;
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
        if (!bulletin_in_data(h, seg->plain_off, seg->plain_len)
            || !bulletin_in_data(h, seg->gzip_off, seg->gzip_len))
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

        if (seg->crc_op != bulletin_crc32_op(seg->plain_len)) {
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


int
bulletin_store_record(const bulletin_store_t *st, uint32_t page,
    bulletin_store_record_t *rec)
{
    const bulletin_store_header_t  *h;

    h = st->header;

    if (page >= h->page_count) {
        return BULLETIN_ERR_BOUNDS;
    }

    bulletin_copy(rec, &st->records[page]);

    if (rec->id_len == 0 || rec->id_len > BULLETIN_ID_MAX
        || rec->title_len > BULLETIN_TITLE_MAX
        || rec->published_len > BULLETIN_PUBLISHED_MAX
        || rec->etag_len != BULLETIN_ETAG_LEN
        || !bulletin_in_data(h, rec->id_off, rec->id_len)
        || !bulletin_in_data(h, rec->title_off, rec->title_len)
        || !bulletin_in_data(h, rec->published_off, rec->published_len)
        || !bulletin_in_data(h, rec->etag_off, rec->etag_len)
        || !bulletin_time_valid(rec->last_modified)
        || rec->plain_len > BULLETIN_PAGE_MAX
        || rec->nslots > BULLETIN_SLOTS_MAX
        || (uint64_t) rec->segment_first + rec->nslots + 1 > h->nsegments
        || (uint64_t) rec->slot_first + rec->nslots > h->nslots)
    {
        return BULLETIN_ERR_CHANGED;
    }

    return BULLETIN_OK;
}


int64_t
bulletin_store_find(const bulletin_store_t *st, const uint8_t *id,
    size_t len)
{
    uint32_t                        h, i, n, hash, record, id_len;
    uint64_t                        id_off;
    const bulletin_store_record_t  *r;

    if (len == 0 || len > BULLETIN_ID_MAX) {
        return -1;
    }

    h = bulletin_id_hash(id, len);

    /*
     * a verified index always has an empty bucket; the bound is for a
     * store rewritten in place under a running server, which must not
     * hang a worker forever
     */

    for (i = h & st->mask, n = 0; n <= st->mask; i = (i + 1) & st->mask, n++)
    {
        hash = st->index[i].hash;
        record = st->index[i].record;
        bulletin_once(hash);
        bulletin_once(record);

        if (record == 0) {
            return -1;
        }

        if (hash != h || record > st->header->page_count) {
            continue;
        }

        r = &st->records[record - 1];
        id_len = r->id_len;
        id_off = r->id_off;
        bulletin_once(id_len);
        bulletin_once(id_off);

        if (id_len == len
            && bulletin_in_data(st->header, id_off, len)
            && memcmp(st->base + id_off, id, len) == 0)
        {
            return record - 1;
        }
    }

    return -1;
}


void
bulletin_etag(uint8_t *buf, uint64_t hash)
{
    buf[0] = 'W';
    buf[1] = '/';
    buf[2] = '"';
    bulletin_hex64((char *) buf + 3, hash);
    buf[19] = '"';
}


/* a byte's two hex digits a step: this runs for every page served */

void
bulletin_hex64(char *buf, uint64_t v)
{
    int  j;

    for (j = 7; j >= 0; j--) {
        memcpy(&buf[2 * j], &bulletin_hex2[2 * (v & 0xff)], 2);
        v >>= 8;
    }
}


uint64_t
bulletin_fnv64(uint64_t h, const void *data, size_t len)
{
    size_t          i;
    const uint8_t  *p;

    p = data;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


uint64_t
bulletin_fnv64_u32(uint64_t h, uint32_t v)
{
    int      i;
    uint8_t  le[4];

    for (i = 0; i < 4; i++) {
        le[i] = (uint8_t) (v >> (8 * i));
    }

    return bulletin_fnv64(h, le, sizeof(le));
}


uint64_t
bulletin_fnv64_u64(uint64_t h, uint64_t v)
{
    int      i;
    uint8_t  le[8];

    for (i = 0; i < 8; i++) {
        le[i] = (uint8_t) (v >> (8 * i));
    }

    return bulletin_fnv64(h, le, sizeof(le));
}


size_t
bulletin_body_chunks_max(const bulletin_store_record_t *rec)
{
    /* gzip: header, nslots + 1 segments, nslots stored blocks, tail */
    return 2 * (size_t) rec->nslots + 3;
}


/*
 * Room for each slot's digits as a stored block, the tail, and the short
 * segments bulletin_body() copies.  It reads the segments as they are
 * now, which only sizes scratch: bulletin_body() copies none that would
 * not fit.
 */

size_t
bulletin_body_scratch_max(const bulletin_store_t *st,
    const bulletin_store_record_t *rec)
{
    size_t                           n, copy;
    uint32_t                         i;
    const bulletin_store_segment_t  *seg;

    n = (size_t) rec->nslots * BULLETIN_SLOT_SCRATCH + BULLETIN_GZIP_TAIL_LEN;

    if ((uint64_t) rec->segment_first + rec->nslots + 1
        > st->header->nsegments)
    {
        return n;
    }

    seg = &st->segments[rec->segment_first];

    for (i = 0; i <= rec->nslots; i++, seg++) {
        copy = 0;

        if (seg->plain_len <= BULLETIN_BODY_COPY_MAX) {
            copy = seg->plain_len;
        }

        if (seg->gzip_len <= BULLETIN_BODY_COPY_MAX && seg->gzip_len > copy) {
            copy = seg->gzip_len;
        }

        n += copy;
    }

    return n;
}


/*
 * Pieces of scratch that follow each other (digits around an empty
 * segment, the tail after the last digits) go out as one chunk.  Each
 * field of a segment or slot is read once from the mapping and checked
 * against the verified header; "reserve" is what the slots not yet shown
 * and the tail will need of scratch, which a copied segment never takes.
 */

int
bulletin_body(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    int gzip, bulletin_count_pt count, void *ctx, uint8_t *scratch,
    size_t scratch_len, bulletin_chunk_t *chunks, size_t *nchunks,
    uint64_t *body_len)
{
    int                              in_scratch;
    size_t                           n, d, reserve;
    uint8_t                         *p, *end;
    uint32_t                         i, crc, seg_crc, op, page, kind, len;
    uint64_t                         total, plain, off, sum;
    const uint8_t                   *data;
    const bulletin_store_slot_t     *slot;
    const bulletin_store_header_t   *h;
    const bulletin_store_segment_t  *seg;

    h = st->header;
    *nchunks = 0;
    *body_len = 0;

    reserve = (count ? (size_t) rec->nslots * BULLETIN_SLOT_SCRATCH : 0)
              + (gzip ? BULLETIN_GZIP_TAIL_LEN : 0);

    if (rec->nslots > BULLETIN_SLOTS_MAX || scratch_len < reserve
        || (uint64_t) rec->segment_first + rec->nslots + 1 > h->nsegments
        || (uint64_t) rec->slot_first + rec->nslots > h->nslots)
    {
        return BULLETIN_ERR_CHANGED;
    }

    seg = &st->segments[rec->segment_first];
    slot = &st->slots[rec->slot_first];

    n = 0;
    p = scratch;
    end = scratch + scratch_len;
    in_scratch = 0;
    crc = 0;
    plain = 0;
    total = 0;
    sum = 0;

    if (gzip) {
        chunks[n].data = bulletin_gzip_header;
        chunks[n].len = BULLETIN_GZIP_HEADER_LEN;
        n++;
        total = BULLETIN_GZIP_HEADER_LEN;
    }

    for (i = 0; /* void */; i++, seg++, slot++) {

        if (gzip) {
            off = seg->gzip_off;
            len = seg->gzip_len;
            seg_crc = seg->crc;
            op = seg->crc_op;
            bulletin_once(off);
            bulletin_once(len);
            bulletin_once(seg_crc);
            bulletin_once(op);

        } else {
            off = seg->plain_off;
            len = seg->plain_len;
            bulletin_once(off);
            bulletin_once(len);
        }

        if (len != 0) {
            if (!bulletin_in_data(h, off, len)) {
                return BULLETIN_ERR_CHANGED;
            }

            if (gzip) {
                crc = (crc == 0) ? seg_crc
                                 : bulletin_crc32_combine_op(crc, seg_crc, op);
            }

            data = st->base + off;
            sum += len;
            total += len;

            if (count != NULL && len <= BULLETIN_BODY_COPY_MAX
                && len <= (size_t) (end - p) - reserve)
            {
                memcpy(p, data, len);

                if (in_scratch) {
                    chunks[n - 1].len += len;

                } else {
                    chunks[n].data = p;
                    chunks[n].len = len;
                    n++;
                    in_scratch = 1;
                }

                p += len;

            } else {
                chunks[n].data = data;
                chunks[n].len = len;
                n++;
                in_scratch = 0;
            }
        }

        if (i == rec->nslots) {
            break;
        }

        if (count == NULL) {
            continue;
        }

        page = slot->page;
        kind = slot->kind;
        bulletin_once(page);
        bulletin_once(kind);

        if (page >= h->page_count
            || kind >= BULLETIN_SLOT_CHANNEL + h->nchannels)
        {
            return BULLETIN_ERR_CHANGED;
        }

        if (gzip) {
            d = bulletin_format_u64(p + BULLETIN_GZIP_STORED_LEN,
                                    count(ctx, page, kind));

            /* a stored block: the stream is byte-aligned after a flush */
            p[0] = 0x00;
            p[1] = (uint8_t) d;
            p[2] = 0x00;
            p[3] = (uint8_t) ~d;
            p[4] = 0xff;

            /* the CRC of the page so far, followed by the digits */
            crc = (uint32_t) crc32_z(crc, p + BULLETIN_GZIP_STORED_LEN, d);
            plain += d;
            d += BULLETIN_GZIP_STORED_LEN;

        } else {
            d = bulletin_format_u64(p, count(ctx, page, kind));
        }

        reserve -= BULLETIN_SLOT_SCRATCH;

        if (in_scratch) {
            chunks[n - 1].len += d;

        } else {
            chunks[n].data = p;
            chunks[n].len = d;
            n++;
            in_scratch = 1;
        }

        p += d;
        total += d;
    }

    /* the length of the variant sent, and the trailer, are the record's */

    if (sum != (gzip ? rec->gzip_len : rec->plain_len)) {
        return BULLETIN_ERR_CHANGED;
    }

    if (gzip) {
        plain += rec->plain_len;

        /* a final empty fixed Huffman block, then CRC-32 and ISIZE */
        p[0] = 0x03;
        p[1] = 0x00;
        p[2] = (uint8_t) crc;
        p[3] = (uint8_t) (crc >> 8);
        p[4] = (uint8_t) (crc >> 16);
        p[5] = (uint8_t) (crc >> 24);
        p[6] = (uint8_t) plain;
        p[7] = (uint8_t) (plain >> 8);
        p[8] = (uint8_t) (plain >> 16);
        p[9] = (uint8_t) (plain >> 24);

        if (in_scratch) {
            chunks[n - 1].len += BULLETIN_GZIP_TAIL_LEN;

        } else {
            chunks[n].data = p;
            chunks[n].len = BULLETIN_GZIP_TAIL_LEN;
            n++;
        }

        total += BULLETIN_GZIP_TAIL_LEN;
    }

    *nchunks = n;
    *body_len = total;

    return BULLETIN_OK;
}


size_t
bulletin_format_u64(uint8_t *buf, uint64_t n)
{
    size_t    len;
    uint8_t  *p;

    len = 1;

    while (len < BULLETIN_DIGITS_MAX && n >= bulletin_pow10[len]) {
        len++;
    }

    p = buf + len;

    /* two digits a division: this runs for every count slot served */

    while (n >= 100) {
        p -= 2;
        p[0] = (uint8_t) bulletin_digits[2 * (n % 100)];
        p[1] = (uint8_t) bulletin_digits[2 * (n % 100) + 1];
        n /= 100;
    }

    if (n >= 10) {
        p[-2] = (uint8_t) bulletin_digits[2 * n];
        p[-1] = (uint8_t) bulletin_digits[2 * n + 1];

    } else {
        p[-1] = (uint8_t) ('0' + n);
    }

    return len;
}


static int
bulletin_in_data(const bulletin_store_header_t *h, uint64_t off,
    uint64_t len)
{
    return off >= h->data_off
           && off - h->data_off <= h->data_size
           && len <= h->data_size - (off - h->data_off);
}


static int
bulletin_time_valid(int64_t t)
{
    return t >= BULLETIN_TIME_MIN && t <= BULLETIN_TIME_MAX;
}


int
bulletin_utf8_valid(const uint8_t *p, size_t len)
{
    size_t    i, k, n;
    uint8_t   c;
    uint32_t  u, min;

    for (i = 0; i < len; /* void */) {
        c = p[i];

        if (c < 0x80) {
            i++;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            u = c & 0x1f;
            min = 0x80;

        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            u = c & 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            u = c & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i <= n) {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            u = (u << 6) | (p[i + k] & 0x3f);
        }

        if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
            return 0;
        }

        i += n + 1;
    }

    return 1;
}


int
bulletin_published_valid(const uint8_t *p, size_t len)
{
    size_t  i;

    if (len < 10 || len > BULLETIN_PUBLISHED_MAX
        || p[4] != '-' || p[7] != '-')
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            continue;
        }

        if (i < 10 && i != 4 && i != 7) {
            return 0;
        }

        if (i >= 10 && p[i] != 'T' && p[i] != 't' && p[i] != 'Z'
            && p[i] != 'z' && p[i] != ':' && p[i] != '.' && p[i] != '+'
            && p[i] != '-')
        {
            return 0;
        }
    }

    return 1;
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


int
bulletin_fail(char *detail, int err, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(detail, BULLETIN_DETAIL_MAX, fmt, args);
    va_end(args);

    return err;
}
