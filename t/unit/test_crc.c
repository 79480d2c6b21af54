/*
 * Copyright (C) bulletin authors
 *
 * What bulletin_crc adds to zlib, against zlib: the operator of any
 * length, and the combination with a stored operator.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <zlib.h>

#include "bulletin_crc.h"


#define DATA  (2 * 1024 * 1024)


static uint8_t  *data;


static uint64_t
rnd(void)
{
    static uint64_t  x = 0x9e3779b97f4a7c15ULL;

    /* xorshift64*: reproducible, no libc state */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;

    return x * 0x2545f4914f6cdd1dULL;
}


static int
setup(void **state)
{
    size_t  i;

    data = malloc(DATA);
    if (data == NULL) {
        return -1;
    }

    for (i = 0; i < DATA; i++) {
        data[i] = (uint8_t) rnd();
    }

    return 0;
}


static int
teardown(void **state)
{
    free(data);
    return 0;
}


static void
test_op(void **state)
{
    int       i;
    uint64_t  len;
    uint64_t  lens[] = { 0, 1, 2, 7, 8, 20, 21, 255, 256, 65536,
                         (1 << 30) - 1, 1 << 30, (1 << 30) + 1,
                         0xffffffffULL, 0x100000000ULL, 0x123456789abULL,
                         0x7fffffffffffffffULL };

    for (i = 0; i < (int) (sizeof(lens) / sizeof(lens[0])); i++) {
        assert_int_equal(bulletin_crc32_op(lens[i]),
                         crc32_combine_gen((z_off_t) lens[i]));
    }

    for (len = 0; len < 5000; len++) {
        assert_int_equal(bulletin_crc32_op(len),
                         crc32_combine_gen((z_off_t) len));
    }

    for (i = 0; i < 10000; i++) {
        len = rnd() >> (rnd() % 63 + 1);
        assert_int_equal(bulletin_crc32_op(len),
                         crc32_combine_gen((z_off_t) len));
    }

    /* beyond any z_off_t: op(a + b) = op(a) * op(b) */
    len = 0xffffffffffffffffULL;
    assert_int_equal(bulletin_crc32_op(len),
                     bulletin_crc32_combine_op(bulletin_crc32_op(len - 12345),
                                               0, bulletin_crc32_op(12345)));
}


static void
test_combine(void **state)
{
    int       i;
    size_t    a, b;
    uint32_t  ca, cb, op;

    for (i = 0; i < 2000; i++) {
        a = rnd() % (DATA / 2);
        b = rnd() % (DATA / 2);

        if (i % 2) {
            a %= 100;
            b %= 100;
        }

        ca = (uint32_t) crc32_z(0, data, a);
        cb = (uint32_t) crc32_z(0, data + a, b);

        assert_int_equal(bulletin_crc32_combine_op(ca, cb,
                                                   bulletin_crc32_op(b)),
                         crc32_z(0, data, a + b));
    }

    /* arbitrary CRCs and operators, the units among them */
    for (i = 0; i < 100000; i++) {
        ca = (uint32_t) rnd();
        cb = (uint32_t) rnd();
        op = (uint32_t) rnd() | 1;

        if (i < 32) {
            ca = (uint32_t) 1 << i;

        } else if (i < 64) {
            op = (uint32_t) 1 << (i - 32);

        } else if (i == 64) {
            ca = 0;
        }

        assert_int_equal(bulletin_crc32_combine_op(ca, cb, op),
                         crc32_combine_op(ca, cb, op));
    }

    /*
     * An operator of 0 (a store rewritten under a worker) makes zlib's
     * crc32_combine_op() loop for ever; this one returns crc_b.
     */
    assert_int_equal(bulletin_crc32_combine_op(0x12345678, 0x9abcdef0, 0),
                     0x9abcdef0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_op),
        cmocka_unit_test(test_combine),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
