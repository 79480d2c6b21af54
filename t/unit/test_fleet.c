/*
 * Copyright (C) bulletin authors
 *
 * The fleet's hand-over in the counters file (bulletin_fleet.h): the
 * slots' fleet fields and the state block lie where the layout says,
 * outside what the header's checksum covers, so a sidecar writing them
 * never makes nginx refuse the file; the state reads back as written;
 * what nginx reads is cleaned whatever the block holds (strings without
 * an end, control bytes, quotes, times past 9999, a negative pid); a
 * block that was never written reads as none; a block whose sequence
 * number stays odd (a writer stuck mid-way) is still read, cleaned,
 * within a bounded number of tries.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bulletin_store.h"
#include "bulletin_counters.h"
#include "bulletin_fleet.h"


#define NSLOTS      4
#define CREATED     1700000000LL


static void *
region(size_t *size)
{
    void  *r;

    *size = bulletin_counters_size(NSLOTS);

    r = calloc(1, *size);
    assert_non_null(r);

    bulletin_counters_format(r, *size, CREATED, "bulletin", 8);

    return r;
}


static bulletin_fleet_state_t *
block(void *r)
{
    return (bulletin_fleet_state_t *) ((char *) r + BULLETIN_FLEET_OFFSET);
}


static void
sample(bulletin_fleet_state_t *st)
{
    memset(st, 0, sizeof(*st));

    st->pid = 4321;
    st->started = 1700000000123LL;
    st->tick = 1700000009000LL;
    st->synced = 1700000008999LL;
    st->lag = 250;
    st->error_at = 1700000005000LL;
    st->syncs = 17;
    st->errors = 2;
    st->interval = 1000;
    st->nodes = 3;
    st->nodes_live = 2;
    strcpy(st->node, "web-1.example");
    strcpy(st->redis, "10.0.0.5:6379/2");
    strcpy(st->error, "connection refused");
}


static void
test_layout(void **state)
{
    assert_int_equal(offsetof(bulletin_counters_slot_t, views), 0);
    assert_int_equal(offsetof(bulletin_counters_slot_t, fleet_views), 80);
    assert_int_equal(offsetof(bulletin_counters_slot_t, fleet_shares), 88);
    assert_int_equal(offsetof(bulletin_counters_slot_t, fleet_channel), 96);
    assert_int_equal(offsetof(bulletin_counters_slot_t, id), 128);
    assert_int_equal(sizeof(bulletin_counters_slot_t), 192);

    assert_true(BULLETIN_FLEET_OFFSET >= sizeof(bulletin_counters_header_t));
    assert_true(BULLETIN_FLEET_OFFSET + sizeof(bulletin_fleet_state_t)
                <= BULLETIN_COUNTERS_HEADER);
}


/* what the sidecar writes leaves the file as nginx checks it */

static void
test_outside_checksum(void **state)
{
    size_t                      size;
    void                       *r;
    char                        detail[BULLETIN_DETAIL_MAX];
    bulletin_fleet_state_t      st;
    bulletin_counters_info_t    info;
    bulletin_counters_slot_t   *slot;

    r = region(&size);

    assert_int_equal(bulletin_counters_check(r, size, &info, detail),
                     BULLETIN_COUNTERS_OK);

    slot = bulletin_counters_slot(r, 0);
    memcpy(slot->id, "a", 1);
    info.used = 1;
    bulletin_counters_commit(r, &info);

    sample(&st);
    bulletin_fleet_publish(r, &st);

    slot->fleet_views = 1000;
    slot->fleet_shares = 30;
    slot->fleet_channel[0] = 20;
    slot->fleet_channel[1] = 10;

    assert_int_equal(bulletin_counters_check(r, size, &info, detail),
                     BULLETIN_COUNTERS_OK);
    assert_int_equal(info.used, 1);

    free(r);
}


static void
test_round_trip(void **state)
{
    size_t                   size;
    void                    *r;
    bulletin_fleet_state_t   st, got;

    r = region(&size);

    /* never written: none */

    assert_int_equal(bulletin_fleet_read(r, &got), 0);

    sample(&st);
    bulletin_fleet_publish(r, &st);

    assert_int_equal(block(r)->seq % 2, 0);
    assert_int_equal(bulletin_fleet_read(r, &got), 1);

    assert_memory_equal(got.magic, BULLETIN_FLEET_MAGIC, 8);
    assert_int_equal(got.pid, st.pid);
    assert_int_equal(got.started, st.started);
    assert_int_equal(got.tick, st.tick);
    assert_int_equal(got.synced, st.synced);
    assert_int_equal(got.lag, st.lag);
    assert_int_equal(got.error_at, st.error_at);
    assert_int_equal(got.syncs, st.syncs);
    assert_int_equal(got.errors, st.errors);
    assert_int_equal(got.interval, st.interval);
    assert_int_equal(got.nodes, st.nodes);
    assert_int_equal(got.nodes_live, st.nodes_live);
    assert_string_equal(got.node, st.node);
    assert_string_equal(got.redis, st.redis);
    assert_string_equal(got.error, st.error);

    /* a second write moves the sequence on by two, and replaces all */

    st.syncs = 18;
    st.error[0] = '\0';
    bulletin_fleet_publish(r, &st);

    assert_int_equal(block(r)->seq, 4);
    assert_int_equal(bulletin_fleet_read(r, &got), 1);
    assert_int_equal(got.syncs, 18);
    assert_string_equal(got.error, "");

    free(r);
}


/* whatever the block holds, nginx gets bounded, printable strings */

static void
test_hostile(void **state)
{
    size_t                   size, i;
    void                    *r;
    bulletin_fleet_state_t  *f, got;

    r = region(&size);
    f = block(r);

    memcpy(f->magic, BULLETIN_FLEET_MAGIC, 8);
    f->seq = 2;
    memset(f->node, 'x', sizeof(f->node));          /* no end */
    memcpy(f->redis, "a\"b\\c\n\x01\xff\xe4\xb8\xad", 11);
    memset(f->error, 0xff, sizeof(f->error));
    f->started = -5;
    f->tick = INT64_MAX;
    f->synced = 253402300800000LL;                  /* year 10000 */
    f->error_at = 253402300799999LL;                /* the last ms of 9999 */
    f->lag = -7;
    f->pid = -1;

    assert_int_equal(bulletin_fleet_read(r, &got), 1);

    assert_int_equal(strlen(got.node), sizeof(got.node) - 1);
    assert_string_equal(got.redis, "a?b?c??????");
    assert_int_equal(strlen(got.error), sizeof(got.error) - 1);

    for (i = 0; got.error[i]; i++) {
        assert_int_equal(got.error[i], '?');
    }

    assert_int_equal(got.started, 0);
    assert_int_equal(got.tick, 0);
    assert_int_equal(got.synced, 0);
    assert_int_equal(got.error_at, 253402300799999LL);
    assert_int_equal(got.lag, -1);
    assert_int_equal(got.pid, 0);

    /* a magic that is not ours: none */

    f->magic[0] = 'X';
    assert_int_equal(bulletin_fleet_read(r, &got), 0);

    free(r);
}


/* a writer that stopped mid-way: the reader gives up waiting, cleanly */

static void
test_stuck_writer(void **state)
{
    size_t                   size;
    void                    *r;
    bulletin_fleet_state_t   st, got;

    r = region(&size);

    sample(&st);
    bulletin_fleet_publish(r, &st);

    block(r)->seq = 7;
    block(r)->node[0] = '\n';

    assert_int_equal(bulletin_fleet_read(r, &got), 1);
    assert_int_equal(got.node[0], '?');
    assert_int_equal(got.syncs, st.syncs);

    /* the next write ends the odd run */

    bulletin_fleet_publish(r, &st);
    assert_int_equal(block(r)->seq, 8);

    free(r);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_outside_checksum),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_stuck_writer),
    };

    return cmocka_run_group_tests_name("bulletin_fleet", tests, NULL, NULL);
}
