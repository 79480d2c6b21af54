
/*
 * Copyright (C) bulletin authors
 */


#include <stdlib.h>
#include <string.h>

#include "bulletin_arena.h"


struct bulletin_arena_block_s {
    bulletin_arena_block_t  *next;
    size_t                   used;
    size_t                   size;
    uint8_t                  data[];
};


uint8_t *
bulletin_arena_copy(bulletin_arena_t *a, const uint8_t *p, size_t len)
{
    size_t                   size;
    uint8_t                 *d;
    bulletin_arena_block_t  *b;

    b = a->blocks;

    if (b == NULL || b->size - b->used < len) {
        size = len > BULLETIN_ARENA_BLOCK ? len : BULLETIN_ARENA_BLOCK;

        b = malloc(sizeof(bulletin_arena_block_t) + size);
        if (b == NULL) {
            return NULL;
        }

        b->next = a->blocks;
        b->used = 0;
        b->size = size;
        a->blocks = b;
    }

    d = b->data + b->used;
    b->used += len;

    if (len) {
        memcpy(d, p, len);
    }

    return d;
}


void
bulletin_arena_free(bulletin_arena_t *a)
{
    bulletin_arena_block_t  *b, *next;

    for (b = a->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }

    a->blocks = NULL;
}
