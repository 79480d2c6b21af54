
/*
 * Copyright (C) bulletin authors
 *
 * The store format's definitions, shared by the verifier, the request
 * path and the writer: errors, what ids, channels and texts may be, the
 * id hash, the etag and the FNV-1a 64 of contents and generations.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bulletin_store.h"


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


static const char  bulletin_hex2[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";


const char *
bulletin_strerror(int err)
{
    if (err < 0 || err >= BULLETIN_ERR_LAST) {
        return "unknown error";
    }

    return bulletin_errors[err];
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


/* murmur3's finalizer, the last step of bulletin_id_hash() */

static inline uint32_t
bulletin_id_hash_final(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;

    return h;
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

    return bulletin_id_hash_final(h);
}


/* for bulletin_id_check(): 1 anywhere, 2 not first ('-'), 0 never */

static const uint8_t  bulletin_id_chars[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['_'] = 1, ['-'] = 2
};


/*
 * bulletin_id_valid(id, len, 1) and bulletin_id_hash(id, len) in one
 * pass over the id, for the request path: 1 and the hash, or 0
 */

int
bulletin_id_check(const uint8_t *id, size_t len, uint32_t *hash)
{
    size_t    i;
    uint32_t  h;

    if (len == 0 || len > BULLETIN_ID_MAX || bulletin_id_chars[id[0]] != 1) {
        return 0;
    }

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        if (bulletin_id_chars[id[i]] == 0) {
            return 0;
        }

        h ^= id[i];
        h *= 16777619u;
    }

    *hash = bulletin_id_hash_final(h);

    return 1;
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


uint64_t
bulletin_store_inputs(const bulletin_store_t *st, uint32_t page)
{
    uint64_t                        v;
    const bulletin_store_header_t  *h;

    h = st->header;

    /* the verifier saw the section inside the file, in the header's copy */

    if (h->inputs_off == 0 || page >= h->page_count) {
        return 0;
    }

    memcpy(&v, st->base + h->inputs_off + (uint64_t) page * sizeof(v),
           sizeof(v));

    return v;
}


int
bulletin_store_source(const bulletin_store_t *st, uint32_t page,
    bulletin_store_source_t *src)
{
    const bulletin_store_header_t  *h;

    h = st->header;

    if (h->sources_off == 0 || page >= h->page_count) {
        return -1;
    }

    memcpy(src, st->base + h->sources_off
                + (uint64_t) page * sizeof(bulletin_store_source_t),
           sizeof(bulletin_store_source_t));

    /* as bulletin_store_record() does: the copy is what is checked */

    if (src->path_len == 0
        || src->path_len > BULLETIN_SOURCE_PATH_MAX
        || src->category_len > BULLETIN_CATEGORY_MAX
        || !bulletin_store_in_data(h, src->path_off, src->path_len)
        || (src->category_len
            ? !bulletin_store_in_data(h, src->category_off, src->category_len)
            : src->category_off != 0)
        || !bulletin_time_valid(src->published_at))
    {
        return -1;
    }

    return 0;
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
