
/*
 * Copyright (C) bulletin authors
 *
 * bulletin-sync's memory of the fleet (issue 15): for each page id, the
 * counts each node key published, merged by max per (node key, page id,
 * field), so that entries read in any order, and read again, give the
 * same table, and nothing in it ever goes down.  A node key is
 * "NAME/CREATED": a node's counters file, one incarnation of it.
 *
 * And the parsing of what other sidecars wrote into Redis, which is
 * untrusted input: every function here bounds what it reads and says
 * whether it was well formed.  Plain C99 with no Redis header.
 */


#ifndef _BULLETIN_SYNC_TABLE_H_INCLUDED_
#define _BULLETIN_SYNC_TABLE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_store.h"
#include "bulletin_idtab.h"


#define BULLETIN_SYNC_NODES_MAX   1024
#define BULLETIN_SYNC_NAME_MAX    48
#define BULLETIN_SYNC_KEY_SIZE    72      /* NAME "/" CREATED, NUL */
#define BULLETIN_SYNC_FIELDS      (1 + BULLETIN_CHANNELS_MAX)
/* "VIEWS S0 ... S7": nine numbers, spaces, NUL */
#define BULLETIN_SYNC_VALUE_SIZE  (BULLETIN_SYNC_FIELDS                       \
                                   * (BULLETIN_DIGITS_MAX + 1))
#define BULLETIN_SYNC_CHANNELS    "_channels"


/* v[0]: views; v[1 + k]: shares of this zone's channel k */

typedef struct {
    uint64_t                v[BULLETIN_SYNC_FIELDS];
} bulletin_sync_counts_t;


/* a node's channels, as its "_channels" or an entry's "c" names them */

typedef struct {
    uint32_t                n;
    int8_t                  local[BULLETIN_CHANNELS_MAX];
                                            /* this zone's index; -1:
                                               not counted here */
} bulletin_sync_map_t;


typedef struct {
    uint32_t                node;
    uint32_t                next;           /* value index + 1; 0: none */
    bulletin_sync_counts_t  c;
} bulletin_sync_value_t;


typedef struct {
    char                    id[BULLETIN_ID_MAX];  /* not NUL-terminated */
    uint32_t                len;
    uint32_t                values;         /* first value index + 1 */
    uint32_t                dirty;          /* in the dirty list */
} bulletin_sync_page_t;


typedef struct {
    bulletin_sync_page_t   *pages;
    bulletin_sync_value_t  *values;
    uint32_t               *dirty;          /* pages whose sum changed */
    uint32_t                npages;
    uint32_t                pages_size;
    uint32_t                nvalues;
    uint32_t                values_size;
    uint32_t                ndirty;
    uint32_t                nnodes;
    uint32_t                own;            /* own key's node index */
    bulletin_idtab_t        index;
    char                    nodes[BULLETIN_SYNC_NODES_MAX]
                                 [BULLETIN_SYNC_KEY_SIZE];
} bulletin_sync_table_t;


/* a node name: 1 to 48 of A-Z a-z 0-9 . _ - */
int bulletin_sync_name_valid(const char *s, size_t len);

/* a node key: a node name, "/", a decimal unix time */
int bulletin_sync_key_valid(const char *s, size_t len);

/* a decimal uint64, digits only, no overflow: 1, or 0 */
int bulletin_sync_parse_u64(const char *s, size_t len, uint64_t *v);

/*
 * Space-separated channel names (at most BULLETIN_CHANNELS_MAX, each
 * valid) matched by name to this zone's channels: 1, or 0 if malformed
 */
int bulletin_sync_parse_map(bulletin_sync_map_t *map, const char *s,
    size_t len, const char (*channels)[BULLETIN_CHANNEL_SIZE],
    uint32_t nchannels);

/* "VIEWS S0 ... S(n-1)", n the map's: 1, or 0 if malformed */
int bulletin_sync_parse_counts(const bulletin_sync_map_t *map,
    const char *s, size_t len, bulletin_sync_counts_t *c);

/* "ID VIEWS S0 ... S(n-1)": 1, or 0 if malformed */
int bulletin_sync_parse_line(const bulletin_sync_map_t *map, const char *s,
    size_t len, const char **id, size_t *id_len, bulletin_sync_counts_t *c);

/* "MS PID HOST", a node's entry in the nodes hash: MS, or -1 */
int64_t bulletin_sync_parse_node(const char *s, size_t len);

/*
 * "VIEWS S0 ... S(n-1)" of this zone's n channels, NUL-terminated, in
 * BULLETIN_SYNC_VALUE_SIZE bytes: the length
 */
size_t bulletin_sync_format(char *buf, const bulletin_sync_counts_t *c,
    uint32_t nchannels);

/* an id that is not a page's: the hash's field of the channels */
int bulletin_sync_id_valid(const char *id, size_t len);

void bulletin_sync_table_init(bulletin_sync_table_t *t, const char *own,
    size_t len);
void bulletin_sync_table_free(bulletin_sync_table_t *t);

/* the index of a node key, interned: -1 if invalid, or the table full */
int64_t bulletin_sync_table_node(bulletin_sync_table_t *t, const char *key,
    size_t len);

/*
 * Merges a node's counts of a page, the max of each field: 1 when they
 * rose (a page of another node is then in the dirty list), 0 when not,
 * -1 when memory ran out.  The id must be valid.
 */
int bulletin_sync_table_merge(bulletin_sync_table_t *t, uint32_t node,
    const char *id, size_t len, const bulletin_sync_counts_t *c);

/* the index of a page, or -1 */
int64_t bulletin_sync_table_find(const bulletin_sync_table_t *t,
    const char *id, size_t len);

/* the sum over every node key but the own one, saturating */
void bulletin_sync_table_sum(const bulletin_sync_table_t *t, uint32_t page,
    bulletin_sync_counts_t *sum);

/* empties the dirty list */
void bulletin_sync_table_clean(bulletin_sync_table_t *t);


#endif /* _BULLETIN_SYNC_TABLE_H_INCLUDED_ */
