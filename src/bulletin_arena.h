
/*
 * Copyright (C) bulletin authors
 *
 * Strings that live as long as a build: copied into large blocks, freed
 * all at once.  The builder and the store writer keep a few bytes a page
 * this way, so their memory grows with the pages, not with malloc()s.
 */


#ifndef _BULLETIN_ARENA_H_INCLUDED_
#define _BULLETIN_ARENA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define BULLETIN_ARENA_BLOCK  (256 * 1024)


typedef struct bulletin_arena_block_s  bulletin_arena_block_t;

typedef struct {
    bulletin_arena_block_t  *blocks;
} bulletin_arena_t;


/* a copy of len bytes at p, or NULL when out of memory */
uint8_t *bulletin_arena_copy(bulletin_arena_t *a, const uint8_t *p,
    size_t len);
void bulletin_arena_free(bulletin_arena_t *a);


#endif /* _BULLETIN_ARENA_H_INCLUDED_ */
