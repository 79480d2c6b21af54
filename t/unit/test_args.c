
/*
 * Copyright (C) bulletin authors
 *
 * The status and share locations' query arguments.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bulletin_args.h"


static const char *
parse(const char *args, bulletin_status_args_t *st)
{
    st->format = BULLETIN_FORMAT_JSON;
    st->top = 100;
    st->id = NULL;
    st->id_len = 0;

    return bulletin_status_args((const uint8_t *) args, strlen(args), st);
}


static void
test_status_good(void **state)
{
    bulletin_status_args_t  st;

    (void) state;

    assert_null(parse("", &st));
    assert_int_equal(st.format, BULLETIN_FORMAT_JSON);
    assert_int_equal(st.top, 100);
    assert_null(st.id);

    assert_null(parse("format=prometheus", &st));
    assert_int_equal(st.format, BULLETIN_FORMAT_PROMETHEUS);

    assert_null(parse("format=prometheus&format=json", &st));
    assert_int_equal(st.format, BULLETIN_FORMAT_JSON);

    assert_null(parse("top=0", &st));
    assert_int_equal(st.top, 0);

    assert_null(parse("top=999999999", &st));
    assert_int_equal(st.top, 999999999);

    assert_null(parse("top=all", &st));
    assert_int_equal(st.top, BULLETIN_TOP_ALL);

    assert_null(parse("&&id=bj-1&&top=7&", &st));
    assert_int_equal(st.top, 7);
    assert_int_equal(st.id_len, 4);
    assert_memory_equal(st.id, "bj-1", 4);

    /* the value ends at "&": an id is never read past it */
    assert_null(parse("id=a&top=1", &st));
    assert_int_equal(st.id_len, 1);
}


static void
test_status_bad(void **state)
{
    size_t                   i;
    const char              *reason;
    bulletin_status_args_t   st;

    static const char  *bad[] = {
        "top=", "top", "top=-1", "top=1x", "top=1000000000", "top=ALL",
        "format=", "format=xml", "format=JSON", "id=", "id", "foo=1", "x",
        "=1", "top=1&bar", "%74op=1"
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reason = parse(bad[i], &st);

        if (reason == NULL) {
            fail_msg("\"%s\" is taken", bad[i]);
        }

        /* one line, of the module's own words */
        assert_null(strchr(reason, '\n'));
        assert_null(strstr(reason, "="));
    }
}


static void
test_share_channel(void **state)
{
    bulletin_store_header_t  h;

    (void) state;

    memset(&h, 0, sizeof(h));
    h.nchannels = 3;
    strcpy(h.channels[0], "wechat");
    strcpy(h.channels[1], "qq");
    strcpy(h.channels[2], "abcdefghijklmno");

#define channel(s)                                                            \
    bulletin_share_channel((const uint8_t *) s, strlen(s), &h)

    assert_int_equal(channel("channel=wechat"), 0);
    assert_int_equal(channel("x=1&channel=qq"), 1);
    assert_int_equal(channel("channel=qq&channel=wechat"), 1);
    assert_int_equal(channel("channel=abcdefghijklmno"), 2);

    assert_int_equal(channel(""), BULLETIN_CHANNEL_MISSING);
    assert_int_equal(channel("channel"), BULLETIN_CHANNEL_MISSING);
    assert_int_equal(channel("channel="), BULLETIN_CHANNEL_MISSING);
    assert_int_equal(channel("xchannel=qq"), BULLETIN_CHANNEL_MISSING);
    assert_int_equal(channel("Channel=qq"), BULLETIN_CHANNEL_MISSING);

    assert_int_equal(channel("channel=q"), BULLETIN_CHANNEL_UNKNOWN);
    assert_int_equal(channel("channel=qqq"), BULLETIN_CHANNEL_UNKNOWN);
    assert_int_equal(channel("channel=WECHAT"), BULLETIN_CHANNEL_UNKNOWN);
    assert_int_equal(channel("channel=abcdefghijklmnop"),
                     BULLETIN_CHANNEL_UNKNOWN);
    assert_int_equal(channel("channel=wechat%00"), BULLETIN_CHANNEL_UNKNOWN);

    /* NUL bytes in the value are not the name's padding (found by
     * fuzz/fuzz_args.c) */
    assert_int_equal(bulletin_share_channel((const uint8_t *) "channel=qq\0",
                                            11, &h),
                     BULLETIN_CHANNEL_UNKNOWN);
    assert_int_equal(bulletin_share_channel((const uint8_t *)
                                            "channel=wechat\0\0", 16, &h),
                     BULLETIN_CHANNEL_UNKNOWN);

#undef channel
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_status_good),
        cmocka_unit_test(test_status_bad),
        cmocka_unit_test(test_share_channel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
