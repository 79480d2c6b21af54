
/*
 * Copyright (C) bulletin authors
 *
 * bulletin-sync's table: merge by max, sums without the own node key,
 * and the parsing of what other sidecars left in Redis.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bulletin_sync_table.h"


#define OWN  "a/100"


static const char  zone[BULLETIN_CHANNELS_MAX][BULLETIN_CHANNEL_SIZE] = {
    "twitter", "email", "wechat"
};


static bulletin_sync_table_t  *table;


static int
setup(void **state)
{
    table = malloc(sizeof(bulletin_sync_table_t));
    assert_non_null(table);

    bulletin_sync_table_init(table, OWN, strlen(OWN));

    return 0;
}


static int
teardown(void **state)
{
    bulletin_sync_table_free(table);
    free(table);

    return 0;
}


static bulletin_sync_counts_t
counts(uint64_t views, uint64_t s0, uint64_t s1, uint64_t s2)
{
    bulletin_sync_counts_t  c;

    memset(&c, 0, sizeof(c));
    c.v[0] = views;
    c.v[1] = s0;
    c.v[2] = s1;
    c.v[3] = s2;

    return c;
}


static uint32_t
node(const char *key)
{
    int64_t  n;

    n = bulletin_sync_table_node(table, key, strlen(key));
    assert_true(n >= 0);

    return (uint32_t) n;
}


static int
merge(uint32_t n, const char *id, bulletin_sync_counts_t c)
{
    return bulletin_sync_table_merge(table, n, id, strlen(id), &c);
}


static bulletin_sync_counts_t
sum(const char *id)
{
    int64_t                 page;
    bulletin_sync_counts_t  c;

    page = bulletin_sync_table_find(table, id, strlen(id));
    assert_true(page >= 0);

    bulletin_sync_table_sum(table, (uint32_t) page, &c);

    return c;
}


static void
test_merge_max(void **state)
{
    uint32_t                b;
    bulletin_sync_counts_t  c;

    b = node("b/100");

    assert_int_equal(merge(b, "p1", counts(5, 1, 0, 2)), 1);
    assert_int_equal(table->ndirty, 1);

    /* the same again, or less, changes nothing */
    assert_int_equal(merge(b, "p1", counts(5, 1, 0, 2)), 0);
    assert_int_equal(merge(b, "p1", counts(3, 0, 0, 0)), 0);

    /* more of one field only: that field rises, the others stay */
    assert_int_equal(merge(b, "p1", counts(4, 7, 0, 0)), 1);

    c = sum("p1");
    assert_int_equal(c.v[0], 5);
    assert_int_equal(c.v[1], 7);
    assert_int_equal(c.v[2], 0);
    assert_int_equal(c.v[3], 2);

    /* listed once however often it rose */
    assert_int_equal(table->ndirty, 1);

    bulletin_sync_table_clean(table);
    assert_int_equal(table->ndirty, 0);
    assert_int_equal(table->pages[0].dirty, 0);

    assert_int_equal(merge(b, "p1", counts(6, 7, 0, 2)), 1);
    assert_int_equal(table->ndirty, 1);
}


static void
test_any_order(void **state)
{
    int                     i, j;
    uint32_t                b, c;
    bulletin_sync_counts_t  s;

    static const uint64_t   seq[][2] = {
        { 1, 10 }, { 4, 2 }, { 3, 30 }, { 2, 1 }
    };

    b = node("b/100");
    c = node("c/100");

    /* every order, every entry twice: the same sums */

    for (j = 0; j < 2; j++) {
        for (i = 0; i < 4; i++) {
            merge(b, "p", counts(seq[(i + j) % 4][0], 0, 0, 0));
            merge(c, "p", counts(seq[(3 - i + j) % 4][1], 0, 0, 0));
        }
    }

    s = sum("p");
    assert_int_equal(s.v[0], 4 + 30);
}


static void
test_sum_excludes_own(void **state)
{
    uint32_t                own, b, old;
    bulletin_sync_counts_t  s;

    own = node(OWN);
    assert_int_equal(own, table->own);

    b = node("b/100");
    old = node("a/50");            /* this node's older counters file */

    assert_int_equal(merge(own, "p", counts(100, 100, 100, 100)), 1);
    assert_int_equal(table->ndirty, 0);

    merge(b, "p", counts(3, 1, 2, 0));
    merge(old, "p", counts(10, 0, 0, 5));

    s = sum("p");
    assert_int_equal(s.v[0], 13);
    assert_int_equal(s.v[1], 1);
    assert_int_equal(s.v[2], 2);
    assert_int_equal(s.v[3], 5);

    /* saturating */
    merge(b, "p", counts(UINT64_MAX - 1, 0, 0, 0));
    s = sum("p");
    assert_true(s.v[0] == UINT64_MAX);
}


static void
test_nodes(void **state)
{
    int      i;
    char     key[32];
    int64_t  n;

    assert_int_equal(table->nnodes, 1);

    assert_int_equal(bulletin_sync_table_node(table, "b", 1), -1);
    assert_int_equal(bulletin_sync_table_node(table, "b/", 2), -1);
    assert_int_equal(bulletin_sync_table_node(table, "/1", 2), -1);
    assert_int_equal(bulletin_sync_table_node(table, "b c/1", 5), -1);
    assert_int_equal(bulletin_sync_table_node(table, "b/1x", 4), -1);

    assert_int_equal(node("b/1"), node("b/1"));
    assert_true(node("b/1") != node("b/10"));

    for (i = 0; table->nnodes < BULLETIN_SYNC_NODES_MAX; i++) {
        snprintf(key, sizeof(key), "n%d/1", i);
        node(key);
    }

    n = bulletin_sync_table_node(table, "late/1", 6);
    assert_int_equal(n, -1);

    /* one already held is still found */
    assert_int_equal(bulletin_sync_table_node(table, "b/1", 3), 1);
}


static void
test_many_pages(void **state)
{
    char      id[16];
    uint32_t  b, i;

    b = node("b/100");

    for (i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "p%u", i);
        assert_int_equal(merge(b, id, counts(i, 0, 0, 0)), i ? 1 : 0);
    }

    for (i = 0; i < 5000; i += 499) {
        snprintf(id, sizeof(id), "p%u", i);
        assert_int_equal(sum(id).v[0], i);
    }

    assert_int_equal(bulletin_sync_table_find(table, "p5000", 5), -1);
}


static void
test_u64(void **state)
{
    uint64_t  v;

    assert_true(bulletin_sync_parse_u64("0", 1, &v));
    assert_int_equal(v, 0);
    assert_true(bulletin_sync_parse_u64("18446744073709551615", 20, &v));
    assert_true(v == UINT64_MAX);

    assert_false(bulletin_sync_parse_u64("18446744073709551616", 20, &v));
    assert_false(bulletin_sync_parse_u64("99999999999999999999", 20, &v));
    assert_false(bulletin_sync_parse_u64("000000000000000000001", 21, &v));
    assert_false(bulletin_sync_parse_u64("", 0, &v));
    assert_false(bulletin_sync_parse_u64("-1", 2, &v));
    assert_false(bulletin_sync_parse_u64("+1", 2, &v));
    assert_false(bulletin_sync_parse_u64("1 ", 2, &v));
    assert_false(bulletin_sync_parse_u64("0x1", 3, &v));
}


static void
test_channel_map(void **state)
{
    bulletin_sync_map_t  map;

    /* by name: another order, one this zone does not count */

    assert_true(bulletin_sync_parse_map(&map, "email facebook twitter", 22,
                                        zone, 3));
    assert_int_equal(map.n, 3);
    assert_int_equal(map.local[0], 1);
    assert_int_equal(map.local[1], -1);
    assert_int_equal(map.local[2], 0);

    assert_true(bulletin_sync_parse_map(&map, "", 0, zone, 3));
    assert_int_equal(map.n, 0);

    /* a prefix of a name is not the name */
    assert_true(bulletin_sync_parse_map(&map, "twit", 4, zone, 3));
    assert_int_equal(map.local[0], -1);

    assert_false(bulletin_sync_parse_map(&map, "a  b", 4, zone, 3));
    assert_false(bulletin_sync_parse_map(&map, "a ", 2, zone, 3));
    assert_false(bulletin_sync_parse_map(&map, "A", 1, zone, 3));
    assert_false(bulletin_sync_parse_map(&map, "a\nb", 3, zone, 3));
    assert_false(bulletin_sync_parse_map(&map, "abcdefghijklmnop", 16,
                                         zone, 3));
    assert_false(bulletin_sync_parse_map(&map, "a b c d e f g h i", 17,
                                         zone, 3));
    assert_true(bulletin_sync_parse_map(&map, "a b c d e f g h", 15,
                                        zone, 3));
}


static void
test_lines(void **state)
{
    size_t                  len, i;
    const char             *id, *s;
    bulletin_sync_map_t     map;
    bulletin_sync_counts_t  c;

    static const char  *bad[] = {
        "page-1 10 2 99",                   /* a share missing */
        "page-1 10 2 99 3 4",               /* one too many */
        "page-1 10 2 99 3 ",
        "page-1  10 2 99 3",
        " page-1 10 2 99 3",
        "page-1",
        "_channels 1 2 3 4",
        "-page 1 2 3 4",
        "pa/ge 1 2 3 4",
        "page-1 1 2 -3 4",
        "page-1 1 2 18446744073709551616 4",
        "page-1 1 2 3 4\r",
        "0123456789012345678901234567890123456789012345678901234567890123"
            "4 1 2 3 4",
        "",
    };

    assert_true(bulletin_sync_parse_map(&map, "email other twitter", 19,
                                        zone, 3));

    s = "page-1 10 2 99 3";
    assert_true(bulletin_sync_parse_line(&map, s, strlen(s), &id, &len, &c));
    assert_int_equal(len, 6);
    assert_memory_equal(id, "page-1", 6);
    assert_int_equal(c.v[0], 10);
    assert_int_equal(c.v[1], 3);            /* twitter */
    assert_int_equal(c.v[2], 2);            /* email */
    assert_int_equal(c.v[3], 0);            /* wechat: not theirs */

    /* builder pages count too */
    s = "_index 4 0 0 0";
    assert_true(bulletin_sync_parse_line(&map, s, strlen(s), &id, &len, &c));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bulletin_sync_parse_line(&map, bad[i], strlen(bad[i]), &id,
                                     &len, &c))
        {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }

    /* the hash's values: no id */
    assert_true(bulletin_sync_parse_counts(&map, "7 1 1 1", 7, &c));
    assert_int_equal(c.v[0], 7);
    assert_false(bulletin_sync_parse_counts(&map, "7 1 1", 5, &c));
}


static void
test_format(void **state)
{
    char                    buf[BULLETIN_SYNC_VALUE_SIZE];
    size_t                  len;
    bulletin_sync_map_t     map;
    bulletin_sync_counts_t  c, back;

    c = counts(12, 0, UINT64_MAX, 3);

    len = bulletin_sync_format(buf, &c, 3);
    assert_string_equal(buf, "12 0 18446744073709551615 3");
    assert_int_equal(len, strlen(buf));

    len = bulletin_sync_format(buf, &c, 0);
    assert_string_equal(buf, "12");

    /* the longest fits */
    memset(&c, 0xff, sizeof(c));
    len = bulletin_sync_format(buf, &c, BULLETIN_CHANNELS_MAX);
    assert_int_equal(len + 1, sizeof(buf));

    /* and reads back */
    c = counts(12, 0, 5, 3);
    bulletin_sync_format(buf, &c, 3);
    assert_true(bulletin_sync_parse_map(&map, "twitter email wechat", 20,
                                        zone, 3));
    assert_true(bulletin_sync_parse_counts(&map, buf, strlen(buf), &back));
    assert_memory_equal(&c, &back, sizeof(c));
}


static void
test_names(void **state)
{
    assert_true(bulletin_sync_name_valid("web-1.example_a", 15));
    assert_false(bulletin_sync_name_valid("", 0));
    assert_false(bulletin_sync_name_valid("a/b", 3));
    assert_false(bulletin_sync_name_valid("a b", 3));
    assert_false(bulletin_sync_name_valid("a{b}", 4));
    assert_true(bulletin_sync_name_valid(
        "012345678901234567890123456789012345678901234567", 48));
    assert_false(bulletin_sync_name_valid(
        "0123456789012345678901234567890123456789012345678", 49));

    assert_true(bulletin_sync_key_valid("web-1/1700000000", 16));
    assert_false(bulletin_sync_key_valid("web-1/17/0", 10));
    assert_false(bulletin_sync_key_valid("web-1", 5));

    assert_int_equal(bulletin_sync_parse_node("1700000000123 42 host", 21),
                     1700000000123LL);
    assert_int_equal(bulletin_sync_parse_node("1700000000123", 13),
                     1700000000123LL);
    assert_int_equal(bulletin_sync_parse_node("x 42 host", 9), -1);
    assert_int_equal(bulletin_sync_parse_node(" 1 42 host", 10), -1);
    assert_int_equal(bulletin_sync_parse_node("99999999999999999999", 20),
                     -1);

    assert_false(bulletin_sync_id_valid("_channels", 9));
    assert_true(bulletin_sync_id_valid("_channels2", 10));
    assert_true(bulletin_sync_id_valid("_index", 6));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sum_excludes_own, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pages, setup, teardown),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_channel_map),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests_name("bulletin_sync_table", tests, NULL,
                                       NULL);
}
