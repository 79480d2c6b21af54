
/*
 * Copyright (C) bulletin authors
 *
 * A table of ids by bulletin_id_hash(), open addressing with linear
 * probing, for the writer, the builder and the counters zone.  It holds
 * no id: an entry is the index of an id in the caller's array, plus one
 * (0: empty), and the caller's key callback gives the id of an index.
 *
 * A table either grows (initialized with no entries: add allocates them)
 * or lives in memory its caller gives (bulletin_idtab_size() entries,
 * zeroed, from an nginx pool say) and holds as many ids as it was sized
 * for.  The store's index, part of the file format, is not one of these:
 * its buckets hold the hash beside the record.
 */


#ifndef _BULLETIN_IDTAB_H_INCLUDED_
#define _BULLETIN_IDTAB_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the id of index, *len its length */
typedef const uint8_t *(*bulletin_idtab_key_pt)(const void *ctx,
    uint32_t index, size_t *len);

typedef struct {
    uint32_t                *entries;       /* index + 1; 0: empty */
    uint32_t                 mask;          /* entries - 1 */
    uint32_t                 n;             /* ids held */
    int                      fixed;         /* the caller's entries */
    bulletin_idtab_key_pt    key;
    const void              *ctx;
} bulletin_idtab_t;


/* the entries a table of n ids takes: a power of 2 above 2 * n */
size_t bulletin_idtab_size(uint32_t n);

/* entries: NULL for a table that grows, or size zeroed entries */
void bulletin_idtab_init(bulletin_idtab_t *t, uint32_t *entries,
    size_t size, bulletin_idtab_key_pt key, const void *ctx);

/* the index of id, or -1 */
int64_t bulletin_idtab_find(const bulletin_idtab_t *t, const uint8_t *id,
    size_t len);

/*
 * Adds index, whose id the table does not hold: BULLETIN_ERR_NOMEM when
 * a table cannot grow, BULLETIN_ERR_TOO_LARGE when the caller's is full
 */
int bulletin_idtab_add(bulletin_idtab_t *t, uint32_t index);

/* frees what add allocated */
void bulletin_idtab_free(bulletin_idtab_t *t);


#endif /* _BULLETIN_IDTAB_H_INCLUDED_ */
