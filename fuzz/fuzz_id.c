
/*
 * Copyright (C) bulletin authors
 *
 * Id and channel name validation, the id hash and the count formatting,
 * each against a plain statement of what DESIGN.md and the store's
 * header say: ids are 1 to 64 of A-Z a-z 0-9 _ -, the first a letter or
 * digit (or "_" for the builder's own pages), channels 1 to 15 of
 * a-z 0-9 _ -, the hash FNV-1a 32 then murmur3's finalizer.
 */


#include <string.h>

#include "bulletin_body.h"
#include "bulletin_store.h"
#include "fuzz.h"


static int fuzz_id_valid(const uint8_t *id, size_t len, int reserved);
static int fuzz_channel_valid(const uint8_t *name, size_t len);
static uint32_t fuzz_id_hash(const uint8_t *id, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      want[32];
    size_t    n, i;
    uint8_t  *id, digits[BULLETIN_DIGITS_MAX];
    uint32_t  h;
    uint64_t  v;

    /* a copy of exactly size bytes: ASan sees a read past the end */
    id = malloc(size ? size : 1);
    fuzz_check(id != NULL);
    memcpy(id, data, size);

    fuzz_check(bulletin_id_valid(id, size, 0) == fuzz_id_valid(id, size, 0));
    fuzz_check(bulletin_id_valid(id, size, 1) == fuzz_id_valid(id, size, 1));
    fuzz_check(bulletin_channel_valid(id, size)
               == fuzz_channel_valid(id, size));
    fuzz_check(bulletin_id_hash(id, size) == fuzz_id_hash(id, size));

    /* the request path's one pass: the same verdict, the same hash */
    h = 0;
    fuzz_check(bulletin_id_check(id, size, &h)
               == fuzz_id_valid(id, size, 1));
    fuzz_check(!fuzz_id_valid(id, size, 1) || h == fuzz_id_hash(id, size));

    /* a valid id is valid among reserved ones too */
    if (bulletin_id_valid(id, size, 0)) {
        fuzz_check(bulletin_id_valid(id, size, 1));
    }

    /* the digits of a count: any eight bytes are one */

    for (i = 0; i + 8 <= size && i < 64; i += 8) {
        memcpy(&v, id + i, 8);

        /* and a shift, so that short counts come up as often as long */
        v >>= id[i] & 63;

        n = bulletin_format_u64(digits, v);

        fuzz_check(n >= 1 && n <= BULLETIN_DIGITS_MAX);
        fuzz_check((size_t) snprintf(want, sizeof(want), "%llu",
                                     (unsigned long long) v) == n);
        fuzz_check(memcmp(digits, want, n) == 0);
    }

    free(id);

    return 0;
}


static int
fuzz_id_valid(const uint8_t *id, size_t len, int reserved)
{
    size_t  i;

    if (len < 1 || len > 64) {
        return 0;
    }

    if (!(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 "0123456789", id[0]) != NULL && id[0] != '\0')
        && !(reserved && id[0] == '_'))
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (id[i] == '\0'
            || strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_-", id[i]) == NULL)
        {
            return 0;
        }
    }

    return 1;
}


static int
fuzz_channel_valid(const uint8_t *name, size_t len)
{
    size_t  i;

    if (len < 1 || len > 15) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (name[i] == '\0'
            || strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", name[i])
               == NULL)
        {
            return 0;
        }
    }

    return 1;
}


static uint32_t
fuzz_id_hash(const uint8_t *id, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 0x811c9dc5;

    for (i = 0; i < len; i++) {
        h = (h ^ id[i]) * 0x01000193;
    }

    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;

    return h;
}
