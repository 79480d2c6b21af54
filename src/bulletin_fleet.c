
/*
 * Copyright (C) bulletin authors
 */


#include <string.h>

#include "bulletin_fleet.h"


#define BULLETIN_FLEET_BODY    offsetof(bulletin_fleet_state_t, pid)
#define BULLETIN_FLEET_TRIES   64

/* 9999-12-31T23:59:59.999Z, in ms */
#define BULLETIN_FLEET_TIME_MAX  253402300799999LL

#define bulletin_fleet_assert(name, cond)                                     \
    typedef char bulletin_fleet_assert_##name[(cond) ? 1 : -1]

bulletin_fleet_assert(state, sizeof(bulletin_fleet_state_t) == 544);
bulletin_fleet_assert(offset, BULLETIN_FLEET_OFFSET
                              >= sizeof(bulletin_counters_header_t));
bulletin_fleet_assert(room, BULLETIN_FLEET_OFFSET
                            + sizeof(bulletin_fleet_state_t)
                            <= BULLETIN_COUNTERS_HEADER);
bulletin_fleet_assert(slot, offsetof(bulletin_counters_slot_t, id) == 128);


static void bulletin_fleet_clean(bulletin_fleet_state_t *st);
static void bulletin_fleet_string(char *s, size_t size);
static int64_t bulletin_fleet_time(int64_t ms);


void
bulletin_fleet_publish(void *region, const bulletin_fleet_state_t *st)
{
    uint64_t                 seq;
    bulletin_fleet_state_t  *f;

    f = (bulletin_fleet_state_t *) ((char *) region + BULLETIN_FLEET_OFFSET);

    seq = __atomic_load_n(&f->seq, __ATOMIC_RELAXED);
    seq += (seq & 1) ? 1 : 2;

    /* odd: a reader that sees it, or sees it change, reads again */

    __atomic_store_n(&f->seq, seq - 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);

    memcpy((char *) f + BULLETIN_FLEET_BODY, (const char *) st
           + BULLETIN_FLEET_BODY, sizeof(bulletin_fleet_state_t)
                                  - BULLETIN_FLEET_BODY);
    memcpy(f->magic, BULLETIN_FLEET_MAGIC, sizeof(f->magic));

    __atomic_store_n(&f->seq, seq, __ATOMIC_RELEASE);
}


int
bulletin_fleet_read(const void *region, bulletin_fleet_state_t *st)
{
    uint64_t                       seq;
    unsigned                       i;
    const bulletin_fleet_state_t  *f;

    f = (const bulletin_fleet_state_t *) ((const char *) region
                                          + BULLETIN_FLEET_OFFSET);

    for (i = 0; i < BULLETIN_FLEET_TRIES; i++) {
        seq = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE);

        memcpy(st, f, sizeof(bulletin_fleet_state_t));

        __atomic_thread_fence(__ATOMIC_ACQUIRE);

        if ((seq & 1) == 0
            && __atomic_load_n(&f->seq, __ATOMIC_RELAXED) == seq)
        {
            break;
        }
    }

    /* a sidecar that writes without end gets its last copy, cleaned */

    if (memcmp(st->magic, BULLETIN_FLEET_MAGIC, sizeof(st->magic)) != 0) {
        return 0;
    }

    bulletin_fleet_clean(st);

    return 1;
}


static void
bulletin_fleet_clean(bulletin_fleet_state_t *st)
{
    st->started = bulletin_fleet_time(st->started);
    st->tick = bulletin_fleet_time(st->tick);
    st->synced = bulletin_fleet_time(st->synced);
    st->error_at = bulletin_fleet_time(st->error_at);

    if (st->lag < -1 || st->lag > BULLETIN_FLEET_TIME_MAX) {
        st->lag = -1;
    }

    if (st->pid < 0 || st->pid > INT32_MAX) {
        st->pid = 0;
    }

    bulletin_fleet_string(st->node, sizeof(st->node));
    bulletin_fleet_string(st->redis, sizeof(st->redis));
    bulletin_fleet_string(st->error, sizeof(st->error));
}


/* NUL-terminated inside its field, printable ASCII but '"' and '\' */

static void
bulletin_fleet_string(char *s, size_t size)
{
    size_t  i;

    s[size - 1] = '\0';

    for (i = 0; s[i]; i++) {
        if (s[i] < ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\') {
            s[i] = '?';
        }
    }

    memset(s + i, 0, size - i);
}


static int64_t
bulletin_fleet_time(int64_t ms)
{
    return (ms < 0 || ms > BULLETIN_FLEET_TIME_MAX) ? 0 : ms;
}
