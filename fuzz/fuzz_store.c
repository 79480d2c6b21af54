
/*
 * Copyright (C) bulletin authors
 *
 * The store verifier with arbitrary bytes, then everything the module
 * trusts once a store is accepted: the look-up of every page's id and of
 * ids that are not there, and every page's body, plain and gzip, with
 * counts and without.  An accepted store must never make these read
 * outside the file: the input is copied into a buffer of exactly its
 * size, so ASan reports the first byte past it.
 *
 * A mutated input almost never keeps its checksum, so each input is
 * verified twice: as it is, and with file_size and the checksum made
 * right, so that the checks after the checksum see the mutations.
 */


#include <string.h>
#include <zlib.h>

#include "bulletin_crc.h"
#include "bulletin_store.h"
#include "bulletin_args.h"
#include "fuzz.h"


typedef struct {
    const bulletin_store_t  *st;
    uint32_t                 seed;
    uint32_t                 calls;
    uint64_t                 digits;
} fuzz_count_t;


static void fuzz_store(const uint8_t *buf, size_t size, uint32_t seed);
static void fuzz_find(const bulletin_store_t *st, const uint8_t *id,
    size_t len);
static void fuzz_body(const bulletin_store_t *st,
    const bulletin_store_record_t *rec, int gzip, int counts,
    uint32_t seed);
static void fuzz_body_crc(const bulletin_store_t *st,
    const bulletin_store_record_t *rec, const bulletin_chunk_t *plain,
    size_t nplain, const bulletin_chunk_t *gz, size_t ngz);
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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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

        crc = bulletin_crc32(0, buf, offsetof(bulletin_store_header_t,
                                              checksum));
        crc = bulletin_crc32(crc, zero, sizeof(zero));
        crc = bulletin_crc32(crc, buf + offsetof(bulletin_store_header_t,
                                                 checksum) + sizeof(zero),
                             size - offsetof(bulletin_store_header_t,
                                             checksum) - sizeof(zero));

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
    uint8_t                         id[BULLETIN_ID_MAX + 2];
    uint8_t                         args[32];
    uint32_t                        i;
    bulletin_store_t                st;
    const bulletin_store_record_t  *r;

    rc = bulletin_store_open(&st, buf, size);

    if (rc != BULLETIN_OK) {
        fuzz_check(rc > BULLETIN_OK && rc < BULLETIN_ERR_LAST);
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

    for (i = 0; i < st.header->page_count; i++) {
        r = &st.records[i];

        fuzz_check(bulletin_store_find(&st, buf + r->id_off, r->id_len)
                   == i);

        /* ids next to this one: shorter, longer, one byte changed */

        memcpy(id, buf + r->id_off, r->id_len);
        id[r->id_len] = 'a';
        fuzz_find(&st, id, r->id_len - 1);
        fuzz_find(&st, id, r->id_len + 1);
        id[0] ^= 1;
        fuzz_find(&st, id, r->id_len);

        fuzz_body(&st, r, 0, 0, seed);
        fuzz_body(&st, r, 0, 1, seed + i);
        fuzz_body(&st, r, 1, 0, seed);
        fuzz_body(&st, r, 1, 1, seed + i);
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


static void
fuzz_body(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    int gzip, int counts, uint32_t seed)
{
    size_t             i, j, n, nmax, smax, nplain;
    uint8_t           *scratch, *pscratch;
    uint64_t           total, sum, want;
    fuzz_count_t       ctx;
    bulletin_chunk_t  *chunks, *plain;

    nmax = bulletin_body_chunks_max(rec);
    smax = bulletin_body_scratch_max(st, rec);

    /* exactly what the module allocates: ASan sees any byte more */
    chunks = malloc(nmax * sizeof(bulletin_chunk_t));
    scratch = malloc(smax);
    fuzz_check(chunks != NULL && scratch != NULL);

    ctx.st = st;
    ctx.seed = seed;
    ctx.calls = 0;
    ctx.digits = 0;

    n = (size_t) -1;
    total = bulletin_body(st, rec, gzip, counts ? fuzz_count : NULL, &ctx,
                          scratch, chunks, &n);

    fuzz_check(n <= nmax);
    fuzz_check(ctx.calls == (counts ? rec->nslots : 0));

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

    /*
     * The gzip trailer against the CRC of the plain body with the same
     * counts, when the page's segment CRCs are right (a builder's store;
     * the fuzzer's checksum fix-up lets any CRC through, and a wrong CRC
     * in a store with a right checksum is the builder's bug, not this).
     */

    if (gzip && counts) {
        plain = malloc(nmax * sizeof(bulletin_chunk_t));
        pscratch = malloc(smax);
        fuzz_check(plain != NULL && pscratch != NULL);

        ctx.calls = 0;
        ctx.digits = 0;

        (void) bulletin_body(st, rec, 0, fuzz_count, &ctx, pscratch, plain,
                             &nplain);

        fuzz_body_crc(st, rec, plain, nplain, chunks, n);

        free(pscratch);
        free(plain);
    }

    free(scratch);
    free(chunks);
}


static void
fuzz_body_crc(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    const bulletin_chunk_t *plain, size_t nplain, const bulletin_chunk_t *gz,
    size_t ngz)
{
    size_t                           i;
    uLong                            crc;
    uint64_t                         len;
    const uint8_t                   *tail;
    const bulletin_store_segment_t  *seg;

    seg = &st->segments[rec->segment_first];

    for (i = 0; i <= rec->nslots; i++) {
        if (seg[i].plain_len != 0
            && (crc32(0, st->base + seg[i].plain_off, seg[i].plain_len)
                != seg[i].crc
                || bulletin_crc32_op(seg[i].plain_len) != seg[i].crc_op))
        {
            return;
        }
    }

    crc = crc32(0, Z_NULL, 0);
    len = 0;

    for (i = 0; i < nplain; i++) {
        crc = crc32(crc, plain[i].data, plain[i].len);
        len += plain[i].len;
    }

    tail = gz[ngz - 1].data + gz[ngz - 1].len - 8;

    fuzz_check(tail[0] == (uint8_t) crc && tail[1] == (uint8_t) (crc >> 8)
               && tail[2] == (uint8_t) (crc >> 16)
               && tail[3] == (uint8_t) (crc >> 24));
    fuzz_check(tail[4] == (uint8_t) len && tail[5] == (uint8_t) (len >> 8)
               && tail[6] == (uint8_t) (len >> 16)
               && tail[7] == (uint8_t) (len >> 24));
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
