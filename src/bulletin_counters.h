
/*
 * Copyright (C) bulletin authors
 *
 * The counters region: a slot of 64-bit counters per page id, in nginx
 * shared memory or in a file every nginx generation maps shared.  Plain
 * C99 with no nginx header, so the unit tests drive it directly.
 *
 *   header   4096 bytes: identity, then two copies of the mutable state
 *   slots    bulletin_counters_slot_t [capacity], capacity from the size
 *
 * The identity holds the name of the zone the file counts for, so that
 * another nginx cannot take the file by mistake.  Files made before the
 * name was recorded have zeros there, and are named by the first master
 * that loads them: until a state copy covers the name, a copy is also
 * valid with the name read as zeros, so a naming cut short by a crash
 * leaves the file as it was, unnamed.
 *
 * Slots are appended and never reused.  A slot's id is written before
 * the state that covers it: an append cut short leaves ids past "used"
 * that the next check adopts, and a state copy cut short leaves the
 * other copy, so a crash at any point loses no slot and no count.  The
 * slots do not move when the region grows, so generations that map the
 * file with different sizes still add into the same counters.
 */


#ifndef _BULLETIN_COUNTERS_H_INCLUDED_
#define _BULLETIN_COUNTERS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_store.h"


#define BULLETIN_COUNTERS_MAGIC      "BLTCOUNT"
#define BULLETIN_COUNTERS_VERSION    1
#define BULLETIN_COUNTERS_HEADER     4096
#define BULLETIN_COUNTERS_ZONE_MAX   32


/*
 * A slot.  nginx adds to views, excluded and shares; the fleet's fields
 * are the other nodes' counts, which bulletin-sync writes (issue 15, see
 * bulletin_fleet.h) and nginx only reads: zeros on a node without it.
 * They took the place of reserved zeros, so the format is unchanged.
 */

typedef struct {
    uint64_t                views;
    uint64_t                excluded;
    uint64_t                shares[BULLETIN_CHANNELS_MAX];
    uint64_t                fleet_views;
    uint64_t                fleet_shares;     /* of every channel */
    uint32_t                fleet_channel[BULLETIN_CHANNELS_MAX];
                                              /* saturated at UINT32_MAX */
    char                    id[BULLETIN_ID_MAX];  /* NUL-padded; empty:
                                                     a free slot */
} bulletin_counters_slot_t;                       /* 192 bytes */


typedef struct {
    uint64_t                seq;            /* the newer valid copy wins */
    uint32_t                used;           /* slots whose ids crc covers */
    uint32_t                nchannels;
    char                    channels[BULLETIN_CHANNELS_MAX]
                                    [BULLETIN_CHANNEL_SIZE];
    uint32_t                crc;            /* of the identity, this copy
                                               (crc as 0), the used ids */
    uint32_t                reserved;
} bulletin_counters_state_t;                /* 152 bytes */


typedef struct {
    char                    magic[8];       /* BULLETIN_COUNTERS_MAGIC */
    uint32_t                version;
    uint32_t                byte_order;     /* BULLETIN_STORE_BYTE_ORDER */
    uint32_t                header_size;    /* BULLETIN_COUNTERS_HEADER */
    uint32_t                slot_size;      /* sizeof(slot) */
    int64_t                 created;        /* unix time: counting since */
    char                    zone[BULLETIN_COUNTERS_ZONE_MAX];
                                            /* NUL-padded; empty: not
                                               named yet */
    bulletin_counters_state_t  state[2];
} bulletin_counters_header_t;


/* what a check found */

typedef struct {
    uint32_t                capacity;
    uint32_t                used;           /* after adoption */
    uint32_t                state;          /* the copy in force */
    uint32_t                nchannels;
    char                    channels[BULLETIN_CHANNELS_MAX]
                                    [BULLETIN_CHANNEL_SIZE];
    int64_t                 created;
    char                    zone[BULLETIN_COUNTERS_ZONE_MAX + 1];
                                            /* "": not named yet */
} bulletin_counters_info_t;


enum {
    BULLETIN_COUNTERS_OK = 0,
    BULLETIN_COUNTERS_ERR_SHORT = BULLETIN_ERR_LAST,
    BULLETIN_COUNTERS_ERR_MAGIC,
    BULLETIN_COUNTERS_ERR_VERSION,
    BULLETIN_COUNTERS_ERR_BYTE_ORDER,
    BULLETIN_COUNTERS_ERR_SLOT_SIZE,
    BULLETIN_COUNTERS_ERR_CHECKSUM,
    BULLETIN_COUNTERS_ERR_STATE,
    BULLETIN_COUNTERS_ERR_FULL,
    BULLETIN_COUNTERS_ERR_CHANNELS,
    BULLETIN_COUNTERS_ERR_ZONE,
    BULLETIN_COUNTERS_ERR_LAST
};


const char *bulletin_counters_strerror(int err);

/* slots a region of size bytes holds */
uint32_t bulletin_counters_capacity(size_t size);

/* the region size that holds n slots */
size_t bulletin_counters_size(uint32_t n);

/* a zone name a region can record: 1 to 32 of '!' to '~' but '"' and '\' */
int bulletin_counters_zone_valid(const char *name, size_t len);

/* formats a zeroed region, for the zone name (len 0: unnamed) */
void bulletin_counters_format(void *region, size_t size, int64_t created,
    const char *zone, size_t len);

/*
 * Checks a region: identity, one valid state copy, ids; adopts the ids
 * an interrupted append left past "used".  detail (BULLETIN_DETAIL_MAX
 * bytes) says what failed.
 */
int bulletin_counters_check(const void *region, size_t size,
    bulletin_counters_info_t *info, char *detail);

/*
 * Makes info's state durable: writes it into the copy not in force,
 * covering ids [0, info->used) and info's zone name (none clears what a
 * naming cut short left).  The caller has written those ids.
 */
void bulletin_counters_commit(void *region, bulletin_counters_info_t *info);

/*
 * Records the zone name in a region that has none (info->zone empty):
 * the next commit covers it, and until then the copy in force stays
 * valid, with no name.  The caller holds the region as for a commit.
 */
void bulletin_counters_name(void *region, bulletin_counters_info_t *info,
    const char *zone, size_t len);

/* the slot of index i */
bulletin_counters_slot_t *bulletin_counters_slot(void *region, uint32_t i);

/* the length of a slot's id */
size_t bulletin_counters_id_len(const bulletin_counters_slot_t *slot);


#endif /* _BULLETIN_COUNTERS_H_INCLUDED_ */
