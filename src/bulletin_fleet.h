
/*
 * Copyright (C) bulletin authors
 *
 * A fleet (issue 15): nginx nodes that each count their own views in a
 * counters file, and a bulletin-sync beside each that trades the counts
 * through Redis.  What the sidecar hands nginx lives in that same file,
 * which nginx already maps, so nginx maps nothing new:
 *
 *   the slots' fleet fields   the other nodes' counts of the page
 *                             (bulletin_counters_slot_t), which the
 *                             request path adds to its own, one more
 *                             atomic load a count;
 *   the fleet state           at BULLETIN_FLEET_OFFSET in the header, past
 *                             what the header's checksum covers: who
 *                             syncs, when it last did, the last error,
 *                             for the status.
 *
 * The sidecar writes both; nginx only reads them, and trusts nothing of
 * them: counts are numbers it adds, the state is copied out under its
 * sequence number, times outside 1970..9999 read as unknown, and strings
 * end inside their fields and hold printable ASCII only.
 */


#ifndef _BULLETIN_FLEET_H_INCLUDED_
#define _BULLETIN_FLEET_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_counters.h"


#define BULLETIN_FLEET_MAGIC       "BLTFLEET"
#define BULLETIN_FLEET_OFFSET      1024
#define BULLETIN_FLEET_NODE_MAX    64
#define BULLETIN_FLEET_REDIS_MAX   128
#define BULLETIN_FLEET_ERROR_MAX   256


typedef struct {
    char                    magic[8];       /* BULLETIN_FLEET_MAGIC; zeros:
                                               no sidecar ever synced */
    uint64_t                seq;            /* odd while it is written */
    int64_t                 pid;            /* the sidecar's */
    int64_t                 started;        /* ms since the epoch, all */
    int64_t                 tick;           /* the last tick, whatever
                                               its outcome */
    int64_t                 synced;         /* the last successful tick;
                                               0: none yet */
    int64_t                 lag;            /* ms, at that tick: the age
                                               of the newest other node's
                                               counts it applied; -1: none */
    int64_t                 error_at;       /* when error was set */
    uint64_t                syncs;          /* successful ticks */
    uint64_t                errors;         /* failed ticks */
    uint32_t                interval;       /* ms */
    uint32_t                nodes;          /* nodes the fleet's counts
                                               sum, this one included */
    uint32_t                nodes_live;     /* of which published within
                                               the last minute */
    uint32_t                reserved;
    char                    node[BULLETIN_FLEET_NODE_MAX];
    char                    redis[BULLETIN_FLEET_REDIS_MAX];
                                            /* "host:port/db" */
    char                    error[BULLETIN_FLEET_ERROR_MAX];
                                            /* the last error; "": none
                                               since the sidecar started */
} bulletin_fleet_state_t;                   /* 544 bytes */


/*
 * Writes the state into a counters region (the sidecar): the sequence
 * number is odd while the fields change.  The caller's magic, seq and
 * strings' padding are ignored.
 */
void bulletin_fleet_publish(void *region, const bulletin_fleet_state_t *st);

/*
 * Copies a region's state out (nginx), retrying a copy torn by a write,
 * and cleans it as above.  Returns 0 when no sidecar ever wrote one, 1
 * when *st holds it.
 */
int bulletin_fleet_read(const void *region, bulletin_fleet_state_t *st);


#endif /* _BULLETIN_FLEET_H_INCLUDED_ */
