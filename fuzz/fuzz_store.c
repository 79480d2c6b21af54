
/*
 * Copyright (C) bulletin authors
 *
 * The store verifier with arbitrary bytes, then everything the module
 * does with an accepted store: each record copied as the request path
 * copies it, its Last-Modified date and ETag as nginx sends them, the
 * look-up of every page's id and of ids that are not there, every page's
 * body, plain and gzip, with counts and without (the gzip body inflated
 * by zlib to the plain one, its trailer the plain body's CRC-32 and
 * length).  An accepted store must never make these read outside the
 * file: the input is copied into a buffer of exactly its size, so ASan
 * reports the first byte past it.
 *
 * A mutated input almost never keeps its checksum, so each input is
 * verified twice: as it is, and with file_size and the checksum made
 * right, so that the checks after the checksum see the mutations.
 *
 * Then the file rewritten in place under a running server: an accepted
 * store is changed after it was opened, a few fields of its tables at a
 * time (the changes drawn from the input), and the request path runs on
 * it again, also with a change between sizing a body and making it.  It
 * may refuse a page, but never read outside the buffer, and never hand
 * the count callback a page or kind the verified header does not have.
 */


#include <string.h>
#include <time.h>
#include <zlib.h>

#include "bulletin_body.h"
#include "bulletin_store.h"
#include "bulletin_args.h"
#include "fuzz.h"


#define FUZZ_LIVE_ROUNDS   6
#define FUZZ_LIVE_WRITES   4


typedef struct {
    const bulletin_store_t  *st;
    uint32_t                 seed;
    uint32_t                 calls;
    uint64_t                 digits;
} fuzz_count_t;


typedef struct {
    uint8_t                 *data;
    size_t                   len;
} fuzz_buf_t;


static void fuzz_store(const uint8_t *buf, size_t size, uint32_t seed);
static void fuzz_page(const bulletin_store_t *st, uint32_t i, uint32_t seed);
static void fuzz_find(const bulletin_store_t *st, const uint8_t *id,
    size_t len);
static int fuzz_body(const bulletin_store_t *st,
    const bulletin_store_record_t *rec, int gzip, int counts, uint32_t seed,
    size_t smax, fuzz_buf_t *out);
static void fuzz_gzip(const fuzz_buf_t *plain, const fuzz_buf_t *gz);
static void fuzz_date(int64_t t);
static void fuzz_live(const uint8_t *buf, size_t size, uint32_t seed);
static void fuzz_live_write(uint8_t *buf, size_t size,
    const bulletin_store_t *st, uint64_t *rnd);
static void fuzz_live_requests(const bulletin_store_t *st, uint8_t *buf,
    size_t size, uint64_t *rnd);
static uint64_t fuzz_rnd(uint64_t *x);
static uint64_t fuzz_count(void *data, uint32_t page, uint32_t kind);
static int fuzz_inside(const void *p, size_t len, const void *base,
    size_t size);


static volatile uint8_t  fuzz_sink;


/* counts around every change in the number of digits */

static const uint64_t  fuzz_counts[] = {
    0, 1, 9, 10, 99, 100, 12345, 999999999, 1000000000,
    4294967295ULL, 4294967296ULL, 9223372036854775807ULL,
    9223372036854775808ULL, 9999999999999999999ULL,
    10000000000000000000ULL, 18446744073709551615ULL
};

#define FUZZ_NCOUNTS  (sizeof(fuzz_counts) / sizeof(fuzz_counts[0]))


static const char  *fuzz_wdays[] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

static const char  *fuzz_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                    n;
    uint8_t                  *buf;
    uint32_t                  seed, crc;
    bulletin_store_header_t  *h;
    static const uint8_t      zero[4];

    seed = size ? data[size - 1] : 0;

    /* exactly size bytes (malloc's alignment is 16): ASan sees past it */
    buf = malloc(size ? size : 1);
    fuzz_check(buf != NULL);
    memcpy(buf, data, size);

    fuzz_store(buf, size, seed);

    if (size >= sizeof(bulletin_store_header_t)) {
        h = (bulletin_store_header_t *) buf;
        h->file_size = size;

        n = offsetof(bulletin_store_header_t, checksum);

        crc = (uint32_t) crc32_z(0, buf, n);
        crc = (uint32_t) crc32_z(crc, zero, sizeof(zero));
        crc = (uint32_t) crc32_z(crc, buf + n + sizeof(zero),
                                 size - n - sizeof(zero));

        if (memcmp(buf, data, size) != 0 || h->checksum != crc) {
            h->checksum = crc;
            fuzz_store(buf, size, seed);
        }
    }

    free(buf);

    return 0;
}


static void
fuzz_store(const uint8_t *buf, size_t size, uint32_t seed)
{
    int                             rc, j;
    size_t                          off, len, k;
    uint8_t                         args[32];
    uint32_t                        i;
    bulletin_store_t                st;
    bulletin_store_source_t         src;

    rc = bulletin_store_open(&st, buf, size);

    if (rc != BULLETIN_OK) {
        fuzz_check(rc > BULLETIN_OK && rc < BULLETIN_ERR_LAST);
        fuzz_check(rc != BULLETIN_ERR_CHANGED);
        fuzz_check(strcmp(bulletin_strerror(rc), "unknown error") != 0);
        fuzz_check(st.detail[0] != '\0');
        fuzz_check(memchr(st.detail, '\0', sizeof(st.detail)) != NULL);
        return;
    }

    /* the same bytes at an address the records' fields cannot be read at */
    if (size > 1) {
        fuzz_check(bulletin_store_open(&st, buf + 1, size - 1)
                   == BULLETIN_ERR_ALIGN);
        fuzz_check(bulletin_store_open(&st, buf, size) == BULLETIN_OK);
    }

    fuzz_check(st.base == buf && st.size == size);
    fuzz_check(st.header == &st.hdr);
    fuzz_check(memcmp(&st.hdr, buf, sizeof(bulletin_store_header_t)) == 0);
    fuzz_check(st.hdr.built_at >= BULLETIN_TIME_MIN
               && st.hdr.built_at <= BULLETIN_TIME_MAX);

    /* the status prints built_at as a date: four digits of year */
    fuzz_date(st.hdr.built_at);

    for (i = 0; i < st.header->page_count; i++) {
        fuzz_page(&st, i, seed + i);
    }

    fuzz_check(bulletin_store_record(&st, st.header->page_count, NULL)
               == BULLETIN_ERR_BOUNDS);

    /* the builder's input fingerprints: none without the section */

    for (i = 0; i < st.header->page_count; i++) {
        fuzz_check(st.header->inputs_off != 0
                   || bulletin_store_inputs(&st, i) == 0);
    }

    fuzz_check(bulletin_store_inputs(&st, st.header->page_count) == 0);

    /*
     * the builder's sources: none without the section; an accepted one's
     * strings read in full (ASan sees past the buffer), its path with no
     * NUL, its category UTF-8
     */

    for (i = 0; i <= st.header->page_count; i++) {
        if (bulletin_store_source(&st, i, &src) != 0) {
            fuzz_check(st.header->sources_off == 0
                       || i == st.header->page_count
                       || ((const bulletin_store_source_t *)
                           (buf + st.header->sources_off))[i].path_len
                          == 0);
            continue;
        }

        fuzz_check(st.header->sources_off != 0);
        fuzz_check(memchr(buf + src.path_off, '\0', src.path_len) == NULL);
        fuzz_check(bulletin_utf8_valid(buf + src.category_off,
                                       src.category_len));
    }

    /* ids from the input itself, of every length up to one too many */

    for (k = 0; k < 8 && size > 0; k++) {
        off = (seed * 131 + k * 977) % size;
        len = buf[off] % (BULLETIN_ID_MAX + 2);

        if (len > size - off) {
            len = size - off;
        }

        fuzz_find(&st, buf + off, len);
    }

    /* the share location's channel argument, by this store's channels */

    for (j = 0; j < (int) st.header->nchannels; j++) {
        len = strlen(st.header->channels[j]);
        fuzz_check(len > 0 && len <= BULLETIN_CHANNEL_MAX);

        memcpy(args, "channel=", 8);
        memcpy(args + 8, st.header->channels[j], len);

        fuzz_check(bulletin_share_channel(args, 8 + len, st.header) == j);
    }

    fuzz_live(buf, size, seed);
}


/* what a request for page i does, and what the status prints of it */

static void
fuzz_page(const bulletin_store_t *st, uint32_t i, uint32_t seed)
{
    uint8_t                   id[BULLETIN_ID_MAX + 2];
    uint8_t                   etag[BULLETIN_ETAG_LEN];
    fuzz_buf_t                plain, gz;
    bulletin_store_record_t   rec;

    /* an accepted store's records are sane as they are */
    fuzz_check(bulletin_store_record(st, i, &rec) == BULLETIN_OK);
    fuzz_check(memcmp(&rec, &st->records[i], sizeof(rec)) == 0);

    fuzz_check(bulletin_store_find(st, st->base + rec.id_off, rec.id_len)
               == i);

    /* ids next to this one: shorter, longer, one byte changed */

    memcpy(id, st->base + rec.id_off, rec.id_len);
    id[rec.id_len] = 'a';
    fuzz_find(st, id, rec.id_len - 1);
    fuzz_find(st, id, rec.id_len + 1);
    id[0] ^= 1;
    fuzz_find(st, id, rec.id_len);

    fuzz_date(rec.last_modified);

    /* the ETag sent is made from the hash: the bytes the file holds */
    bulletin_etag(etag, rec.hash);
    fuzz_check(rec.etag_len == BULLETIN_ETAG_LEN);
    fuzz_check(memcmp(etag, st->base + rec.etag_off, BULLETIN_ETAG_LEN) == 0);
    fuzz_check(memcmp(etag, "W/\"", 3) == 0 && etag[19] == '"');

    fuzz_check(bulletin_utf8_valid(st->base + rec.title_off, rec.title_len));
    fuzz_check(rec.title_len <= BULLETIN_TITLE_MAX);
    fuzz_check(bulletin_published_valid(st->base + rec.published_off,
                                        rec.published_len));

    fuzz_check(fuzz_body(st, &rec, 0, 0, seed, 0, NULL) == BULLETIN_OK);
    fuzz_check(fuzz_body(st, &rec, 1, 0, seed, 0, NULL) == BULLETIN_OK);

    /* with the same counts, the gzip body is the plain body compressed */

    fuzz_check(fuzz_body(st, &rec, 0, 1, seed, 0, &plain) == BULLETIN_OK);
    fuzz_check(fuzz_body(st, &rec, 1, 1, seed, 0, &gz) == BULLETIN_OK);

    fuzz_gzip(&plain, &gz);

    free(plain.data);
    free(gz.data);
}


/* the look-up against a plain search of the records */

static void
fuzz_find(const bulletin_store_t *st, const uint8_t *id, size_t len)
{
    int64_t                         found, want;
    uint32_t                        i;
    const bulletin_store_record_t  *r;

    want = -1;

    for (i = 0; i < st->header->page_count; i++) {
        r = &st->records[i];

        if (r->id_len == len && memcmp(st->base + r->id_off, id, len) == 0) {
            want = i;
            break;
        }
    }

    found = bulletin_store_find(st, id, len);

    fuzz_check(found == want);
}


/*
 * One body, as the module makes it: chunks and scratch allocated at the
 * sizes asked for (smax, if not 0, is a size asked for before the store
 * changed); every byte of every chunk read; with out, the body's bytes.
 */

static int
fuzz_body(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    int gzip, int counts, uint32_t seed, size_t smax, fuzz_buf_t *out)
{
    int                rc;
    size_t             i, j, n, nmax;
    uint8_t           *scratch;
    uint64_t           total, sum, want;
    fuzz_count_t       ctx;
    bulletin_chunk_t  *chunks;

    nmax = bulletin_body_chunks_max(rec);

    if (smax == 0) {
        smax = bulletin_body_scratch_max(st, rec);
    }

    /* exactly what the module allocates: ASan sees any byte more */
    chunks = malloc(nmax * sizeof(bulletin_chunk_t));
    scratch = malloc(smax);
    fuzz_check(chunks != NULL && scratch != NULL);

    ctx.st = st;
    ctx.seed = seed;
    ctx.calls = 0;
    ctx.digits = 0;

    n = (size_t) -1;
    total = (uint64_t) -1;

    rc = bulletin_body(st, rec, gzip, counts ? fuzz_count : NULL, &ctx,
                       scratch, smax, chunks, &n, &total);

    if (rc != BULLETIN_OK) {
        fuzz_check(rc == BULLETIN_ERR_CHANGED);
        fuzz_check(n == 0 && total == 0);
        free(scratch);
        free(chunks);
        return rc;
    }

    fuzz_check(n <= nmax);
    fuzz_check(ctx.calls == (counts ? rec->nslots : 0));

    if (out != NULL) {
        out->data = malloc(total ? total : 1);
        out->len = 0;
        fuzz_check(out->data != NULL);
    }

    sum = 0;

    for (i = 0; i < n; i++) {
        fuzz_check(chunks[i].len != 0);
        fuzz_check(fuzz_inside(chunks[i].data, chunks[i].len, st->base,
                               st->size)
                   || fuzz_inside(chunks[i].data, chunks[i].len, scratch,
                                  smax)
                   || (gzip && i == 0
                       && chunks[i].len == BULLETIN_GZIP_HEADER_LEN));

        /* read every byte, as the response will, where ASan sees it */
        for (j = 0; j < chunks[i].len; j++) {
            fuzz_sink ^= chunks[i].data[j];
        }

        sum += chunks[i].len;

        if (out != NULL) {
            fuzz_check(sum <= total);
            memcpy(out->data + out->len, chunks[i].data, chunks[i].len);
            out->len += chunks[i].len;
        }
    }

    fuzz_check(sum == total);

    if (gzip) {
        fuzz_check(n >= 2);
        fuzz_check(memcmp(chunks[0].data, "\x1f\x8b\x08", 3) == 0);

        want = BULLETIN_GZIP_HEADER_LEN + rec->gzip_len + ctx.digits
               + (uint64_t) ctx.calls * BULLETIN_GZIP_STORED_LEN
               + BULLETIN_GZIP_TAIL_LEN;

    } else {
        want = rec->plain_len + ctx.digits;
    }

    fuzz_check(total == want);

    free(scratch);
    free(chunks);

    return BULLETIN_OK;
}


/*
 * The verifier checks every segment's CRC and operator: the trailer is
 * the plain body's CRC-32 and length whatever the gzip segments hold.
 * It does not inflate them: where they inflate, they give the plain body.
 */

static void
fuzz_gzip(const fuzz_buf_t *plain, const fuzz_buf_t *gz)
{
    int             rc;
    uLong           crc;
    uint8_t        *out;
    z_stream        z;
    const uint8_t  *tail;

    fuzz_check(gz->len >= BULLETIN_GZIP_HEADER_LEN + BULLETIN_GZIP_TAIL_LEN);

    crc = crc32(0, Z_NULL, 0);
    crc = crc32(crc, plain->data, (uInt) plain->len);

    tail = gz->data + gz->len - 8;

    fuzz_check(tail[0] == (uint8_t) crc && tail[1] == (uint8_t) (crc >> 8)
               && tail[2] == (uint8_t) (crc >> 16)
               && tail[3] == (uint8_t) (crc >> 24));
    fuzz_check(tail[4] == (uint8_t) plain->len
               && tail[5] == (uint8_t) (plain->len >> 8)
               && tail[6] == (uint8_t) (plain->len >> 16)
               && tail[7] == (uint8_t) (plain->len >> 24));

    out = malloc(plain->len + 1);
    fuzz_check(out != NULL);

    memset(&z, 0, sizeof(z_stream));
    fuzz_check(inflateInit2(&z, 31) == Z_OK);

    z.next_in = gz->data;
    z.avail_in = (uInt) gz->len;
    z.next_out = out;
    z.avail_out = (uInt) plain->len + 1;

    rc = inflate(&z, Z_FINISH);

    if (rc == Z_STREAM_END) {
        fuzz_check(z.avail_in == 0);
        fuzz_check(z.total_out == plain->len);
        fuzz_check(memcmp(out, plain->data, plain->len) == 0);
    }

    inflateEnd(&z);
    free(out);
}


/*
 * The date as nginx's ngx_http_time() writes it into a buffer of
 * sizeof("Mon, 28 Sep 1970 06:00:00 GMT") - 1 bytes, by the civil
 * calendar's arithmetic, and as the C library has it.
 */

static void
fuzz_date(int64_t t)
{
    int        len;
    char       text[64], want[64];
    int64_t    days, secs, z, era, doe, yoe, y, doy, mp, d, m;
    time_t     tt;
    struct tm  tm;

    fuzz_check(t >= BULLETIN_TIME_MIN && t <= BULLETIN_TIME_MAX);

    days = t / 86400;
    secs = t % 86400;

    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    fuzz_check(y >= 1970 && y <= 9999);

    len = snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                   fuzz_wdays[(days + 4) % 7], (int) d,
                   fuzz_months[m - 1], (int) y, (int) (secs / 3600),
                   (int) (secs / 60 % 60), (int) (secs % 60));

    fuzz_check(len == sizeof("Mon, 28 Sep 1970 06:00:00 GMT") - 1);

    tt = (time_t) t;
    fuzz_check(gmtime_r(&tt, &tm) != NULL);

    snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             fuzz_wdays[tm.tm_wday], tm.tm_mday, fuzz_months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);

    fuzz_check(strcmp(text, want) == 0);
}


/*
 * The store rewritten in place: a copy opened, then changed, a few
 * writes a round, the rounds adding up; the request path on every page
 * after each round.
 */

static void
fuzz_live(const uint8_t *buf, size_t size, uint32_t seed)
{
    int                       k, w;
    uint8_t                  *copy;
    uint64_t                  rnd;
    bulletin_store_t          st;

    copy = malloc(size);
    fuzz_check(copy != NULL);
    memcpy(copy, buf, size);

    fuzz_check(bulletin_store_open(&st, copy, size) == BULLETIN_OK);

    rnd = (uint32_t) crc32_z(seed, buf, size < 4096 ? size : 4096) | 1;

    for (k = 0; k < FUZZ_LIVE_ROUNDS; k++) {
        for (w = 1 + fuzz_rnd(&rnd) % FUZZ_LIVE_WRITES; w > 0; w--) {
            fuzz_live_write(copy, size, &st, &rnd);
        }

        fuzz_live_requests(&st, copy, size, &rnd);
    }

    free(copy);
}


/* a field of a table (or the header, or a byte anywhere) made odd */

static void
fuzz_live_write(uint8_t *buf, size_t size, const bulletin_store_t *st,
    uint64_t *rnd)
{
    size_t                          off, len;
    uint64_t                        v, r;
    const bulletin_store_header_t  *h;

    h = st->header;
    r = fuzz_rnd(rnd);

    switch (r % 6) {

    case 0:
        if (h->page_count == 0) {
            return;
        }

        off = h->records_off
              + fuzz_rnd(rnd) % h->page_count
                * sizeof(bulletin_store_record_t)
              + (fuzz_rnd(rnd) % (sizeof(bulletin_store_record_t) / 4)) * 4;
        break;

    case 1:
        if (h->nsegments == 0) {
            return;
        }

        off = h->segments_off
              + fuzz_rnd(rnd) % h->nsegments
                * sizeof(bulletin_store_segment_t)
              + (fuzz_rnd(rnd) % (sizeof(bulletin_store_segment_t) / 4)) * 4;
        break;

    case 2:
        if (h->nslots == 0) {
            return;
        }

        off = h->slots_off
              + fuzz_rnd(rnd) % h->nslots * sizeof(bulletin_store_slot_t)
              + (fuzz_rnd(rnd) % 2) * 4;
        break;

    case 3:
        off = h->index_off
              + fuzz_rnd(rnd) % h->index_size
                * sizeof(bulletin_store_bucket_t)
              + (fuzz_rnd(rnd) % 2) * 4;
        break;

    case 4:
        off = (fuzz_rnd(rnd) % (sizeof(bulletin_store_header_t) / 4)) * 4;
        break;

    default:
        off = fuzz_rnd(rnd) % size;
        buf[off] = (uint8_t) fuzz_rnd(rnd);
        return;
    }

    /* values at the limits: past the file, at its end, wrapping */

    switch (fuzz_rnd(rnd) % 10) {
    case 0: v = 0; break;
    case 1: v = size; break;
    case 2: v = size - 1; break;
    case 3: v = size + 4096; break;
    case 4: v = UINT32_MAX; break;
    case 5: v = UINT64_MAX; break;
    case 6: v = (uint64_t) 1 << 31; break;
    case 7: v = h->page_count; break;
    case 8: v = BULLETIN_SLOTS_MAX + 1; break;
    default: v = fuzz_rnd(rnd); break;
    }

    len = (fuzz_rnd(rnd) & 1) ? 8 : 4;

    if (off + len > size) {
        len = size - off;
    }

    memcpy(buf + off, &v, len);
}


static void
fuzz_live_requests(const bulletin_store_t *st, uint8_t *buf, size_t size,
    uint64_t *rnd)
{
    int                       gzip, counts;
    size_t                    smax;
    uint32_t                  i;
    bulletin_store_record_t   rec;

    for (i = 0; i < st->header->page_count; i++) {
        if (bulletin_store_record(st, i, &rec) != BULLETIN_OK) {
            continue;
        }

        /* what the handler then reads: id, date, bounded by the record */
        fuzz_check(fuzz_inside(st->base + rec.id_off, rec.id_len, buf, size));
        fuzz_check(fuzz_inside(st->base + rec.title_off, rec.title_len, buf,
                               size));
        fuzz_check(fuzz_inside(st->base + rec.published_off,
                               rec.published_len, buf, size));
        fuzz_date(rec.last_modified);

        (void) bulletin_store_find(st, st->base + rec.id_off, rec.id_len);

        for (gzip = 0; gzip <= 1; gzip++) {
            for (counts = 0; counts <= 1; counts++) {
                (void) fuzz_body(st, &rec, gzip, counts, i, 0, NULL);
            }
        }

        /* the store changes between sizing the body and making it */

        smax = bulletin_body_scratch_max(st, &rec);
        fuzz_live_write(buf, size, st, rnd);
        (void) fuzz_body(st, &rec, fuzz_rnd(rnd) & 1, 1, i, smax, NULL);
    }
}


static uint64_t
fuzz_rnd(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;

    return *x * 0x2545f4914f6cdd1dULL;
}


/* every slot the module asks for is of a known page and kind */

static uint64_t
fuzz_count(void *data, uint32_t page, uint32_t kind)
{
    char           digits[24];
    uint64_t       v;
    fuzz_count_t  *ctx = data;

    fuzz_check(page < ctx->st->header->page_count);
    fuzz_check(kind < BULLETIN_SLOT_CHANNEL + ctx->st->header->nchannels);

    v = fuzz_counts[(ctx->seed + ctx->calls * 7 + page * 3 + kind)
                    % FUZZ_NCOUNTS];

    ctx->calls++;
    ctx->digits += snprintf(digits, sizeof(digits), "%llu",
                            (unsigned long long) v);

    return v;
}


static int
fuzz_inside(const void *p, size_t len, const void *base, size_t size)
{
    uintptr_t  a, b;

    a = (uintptr_t) p;
    b = (uintptr_t) base;

    return a >= b && len <= size && a - b <= size - len;
}
