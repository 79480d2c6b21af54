
/*
 * Copyright (C) bulletin authors
 *
 * bulletin_source: JSON bulletins to records, and every kind of bad input
 * named with its file, line and column.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bulletin_source.h"


#define S(s)  (const uint8_t *) (s), sizeof(s) - 1


static int
parse(bulletin_record_t *rec, bulletin_errors_t *errs, const char *text)
{
    memset(errs, 0, sizeof(bulletin_errors_t));

    return bulletin_source_parse(rec, "b.json", (const uint8_t *) text,
                                 strlen(text), errs);
}


static int
str_is(bulletin_str_t *s, const char *v)
{
    return s->len == strlen(v) && memcmp(s->data, v, s->len) == 0;
}


/* the only message of a text that must fail, which must begin with want */

static void
fails(const char *text, const char *want)
{
    size_t             i;
    bulletin_record_t  rec;
    bulletin_errors_t  errs;

    assert_int_equal(parse(&rec, &errs, text), -1);
    assert_null(rec.json);

    if (errs.n != 1 || strncmp(errs.msgs[0], want, strlen(want)) != 0) {
        print_error("text: %s\nwant: %s...\n", text, want);

        for (i = 0; i < errs.n; i++) {
            print_error(" got: %s\n", errs.msgs[i]);
        }

        fail();
    }

    bulletin_errors_clear(&errs);
}


static void
test_valid(void **state)
{
    bulletin_record_t  rec;
    bulletin_errors_t  errs;

    const char  *text =
        "{\n"
        "  \"id\": \"bj-sociorg-2020-01\",\n"
        "  \"title\": \"北京市社会组织工作动态【第1期】\",\n"
        "  \"category\": \"活动简报\",\n"
        "  \"published\": \"2020-05-20\",\n"
        "  \"source\": \"北京市社会组织管理中心\",\n"
        "  \"summary\": \"\",\n"
        "  \"blocks\": [\n"
        "    {\"heading\": \"首都社会组织参与垃圾分类助力计划启动\"},\n"
        "    {\"subheading\": \"——为贫困地区师生搭起一座桥\"},\n"
        "    {\"paragraph\": \"为推进首都社会组织……"
        "\\n\\u00e9\\ud83d\\ude00\"}\n"
        "  ]\n"
        "}\n";

    assert_int_equal(parse(&rec, &errs, text), 0);
    assert_int_equal(errs.n, 0);

    assert_true(str_is(&rec.id, "bj-sociorg-2020-01"));
    assert_int_equal(rec.id_line, 2);
    assert_int_equal(rec.id_col, 9);
    assert_true(str_is(&rec.title, "北京市社会组织工作动态【第1期】"));
    assert_true(str_is(&rec.category, "活动简报"));
    assert_true(str_is(&rec.published, "2020-05-20"));
    assert_true(str_is(&rec.source, "北京市社会组织管理中心"));
    assert_non_null(rec.summary.data);
    assert_int_equal(rec.summary.len, 0);
    assert_int_equal(rec.published_at, 1589932800);

    assert_int_equal(rec.nblocks, 3);
    assert_int_equal(rec.blocks[0].type, BULLETIN_BLOCK_HEADING);
    assert_int_equal(rec.blocks[1].type, BULLETIN_BLOCK_SUBHEADING);
    assert_int_equal(rec.blocks[2].type, BULLETIN_BLOCK_PARAGRAPH);
    assert_true(str_is(&rec.blocks[2].text,
                       "为推进首都社会组织……\n\xc3\xa9\xf0\x9f\x98\x80"));

    bulletin_record_free(&rec);
    bulletin_record_free(&rec);
}


static void
test_optional_absent(void **state)
{
    bulletin_record_t  rec;
    bulletin_errors_t  errs;

    /* a byte order mark is skipped */
    assert_int_equal(parse(&rec, &errs,
                     "\xef\xbb\xbf{\"blocks\":[{\"paragraph\":\"p\"}],"
                     "\"published\":\"2020-06-12T09:30:00+08:00\","
                     "\"title\":\"t\",\"id\":\"A\"}"), 0);

    assert_null(rec.category.data);
    assert_null(rec.source.data);
    assert_null(rec.summary.data);
    assert_int_equal(rec.published_at, 1591925400);

    bulletin_record_free(&rec);
}


static void
test_published(void **state)
{
    size_t   i;
    int64_t  t;

    static const char  *good[] = {
        "2020-02-29", "2000-02-29", "1970-01-01", "2020-12-31",
        "2020-05-20T10:00:00Z", "2020-05-20t10:00:00z",
        "2020-05-20T23:59:60Z", "2020-05-20T10:00:00.123456+08:00",
        "2020-05-20T00:00:00-05:30", NULL
    };

    static const char  *bad[] = {
        "", "2020", "2020-5-20", "2020/05/20", "2019-02-29", "1900-02-29",
        "2020-13-01", "2020-00-10", "2020-04-31", "2020-05-00",
        "2020-05-20 ", "2020-05-20T", "2020-05-20 10:00:00Z",
        "2020-05-20T24:00:00Z", "2020-05-20T10:60:00Z",
        "2020-05-20T10:00:61Z", "2020-05-20T10:00:00",
        "2020-05-20T10:00:00.Z", "2020-05-20T10:00:00+0800",
        "2020-05-20T10:00:00+24:00", "2020-05-20T10:00:00+08:60",
        "2020-05-20T10:00Z", "2020-05-20T10:00:00ZZ", "+2020-05-20",
        "２０２０-05-20", NULL
    };

    for (i = 0; good[i] != NULL; i++) {
        if (bulletin_published_parse((const uint8_t *) good[i],
                                     strlen(good[i]), &t) != 0)
        {
            print_error("rejected %s\n", good[i]);
            fail();
        }
    }

    for (i = 0; bad[i] != NULL; i++) {
        if (bulletin_published_parse((const uint8_t *) bad[i],
                                     strlen(bad[i]), &t) == 0)
        {
            print_error("accepted %s\n", bad[i]);
            fail();
        }
    }

    assert_int_equal(bulletin_published_parse(S("1970-01-01"), &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(bulletin_published_parse(S("2020-05-20T08:00:00+08:00"),
                                              &t), 0);
    assert_int_equal(t, 1589932800);
    assert_int_equal(bulletin_published_parse(S("1969-12-31T23:59:59Z"),
                                              &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(bulletin_published_parse(S("2400-02-29"), &t), 0);
    assert_int_equal(t, 13574563200LL);
}


static void
test_syntax(void **state)
{
    fails("{\n  \"id\": \"a\",\n  \"title\": }\n", "b.json:3:12: ");
    fails("{\"id\": x}", "b.json:1:8: ");
    fails("", "b.json:1:1: ");
    fails("{\"id\": \"a\"", "b.json:1:10: ");
    fails("{\"id\": \"a\"} {}", "b.json:1:13: ");
    fails("{\"title\": \"中文\", x}", "b.json:1:17: ");
    fails("{\"id\": \"a\", \"id\": \"b\"}", "b.json:1:");
    fails("{\"id\": \"a\\u0000\"}", "b.json:1:");
    fails("{\"id\": \"\\ud800\"}", "b.json:1:");

    /* jansson quotes the text near the error: one line still (found by
     * fuzz/fuzz_source.c) */
    fails("{\"id\": \"\\u6d3\n\"}", "b.json:2:1: invalid escape near "
          "'\"\\u6d3\\x0a'");
}


static void
test_utf8(void **state)
{
    /* the message points at the byte itself */

    fails("{\n\"title\": \"ok \xff\"}",
          "b.json:2:14: invalid UTF-8: byte 0xff");
    fails("{\"title\": \"\xc0\x80\"}",
          "b.json:1:12: invalid UTF-8: byte 0xc0");
    fails("{\"title\": \"\xed\xa0\x80\"}",
          "b.json:1:12: invalid UTF-8: byte 0xed");
    fails("{\"title\": \"\xe4\xb8\"}",
          "b.json:1:12: invalid UTF-8: byte 0xe4");
    fails("{\"title\": \"\xe4\xb8\xad\xe6\"}",
          "b.json:1:13: invalid UTF-8: byte 0xe6");
}


/* where jansson's message hides the cause, the likely one is named */

static void
test_syntax_causes(void **state)
{
    fails("{\n  \"id\": \"a\",\n  \"published\": \"2020-05-20\"\n"
          "  \"blocks\": []\n}",
          "b.json:3:28: missing \",\" here, before the next value ('}' "
          "expected near '\"blocks\"')");
    fails("{\"blocks\": [{\"paragraph\": \"x\"}\n {\"heading\": \"y\"}]}",
          "b.json:1:31: missing \",\" here, before the next value (']' "
          "expected near '{')");
    fails("{\"id\": \"e\", \"title\": \"t\",\n}",
          "b.json:1:25: a \",\" with nothing after it (string or '}' "
          "expected near '}')");
    fails("{\"blocks\": [1, 2, ]}",
          "b.json:1:17: a \",\" with nothing after it (unexpected token "
          "near ']')");
    fails("{\"id\": }", "b.json:1:8: unexpected token near '}'");
}


static const char  *minimal_rest =
    "\"published\": \"2020-05-20\", \"blocks\": [{\"paragraph\": \"p\"}]";


static void
fails_with(const char *head, const char *want)
{
    char  text[1024];

    snprintf(text, sizeof(text), "{%s, %s}", head, minimal_rest);
    fails(text, want);
}


static void
test_fields(void **state)
{
    fails_with("\"id\": \"a\"",
               "b.json:1:1: missing required key \"title\"");
    fails("{\"id\": \"a\", \"title\": \"t\", \"blocks\": [{\"paragraph\": "
          "\"p\"}]}", "b.json:1:1: missing required key \"published\"");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\"}",
          "b.json:1:1: missing required key \"blocks\"");
    fails_with("\"title\": \"t\"",
               "b.json:1:1: missing required key \"id\"");

    fails_with("\"id\": \"a\", \"title\": 12",
               "b.json:1:22: \"title\" must be a string, not a number");
    fails_with("\"id\": \"a\", \"title\": \"\"",
               "b.json:1:22: \"title\" must not be empty");
    fails_with("\"id\": \"a\", \"title\": null",
               "b.json:1:22: \"title\" must be a string, not null");
    fails_with("\"id\": \"a\", \"title\": \"t\", \"source\": [1]",
               "b.json:1:37: \"source\" must be a string, not an array");
    fails_with("\"id\": \"a\", \"title\": \"t\", \"category\": true",
               "b.json:1:39: \"category\" must be a string, not a boolean");
    fails_with("\"id\": 7, \"title\": \"t\"",
               "b.json:1:8: \"id\" must be a string, not a number");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": 20200520, "
          "\"blocks\": [{\"paragraph\": \"p\"}]}",
          "b.json:1:40: \"published\" must be a string");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-02-30\", "
          "\"blocks\": [{\"paragraph\": \"p\"}]}",
          "b.json:1:40: invalid published date \"2020-02-30\"");

    /* the key's position, also when the text escapes it */
    fails_with("\"id\": \"a\", \"title\": \"t\",\n  \"author\": \"x\"",
               "b.json:2:3: unknown key \"author\"");
    fails_with("\"id\": \"a\", \"title\": \"t\", \"\\u0041uthor\": 1",
               "b.json:1:27: unknown key \"Author\"");
    fails_with("\"id\": \"a\", \"\\u0074itle\": 1",
               "b.json:1:27: \"title\" must be a string, not a number");
    fails_with("\"id\": \"a\", \"title\": \"t\", \"\xe6\xa0\x87\xe9\xa2\x98\": "
               "\"x\"", "b.json:1:27: unknown key \"标题\"");
    fails_with("\"id\": \"a\", \"title\": \"t\", \"a\\nb\": 1",
               "b.json:1:27: unknown key \"a\\x0ab\"");

    fails("[1, 2]", "b.json:1:1: expected a JSON object, not an array");
    fails("  \n [ ]", "b.json:2:2: expected a JSON object, not an array");
}


static void
test_ids(void **state)
{
    bulletin_record_t  rec;
    bulletin_errors_t  errs;
    char               text[512], id[65];

    fails_with("\"id\": \"\", \"title\": \"t\"",
               "b.json:1:8: \"id\" must not be empty");
    fails_with("\"id\": \"a b\", \"title\": \"t\"",
               "b.json:1:8: invalid id \"a b\"");
    fails_with("\"id\": \"-a\", \"title\": \"t\"",
               "b.json:1:8: invalid id \"-a\"");
    fails_with("\"id\": \"a/../b\", \"title\": \"t\"",
               "b.json:1:8: invalid id ");
    fails_with("\"id\": \"简报\", \"title\": \"t\"",
               "b.json:1:8: invalid id \"简报\"");
    fails_with("\"id\": \"_index\", \"title\": \"t\"",
               "b.json:1:8: id \"_index\" is reserved");

    memset(id, 'x', 64);
    id[64] = '\0';
    snprintf(text, sizeof(text), "{\"id\": \"%s\", \"title\": \"t\", %s}",
             id, minimal_rest);
    assert_int_equal(parse(&rec, &errs, text), 0);
    assert_int_equal(rec.id.len, 64);
    bulletin_record_free(&rec);

    snprintf(text, sizeof(text), "{\"id\": \"%sy\", \"title\": \"t\", %s}",
             id, minimal_rest);
    fails(text, "b.json:1:8: invalid id \"xxxx");
}


static void
test_blocks(void **state)
{
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": []}", "b.json:1:64: \"blocks\" must not be empty");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": {\"paragraph\": \"p\"}}",
          "b.json:1:64: \"blocks\" must be an array, not an object");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"paragraph\": \"p\"},\n \"text\"]}",
          "b.json:3:2: block 2 must be an object, not a string");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"paragraph\": \"p\"},\n {}]}",
          "b.json:3:2: block 2 must have exactly one key");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"heading\": \"h\", \"paragraph\": \"p\"}]}",
          "b.json:2:2: block 1 must have exactly one key");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"paragraph\": \"p\"}, {\"image\": \"x.png\"}]}",
          "b.json:2:23: block 2: unknown block type \"image\"");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"paragraph\": \"\"}]}",
          "b.json:2:16: block 1: \"paragraph\" must not be empty");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [\n {\"heading\": [\"h\"]}]}",
          "b.json:2:14: block 1: \"heading\" must be a string, not an array");
    fails("{\"id\": \"a\", \"title\": \"t\", \"published\": \"2020-05-20\", "
          "\"blocks\": [{\"paragraph\": \"p\"}, {\"paragraph\": \"q\\\", ]}\"},"
          "\n {\"subheading\": 1}]}",
          "b.json:2:17: block 3: \"subheading\" must be a string");
}


/* every problem of a file, in the order of the text, then what is missing */

static void
test_many(void **state)
{
    bulletin_record_t  rec;
    bulletin_errors_t  errs;

    assert_int_equal(parse(&rec, &errs,
                     "{\n"
                     "  \"id\": \"bad id\",\n"
                     "  \"colour\": \"red\",\n"
                     "  \"blocks\": [{\"video\": \"v\"}, {\"paragraph\": 1}]\n"
                     "}\n"), -1);

    assert_int_equal(errs.n, 6);
    assert_string_equal(errs.msgs[0], "b.json:2:9: invalid id \"bad id\": "
                        "expected 1 to 64 of A-Z a-z 0-9 _ -, beginning with "
                        "a letter or digit");
    assert_string_equal(errs.msgs[1], "b.json:3:3: unknown key \"colour\" "
                        "(expected id, title, published, blocks, category, "
                        "source or summary)");
    assert_string_equal(errs.msgs[2], "b.json:4:15: block 1: unknown block "
                        "type \"video\" (expected heading, subheading or "
                        "paragraph)");
    assert_string_equal(errs.msgs[3], "b.json:4:44: block 2: \"paragraph\" "
                        "must be a string, not a number");
    assert_string_equal(errs.msgs[4], "b.json:1:1: missing required key "
                        "\"title\"");
    assert_string_equal(errs.msgs[5], "b.json:1:1: missing required key "
                        "\"published\"");

    bulletin_errors_clear(&errs);
    assert_int_equal(errs.n, 0);

    /* positions found past nested values and strings holding brackets */
    assert_int_equal(parse(&rec, &errs,
                     "{\"x\": {\"a\": [1, {\"b\": \"}\\\"]\"}], \"c\": {}},\n"
                     " \"title\": 5}"), -1);

    assert_int_equal(errs.n, 5);
    assert_true(strncmp(errs.msgs[0], "b.json:1:2: unknown key \"x\"", 27)
                == 0);
    assert_true(strncmp(errs.msgs[1], "b.json:2:11: \"title\" must be a "
                        "string", 31) == 0);

    bulletin_errors_clear(&errs);
}


static void
test_load(void **state)
{
    int                fd;
    char               path[] = "/tmp/test_source_XXXXXX";
    bulletin_record_t  rec;
    bulletin_errors_t  errs;

    const char  *text = "{\"id\": \"a\", \"title\": \"t\", \"published\": "
                        "\"2020-05-20\", \"blocks\": [{\"paragraph\": \"p\"}]}";

    memset(&errs, 0, sizeof(errs));

    fd = mkstemp(path);
    assert_true(fd != -1);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);

    assert_int_equal(bulletin_source_load(&rec, path, &errs), 0);
    assert_true(str_is(&rec.id, "a"));
    bulletin_record_free(&rec);

    unlink(path);

    assert_int_equal(bulletin_source_load(&rec, path, &errs), -1);
    assert_int_equal(errs.n, 1);
    assert_true(strstr(errs.msgs[0], ": cannot open: ") != NULL);
    assert_true(strncmp(errs.msgs[0], path, strlen(path)) == 0);
    bulletin_errors_clear(&errs);

    assert_int_equal(bulletin_source_load(&rec, "/tmp", &errs), -1);
    assert_string_equal(errs.msgs[0], "/tmp: cannot open: is a folder");
    bulletin_errors_clear(&errs);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_optional_absent),
        cmocka_unit_test(test_published),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_syntax_causes),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
