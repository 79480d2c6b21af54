
/*
 * Copyright (C) bulletin authors
 *
 * The store file: every bulletin page rendered and compressed once by
 * bulletin-build, mapped read-only and served by nginx.  Plain C99 with
 * no nginx header: shared by the module, the builder and the unit tests.
 *
 * Layout (little-endian, every section and record 8-byte aligned, all
 * padding zero and covered by the checksum):
 *
 *   header      bulletin_store_header_t                at offset 0
 *   data        strings and page bytes, zero-padded    streamed first
 *   index       bulletin_store_bucket_t [index_size]   id hash -> record
 *   records     bulletin_store_record_t [page_count]   sorted by id
 *   segments    bulletin_store_segment_t [nsegments]   nslots + 1 a page
 *   slots       bulletin_store_slot_t [nslots]
 *   inputs      uint64_t [page_count]                  version 2, optional
 *   sources     bulletin_store_source_t [page_count]   version 3, optional
 *
 * The writer streams the page bytes first and the tables (whose size is
 * known only at the end) after them; the header, written last, says
 * where each section is, and the verifier accepts any order of
 * non-overlapping, aligned sections inside the file.  In the data
 * section a page is: id, title, published, etag, its plain segments,
 * its gzip segments.
 *
 * The index is open addressing with linear probing: bucket
 * bulletin_id_hash(id) & (index_size - 1) (FNV-1a 32 with murmur3's
 * finalizer), then the next ones, until an empty bucket.  The writer
 * makes index_size at least 2 * page_count and at least 8.
 *
 * The content hash is FNV-1a 64 over each segment's plain length and
 * bytes and each slot's kind and counted id; the etag is W/"<its 16
 * lowercase hex digits>".  The generation is FNV-1a 64 over the
 * channels and each record's id and content hash, in record order.
 *
 * A page is its bytes cut around count slots: segment 0, slot 0,
 * segment 1, ..., slot n-1, segment n.  Each segment is kept twice: plain,
 * and as raw deflate ending on a full flush (00 00 ff ff), so that a
 * stored block of digits can be spliced between two gzip segments.
 *
 * The inputs section (version 2; inputs_off 0 when absent) holds, a
 * record each in record order, the fingerprint of what the builder made
 * the page from (its source file, its neighbours, the template, the site
 * file, the channels, the builder's version), or 0: the builder reuses
 * the page's segments when the fingerprint is unchanged.  The module
 * never reads it.
 *
 * The sources section (version 3; sources_off 0 when absent) holds, a
 * record each in record order, what the builder read from the page's
 * bulletin file besides what the record holds: its path, its bytes'
 * hash, its category and publication time, where its id is.  The next
 * build does not parse a file whose path and hash are unchanged.  The
 * strings are in the data section, after the pages.  A page made from
 * no file (a list, the sitemap, the feed) has an entry of zeros.  The
 * module never reads it either.
 *
 * Times (built_at, last_modified) are from 1970-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z: a Last-Modified date has four digits of year.
 */


#ifndef _BULLETIN_STORE_H_INCLUDED_
#define _BULLETIN_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define BULLETIN_STORE_MAGIC       "BLTSTORE"
#define BULLETIN_STORE_VERSION     3
#define BULLETIN_STORE_VERSION_MIN 1       /* the oldest still read */
#define BULLETIN_STORE_BYTE_ORDER  0x01020304

#define BULLETIN_ID_MAX            64
#define BULLETIN_CHANNELS_MAX      8
#define BULLETIN_CHANNEL_MAX       15      /* bytes of a channel name */
#define BULLETIN_CHANNEL_SIZE      16      /* its field, NUL-padded */
#define BULLETIN_DETAIL_MAX        256     /* what a check says failed */
#define BULLETIN_SLOTS_MAX         4096    /* count slots in a page */
#define BULLETIN_PAGE_MAX          (64 * 1024 * 1024)  /* plain bytes */
#define BULLETIN_DIGITS_MAX        20      /* 18446744073709551615 */
#define BULLETIN_TITLE_MAX         4096    /* bytes of a title */
#define BULLETIN_PUBLISHED_MAX     64      /* bytes of a published date */
#define BULLETIN_SOURCE_PATH_MAX   4096    /* bytes of a source's path */
#define BULLETIN_CATEGORY_MAX      4096    /* bytes of a source's category */
#define BULLETIN_ETAG_LEN          20      /* W/"<16 hex>" */
#define BULLETIN_TIME_MIN          0
#define BULLETIN_TIME_MAX          253402300799LL  /* 9999-12-31T23:59:59Z */

/*
 * What a page is (its record's type): an HTML page, counted as viewed;
 * or, for the builder's own pages (ids beginning "_") only, with no
 * count in them and counting no view, a sitemap or an Atom feed.  Stores
 * before 0.3.0 have zero there, as reserved.
 */
#define BULLETIN_TYPE_HTML         0
#define BULLETIN_TYPE_SITEMAP      1       /* application/xml */
#define BULLETIN_TYPE_ATOM         2       /* application/atom+xml */
#define BULLETIN_TYPE_LAST         BULLETIN_TYPE_ATOM

/* what a slot shows, of the page bulletin_store_slot_t.page */
#define BULLETIN_SLOT_VIEWS        0
#define BULLETIN_SLOT_SHARES       1       /* all channels */
#define BULLETIN_SLOT_CHANNEL      2       /* + channel index */

/* the gzip body's fixed parts, for callers that size buffers */
#define BULLETIN_GZIP_HEADER_LEN   10
#define BULLETIN_GZIP_STORED_LEN   5       /* 0x00, LEN, NLEN */
#define BULLETIN_GZIP_TAIL_LEN     10      /* final block 03 00, trailer */

/*
 * A hint that p will be read soon: on a large store a request's index
 * bucket, record, segments, slots and counters are each a cache and TLB
 * miss, and asking for the ones that do not depend on each other at once
 * lets them overlap.  It never faults, whatever p is.
 */
#if defined(__GNUC__)
#define bulletin_prefetch(p)       __builtin_prefetch(p)
#else
#define bulletin_prefetch(p)
#endif


enum {
    BULLETIN_OK = 0,
    BULLETIN_ERR_SYSTEM,        /* see errno */
    BULLETIN_ERR_NOMEM,
    BULLETIN_ERR_SHORT,         /* smaller than a header */
    BULLETIN_ERR_MAGIC,
    BULLETIN_ERR_VERSION,
    BULLETIN_ERR_BYTE_ORDER,
    BULLETIN_ERR_SIZE,          /* file size differs from the header's */
    BULLETIN_ERR_CHECKSUM,
    BULLETIN_ERR_ALIGN,
    BULLETIN_ERR_BOUNDS,        /* an offset or length outside the file */
    BULLETIN_ERR_HEADER,        /* a header field out of range */
    BULLETIN_ERR_INDEX,         /* the index does not find every page */
    BULLETIN_ERR_ID,            /* an invalid id */
    BULLETIN_ERR_DUPLICATE,     /* an id twice */
    BULLETIN_ERR_SLOT,          /* a slot of an unknown page or kind */
    BULLETIN_ERR_CHANNEL,       /* a bad channel name or list */
    BULLETIN_ERR_TOO_LARGE,     /* a page or the store over a limit */
    BULLETIN_ERR_REFERENCE,     /* a slot names an id not in the store */
    BULLETIN_ERR_RECORD,        /* a page inconsistent with itself: its
                                   segments' lengths or CRCs, its etag */
    BULLETIN_ERR_TIME,          /* a time out of range */
    BULLETIN_ERR_TEXT,          /* a title or published date that is not
                                   what the builder writes */
    BULLETIN_ERR_CHANGED,       /* the mapping no longer holds what was
                                   verified: rewritten in place */
    BULLETIN_ERR_LAST
};


typedef struct {
    char                    magic[8];       /* BULLETIN_STORE_MAGIC */
    uint32_t                version;        /* BULLETIN_STORE_VERSION */
    uint32_t                byte_order;     /* BULLETIN_STORE_BYTE_ORDER */
    uint64_t                file_size;
    uint32_t                header_size;    /* sizeof(this) */
    uint32_t                checksum;       /* CRC-32 of the file, these
                                               four bytes read as zero */
    int64_t                 built_at;       /* unix time, see above */
    char                    generation[16]; /* lowercase hex of a 64-bit
                                               hash of ids, contents and
                                               channels */
    uint32_t                page_count;
    uint32_t                nchannels;
    char                    channels[BULLETIN_CHANNELS_MAX]
                                    [BULLETIN_CHANNEL_SIZE];
                                            /* NUL-padded */
    uint64_t                index_off;
    uint32_t                index_size;     /* a power of 2 > page_count */
    uint32_t                reserved0;
    uint64_t                records_off;
    uint64_t                segments_off;
    uint64_t                nsegments;
    uint64_t                slots_off;
    uint64_t                nslots;
    uint64_t                data_off;
    uint64_t                data_size;
    uint64_t                inputs_off;     /* 0: no inputs section
                                               (always so in version 1) */
    uint64_t                sources_off;    /* 0: no sources section
                                               (always so before 3) */
} bulletin_store_header_t;                  /* 280 bytes */


typedef struct {
    uint32_t                hash;           /* bulletin_id_hash() */
    uint32_t                record;         /* record index + 1; 0: empty */
} bulletin_store_bucket_t;


typedef struct {
    uint64_t                id_off;         /* offsets are from the start */
    uint64_t                title_off;      /* of the file, lengths in   */
    uint64_t                published_off;  /* bytes; strings are UTF-8, */
    uint64_t                etag_off;       /* not NUL-terminated        */
    uint32_t                id_len;
    uint32_t                title_len;      /* raw, not escaped, UTF-8,
                                               BULLETIN_TITLE_MAX */
    uint32_t                published_len;  /* as the source wrote it:
                                               YYYY-MM-DD[Thh:mm:ss...] */
    uint32_t                etag_len;       /* 20: W/"<16 hex>", of hash */
    int64_t                 last_modified;  /* unix time, see above */
    uint64_t                hash;           /* content hash */
    uint64_t                plain_len;      /* sum of plain segments */
    uint64_t                gzip_len;       /* sum of gzip segments */
    uint32_t                segment_first;  /* nslots + 1 segments */
    uint32_t                slot_first;
    uint32_t                nslots;
    uint32_t                type;           /* BULLETIN_TYPE_* */
} bulletin_store_record_t;                  /* 96 bytes */


typedef struct {
    uint64_t                plain_off;
    uint64_t                gzip_off;
    uint32_t                plain_len;
    uint32_t                gzip_len;       /* 0 when plain_len is 0 */
    uint32_t                crc;            /* CRC-32 of the plain bytes */
    uint32_t                crc_op;         /* x^(8 * plain_len) mod P,
                                               see bulletin_crc.h */
} bulletin_store_segment_t;                 /* 32 bytes */


typedef struct {
    uint64_t                path_off;       /* in the data section, */
    uint64_t                category_off;   /* like a record's strings */
    uint32_t                path_len;       /* 0: made from no file, and
                                               every field 0 */
    uint32_t                category_len;   /* 0: none */
    uint64_t                hash;           /* FNV-1a 64 of its bytes */
    int64_t                 published_at;   /* unix time, see above */
    uint32_t                line;           /* of its id */
    uint32_t                col;
} bulletin_store_source_t;                  /* 48 bytes */


typedef struct {
    uint32_t                page;           /* record whose count shows */
    uint32_t                kind;           /* BULLETIN_SLOT_* */
} bulletin_store_slot_t;


/*
 * A verified store, as the module and tools read it.  A file rewritten in
 * place under a running server changes the mapping, not this: header
 * points to hdr, the header as verified, so that every limit a request
 * checks against (size, page_count, nsegments, nslots, nchannels, mask)
 * is ordinary memory.  Hence never copy a bulletin_store_t by value.
 */

typedef struct {
    const uint8_t                   *base;
    size_t                           size;
    const bulletin_store_header_t   *header;    /* &hdr */
    const bulletin_store_bucket_t   *index;
    const bulletin_store_record_t   *records;
    const bulletin_store_segment_t  *segments;
    const bulletin_store_slot_t     *slots;
    uint32_t                         mask;      /* index_size - 1 */
    bulletin_store_header_t          hdr;
    char                             detail[BULLETIN_DETAIL_MAX];
                                    /* which check failed, and where */
} bulletin_store_t;


const char *bulletin_strerror(int err);

/*
 * The pure code's errors: an error code, and a detail of at most
 * BULLETIN_DETAIL_MAX bytes saying what failed, and where.  Fills detail
 * and returns err.
 */
int bulletin_fail(char *detail, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 3, 4)))
#endif
    ;

/* ids: 1 to 64 of A-Z a-z 0-9 _ -, the first a letter or digit, or,
 * with reserved != 0, an underscore (pages the builder makes) */
int bulletin_id_valid(const uint8_t *id, size_t len, int reserved);
uint32_t bulletin_id_hash(const uint8_t *id, size_t len);
int bulletin_id_check(const uint8_t *id, size_t len, uint32_t *hash);

/* channel names: 1 to 15 of a-z 0-9 _ - */
int bulletin_channel_valid(const uint8_t *name, size_t len);

/* UTF-8 as RFC 3629 has it: no overlong form, surrogate or beyond U+10FFFF */
int bulletin_utf8_valid(const uint8_t *p, size_t len);

/*
 * A published date as a store holds it: YYYY-MM-DD, then up to
 * BULLETIN_PUBLISHED_MAX bytes in all of 0-9 T t Z z : . + - (the
 * builder's source checks that it is a real RFC 3339 date)
 */
int bulletin_published_valid(const uint8_t *p, size_t len);

/*
 * Checks every field a request or the builder reads: size, magic,
 * version, byte order, checksum, alignment, every offset and length
 * inside the file, times in range, reserved fields zero, every id valid,
 * strictly sorted and found through the index, titles and published
 * dates as the builder writes them, each segment's CRC-32 and operator,
 * each gzip segment ending on a flush, every slot of a known page and
 * kind, the channels and the generation printable as they are.  buf must
 * be 8-byte aligned (a mapping is).  Fills st; on failure st->detail says
 * what failed, and where.
 */
int bulletin_store_open(bulletin_store_t *st, const void *buf, size_t size);

/*
 * The request path (bulletin_body.c) reads the mapping only through
 * these and bulletin_body(), which check what they read against st's
 * copy of the header: whatever the file holds now, nothing outside it
 * is read.
 *
 * bulletin_store_record() copies page's record out of the mapping, once,
 * and checks that its strings, segments and slots lie inside their
 * sections and its times and lengths in range: BULLETIN_ERR_CHANGED
 * when they no longer do.  find returns a record index or -1; the id
 * need not be valid.
 */
int bulletin_store_record(const bulletin_store_t *st, uint32_t page,
    bulletin_store_record_t *rec);
int64_t bulletin_store_find(const bulletin_store_t *st, const uint8_t *id,
    size_t len);
int64_t bulletin_store_find_hash(const bulletin_store_t *st,
    const uint8_t *id, size_t len, uint32_t hash);

/*
 * The input fingerprint of page (the builder's, see above): 0 when the
 * store has none or page is out of range.
 */
uint64_t bulletin_store_inputs(const bulletin_store_t *st, uint32_t page);

/*
 * The source of page (the builder's, see above), as verified: -1 when
 * the store has none for it.
 */
int bulletin_store_source(const bulletin_store_t *st, uint32_t page,
    bulletin_store_source_t *src);

/* the weak ETag of a content hash, BULLETIN_ETAG_LEN bytes */
void bulletin_etag(uint8_t *buf, uint64_t hash);

/* v as 16 lowercase hex digits, not NUL-terminated */
void bulletin_hex64(char *buf, uint64_t v);

/*
 * FNV-1a 64, of the content hash and the generation: h is the hash so
 * far, BULLETIN_FNV64_INIT to start; numbers go in little-endian
 */
#define BULLETIN_FNV64_INIT  0xcbf29ce484222325ULL

uint64_t bulletin_fnv64(uint64_t h, const void *data, size_t len);
uint64_t bulletin_fnv64_u32(uint64_t h, uint32_t v);
uint64_t bulletin_fnv64_u64(uint64_t h, uint64_t v);


/* off and len lie inside the data section */
static inline int
bulletin_store_in_data(const bulletin_store_header_t *h, uint64_t off,
    uint64_t len)
{
    return off >= h->data_off
           && off - h->data_off <= h->data_size
           && len <= h->data_size - (off - h->data_off);
}


/* BULLETIN_TIME_MIN to BULLETIN_TIME_MAX */
static inline int
bulletin_time_valid(int64_t t)
{
    return t >= BULLETIN_TIME_MIN && t <= BULLETIN_TIME_MAX;
}


#endif /* _BULLETIN_STORE_H_INCLUDED_ */
