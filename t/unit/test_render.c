
/*
 * Copyright (C) bulletin authors
 *
 * bulletin_render: templates, escaping, count slots, and gzip segments
 * that inflate to the plain page, alone and with digits spliced between.
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

#include <zlib.h>

#include "bulletin_render.h"


#define STR(s)  { (const uint8_t *) (s), sizeof(s) - 1 }


static const char  *channels4[] = { "wechat", "weibo", "qq", "link" };


static bulletin_template_t *
tpl(const char *text, unsigned kind)
{
    char                  err[512];
    bulletin_template_t  *t;

    t = bulletin_template_parse("t.html", (const uint8_t *) text,
                                strlen(text), kind, err, sizeof(err));
    if (t == NULL) {
        print_error("%s\n", err);
        fail();
    }

    return t;
}


static void
tpl_fails(const char *text, unsigned kind, const char *want)
{
    char                  err[512];
    bulletin_template_t  *t;

    err[0] = '\0';

    t = bulletin_template_parse("t.html", (const uint8_t *) text,
                                strlen(text), kind, err, sizeof(err));
    assert_null(t);
    assert_string_equal(err, want);
}


/* the page's plain bytes, NUL-terminated, counts shown as digits[] */

static char *
plain(const bulletin_wpage_t *page, const char *const *digits)
{
    char      *s, *p;
    size_t     i, len;
    uint32_t   n;

    len = 1;

    for (n = 0; n <= page->nslots; n++) {
        len += page->segments[n].plain_len;

        if (n < page->nslots && digits != NULL) {
            len += strlen(digits[n]);
        }
    }

    s = malloc(len);
    assert_non_null(s);
    p = s;

    for (n = 0; n <= page->nslots; n++) {
        i = page->segments[n].plain_len;
        memcpy(p, page->segments[n].plain, i);
        p += i;

        if (n < page->nslots && digits != NULL) {
            memcpy(p, digits[n], strlen(digits[n]));
            p += strlen(digits[n]);
        }
    }

    *p = '\0';

    return s;
}


/* raw inflate of len bytes, which must end the stream exactly */

static size_t
inflate_raw(const uint8_t *in, size_t len, uint8_t *out, size_t size,
    int window_bits)
{
    int       rc;
    z_stream  zs;

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, window_bits), Z_OK);

    zs.next_in = (uint8_t *) in;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) size;

    rc = inflate(&zs, Z_FINISH);
    assert_int_equal(rc, Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);

    len = size - zs.avail_out;
    inflateEnd(&zs);

    return len;
}


/*
 * Every gzip segment is raw deflate ending on a full flush: alone, with an
 * empty final block after it, it inflates to its plain bytes (so no
 * back-reference reaches into another segment), and all of them in a row
 * inflate to the page.  CRCs are zlib's.
 */

static void
check_gzip(const bulletin_wpage_t *page)
{
    char                       *p;
    size_t                      len, all, n, total;
    uint8_t                    *buf, *one, *out;
    uint32_t                    i;
    const bulletin_wsegment_t  *seg;

    total = 0;
    all = 0;

    for (i = 0; i <= page->nslots; i++) {
        total += page->segments[i].plain_len;
        all += page->segments[i].gzip_len;
    }

    buf = malloc(all + 2);
    one = malloc(all + 2);
    out = malloc(total + 1);
    assert_non_null(buf);
    assert_non_null(one);
    assert_non_null(out);

    n = 0;

    for (i = 0; i <= page->nslots; i++) {
        seg = &page->segments[i];

        assert_int_equal(seg->crc,
                         (uint32_t) crc32(0, seg->plain, seg->plain_len));

        if (seg->plain_len == 0) {
            assert_int_equal(seg->gzip_len, 0);
            assert_int_equal(seg->crc, 0);
            continue;
        }

        /* a full flush ends on an empty stored block */
        assert_true(seg->gzip_len > 4);
        assert_memory_equal(seg->gzip + seg->gzip_len - 4, "\0\0\xff\xff", 4);

        memcpy(one, seg->gzip, seg->gzip_len);
        memcpy(one + seg->gzip_len, "\x03\x00", 2);

        len = inflate_raw(one, seg->gzip_len + 2, out, total + 1, -15);
        assert_int_equal(len, seg->plain_len);
        assert_memory_equal(out, seg->plain, len);

        memcpy(buf + n, seg->gzip, seg->gzip_len);
        n += seg->gzip_len;
    }

    memcpy(buf + n, "\x03\x00", 2);

    len = inflate_raw(buf, n + 2, out, total + 1, -15);
    assert_int_equal(len, total);

    p = plain(page, NULL);
    assert_memory_equal(out, p, total);

    free(p);
    free(buf);
    free(one);
    free(out);
}


/*
 * The body nginx sends: gzip header, segments, each count's digits as a
 * stored block, a final block, trailer.  It must be a valid gzip stream of
 * the plain page with the digits.
 */

static void
check_splice(const bulletin_wpage_t *page, const char *const *digits)
{
    char      *p;
    size_t     n, len, dlen, plen;
    uint8_t   *buf, *out;
    uint32_t   i, crc;

    p = plain(page, digits);
    plen = strlen(p);

    len = 10 + 2 + 8 + plen * 2 + 64 + (size_t) page->nslots * 32;
    buf = malloc(len);
    out = malloc(plen + 1);
    assert_non_null(buf);
    assert_non_null(out);

    memcpy(buf, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    n = 10;

    for (i = 0; i <= page->nslots; i++) {
        memcpy(buf + n, page->segments[i].gzip, page->segments[i].gzip_len);
        n += page->segments[i].gzip_len;

        if (i == page->nslots) {
            break;
        }

        dlen = strlen(digits[i]);
        buf[n++] = 0x00;
        buf[n++] = (uint8_t) dlen;
        buf[n++] = 0;
        buf[n++] = (uint8_t) ~dlen;
        buf[n++] = 0xff;
        memcpy(buf + n, digits[i], dlen);
        n += dlen;
    }

    buf[n++] = 0x03;
    buf[n++] = 0x00;

    crc = (uint32_t) crc32(0, (const uint8_t *) p, plen);

    buf[n++] = (uint8_t) crc;
    buf[n++] = (uint8_t) (crc >> 8);
    buf[n++] = (uint8_t) (crc >> 16);
    buf[n++] = (uint8_t) (crc >> 24);
    buf[n++] = (uint8_t) plen;
    buf[n++] = (uint8_t) (plen >> 8);
    buf[n++] = (uint8_t) (plen >> 16);
    buf[n++] = (uint8_t) (plen >> 24);

    len = inflate_raw(buf, n, out, plen + 1, 15 + 16);
    assert_int_equal(len, plen);
    assert_memory_equal(out, p, plen);

    free(p);
    free(buf);
    free(out);
}


static bulletin_render_t *
renderer(size_t n)
{
    bulletin_render_t  *r;

    r = bulletin_render_create(channels4, n);
    assert_non_null(r);

    return r;
}


/* a list template of its own: the shipped one changes with the design */

static const char  list_tpl[] =
    "<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\">"
    "</head><body><ol>\n{{list}}</ol><p>最新 {{count}} 篇 / 共 {{total}} "
    "篇</p></body></html>\n";


static int
render_list(bulletin_render_t *r, bulletin_template_t *t,
    const bulletin_index_entry_t *entries, size_t n, size_t total,
    bulletin_wpage_t *page)
{
    bulletin_list_ctx_t  lc;

    memset(&lc, 0, sizeof(bulletin_list_ctx_t));
    lc.entries = entries;
    lc.n = n;
    lc.total = total;
    lc.page = 1;
    lc.pages = 1;

    return bulletin_render_index(r, t, &lc, page);
}


static bulletin_record_t
record(void)
{
    bulletin_record_t  rec;

    static bulletin_block_t  blocks[] = {
        { BULLETIN_BLOCK_HEADING, STR("首都社会组织参与垃圾分类助力计划启动") },
        { BULLETIN_BLOCK_SUBHEADING, STR("——为贫困地区师生搭起一座桥") },
        { BULLETIN_BLOCK_PARAGRAPH, STR("为推进首都社会组织在《北京市生活"
                                        "垃圾管理条例》实施过程中发挥积极作用,"
                                        "5月19日……") },
        { BULLETIN_BLOCK_PARAGRAPH, STR("启动仪式上,社会组织代表以在线视频"
                                        "方式发起“云倡议”。") },
    };

    memset(&rec, 0, sizeof(rec));

    rec.id = (bulletin_str_t) STR("bj-sociorg-2020-01");
    rec.title = (bulletin_str_t) STR("北京市社会组织工作动态【第1期】");
    rec.published = (bulletin_str_t) STR("2020-05-20T10:00:00+08:00");
    rec.source = (bulletin_str_t) STR("北京市社会组织管理中心");
    rec.blocks = blocks;
    rec.nblocks = sizeof(blocks) / sizeof(blocks[0]);

    return rec;
}


static void
test_escape(void **state)
{
    size_t   n;
    uint8_t  buf[256];

    const char  *in = "<script>alert(\"x&y\")</script>'\xf0\x9f\x98\x80 中";

    n = bulletin_html_escape(buf, (const uint8_t *) in, strlen(in));
    buf[n] = '\0';

    assert_string_equal((char *) buf,
                        "&lt;script&gt;alert(&quot;x&amp;y&quot;)"
                        "&lt;/script&gt;&#39;\xf0\x9f\x98\x80 中");

    assert_int_equal(bulletin_html_escape(buf, (const uint8_t *) "", 0), 0);
}


static void
test_template_errors(void **state)
{
    bulletin_template_t  *t;

    tpl_fails("<p>\n\n  中文{{nope}}</p>", BULLETIN_TEMPLATE_PAGE,
              "t.html:3:5: unknown placeholder \"{{nope}}\" (expected id, "
              "title, category, published, date, source, summary, body, "
              "share_bar, views, shares, site_name, canonical, "
              "description, category_url, crumbs, prev, next, qr, "
              "footer, feed_url or base_url)");
    tpl_fails("{{title}}\n{{title", BULLETIN_TEMPLATE_PAGE,
              "t.html:2:1: unclosed \"{{\"");
    tpl_fails("a {{ti\ntle}}", BULLETIN_TEMPLATE_PAGE,
              "t.html:1:3: unknown placeholder \"{{ti\\x0atle}}\" (expected "
              "id, title, category, published, date, source, summary, body, "
              "share_bar, views, shares, site_name, canonical, "
              "description, category_url, crumbs, prev, next, qr, "
              "footer, feed_url or base_url)");
    tpl_fails("{{list}}", BULLETIN_TEMPLATE_PAGE,
              "t.html:1:1: unknown placeholder \"{{list}}\" (expected id, "
              "title, category, published, date, source, summary, body, "
              "share_bar, views, shares, site_name, canonical, "
              "description, category_url, crumbs, prev, next, qr, "
              "footer, feed_url or base_url)");
    tpl_fails("{{}}", BULLETIN_TEMPLATE_PAGE,
              "t.html:1:1: unknown placeholder \"{{}}\" (expected id, "
              "title, category, published, date, source, summary, body, "
              "share_bar, views, shares, site_name, canonical, "
              "description, category_url, crumbs, prev, next, qr, "
              "footer, feed_url or base_url)");
    tpl_fails("<ol>{{title}}</ol>", BULLETIN_TEMPLATE_INDEX,
              "t.html:1:5: unknown placeholder \"{{title}}\" (expected "
              "site_name, list_title, crumbs, list, pager, page, pages, "
              "count, total, canonical, description, categories, footer, "
              "feed_url or base_url)");

    t = tpl("{ {{ title\t}} }} {x} {", BULLETIN_TEMPLATE_PAGE);
    bulletin_template_free(t);
    t = tpl("", BULLETIN_TEMPLATE_PAGE);
    bulletin_template_free(t);
}


/*
 * Values are escaped for HTML text and quoted attribute values: a
 * template that puts one where escaping does not protect it is refused.
 */

#define SAFE_ONLY  ": values are escaped for HTML text and quoted " \
                   "attributes only"

static void
test_template_contexts(void **state)
{
    size_t                i;
    bulletin_template_t  *t;

    static const struct {
        const char  *text;
        const char  *error;
    } bad[] = {
        { "<script>var t = \"{{title}}\";</script>",
          "t.html:1:18: \"{{title}}\" inside <script>" },
        { "<SCRIPT type=module>\n{{views}}</SCRIPT>",
          "t.html:2:1: \"{{views}}\" inside <script>" },
        { "<style>p::after { content: \"{{source}}\" }</style>",
          "t.html:1:29: \"{{source}}\" inside <style>" },
        { "<a href=\"{{title}}\">x</a>",
          "t.html:1:10: \"{{title}}\" in a URL attribute" },
        { "<img alt=\"\" SRC='{{summary}}'>",
          "t.html:1:18: \"{{summary}}\" in a URL attribute" },
        { "<p class={{title}}>",
          "t.html:1:10: \"{{title}}\" in an unquoted attribute value" },
        { "<p class=x{{id}}>",
          "t.html:1:11: \"{{id}}\" in an unquoted attribute value" },
        { "<p {{title}}>",
          "t.html:1:4: \"{{title}}\" inside a tag, outside a quoted "
          "attribute value" },
        { "<{{title}}>",
          "t.html:1:2: \"{{title}}\" inside a tag, outside a quoted "
          "attribute value" },
        { "<div onclick=\"go('{{id}}')\">",
          "t.html:1:19: \"{{id}}\" in a script or style attribute" },
        { "<p style=\"width: {{views}}px\">",
          "t.html:1:18: \"{{views}}\" in a script or style attribute" },
        { "<p title=\"{{body}}\">",
          "t.html:1:11: \"{{body}}\" in an attribute value" },
        { "<title>{{share_bar}}</title>",
          "t.html:1:8: \"{{share_bar}}\" inside <title>" },
        { "<textarea>{{body}}</textarea>",
          "t.html:1:11: \"{{body}}\" inside <textarea>" },
        { "<!-- {{title}} -->",
          "t.html:1:6: \"{{title}}\" inside an HTML comment" },
        { "<!DOCTYPE {{title}}>",
          "t.html:1:11: \"{{title}}\" inside a <!...> declaration" },
    };

    char  want[300];

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), "%s%s", bad[i].error, SAFE_ONLY);
        tpl_fails(bad[i].text, BULLETIN_TEMPLATE_PAGE, want);
    }

    tpl_fails("<a href=\"{{list}}\">", BULLETIN_TEMPLATE_INDEX,
              "t.html:1:10: \"{{list}}\" in an attribute value" SAFE_ONLY);

    /* where they are safe: text, quoted values, ids and counts in URLs,
     * and after the end of a script, a style or a comment */

    t = tpl("<!DOCTYPE html><title>{{title}} - x</title>"
            "<meta name=\"description\" content=\"{{summary}}\">"
            "<script>if (a < b && c > d) { x = '</p>'; }</script>"
            "<style>a[href] > b { color: red }</style>"
            "<!-- a <p class= -- still a comment -->"
            "<h1 class=\"t\" data-x='{{ title }}'>{{title}}</h1>"
            "<a href=\"./{{id}}/share?n={{views}}\" title=\"{{"
            "views}}\">{{category}}</a><p>{{body}}</p>{{share_bar}}"
            "<time datetime=\"{{published}}\">{{date}}</time>"
            "<p>1 < 2 and {{source}} <b>{{shares}}</b></p>",
            BULLETIN_TEMPLATE_PAGE);
    bulletin_template_free(t);
}


static void
test_template_load(void **state)
{
    int                   fd;
    char                  path[] = "/tmp/test_render_XXXXXX", err[512];
    char                  want[600];
    bulletin_template_t  *t;

    const char  *text = "<h1>{{title}}</h1>\n<p>{{author}}</p>\n";

    fd = mkstemp(path);
    assert_true(fd != -1);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);

    t = bulletin_template_load(path, BULLETIN_TEMPLATE_PAGE, err,
                               sizeof(err));
    assert_null(t);

    snprintf(want, sizeof(want), "%s:2:4: unknown placeholder", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);

    unlink(path);

    t = bulletin_template_load(path, BULLETIN_TEMPLATE_PAGE, err,
                               sizeof(err));
    assert_null(t);

    snprintf(want, sizeof(want), "%s: cannot open: ", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);
}


static void
test_segments(void **state)
{
    char                 *p;
    bulletin_record_t     rec;
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;

    static const char  *channels[] = { "wechat", "x-y" };
    static const char  *digits[] = { "0", "9", "10", "18446744073709551615" };

    rec = record();
    r = bulletin_render_create(channels, 2);
    assert_non_null(r);

    t = tpl("A{{views}}B{{ shares }}C{{share_bar}}D", BULLETIN_TEMPLATE_PAGE);

    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);

    assert_int_equal(page.id_len, rec.id.len);
    assert_memory_equal(page.id, rec.id.data, rec.id.len);
    assert_memory_equal(page.title, rec.title.data, rec.title.len);
    assert_memory_equal(page.published, rec.published.data,
                        rec.published.len);

    assert_int_equal(page.nslots, 4);
    assert_null(page.slots[0].ref);
    assert_int_equal(page.slots[0].kind, BULLETIN_SLOT_VIEWS);
    assert_int_equal(page.slots[1].kind, BULLETIN_SLOT_SHARES);
    assert_int_equal(page.slots[2].kind, BULLETIN_SLOT_CHANNEL);
    assert_int_equal(page.slots[3].kind, BULLETIN_SLOT_CHANNEL + 1);
    assert_null(page.slots[3].ref);

    p = plain(&page, digits);
    assert_string_equal(p,
        "A0B9C<button type=\"button\" class=\"bulletin-share\" "
        "data-channel=\"wechat\">微信 <span class=\"bulletin-share-count\">10"
        "</span></button>\n"
        "<button type=\"button\" class=\"bulletin-share\" "
        "data-channel=\"x-y\">x-y <span class=\"bulletin-share-count\">"
        "18446744073709551615</span></button>D");
    free(p);

    check_gzip(&page);
    check_splice(&page, digits);

    bulletin_template_free(t);
    bulletin_render_free(r);
}


/* slots at the start, the end and next to each other: empty segments */

static void
test_empty_segments(void **state)
{
    char                 *p;
    bulletin_record_t     rec;
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;

    static const char  *digits[] = { "12345678901234", "0", "7" };

    rec = record();
    r = renderer(1);

    t = tpl("{{views}}{{shares}}", BULLETIN_TEMPLATE_PAGE);
    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);
    assert_int_equal(page.nslots, 2);
    assert_int_equal(page.segments[0].plain_len, 0);
    assert_int_equal(page.segments[1].plain_len, 0);
    assert_int_equal(page.segments[2].plain_len, 0);
    assert_int_equal(page.segments[0].gzip_len, 0);
    assert_int_equal(page.segments[1].gzip_len, 0);
    assert_int_equal(page.segments[2].gzip_len, 0);
    check_gzip(&page);
    check_splice(&page, digits);
    bulletin_template_free(t);

    t = tpl("{{views}}x{{shares}}{{shares}}", BULLETIN_TEMPLATE_PAGE);
    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);
    assert_int_equal(page.nslots, 3);
    assert_int_equal(page.segments[0].gzip_len, 0);
    assert_true(page.segments[1].gzip_len > 0);
    assert_int_equal(page.segments[2].gzip_len, 0);
    assert_int_equal(page.segments[3].gzip_len, 0);
    p = plain(&page, digits);
    assert_string_equal(p, "12345678901234x07");
    free(p);
    check_gzip(&page);
    check_splice(&page, digits);
    bulletin_template_free(t);

    t = tpl("", BULLETIN_TEMPLATE_PAGE);
    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);
    assert_int_equal(page.nslots, 0);
    assert_int_equal(page.segments[0].plain_len, 0);
    assert_int_equal(page.segments[0].gzip_len, 0);
    check_splice(&page, digits);
    bulletin_template_free(t);

    bulletin_render_free(r);
}


static size_t
count(const char *s, const char *what)
{
    size_t  n;

    for (n = 0; (s = strstr(s, what)) != NULL; s++) {
        n++;
    }

    return n;
}


static void
test_no_injection(void **state)
{
    char                 *p;
    bulletin_record_t     rec;
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;

    static bulletin_block_t  blocks[] = {
        { BULLETIN_BLOCK_HEADING, STR("<h1 onclick='x'>") },
        { BULLETIN_BLOCK_PARAGRAPH, STR("</p><script>alert(1)</script>") },
        { BULLETIN_BLOCK_SUBHEADING, STR("\"><img src=x onerror=alert(1)>") },
    };

    rec = record();
    rec.title = (bulletin_str_t) STR("<script>alert(\"t\")</script>'&amp;");
    rec.category = (bulletin_str_t) STR("\"><a href=\"javascript:x\">");
    rec.source = (bulletin_str_t) STR("</p><style>*{}</style>");
    rec.summary = (bulletin_str_t) STR("\" onload=\"alert(1)");
    rec.published = (bulletin_str_t) STR("2020-05-20");
    rec.blocks = blocks;
    rec.nblocks = 3;

    r = renderer(4);
    t = bulletin_template_parse("default.html",
                                (const uint8_t *) bulletin_template_default,
                                bulletin_template_default_len,
                                BULLETIN_TEMPLATE_PAGE, NULL, 0);
    assert_non_null(t);

    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);
    p = plain(&page, NULL);

    /* only the template's own script and style */
    assert_int_equal(count(p, "<script"), 1);
    assert_int_equal(count(p, "<style"), 1);
    assert_int_equal(count(p, "<img"), 0);
    assert_int_equal(count(p, "<h1"), 1);
    assert_int_equal(count(p, "onerror"), 1);
    assert_int_equal(count(p, "onload=\""), 0);
    assert_int_equal(count(p, "href=\"javascript"), 0);
    assert_true(strstr(p, "<h1>&lt;script&gt;alert(&quot;t&quot;)"
                       "&lt;/script&gt;&#39;&amp;amp;</h1>") != NULL);
    assert_true(strstr(p, "<h2>&lt;h1 onclick=&#39;x&#39;&gt;</h2>")
                != NULL);

    free(p);
    bulletin_template_free(t);
    bulletin_render_free(r);
}


static void
test_default_template(void **state)
{
    char                 *p;
    size_t                i;
    bulletin_record_t     rec;
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;

    static const char  *digits[] = { "2948", "135", "100", "20", "10", "5" };

    assert_int_equal(strlen(bulletin_template_default),
                     bulletin_template_default_len);
    assert_int_equal(strlen(bulletin_template_index),
                     bulletin_template_index_len);

    rec = record();
    r = renderer(4);
    t = tpl(bulletin_template_default, BULLETIN_TEMPLATE_PAGE);

    assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page), BULLETIN_OK);

    /* the meta line, then the share bar */
    assert_int_equal(page.nslots, 6);
    assert_int_equal(page.slots[0].kind, BULLETIN_SLOT_VIEWS);
    assert_int_equal(page.slots[1].kind, BULLETIN_SLOT_SHARES);

    for (i = 0; i < 4; i++) {
        assert_int_equal(page.slots[2 + i].kind, BULLETIN_SLOT_CHANNEL + i);
    }

    p = plain(&page, digits);

    assert_true(strncmp(p, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(p, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(p, "<meta name=\"viewport\""));
    assert_non_null(strstr(p, "<link rel=\"icon\" href=\"data:,\">"));
    assert_non_null(strstr(p, "社会组织服务平台"));
    assert_non_null(strstr(p, "您现在的位置：<ol>"));
    assert_non_null(strstr(p, "<li aria-current=\"page\">详情</li></ol>"));
    assert_non_null(strstr(p, "<h1>北京市社会组织工作动态【第1期】</h1>"));
    assert_non_null(strstr(p, "<time datetime=\"2020-05-20T10:00:00+08:00\">"
                           "2020-05-20</time>"));
    assert_non_null(strstr(p, "浏览 <span class=\"bulletin-views\">2948"
                           "</span>"));
    assert_non_null(strstr(p, "分享 <span class=\"bulletin-shares\">135"
                           "</span>"));
    assert_non_null(strstr(p, "<h2>首都社会组织参与垃圾分类助力计划启动</h2>"));
    assert_non_null(strstr(p, "<h3>——为贫困地区师生搭起一座桥</h3>"));
    assert_non_null(strstr(p, "<p>启动仪式上,"));
    assert_non_null(strstr(p, "来源：北京市社会组织管理中心</p>"));
    assert_non_null(strstr(p, "data-channel=\"wechat\">微信 <span "
                           "class=\"bulletin-share-count\">100</span>"));
    assert_non_null(strstr(p, "data-channel=\"weibo\">微博 <span "
                           "class=\"bulletin-share-count\">20</span>"));
    assert_non_null(strstr(p, "data-channel=\"qq\">QQ <span "
                           "class=\"bulletin-share-count\">10</span>"));
    assert_non_null(strstr(p, "data-channel=\"link\">复制链接 <span "
                           "class=\"bulletin-share-count\">5</span>"));
    assert_non_null(strstr(p, "链接已复制，可粘贴到微信"));
    assert_non_null(strstr(p, "</html>"));

    /* self-contained: nothing fetched but the share endpoint */
    assert_null(strstr(p, "<link rel=\"stylesheet\""));
    assert_null(strstr(p, "src=\"http"));
    assert_null(strstr(p, "url("));

    free(p);

    check_gzip(&page);
    check_splice(&page, digits);

    bulletin_template_free(t);
    bulletin_render_free(r);
}


static void
test_index(void **state)
{
    char                    *p;
    bulletin_wpage_t         page;
    bulletin_render_t       *r;
    bulletin_template_t     *t;
    bulletin_index_entry_t  *many;
    size_t                   i;

    static const char  *digits[] = { "3", "2", "1" };

    static const bulletin_index_entry_t  entries[] = {
        { STR("c"), STR("第3期 <b>"), STR("2020-06-12T09:00:00Z") },
        { STR("b"), STR("第2期"), STR("2020-06-02") },
        { STR("a"), STR("第1期"), STR("2020-05-20") },
    };

    r = renderer(4);
    t = tpl(list_tpl, BULLETIN_TEMPLATE_INDEX);

    assert_int_equal(render_list(r, t, entries, 3, 5, &page), BULLETIN_OK);

    assert_int_equal(page.id_len, 6);
    assert_memory_equal(page.id, "_index", 6);
    assert_memory_equal(page.title, "全部简报", page.title_len);
    assert_int_equal(page.published_len, 20);
    assert_memory_equal(page.published, "2020-06-12T09:00:00Z", 20);

    assert_int_equal(page.nslots, 3);

    for (i = 0; i < 3; i++) {
        assert_int_equal(page.slots[i].kind, BULLETIN_SLOT_VIEWS);
        assert_int_equal(page.slots[i].ref_len, 1);
        assert_memory_equal(page.slots[i].ref, entries[i].id.data, 1);
    }

    p = plain(&page, digits);

    assert_non_null(strstr(p, "<li><a href=\"c\">第3期 &lt;b&gt;</a> "
                           "<time datetime=\"2020-06-12T09:00:00Z\">2020-06-12"
                           "</time> <span class=\"bulletin-list-views\">浏览 "
                           "<span class=\"bulletin-views\">3</span></span>"
                           "</li>"));
    assert_true(strstr(p, "href=\"c\"") < strstr(p, "href=\"b\""));
    assert_true(strstr(p, "href=\"b\"") < strstr(p, "href=\"a\""));
    assert_non_null(strstr(p, "最新 3 篇 / 共 5 篇"));
    assert_non_null(strstr(p, "<link rel=\"icon\" href=\"data:,\">"));

    free(p);

    check_gzip(&page);
    check_splice(&page, digits);

    /* more slots than a page may have; the renderer recovers */

    many = calloc(BULLETIN_SLOTS_MAX + 1, sizeof(bulletin_index_entry_t));
    assert_non_null(many);

    for (i = 0; i <= BULLETIN_SLOTS_MAX; i++) {
        many[i] = entries[i % 3];
    }

    assert_int_equal(render_list(r, t, many, BULLETIN_SLOTS_MAX + 1,
                                 BULLETIN_SLOTS_MAX + 1, &page),
                     BULLETIN_ERR_TOO_LARGE);
    assert_int_equal(render_list(r, t, many, BULLETIN_SLOTS_MAX,
                                 BULLETIN_SLOTS_MAX, &page),
                     BULLETIN_OK);
    assert_int_equal(page.nslots, BULLETIN_SLOTS_MAX);
    check_gzip(&page);

    free(many);

    bulletin_template_free(t);
    bulletin_render_free(r);
}


/*
 * Pages in a row: segments as plain as the previous page's take their
 * deflated bytes from it, and every page still inflates to itself.
 */

static void
test_cache(void **state)
{
    char                 *p, *q;
    uint32_t              i;
    bulletin_record_t     one, two;
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;
    bulletin_wsegment_t   first[8];
    uint8_t              *gzip[8];

    static const char  *digits[] = { "1", "22", "333", "4444", "5", "6" };

    static bulletin_block_t  blocks[] = {
        { BULLETIN_BLOCK_PARAGRAPH, STR("另一篇简报的正文。") },
    };

    one = record();
    two = record();
    two.title = (bulletin_str_t) STR("第二篇");
    two.blocks = blocks;
    two.nblocks = 1;

    r = renderer(4);
    t = tpl(bulletin_template_default, BULLETIN_TEMPLATE_PAGE);

    assert_int_equal(bulletin_render_page(r, t, &one, NULL, &page), BULLETIN_OK);
    assert_int_equal(page.nslots, 6);
    check_gzip(&page);
    check_splice(&page, digits);
    p = plain(&page, digits);

    for (i = 0; i <= page.nslots; i++) {
        first[i] = page.segments[i];
        gzip[i] = malloc(first[i].gzip_len + 1);
        assert_non_null(gzip[i]);
        memcpy(gzip[i], first[i].gzip, first[i].gzip_len);
    }

    assert_int_equal(bulletin_render_page(r, t, &two, NULL, &page), BULLETIN_OK);
    check_gzip(&page);
    check_splice(&page, digits);
    q = plain(&page, digits);
    assert_non_null(strstr(q, "<p>另一篇简报的正文。</p>"));
    assert_non_null(strstr(q, "<h1>第二篇</h1>"));
    free(q);

    /* the script at the end is the same, and so are its deflated bytes */
    assert_int_equal(page.segments[6].gzip_len, first[6].gzip_len);
    assert_memory_equal(page.segments[6].gzip, gzip[6], first[6].gzip_len);

    assert_int_equal(bulletin_render_page(r, t, &one, NULL, &page), BULLETIN_OK);
    check_gzip(&page);
    check_splice(&page, digits);
    q = plain(&page, digits);
    assert_string_equal(p, q);
    free(q);
    free(p);

    for (i = 0; i <= page.nslots; i++) {
        free(gzip[i]);
    }

    bulletin_template_free(t);
    bulletin_render_free(r);
}


/* a page that outgrows the first buffers, repeatedly rendered */

static void
test_large(void **state)
{
    char                 *text, *p;
    size_t                i, len;
    bulletin_record_t     rec;
    bulletin_block_t      blocks[64];
    bulletin_wpage_t      page;
    bulletin_render_t    *r;
    bulletin_template_t  *t;

    static const char  *digits[] = { "1", "2" };

    len = 40000;
    text = malloc(len);
    assert_non_null(text);

    /* incompressible enough to need more than the first gzip buffer */
    srand(1);

    for (i = 0; i < len; i++) {
        text[i] = (char) ('a' + rand() % 26);
    }

    for (i = 0; i < 64; i++) {
        blocks[i].type = BULLETIN_BLOCK_PARAGRAPH;
        blocks[i].text.data = (const uint8_t *) text + i * 100;
        blocks[i].text.len = len - i * 100;
    }

    rec = record();
    rec.blocks = blocks;
    rec.nblocks = 64;

    r = renderer(0);
    t = tpl("{{views}}<body>{{body}}</body>{{shares}}", BULLETIN_TEMPLATE_PAGE);

    for (i = 0; i < 3; i++) {
        assert_int_equal(bulletin_render_page(r, t, &rec, NULL, &page),
                         BULLETIN_OK);
        assert_true(page.segments[1].plain_len > 2000000);
        check_gzip(&page);
    }

    check_splice(&page, digits);
    p = plain(&page, digits);
    assert_int_equal(strncmp(p, "1<body><p>", 10), 0);
    free(p);

    bulletin_template_free(t);
    bulletin_render_free(r);
    free(text);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_template_contexts),
        cmocka_unit_test(test_template_load),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_empty_segments),
        cmocka_unit_test(test_no_injection),
        cmocka_unit_test(test_default_template),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
