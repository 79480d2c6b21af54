
/*
 * Copyright (C) bulletin authors
 *
 * The id table: one that grows and one in its caller's memory.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bulletin_idtab.h"
#include "bulletin_store.h"


#define NIDS  20000


static char  ids[NIDS][16];


static const uint8_t *
key(const void *ctx, uint32_t i, size_t *len)
{
    const char  (*names)[16] = ctx;

    *len = strlen(names[i]);

    return (const uint8_t *) names[i];
}


static int64_t
find(const bulletin_idtab_t *t, const char *id)
{
    return bulletin_idtab_find(t, (const uint8_t *) id, strlen(id));
}


static void
test_grows(void **state)
{
    uint32_t          i;
    bulletin_idtab_t  t;

    for (i = 0; i < NIDS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "p%07u", i * 7);
    }

    bulletin_idtab_init(&t, NULL, 0, key, ids);

    assert_int_equal(find(&t, "p0000000"), -1);

    for (i = 0; i < NIDS; i++) {
        assert_int_equal(bulletin_idtab_add(&t, i), BULLETIN_OK);

        /* what was added, and nothing else, through every growth */
        if (i % 997 == 0 || i < 40) {
            assert_int_equal(find(&t, ids[i]), i);
            assert_int_equal(find(&t, ids[i / 2]), i / 2);
            assert_int_equal(find(&t, "p0000001"), -1);
        }
    }

    assert_int_equal(t.n, NIDS);
    assert_true(t.mask + 1 > 2 * (uint64_t) NIDS);

    for (i = 0; i < NIDS; i++) {
        assert_int_equal(find(&t, ids[i]), i);
    }

    /* a prefix, a longer id, the empty id */
    assert_int_equal(find(&t, "p000000"), -1);
    assert_int_equal(find(&t, "p00000000"), -1);
    assert_int_equal(find(&t, ""), -1);

    bulletin_idtab_free(&t);
    assert_null(t.entries);
    assert_int_equal(find(&t, ids[0]), -1);
}


static void
test_fixed(void **state)
{
    size_t            size;
    uint32_t          i, entries[64];
    bulletin_idtab_t  t;

    for (i = 0; i < 64; i++) {
        snprintf(ids[i], sizeof(ids[i]), "id-%u", i);
    }

    assert_int_equal(bulletin_idtab_size(0), 16);
    assert_int_equal(bulletin_idtab_size(7), 16);
    assert_int_equal(bulletin_idtab_size(8), 32);
    assert_int_equal(bulletin_idtab_size(31), 64);
    assert_int_equal(bulletin_idtab_size(32), 128);

    size = bulletin_idtab_size(20);
    assert_int_equal(size, 64);

    memset(entries, 0, sizeof(entries));
    bulletin_idtab_init(&t, entries, size, key, ids);

    for (i = 0; i < 20; i++) {
        assert_int_equal(bulletin_idtab_add(&t, i), BULLETIN_OK);
    }

    for (i = 0; i < 20; i++) {
        assert_int_equal(find(&t, ids[i]), i);
    }

    assert_int_equal(find(&t, ids[20]), -1);

    /* full: one entry stays empty, so that every probe ends */
    for (i = 20; i < 63; i++) {
        assert_int_equal(bulletin_idtab_add(&t, i), BULLETIN_OK);
    }

    assert_int_equal(bulletin_idtab_add(&t, 63), BULLETIN_ERR_TOO_LARGE);
    assert_int_equal(find(&t, ids[63]), -1);
    assert_int_equal(find(&t, ids[62]), 62);

    /* the caller's memory stays the caller's */
    bulletin_idtab_free(&t);
    assert_int_not_equal(entries[0] | entries[1] | entries[2], 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_grows),
        cmocka_unit_test(test_fixed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
