/*
 * Copyright (C) bulletin authors
 *
 * bulletin_qr_svg(): the structure of the SVG (one path of horizontal
 * runs, the quiet zone as the viewBox's margin), determinism, and clean
 * failures.  It decodes nothing: t/400-browser.t scans a screenshot.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bulletin_qr.h"


#define URL  "https://example.org/bulletin/bj-sociorg-2020-01-03"


static size_t
svg(const char *text, char *buf, size_t size)
{
    size_t  n;

    n = bulletin_qr_svg((const uint8_t *) text, strlen(text),
                        (uint8_t *) buf, size);

    if (n < size) {
        buf[n] = '\0';
    }

    return n;
}


static void
test_structure(void **state)
{
    int          q1, q2, w, h, pw, ph, x, y, maxx, maxy, dx, dy, n, used;
    char         buf[16384];
    size_t       len;
    const char  *p, *d;

    len = svg(URL, buf, sizeof(buf));
    assert_true(len > 0);

    assert_memory_equal(buf, "<svg ", 5);
    assert_non_null(strstr(buf, " role=\"img\""));
    assert_non_null(strstr(buf, " aria-label=\"本页二维码\""));
    assert_non_null(strstr(buf, " shape-rendering=\"crispEdges\""));
    assert_string_equal(buf + len - 9, "\"/></svg>");

    /* one path, and nothing else drawn */

    p = strstr(buf, "<path");
    assert_non_null(p);
    assert_null(strstr(p + 1, "<path"));
    assert_null(strstr(buf, "<rect"));

    /* the quiet zone: 4 modules each side, as the viewBox's margin */

    p = strstr(buf, "viewBox=\"");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "viewBox=\"-%d -%d %d %d\"", &q1, &q2, &w, &h),
                     4);
    assert_int_equal(q1, BULLETIN_QR_QUIET);
    assert_int_equal(q2, BULLETIN_QR_QUIET);
    assert_int_equal(w, h);

    /* a QR code is 21 + 4k modules wide */
    assert_int_equal((w - 2 * BULLETIN_QR_QUIET - 21) % 4, 0);

    assert_non_null(p = strstr(buf, "width=\""));
    assert_int_equal(sscanf(p, "width=\"%d\" height=\"%d\"", &pw, &ph), 2);
    assert_int_equal(pw, w * BULLETIN_QR_SCALE);
    assert_int_equal(ph, pw);

    /* runs: M0 .5, then h and relative m only, all inside the code */

    d = strstr(buf, " d=\"M0 .5");
    assert_non_null(d);
    d += sizeof(" d=\"M0 .5") - 1;

    x = 0;
    y = 0;
    maxx = 0;
    maxy = 0;

    while (*d != '"') {
        if (*d == 'h') {
            assert_int_equal(sscanf(d, "h%d%n", &n, &used), 1);
            assert_true(n > 0);
            x += n;

        } else {
            assert_int_equal(*d, 'm');
            assert_int_equal(sscanf(d, "m%d %d%n", &dx, &dy, &used), 2);
            assert_true(dy >= 0);
            x += dx;
            y += dy;
            assert_true(x >= 0);
        }

        maxx = x > maxx ? x : maxx;
        maxy = y > maxy ? y : maxy;
        d += used;
    }

    assert_int_equal(maxx, w - 2 * BULLETIN_QR_QUIET);
    assert_int_equal(maxy, w - 2 * BULLETIN_QR_QUIET - 1);
}


static void
test_deterministic(void **state)
{
    char    one[16384], two[16384], other[16384];
    size_t  n1, n2, n3;

    n1 = svg(URL, one, sizeof(one));
    n2 = svg(URL, two, sizeof(two));
    n3 = svg(URL "x", other, sizeof(other));

    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(one, two, n1);
    assert_true(n3 > 0);
    assert_false(n1 == n3 && memcmp(one, other, n1) == 0);
}


static void
test_failures(void **state)
{
    char    *text, *buf;
    size_t   size;

    size = 1024 * 1024;
    buf = malloc(size);
    text = malloc(BULLETIN_QR_TEXT_MAX + 2);
    assert_non_null(buf);
    assert_non_null(text);

    /* empty, over-long, or too big for buf: 0, nothing half-written */

    assert_int_equal(bulletin_qr_svg((const uint8_t *) "", 0,
                                     (uint8_t *) buf, size), 0);

    memset(text, 'a', BULLETIN_QR_TEXT_MAX + 1);
    assert_int_equal(bulletin_qr_svg((const uint8_t *) text,
                                     BULLETIN_QR_TEXT_MAX + 1,
                                     (uint8_t *) buf, size), 0);

    /* the longest accepted fits version 40 at level M */
    assert_true(bulletin_qr_svg((const uint8_t *) text, BULLETIN_QR_TEXT_MAX,
                                (uint8_t *) buf, size) > 0);

    assert_int_equal(bulletin_qr_svg((const uint8_t *) URL, strlen(URL),
                                     (uint8_t *) buf, 100), 0);

    assert_int_equal(bulletin_qr_svg((const uint8_t *) "a\0b", 3,
                                     (uint8_t *) buf, size), 0);

    free(text);
    free(buf);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
