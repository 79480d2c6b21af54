
/*
 * Copyright (C) bulletin authors
 */


#include <stdlib.h>
#include <string.h>

#include "bulletin_idtab.h"
#include "bulletin_store.h"


#define BULLETIN_IDTAB_MIN  16


static int bulletin_idtab_grow(bulletin_idtab_t *t);
static void bulletin_idtab_put(uint32_t *entries, uint32_t mask,
    uint32_t hash, uint32_t index);


size_t
bulletin_idtab_size(uint32_t n)
{
    size_t  size;

    for (size = BULLETIN_IDTAB_MIN; size <= 2 * (size_t) n; size *= 2) {
        /* void */
    }

    return size;
}


void
bulletin_idtab_init(bulletin_idtab_t *t, uint32_t *entries, size_t size,
    bulletin_idtab_key_pt key, const void *ctx)
{
    t->entries = entries;
    t->mask = entries ? (uint32_t) (size - 1) : 0;
    t->n = 0;
    t->fixed = (entries != NULL);
    t->key = key;
    t->ctx = ctx;
}


int64_t
bulletin_idtab_find(const bulletin_idtab_t *t, const uint8_t *id,
    size_t len)
{
    size_t          klen;
    uint32_t        i, e;
    const uint8_t  *k;

    if (t->entries == NULL) {
        return -1;
    }

    for (i = bulletin_id_hash(id, len) & t->mask;
         /* void */;
         i = (i + 1) & t->mask)
    {
        e = t->entries[i];

        if (e == 0) {
            return -1;
        }

        k = t->key(t->ctx, e - 1, &klen);

        if (klen == len && memcmp(k, id, len) == 0) {
            return e - 1;
        }
    }
}


int
bulletin_idtab_add(bulletin_idtab_t *t, uint32_t index)
{
    int             rc;
    size_t          len;
    const uint8_t  *id;

    /* a fixed table keeps an empty entry, which ends every probe */

    if (t->fixed) {
        if (t->n >= t->mask) {
            return BULLETIN_ERR_TOO_LARGE;
        }

    } else if (t->entries == NULL
               || 2 * ((uint64_t) t->n + 1) > (uint64_t) t->mask + 1)
    {
        rc = bulletin_idtab_grow(t);
        if (rc != BULLETIN_OK) {
            return rc;
        }
    }

    id = t->key(t->ctx, index, &len);

    bulletin_idtab_put(t->entries, t->mask, bulletin_id_hash(id, len), index);
    t->n++;

    return BULLETIN_OK;
}


void
bulletin_idtab_free(bulletin_idtab_t *t)
{
    if (!t->fixed) {
        free(t->entries);
    }

    t->entries = NULL;
    t->mask = 0;
    t->n = 0;
}


static int
bulletin_idtab_grow(bulletin_idtab_t *t)
{
    size_t          size, len;
    uint32_t        i, e, mask, *entries;
    const uint8_t  *id;

    size = t->entries ? 2 * ((size_t) t->mask + 1) : BULLETIN_IDTAB_MIN;

    if (size - 1 > UINT32_MAX) {
        return BULLETIN_ERR_TOO_LARGE;
    }

    entries = calloc(size, sizeof(uint32_t));
    if (entries == NULL) {
        return BULLETIN_ERR_NOMEM;
    }

    mask = (uint32_t) (size - 1);

    if (t->entries != NULL) {
        for (i = 0; i <= t->mask; i++) {
            e = t->entries[i];

            if (e != 0) {
                id = t->key(t->ctx, e - 1, &len);
                bulletin_idtab_put(entries, mask, bulletin_id_hash(id, len),
                                   e - 1);
            }
        }

        free(t->entries);
    }

    t->entries = entries;
    t->mask = mask;

    return BULLETIN_OK;
}


static void
bulletin_idtab_put(uint32_t *entries, uint32_t mask, uint32_t hash,
    uint32_t index)
{
    uint32_t  i;

    for (i = hash & mask; entries[i] != 0; i = (i + 1) & mask) {
        /* void */
    }

    entries[i] = index + 1;
}
