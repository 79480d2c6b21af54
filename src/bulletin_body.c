
/*
 * Copyright (C) bulletin authors
 *
 * The request path: what a worker reads of a verified store, a page's
 * record, the look-up of an id and the response body.  This file is
 * compiled into the nginx module: it only reads memory.
 */


#include <string.h>
#include <zlib.h>

#include "bulletin_crc.h"
#include "bulletin_body.h"
#include "bulletin_store.h"


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


/* a body as it is built */
typedef struct {
    bulletin_chunk_t        *chunks;
    size_t                   n;
    uint8_t                 *p;             /* scratch not used yet */
    uint8_t                 *end;
    size_t                   reserve;       /* of scratch: what the slots
                                               not yet shown and the tail
                                               will need */
    int                      in_scratch;    /* the last chunk ends at p */
    int                      gzip;
    uint32_t                 crc;           /* of the plain bytes so far */
    uint64_t                 digits;        /* plain bytes of counts */
    uint64_t                 total;
    uint64_t                 sum;           /* segment bytes */
} bulletin_body_t;


static int bulletin_body_segment(const bulletin_store_t *st,
    bulletin_body_t *b, const bulletin_store_segment_t *seg, int copy);
static int bulletin_body_count(const bulletin_store_t *st,
    bulletin_body_t *b, const bulletin_store_slot_t *slot,
    bulletin_count_pt count, void *ctx);
static void bulletin_body_tail(bulletin_body_t *b, uint64_t plain_len);
static inline void bulletin_body_scratch(bulletin_body_t *b, size_t len);
static inline void bulletin_body_mapped(bulletin_body_t *b,
    const uint8_t *data, size_t len);


static const uint8_t  bulletin_gzip_header[BULLETIN_GZIP_HEADER_LEN] = {
    0x1f, 0x8b,                 /* magic */
    0x08,                       /* deflate */
    0x00,                       /* no flags */
    0x00, 0x00, 0x00, 0x00,     /* no modification time */
    0x02,                       /* best compression */
    0x03                        /* unix */
};


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
        || !bulletin_store_in_data(h, rec->id_off, rec->id_len)
        || !bulletin_store_in_data(h, rec->title_off, rec->title_len)
        || !bulletin_store_in_data(h, rec->published_off, rec->published_len)
        || !bulletin_store_in_data(h, rec->etag_off, rec->etag_len)
        || !bulletin_time_valid(rec->last_modified)
        || rec->plain_len > BULLETIN_PAGE_MAX
        || rec->nslots > BULLETIN_SLOTS_MAX
        || rec->type > BULLETIN_TYPE_LAST
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
    if (len == 0 || len > BULLETIN_ID_MAX) {
        return -1;      /* before hashing what may be long */
    }

    return bulletin_store_find_hash(st, id, len, bulletin_id_hash(id, len));
}


/* h: bulletin_id_hash(id, len) */

int64_t
bulletin_store_find_hash(const bulletin_store_t *st, const uint8_t *id,
    size_t len, uint32_t h)
{
    uint32_t                        i, n, hash, record, id_len;
    uint64_t                        id_off;
    const bulletin_store_record_t  *r;

    if (len == 0 || len > BULLETIN_ID_MAX) {
        return -1;
    }

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

        /* the record's second cache line, which the request reads next */
        bulletin_prefetch((const uint8_t *) (r + 1) - 1);

        id_len = r->id_len;
        id_off = r->id_off;
        bulletin_once(id_len);
        bulletin_once(id_off);

        if (id_len == len
            && bulletin_store_in_data(st->header, id_off, len)
            && memcmp(st->base + id_off, id, len) == 0)
        {
            return record - 1;
        }
    }

    return -1;
}


size_t
bulletin_body_chunks_max(const bulletin_store_record_t *rec)
{
    /* gzip: header, nslots + 1 segments, nslots stored blocks, tail */
    return 2 * (size_t) rec->nslots + 3;
}


/*
 * Room for each slot's digits as a stored block, the tail, and what
 * bulletin_body() may copy of the short segments: at most the budget,
 * and never more than the page.  Nothing of the mapping is read;
 * bulletin_body() copies only what fits.
 */

size_t
bulletin_body_scratch_max(const bulletin_store_t *st,
    const bulletin_store_record_t *rec)
{
    uint64_t  page;

    (void) st;

    page = rec->plain_len > rec->gzip_len ? rec->plain_len : rec->gzip_len;

    return (size_t) rec->nslots * BULLETIN_SLOT_SCRATCH
           + BULLETIN_GZIP_TAIL_LEN
           + (size_t) (page < BULLETIN_BODY_COPY_BUDGET
                       ? page : BULLETIN_BODY_COPY_BUDGET);
}


/*
 * The segments, each with the count after it, then the gzip tail.  Each
 * field of a segment or slot is read once from the mapping and checked
 * against the verified header.
 */

int
bulletin_body(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    int gzip, bulletin_count_pt count, void *ctx, uint8_t *scratch,
    size_t scratch_len, bulletin_chunk_t *chunks, size_t *nchunks,
    uint64_t *body_len)
{
    uint32_t                         i;
    bulletin_body_t                  b;
    const bulletin_store_slot_t     *slot;
    const bulletin_store_header_t   *h;
    const bulletin_store_segment_t  *seg;

    h = st->header;
    *nchunks = 0;
    *body_len = 0;

    b.reserve = (count ? (size_t) rec->nslots * BULLETIN_SLOT_SCRATCH : 0)
                + (gzip ? BULLETIN_GZIP_TAIL_LEN : 0);

    if (rec->nslots > BULLETIN_SLOTS_MAX || scratch_len < b.reserve
        || (uint64_t) rec->segment_first + rec->nslots + 1 > h->nsegments
        || (uint64_t) rec->slot_first + rec->nslots > h->nslots)
    {
        return BULLETIN_ERR_CHANGED;
    }

    b.chunks = chunks;
    b.n = 0;
    b.p = scratch;
    b.end = scratch + scratch_len;
    b.in_scratch = 0;
    b.gzip = gzip;
    b.crc = 0;
    b.digits = 0;
    b.total = 0;
    b.sum = 0;

    if (gzip) {
        bulletin_body_mapped(&b, bulletin_gzip_header,
                             BULLETIN_GZIP_HEADER_LEN);
    }

    seg = &st->segments[rec->segment_first];
    slot = &st->slots[rec->slot_first];

    for (i = 0; /* void */; i++, seg++, slot++) {

        if (bulletin_body_segment(st, &b, seg, count != NULL) != BULLETIN_OK) {
            return BULLETIN_ERR_CHANGED;
        }

        if (i == rec->nslots) {
            break;
        }

        if (count != NULL
            && bulletin_body_count(st, &b, slot, count, ctx) != BULLETIN_OK)
        {
            return BULLETIN_ERR_CHANGED;
        }
    }

    /* the length of the variant sent, and the trailer, are the record's */

    if (b.sum != (gzip ? rec->gzip_len : rec->plain_len)) {
        return BULLETIN_ERR_CHANGED;
    }

    if (gzip) {
        bulletin_body_tail(&b, rec->plain_len);
    }

    *nchunks = b.n;
    *body_len = b.total;

    return BULLETIN_OK;
}


/*
 * A segment, from the mapping, or copied into scratch with counts: never
 * into what the slots not yet shown and the tail will need of it
 */

static int
bulletin_body_segment(const bulletin_store_t *st, bulletin_body_t *b,
    const bulletin_store_segment_t *seg, int copy)
{
    uint32_t  len, crc, op;
    uint64_t  off;

    if (b->gzip) {
        off = seg->gzip_off;
        len = seg->gzip_len;
        crc = seg->crc;
        op = seg->crc_op;
        bulletin_once(off);
        bulletin_once(len);
        bulletin_once(crc);
        bulletin_once(op);

        if (len != 0) {
            b->crc = (b->crc == 0) ? crc
                                   : bulletin_crc32_combine_op(b->crc, crc,
                                                               op);
        }

    } else {
        off = seg->plain_off;
        len = seg->plain_len;
        bulletin_once(off);
        bulletin_once(len);
    }

    if (len == 0) {
        return BULLETIN_OK;
    }

    if (!bulletin_store_in_data(st->header, off, len)) {
        return BULLETIN_ERR_CHANGED;
    }

    b->sum += len;

    if (copy && len <= BULLETIN_BODY_COPY_MAX
        && len <= (size_t) (b->end - b->p) - b->reserve)
    {
        memcpy(b->p, st->base + off, len);
        bulletin_body_scratch(b, len);

    } else {
        bulletin_body_mapped(b, st->base + off, len);
    }

    return BULLETIN_OK;
}


/* a slot's count, in digits, or in gzip as a stored block of digits */

static int
bulletin_body_count(const bulletin_store_t *st, bulletin_body_t *b,
    const bulletin_store_slot_t *slot, bulletin_count_pt count, void *ctx)
{
    size_t    d;
    uint8_t  *p;
    uint32_t  page, kind;

    page = slot->page;
    kind = slot->kind;
    bulletin_once(page);
    bulletin_once(kind);

    if (page >= st->header->page_count
        || kind >= BULLETIN_SLOT_CHANNEL + st->header->nchannels)
    {
        return BULLETIN_ERR_CHANGED;
    }

    p = b->p;

    if (b->gzip) {
        d = bulletin_format_u64(p + BULLETIN_GZIP_STORED_LEN,
                                count(ctx, page, kind));

        /* a stored block: the stream is byte-aligned after a flush */
        p[0] = 0x00;
        p[1] = (uint8_t) d;
        p[2] = 0x00;
        p[3] = (uint8_t) ~d;
        p[4] = 0xff;

        /* the CRC of the page so far, followed by the digits */
        b->crc = (uint32_t) crc32_z(b->crc, p + BULLETIN_GZIP_STORED_LEN, d);
        b->digits += d;
        d += BULLETIN_GZIP_STORED_LEN;

    } else {
        d = bulletin_format_u64(p, count(ctx, page, kind));
    }

    b->reserve -= BULLETIN_SLOT_SCRATCH;
    bulletin_body_scratch(b, d);

    return BULLETIN_OK;
}


/* a final empty fixed Huffman block, then CRC-32 and ISIZE */

static void
bulletin_body_tail(bulletin_body_t *b, uint64_t plain_len)
{
    uint8_t   *p;
    uint64_t   isize;

    p = b->p;
    isize = b->digits + plain_len;

    p[0] = 0x03;
    p[1] = 0x00;
    p[2] = (uint8_t) b->crc;
    p[3] = (uint8_t) (b->crc >> 8);
    p[4] = (uint8_t) (b->crc >> 16);
    p[5] = (uint8_t) (b->crc >> 24);
    p[6] = (uint8_t) isize;
    p[7] = (uint8_t) (isize >> 8);
    p[8] = (uint8_t) (isize >> 16);
    p[9] = (uint8_t) (isize >> 24);

    bulletin_body_scratch(b, BULLETIN_GZIP_TAIL_LEN);
}


/*
 * len bytes just written at b->p: pieces of scratch that follow each
 * other (digits around an empty segment, the tail after the last
 * digits) go out as one chunk
 */

static inline void
bulletin_body_scratch(bulletin_body_t *b, size_t len)
{
    if (b->in_scratch) {
        b->chunks[b->n - 1].len += len;

    } else {
        b->chunks[b->n].data = b->p;
        b->chunks[b->n].len = len;
        b->n++;
        b->in_scratch = 1;
    }

    b->p += len;
    b->total += len;
}


/*
 * A piece of the mapping.  A page's segments follow each other in the
 * file: with no count between them (a page shown without counts, a
 * sitemap, a feed) they go out as one piece, as nginx sends a single
 * buffer by a shorter path than a chain.
 */

static inline void
bulletin_body_mapped(bulletin_body_t *b, const uint8_t *data, size_t len)
{
    bulletin_chunk_t  *last;

    if (b->n > 0 && !b->in_scratch) {
        last = &b->chunks[b->n - 1];

        if (last->data + last->len == data) {
            last->len += len;
            b->total += len;
            return;
        }
    }

    b->chunks[b->n].data = data;
    b->chunks[b->n].len = len;
    b->n++;
    b->in_scratch = 0;
    b->total += len;
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
