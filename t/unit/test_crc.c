/*
 * Copyright (C) bulletin authors
 *
 * bulletin_crc against zlib's crc32(), crc32_combine() and
 * crc32_combine_gen(), and against a bit-at-a-time reference.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "bulletin_crc.h"


#define BIG  (3 * 1024 * 1024 + 77)


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


/* zlib's multmodp, a bit at a time: the reference */
static uint32_t
ref_multmodp(uint32_t a, uint32_t b)
{
    uint32_t  m, p;

    m = (uint32_t) 1 << 31;
    p = 0;

    for ( ;; ) {
        if (a & m) {
            p ^= b;

            if ((a & (m - 1)) == 0) {
                break;
            }
        }

        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ 0xedb88320 : b >> 1;
    }

    return p;
}


static int
setup(void **state)
{
    size_t  i;

    data = malloc(BIG + 16);
    if (data == NULL) {
        return -1;
    }

    for (i = 0; i < BIG + 16; i++) {
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
test_check_value(void **state)
{
    assert_int_equal(bulletin_crc32(0, (const uint8_t *) "123456789", 9),
                     0xcbf43926);
    assert_int_equal(bulletin_crc32(0, NULL, 0), 0);
    assert_int_equal(bulletin_crc32(0x12345678, NULL, 0), 0x12345678);
}


static void
test_crc_lengths(void **state)
{
    size_t    len, off, i;
    uint32_t  start;
    size_t    lens[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255,
                         256, 1000, 4095, 4096, 4097, 8191, 8192, 8193,
                         24575, 24576, 24577, 24583, 49152, 49159, 73728,
                         100000, 1048576, BIG };

    for (len = 0; len <= 300; len++) {
        for (off = 0; off < 8; off++) {
            assert_int_equal(bulletin_crc32(0, data + off, len),
                             crc32(0, data + off, (uInt) len));
        }
    }

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (off = 0; off < 16; off += 5) {
            len = lens[i];
            start = (uint32_t) rnd();

            assert_int_equal(bulletin_crc32(0, data + off, len),
                             crc32(0, data + off, (uInt) len));
            assert_int_equal(bulletin_crc32(start, data + off, len),
                             crc32(start, data + off, (uInt) len));
        }
    }

    for (i = 0; i < 200; i++) {
        len = rnd() % BIG;
        off = rnd() % 16;
        start = (uint32_t) rnd();

        assert_int_equal(bulletin_crc32(start, data + off, len),
                         crc32(start, data + off, (uInt) len));
    }
}


static void
test_crc_incremental(void **state)
{
    size_t    i, a, b;
    uint32_t  crc;

    for (i = 0; i < 100; i++) {
        a = rnd() % 70000;
        b = rnd() % 70000;

        crc = bulletin_crc32(0, data, a);
        crc = bulletin_crc32(crc, data + a, b);

        assert_int_equal(crc, crc32(0, data, (uInt) (a + b)));
    }
}


static void
test_multmodp(void **state)
{
    int       i;
    uint32_t  a, b;

    for (i = 0; i < 100000; i++) {
        a = (uint32_t) rnd();
        b = (uint32_t) rnd();

        if (i < 32) {
            a = (uint32_t) 1 << i;
        }

        assert_int_equal(bulletin_crc32_multmodp(a, b), ref_multmodp(a, b));
        assert_int_equal(bulletin_crc32_multmodp(a, b),
                         bulletin_crc32_multmodp(b, a));
    }

    /* x^0 is the identity, 0 the zero */
    assert_int_equal(bulletin_crc32_multmodp(0x80000000, 0xdeadbeef),
                     0xdeadbeef);
    assert_int_equal(bulletin_crc32_multmodp(0, 0xdeadbeef), 0);
}


static void
test_op(void **state)
{
    int       i;
    uint64_t  len;
    uint64_t  lens[] = { 0, 1, 2, 7, 8, 9, 20, 21, 22, 31, 32, 33, 255, 256,
                         4096, 65535, 65536, 1000000, 0xffffffffULL,
                         0x100000000ULL, 0x123456789abULL,
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

    /* op(a + b) = op(a) * op(b) */
    for (i = 0; i < 1000; i++) {
        len = rnd() >> 20;
        assert_int_equal(bulletin_crc32_op(len + 12345),
                         bulletin_crc32_multmodp(bulletin_crc32_op(len),
                                                 bulletin_crc32_op(12345)));
    }
}


static void
test_op_table(void **state)
{
    int       n;
    uint32_t  op, x8;

    /* x^(8n), built by multiplying by x^8 one byte at a time */
    op = 0x80000000;
    x8 = 0x00800000;

    for (n = 0; n < BULLETIN_CRC32_OP_TABLE_LEN; n++) {
        assert_int_equal(bulletin_crc32_op_table[n], op);
        assert_int_equal(bulletin_crc32_op_table[n],
                         crc32_combine_gen((z_off_t) n));
        assert_int_equal(bulletin_crc32_op_table[n], bulletin_crc32_op(n));
        op = ref_multmodp(op, x8);
    }

    assert_int_equal(BULLETIN_CRC32_OP_TABLE_LEN, 21);
}


static void
test_combine(void **state)
{
    int       i;
    size_t    a, b;
    uint32_t  ca, cb;
    size_t    splits[][2] = { {0, 0}, {0, 1}, {1, 0}, {1, 1}, {7, 9},
                              {8, 8}, {100, 0}, {0, 100}, {24576, 24577},
                              {1, 1048576} };

    for (i = 0; i < (int) (sizeof(splits) / sizeof(splits[0])); i++) {
        a = splits[i][0];
        b = splits[i][1];
        ca = bulletin_crc32(0, data, a);
        cb = bulletin_crc32(0, data + a, b);

        assert_int_equal(bulletin_crc32_combine_op(ca, cb,
                                                   bulletin_crc32_op(b)),
                         crc32(0, data, (uInt) (a + b)));
        assert_int_equal(bulletin_crc32_combine_op(ca, cb,
                                                   bulletin_crc32_op(b)),
                         crc32_combine(ca, cb, (z_off_t) b));
    }

    for (i = 0; i < 2000; i++) {
        a = rnd() % (BIG / 2);
        b = rnd() % (BIG / 2);

        if (i % 2) {
            a %= 100;
            b %= 100;
        }

        ca = bulletin_crc32(0, data, a);
        cb = bulletin_crc32(0, data + a, b);

        assert_int_equal(bulletin_crc32_combine_op(ca, cb,
                                                   bulletin_crc32_op(b)),
                         crc32(0, data, (uInt) (a + b)));
    }

    /* arbitrary CRCs, arbitrary (even huge) lengths */
    for (i = 0; i < 10000; i++) {
        ca = (uint32_t) rnd();
        cb = (uint32_t) rnd();
        a = (size_t) (rnd() >> (rnd() % 63 + 1));

        assert_int_equal(bulletin_crc32_combine_op(ca, cb,
                                                   bulletin_crc32_op(a)),
                         crc32_combine(ca, cb, (z_off_t) a));
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_crc_lengths),
        cmocka_unit_test(test_crc_incremental),
        cmocka_unit_test(test_multmodp),
        cmocka_unit_test(test_op),
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_combine),
    };

    return cmocka_run_group_tests_name("bulletin_crc", tests, setup,
                                       teardown);
}
