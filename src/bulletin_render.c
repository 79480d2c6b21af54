
/*
 * Copyright (C) bulletin authors
 */


#define _GNU_SOURCE                 /* memmem() */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "bulletin_file.h"
#include "bulletin_qr.h"
#include "bulletin_render.h"


#define BULLETIN_TEMPLATE_MAX      (1024 * 1024)

/*
 * A segment as plain as the one last rendered at its place (the
 * template's script and style, the pieces between share buttons) takes
 * its deflated bytes from then: after a full flush they stand alone.
 */
#define BULLETIN_CACHE_SEGMENTS    16
#define BULLETIN_CACHE_MAX         (64 * 1024)

/*
 * A full flush clears deflate's hash table: 128 KB at memLevel 9, for
 * each segment, most of the work for a list page's short entries.  A
 * segment of at most 1024 bytes goes through a stream of memLevel 4 (a
 * 4 KB table, and room for 1024 symbols a block): it has too few
 * positions for the longer chains of the smaller table to end a search
 * sooner (level 9 looks 1024 deep), and never fills a block, so its
 * bytes are the same.
 */
#define BULLETIN_SMALL_SEGMENT     1024
#define BULLETIN_SMALL_MEMLEVEL    4

enum {
    BULLETIN_PART_LITERAL = 0,

    /* the detail page */
    BULLETIN_PART_ID,
    BULLETIN_PART_TITLE,
    BULLETIN_PART_CATEGORY,
    BULLETIN_PART_PUBLISHED,
    BULLETIN_PART_DATE,
    BULLETIN_PART_SOURCE,
    BULLETIN_PART_SUMMARY,
    BULLETIN_PART_BODY,
    BULLETIN_PART_SHARE_BAR,
    BULLETIN_PART_VIEWS,
    BULLETIN_PART_SHARES,
    BULLETIN_PART_DESCRIPTION,
    BULLETIN_PART_CATEGORY_URL,
    BULLETIN_PART_PREV,
    BULLETIN_PART_NEXT,
    BULLETIN_PART_QR,

    /* both */
    BULLETIN_PART_SITE_NAME,
    BULLETIN_PART_CANONICAL,
    BULLETIN_PART_CRUMBS,
    BULLETIN_PART_FOOTER,
    BULLETIN_PART_FEED_URL,
    BULLETIN_PART_BASE_URL,

    /* the list page */
    BULLETIN_PART_LIST,
    BULLETIN_PART_COUNT,
    BULLETIN_PART_TOTAL,
    BULLETIN_PART_LIST_TITLE,
    BULLETIN_PART_PAGER,
    BULLETIN_PART_PAGE,
    BULLETIN_PART_PAGES,
    BULLETIN_PART_CATEGORIES
};


/*
 * What a placeholder's value may hold, and so where a template may put
 * it: escaped text is safe in HTML text and in quoted attribute values
 * that are not URLs, scripts or styles; markup only in HTML text; ids
 * and numbers (A-Z a-z 0-9 _ -) in URL values too, and so the URLs the
 * builder makes of the site file's checked base_url and of ids.
 */
#define BULLETIN_VALUE_TEXT        0
#define BULLETIN_VALUE_HTML        1
#define BULLETIN_VALUE_WORD        2
#define BULLETIN_VALUE_URL         3

typedef struct {
    const char              *name;
    unsigned                 part;
    unsigned                 value;         /* BULLETIN_VALUE_* */
} bulletin_placeholder_t;


/* where a template's scan stands, as an HTML tokenizer would see it */

enum {
    BULLETIN_HTML_DATA = 0,
    BULLETIN_HTML_DECLARATION,              /* <!DOCTYPE ...> */
    BULLETIN_HTML_COMMENT,
    BULLETIN_HTML_TAG_NAME,
    BULLETIN_HTML_TAG,                      /* between attributes */
    BULLETIN_HTML_ATTR_NAME,
    BULLETIN_HTML_AFTER_ATTR_NAME,
    BULLETIN_HTML_BEFORE_VALUE,
    BULLETIN_HTML_VALUE_DOUBLE,
    BULLETIN_HTML_VALUE_SINGLE,
    BULLETIN_HTML_VALUE_UNQUOTED,
    BULLETIN_HTML_RAW                       /* script, style, title,
                                               textarea: until its end tag */
};

#define BULLETIN_HTML_NAME_MAX     16

typedef struct {
    unsigned                 state;         /* BULLETIN_HTML_* */
    unsigned                 end_tag;
    size_t                   tag_len;
    char                     tag[BULLETIN_HTML_NAME_MAX];
    size_t                   attr_len;
    char                     attr[BULLETIN_HTML_NAME_MAX];
    size_t                   raw_len;       /* of raw: the element */
    char                     raw[BULLETIN_HTML_NAME_MAX];
} bulletin_html_t;


typedef struct {
    unsigned                 type;          /* BULLETIN_PART_* */
    size_t                   off;           /* a literal's bytes */
    size_t                   len;
} bulletin_tpart_t;


struct bulletin_template_s {
    unsigned                 kind;
    uint64_t                 hash;          /* of the text */
    uint8_t                 *text;
    size_t                   nparts;
    bulletin_tpart_t        *parts;
};


typedef struct {
    uint8_t                 *data;          /* plain bytes, then gzip */
    size_t                   size;
    size_t                   plain_len;
    size_t                   gzip_len;
    uint32_t                 crc;
} bulletin_segment_cache_t;


struct bulletin_render_s {
    z_stream                 zs;
    z_stream                 zs_small;      /* BULLETIN_SMALL_SEGMENT */
    int                      zinit;
    int                      error;         /* sticky, for this page */

    char                     id[BULLETIN_LIST_ID_SIZE];
    uint8_t                  title[BULLETIN_TITLE_MAX];
    uint8_t                  description[BULLETIN_DESCRIPTION_SIZE];
    uint8_t                 *qr;
    size_t                   qr_size;

    uint8_t                 *plain;
    size_t                   plain_len;
    size_t                   plain_size;

    uint8_t                 *gzip;
    size_t                   gzip_len;
    size_t                   gzip_size;

    size_t                   nslots;
    size_t                   slots_size;
    size_t                  *cuts;          /* plain offset of each slot */
    bulletin_wslot_t        *slots;
    bulletin_wsegment_t     *segments;      /* slots_size + 1 */
    size_t                  *gzip_offs;     /* slots_size + 1 */

    size_t                   nchannels;
    char                     channels[BULLETIN_CHANNELS_MAX]
                                    [BULLETIN_CHANNEL_SIZE];

    bulletin_segment_cache_t  cache[BULLETIN_CACHE_SEGMENTS];
};


static void bulletin_template_error(char *err, size_t size,
    const char *name, const uint8_t *start, const uint8_t *at,
    const char *what, const uint8_t *s, size_t len, const char *expected);
static int bulletin_template_add(bulletin_template_t *t, size_t *nalloc,
    unsigned type, size_t off, size_t len);
static void bulletin_html_scan(bulletin_html_t *h, const uint8_t *p,
    const uint8_t *end);
static void bulletin_html_name(char *name, size_t *len, uint8_t c);
static void bulletin_html_tag_end(bulletin_html_t *h);
static const char *bulletin_html_refuse(const bulletin_html_t *h,
    unsigned value);
static uint8_t *bulletin_render_space(bulletin_render_t *r, size_t n);
static void bulletin_render_bytes(bulletin_render_t *r, const void *data,
    size_t len);
static void bulletin_render_escape(bulletin_render_t *r,
    const uint8_t *data, size_t len);
static void bulletin_render_number(bulletin_render_t *r, uint64_t n);
static void bulletin_render_slot(bulletin_render_t *r, const uint8_t *ref,
    size_t ref_len, uint32_t kind);
static void bulletin_render_body(bulletin_render_t *r,
    const bulletin_record_t *rec);
static void bulletin_render_share_bar(bulletin_render_t *r);
static void bulletin_render_list(bulletin_render_t *r,
    const bulletin_index_entry_t *entries, size_t n);
static uint8_t *bulletin_render_gzip_space(bulletin_render_t *r,
    size_t n);
static int bulletin_render_deflate(bulletin_render_t *r,
    const uint8_t *data, size_t len);
static void bulletin_render_cache(bulletin_segment_cache_t *c,
    const uint8_t *plain, size_t plain_len, const uint8_t *gzip,
    size_t gzip_len, uint32_t crc);
static int bulletin_render_finish(bulletin_render_t *r, const uint8_t *id,
    size_t id_len, const bulletin_str_t *title,
    const bulletin_str_t *published, bulletin_wpage_t *page);
static void bulletin_render_site_part(bulletin_render_t *r,
    const bulletin_site_t *site, unsigned type);
static void bulletin_render_footer(bulletin_render_t *r,
    const bulletin_site_t *site);
static void bulletin_render_crumbs(bulletin_render_t *r,
    const bulletin_site_t *site, const bulletin_str_t *name,
    const bulletin_str_t *slug);
static void bulletin_render_neighbour(bulletin_render_t *r,
    const bulletin_index_entry_t *e, int next);
static void bulletin_render_qr(bulletin_render_t *r,
    const bulletin_site_t *site, const bulletin_str_t *id);
static void bulletin_render_list_href(bulletin_render_t *r,
    const bulletin_list_ctx_t *lc, size_t page);
static void bulletin_render_category_href(bulletin_render_t *r,
    const bulletin_str_t *slug);
static void bulletin_render_pager(bulletin_render_t *r,
    const bulletin_list_ctx_t *lc);
static void bulletin_render_categories(bulletin_render_t *r,
    const bulletin_category_t *c, size_t n);
static void bulletin_render_xml(bulletin_render_t *r, const uint8_t *data,
    size_t len);
static void bulletin_render_time(bulletin_render_t *r, int64_t t);
static void bulletin_render_date(bulletin_render_t *r, int64_t t,
    bulletin_str_t *published);
static int bulletin_render_typed(bulletin_render_t *r, const uint8_t *id,
    size_t id_len, const bulletin_str_t *title,
    const bulletin_str_t *published, uint32_t type, bulletin_wpage_t *page);


#define bulletin_render_literal(r, s)                                         \
    bulletin_render_bytes(r, s, sizeof(s) - 1)


static const bulletin_placeholder_t  bulletin_page_placeholders[] = {
    { "id",         BULLETIN_PART_ID,         BULLETIN_VALUE_WORD },
    { "title",      BULLETIN_PART_TITLE,      BULLETIN_VALUE_TEXT },
    { "category",   BULLETIN_PART_CATEGORY,   BULLETIN_VALUE_TEXT },
    { "published",  BULLETIN_PART_PUBLISHED,  BULLETIN_VALUE_TEXT },
    { "date",       BULLETIN_PART_DATE,       BULLETIN_VALUE_TEXT },
    { "source",     BULLETIN_PART_SOURCE,     BULLETIN_VALUE_TEXT },
    { "summary",    BULLETIN_PART_SUMMARY,    BULLETIN_VALUE_TEXT },
    { "body",       BULLETIN_PART_BODY,       BULLETIN_VALUE_HTML },
    { "share_bar",  BULLETIN_PART_SHARE_BAR,  BULLETIN_VALUE_HTML },
    { "views",      BULLETIN_PART_VIEWS,      BULLETIN_VALUE_WORD },
    { "shares",     BULLETIN_PART_SHARES,     BULLETIN_VALUE_WORD },
    { "site_name",  BULLETIN_PART_SITE_NAME,  BULLETIN_VALUE_TEXT },
    { "canonical",  BULLETIN_PART_CANONICAL,  BULLETIN_VALUE_URL },
    { "description", BULLETIN_PART_DESCRIPTION, BULLETIN_VALUE_TEXT },
    { "category_url", BULLETIN_PART_CATEGORY_URL, BULLETIN_VALUE_URL },
    { "crumbs",     BULLETIN_PART_CRUMBS,     BULLETIN_VALUE_HTML },
    { "prev",       BULLETIN_PART_PREV,       BULLETIN_VALUE_HTML },
    { "next",       BULLETIN_PART_NEXT,       BULLETIN_VALUE_HTML },
    { "qr",         BULLETIN_PART_QR,         BULLETIN_VALUE_HTML },
    { "footer",     BULLETIN_PART_FOOTER,     BULLETIN_VALUE_HTML },
    { "feed_url",   BULLETIN_PART_FEED_URL,   BULLETIN_VALUE_URL },
    { "base_url",   BULLETIN_PART_BASE_URL,   BULLETIN_VALUE_URL },
    { NULL, 0, 0 }
};


static const bulletin_placeholder_t  bulletin_index_placeholders[] = {
    { "site_name",  BULLETIN_PART_SITE_NAME,  BULLETIN_VALUE_TEXT },
    { "list_title", BULLETIN_PART_LIST_TITLE, BULLETIN_VALUE_TEXT },
    { "crumbs",     BULLETIN_PART_CRUMBS,     BULLETIN_VALUE_HTML },
    { "list",       BULLETIN_PART_LIST,       BULLETIN_VALUE_HTML },
    { "pager",      BULLETIN_PART_PAGER,      BULLETIN_VALUE_HTML },
    { "page",       BULLETIN_PART_PAGE,       BULLETIN_VALUE_WORD },
    { "pages",      BULLETIN_PART_PAGES,      BULLETIN_VALUE_WORD },
    { "count",      BULLETIN_PART_COUNT,      BULLETIN_VALUE_WORD },
    { "total",      BULLETIN_PART_TOTAL,      BULLETIN_VALUE_WORD },
    { "canonical",  BULLETIN_PART_CANONICAL,  BULLETIN_VALUE_URL },
    { "description", BULLETIN_PART_DESCRIPTION, BULLETIN_VALUE_TEXT },
    { "categories", BULLETIN_PART_CATEGORIES, BULLETIN_VALUE_HTML },
    { "footer",     BULLETIN_PART_FOOTER,     BULLETIN_VALUE_HTML },
    { "feed_url",   BULLETIN_PART_FEED_URL,   BULLETIN_VALUE_URL },
    { "base_url",   BULLETIN_PART_BASE_URL,   BULLETIN_VALUE_URL },
    { NULL, 0, 0 }
};


/* attributes whose value is a URL, a script or a style */

static const char  *bulletin_url_attrs[] = {
    "href", "src", "srcset", "action", "formaction", "poster", "cite",
    "data", "background", "codebase", "longdesc", "manifest", "usemap",
    "ping", "xlink:href", "icon", "lowsrc", "dynsrc", "archive",
    "classid", "profile", NULL
};


static const char  *bulletin_expected[] = {
    "id, title, category, published, date, source, summary, body, "
    "share_bar, views, shares, site_name, canonical, description, "
    "category_url, crumbs, prev, next, qr, footer, feed_url or base_url",
    "site_name, list_title, crumbs, list, pager, page, pages, count, "
    "total, canonical, description, categories, footer, feed_url or "
    "base_url"
};


static const struct {
    const char              *channel;
    const char              *label;
} bulletin_labels[] = {
    { "wechat", "微信" },
    { "weibo",  "微博" },
    { "qq",     "QQ" },
    { "link",   "复制链接" },
    { NULL, NULL }
};


static const char  *bulletin_block_open[] = { "<h2>", "<h3>", "<p>" };
static const char  *bulletin_block_close[] = { "</h2>\n", "</h3>\n",
                                               "</p>\n" };


bulletin_template_t *
bulletin_template_parse(const char *name, const uint8_t *buf, size_t len,
    unsigned kind, char *err, size_t size)
{
    char                           what[BULLETIN_DETAIL_MAX];
    size_t                         nalloc, i, nlen;
    uint8_t                       *text;
    const char                    *refused;
    const uint8_t                 *p, *open, *close, *end, *lit, *n;
    bulletin_html_t                html;
    bulletin_template_t           *t;
    const bulletin_placeholder_t  *ph;

    t = calloc(1, sizeof(bulletin_template_t));
    if (t == NULL) {
        snprintf(err, size, "%s: out of memory", name);
        return NULL;
    }

    t->kind = kind;

    t->text = malloc(len + 1);
    if (t->text == NULL) {
        snprintf(err, size, "%s: out of memory", name);
        goto failed;
    }

    if (len) {
        memcpy(t->text, buf, len);
    }

    t->text[len] = '\0';
    t->hash = bulletin_fnv64(BULLETIN_FNV64_INIT, buf, len);

    text = t->text;
    end = text + len;
    lit = text;
    p = text;
    nalloc = 0;

    memset(&html, 0, sizeof(bulletin_html_t));

    ph = kind == BULLETIN_TEMPLATE_INDEX ? bulletin_index_placeholders
                                         : bulletin_page_placeholders;

    for ( ;; ) {
        open = memmem(p, (size_t) (end - p), "{{", 2);
        if (open == NULL) {
            break;
        }

        close = memmem(open + 2, (size_t) (end - open - 2), "}}", 2);
        if (close == NULL) {
            bulletin_template_error(err, size, name, text, open,
                                    "unclosed \"{{\"", NULL, 0, NULL);
            goto failed;
        }

        n = open + 2;
        nlen = (size_t) (close - n);

        while (nlen && (*n == ' ' || *n == '\t')) {
            n++;
            nlen--;
        }

        while (nlen && (n[nlen - 1] == ' ' || n[nlen - 1] == '\t')) {
            nlen--;
        }

        for (i = 0; ph[i].name != NULL; i++) {
            if (strlen(ph[i].name) == nlen
                && memcmp(ph[i].name, n, nlen) == 0)
            {
                break;
            }
        }

        if (ph[i].name == NULL) {
            bulletin_template_error(err, size, name, text, open,
                                    "unknown placeholder", n, nlen,
                                    bulletin_expected[kind]);
            goto failed;
        }

        /* the placeholder itself is opaque: the scan resumes after it */

        bulletin_html_scan(&html, lit, open);

        refused = bulletin_html_refuse(&html, ph[i].value);

        if (refused != NULL) {
            snprintf(what, sizeof(what), "\"{{%s}}\" %s: values are "
                     "escaped for HTML text and quoted attributes only",
                     ph[i].name, refused);
            bulletin_template_error(err, size, name, text, open, what,
                                    NULL, 0, NULL);
            goto failed;
        }

        if (bulletin_template_add(t, &nalloc, BULLETIN_PART_LITERAL,
                                  (size_t) (lit - text),
                                  (size_t) (open - lit))
            != 0
            || bulletin_template_add(t, &nalloc, ph[i].part, 0, 0) != 0)
        {
            snprintf(err, size, "%s: out of memory", name);
            goto failed;
        }

        p = close + 2;
        lit = p;
    }

    if (bulletin_template_add(t, &nalloc, BULLETIN_PART_LITERAL,
                              (size_t) (lit - text), (size_t) (end - lit))
        != 0)
    {
        snprintf(err, size, "%s: out of memory", name);
        goto failed;
    }

    return t;

failed:

    bulletin_template_free(t);

    return NULL;
}


bulletin_template_t *
bulletin_template_load(const char *path, unsigned kind, char *err,
    size_t size)
{
    size_t                len;
    uint8_t              *buf;
    bulletin_template_t  *t;

    buf = bulletin_file_read(path, BULLETIN_TEMPLATE_MAX, &len, err, size);
    if (buf == NULL) {
        return NULL;
    }

    t = bulletin_template_parse(path, buf, len, kind, err, size);

    free(buf);

    return t;
}


uint64_t
bulletin_template_hash(const bulletin_template_t *t)
{
    return t->hash;
}


void
bulletin_template_free(bulletin_template_t *t)
{
    if (t == NULL) {
        return;
    }

    free(t->parts);
    free(t->text);
    free(t);
}


/*
 * A small HTML tokenizer, enough to know where a placeholder stands:
 * text, a comment, inside a tag, which attribute's value and how quoted,
 * or the raw text of script, style, title or textarea.
 */

static void
bulletin_html_scan(bulletin_html_t *h, const uint8_t *p, const uint8_t *end)
{
    uint8_t  c;
    size_t   i;

    for ( /* void */ ; p < end; p++) {
        c = *p;

        switch (h->state) {

        case BULLETIN_HTML_DATA:
            if (c != '<') {
                break;
            }

            /* "<{{title}}" would let the title name a tag */

            if (end - p < 2) {
                h->state = BULLETIN_HTML_TAG_NAME;
                h->end_tag = 0;
                h->tag_len = 0;
                break;
            }

            if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
                h->state = BULLETIN_HTML_COMMENT;
                p += 3;

            } else if (p[1] == '!' || p[1] == '?') {
                h->state = BULLETIN_HTML_DECLARATION;

            } else if (p[1] == '/' || (unsigned) ((p[1] | 0x20) - 'a') < 26) {
                h->state = BULLETIN_HTML_TAG_NAME;
                h->end_tag = (p[1] == '/');
                h->tag_len = 0;
                p += h->end_tag;
            }

            break;

        case BULLETIN_HTML_DECLARATION:
            if (c == '>') {
                h->state = BULLETIN_HTML_DATA;
            }

            break;

        case BULLETIN_HTML_COMMENT:
            /* "<!--" came before: p[-2] is inside the template */

            if (c == '>' && p[-1] == '-' && p[-2] == '-') {
                h->state = BULLETIN_HTML_DATA;
            }

            break;

        case BULLETIN_HTML_RAW:
            if (c != '<' || (size_t) (end - p) < h->raw_len + 2
                || p[1] != '/')
            {
                break;
            }

            for (i = 0; i < h->raw_len; i++) {
                if ((p[2 + i] | 0x20) != (uint8_t) h->raw[i]) {
                    break;
                }
            }

            if (i == h->raw_len) {
                h->state = BULLETIN_HTML_TAG_NAME;
                h->end_tag = 1;
                h->tag_len = 0;
                p++;
            }

            break;

        case BULLETIN_HTML_TAG_NAME:
            if (c == '>') {
                bulletin_html_tag_end(h);

            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r'
                       || c == '\f' || c == '/')
            {
                h->state = BULLETIN_HTML_TAG;

            } else {
                bulletin_html_name(h->tag, &h->tag_len, c);
            }

            break;

        case BULLETIN_HTML_TAG:
        case BULLETIN_HTML_AFTER_ATTR_NAME:
            if (c == '>') {
                bulletin_html_tag_end(h);

            } else if (c == '=' && h->state == BULLETIN_HTML_AFTER_ATTR_NAME) {
                h->state = BULLETIN_HTML_BEFORE_VALUE;

            } else if (c == '/') {
                h->state = BULLETIN_HTML_TAG;

            } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r'
                       && c != '\f')
            {
                h->state = BULLETIN_HTML_ATTR_NAME;
                h->attr_len = 0;
                bulletin_html_name(h->attr, &h->attr_len, c);
            }

            break;

        case BULLETIN_HTML_ATTR_NAME:
            if (c == '>') {
                bulletin_html_tag_end(h);

            } else if (c == '=') {
                h->state = BULLETIN_HTML_BEFORE_VALUE;

            } else if (c == '/') {
                h->state = BULLETIN_HTML_TAG;

            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r'
                       || c == '\f')
            {
                h->state = BULLETIN_HTML_AFTER_ATTR_NAME;

            } else {
                bulletin_html_name(h->attr, &h->attr_len, c);
            }

            break;

        case BULLETIN_HTML_BEFORE_VALUE:
            if (c == '"') {
                h->state = BULLETIN_HTML_VALUE_DOUBLE;

            } else if (c == '\'') {
                h->state = BULLETIN_HTML_VALUE_SINGLE;

            } else if (c == '>') {
                bulletin_html_tag_end(h);

            } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r'
                       && c != '\f')
            {
                h->state = BULLETIN_HTML_VALUE_UNQUOTED;
            }

            break;

        case BULLETIN_HTML_VALUE_DOUBLE:
            if (c == '"') {
                h->state = BULLETIN_HTML_TAG;
            }

            break;

        case BULLETIN_HTML_VALUE_SINGLE:
            if (c == '\'') {
                h->state = BULLETIN_HTML_TAG;
            }

            break;

        default: /* BULLETIN_HTML_VALUE_UNQUOTED */
            if (c == '>') {
                bulletin_html_tag_end(h);

            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r'
                       || c == '\f')
            {
                h->state = BULLETIN_HTML_TAG;
            }

            break;
        }
    }
}


/* a tag or attribute name, lowercased; a longer one is cut (and so
 * matches no name this file knows) */

static void
bulletin_html_name(char *name, size_t *len, uint8_t c)
{
    if (*len < BULLETIN_HTML_NAME_MAX) {
        name[(*len)++] = (char) ((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
    }
}


static void
bulletin_html_tag_end(bulletin_html_t *h)
{
    size_t              i;
    static const char  *raw[] = { "script", "style", "title", "textarea",
                                  NULL };

    h->state = BULLETIN_HTML_DATA;

    if (h->end_tag) {
        return;
    }

    for (i = 0; raw[i] != NULL; i++) {
        if (strlen(raw[i]) == h->tag_len
            && memcmp(raw[i], h->tag, h->tag_len) == 0)
        {
            h->state = BULLETIN_HTML_RAW;
            h->raw_len = h->tag_len;
            memcpy(h->raw, h->tag, h->tag_len);
            return;
        }
    }
}


/* NULL where a value of this kind is safe, else where it stands */

static const char *
bulletin_html_refuse(const bulletin_html_t *h, unsigned value)
{
    size_t  i;

    switch (h->state) {

    case BULLETIN_HTML_DATA:
        return NULL;

    case BULLETIN_HTML_RAW:
        if (h->raw[0] == 's') {
            return h->raw[1] == 'c' ? "inside <script>" : "inside <style>";
        }

        return value == BULLETIN_VALUE_HTML
               ? (h->raw[0] == 't' && h->raw[1] == 'i' ? "inside <title>"
                                                        : "inside <textarea>")
               : NULL;

    case BULLETIN_HTML_COMMENT:
        return "inside an HTML comment";

    case BULLETIN_HTML_DECLARATION:
        return "inside a <!...> declaration";

    case BULLETIN_HTML_VALUE_DOUBLE:
    case BULLETIN_HTML_VALUE_SINGLE:
        break;

    case BULLETIN_HTML_BEFORE_VALUE:
    case BULLETIN_HTML_VALUE_UNQUOTED:
        return "in an unquoted attribute value";

    default:
        return "inside a tag, outside a quoted attribute value";
    }

    if (value == BULLETIN_VALUE_HTML) {
        return "in an attribute value";
    }

    if ((h->attr_len > 2 && h->attr[0] == 'o' && h->attr[1] == 'n')
        || (h->attr_len == 5 && memcmp(h->attr, "style", 5) == 0))
    {
        return "in a script or style attribute";
    }

    if (value == BULLETIN_VALUE_WORD || value == BULLETIN_VALUE_URL) {
        return NULL;
    }

    for (i = 0; bulletin_url_attrs[i] != NULL; i++) {
        if (strlen(bulletin_url_attrs[i]) == h->attr_len
            && memcmp(bulletin_url_attrs[i], h->attr, h->attr_len) == 0)
        {
            return "in a URL attribute";
        }
    }

    return NULL;
}


static void
bulletin_template_error(char *err, size_t size, const char *name,
    const uint8_t *start, const uint8_t *at, const char *what,
    const uint8_t *s, size_t len, const char *expected)
{
    char            q[200], *d;
    size_t          i, chars;
    unsigned        line, col;
    const uint8_t  *p;

    line = 1;
    col = 1;

    for (p = start; p < at; p++) {
        if (*p == '\n') {
            line++;
            col = 1;

        } else if ((*p & 0xc0) != 0x80) {
            col++;
        }
    }

    if (s == NULL) {
        snprintf(err, size, "%s:%u:%u: %s", name, line, col, what);
        return;
    }

    /* the name as found, cut short and with control bytes escaped */

    d = q;
    chars = 0;

    for (i = 0; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80 && chars++ == 32) {
            memcpy(d, "...", 3);
            d += 3;
            break;
        }

        if (s[i] < 0x20 || s[i] == 0x7f) {
            d += sprintf(d, "\\x%02x", s[i]);

        } else {
            *d++ = (char) s[i];
        }
    }

    *d = '\0';

    snprintf(err, size, "%s:%u:%u: %s \"{{%s}}\" (expected %s)", name, line,
             col, what, q, expected);
}


static int
bulletin_template_add(bulletin_template_t *t, size_t *nalloc, unsigned type,
    size_t off, size_t len)
{
    size_t             n;
    bulletin_tpart_t  *parts;

    if (type == BULLETIN_PART_LITERAL && len == 0) {
        return 0;
    }

    if (t->nparts == *nalloc) {
        n = *nalloc ? *nalloc * 2 : 32;

        parts = realloc(t->parts, n * sizeof(bulletin_tpart_t));
        if (parts == NULL) {
            return -1;
        }

        t->parts = parts;
        *nalloc = n;
    }

    t->parts[t->nparts].type = type;
    t->parts[t->nparts].off = off;
    t->parts[t->nparts].len = len;
    t->nparts++;

    return 0;
}


bulletin_render_t *
bulletin_render_create(const char *const *channels, size_t nchannels)
{
    size_t              i;
    bulletin_render_t  *r;

    if (nchannels > BULLETIN_CHANNELS_MAX) {
        return NULL;
    }

    r = calloc(1, sizeof(bulletin_render_t));
    if (r == NULL) {
        return NULL;
    }

    for (i = 0; i < nchannels; i++) {
        if (strlen(channels[i]) > BULLETIN_CHANNEL_MAX) {
            goto failed;
        }

        strcpy(r->channels[i], channels[i]);
    }

    r->nchannels = nchannels;

    r->plain_size = 16384;
    r->gzip_size = 16384;
    r->slots_size = 16;

    r->plain = malloc(r->plain_size);
    r->gzip = malloc(r->gzip_size);
    r->cuts = malloc(r->slots_size * sizeof(size_t));
    r->slots = malloc(r->slots_size * sizeof(bulletin_wslot_t));
    r->segments = malloc((r->slots_size + 1) * sizeof(bulletin_wsegment_t));
    r->gzip_offs = malloc((r->slots_size + 1) * sizeof(size_t));

    if (r->plain == NULL || r->gzip == NULL || r->cuts == NULL
        || r->slots == NULL || r->segments == NULL || r->gzip_offs == NULL)
    {
        goto failed;
    }

    /* raw deflate (-15): the module writes the gzip header and trailer */

    if (deflateInit2(&r->zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9,
                     Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        goto failed;
    }

    r->zinit = 1;

    if (deflateInit2(&r->zs_small, Z_BEST_COMPRESSION, Z_DEFLATED, -15,
                     BULLETIN_SMALL_MEMLEVEL, Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        goto failed;
    }

    r->zinit = 2;

    return r;

failed:

    bulletin_render_free(r);

    return NULL;
}


void
bulletin_render_free(bulletin_render_t *r)
{
    size_t  i;

    if (r == NULL) {
        return;
    }

    if (r->zinit) {
        deflateEnd(&r->zs);
    }

    if (r->zinit == 2) {
        deflateEnd(&r->zs_small);
    }

    for (i = 0; i < BULLETIN_CACHE_SEGMENTS; i++) {
        free(r->cache[i].data);
    }

    free(r->qr);
    free(r->plain);
    free(r->gzip);
    free(r->cuts);
    free(r->slots);
    free(r->segments);
    free(r->gzip_offs);
    free(r);
}


int
bulletin_render_page(bulletin_render_t *r, const bulletin_template_t *t,
    const bulletin_record_t *rec, const bulletin_page_ctx_t *pc,
    bulletin_wpage_t *page)
{
    char                     slug[BULLETIN_SLUG_MAX + 1];
    size_t                   i;
    bulletin_str_t           desc, cat, cslug;
    bulletin_site_t          dsite;
    const bulletin_str_t    *s;
    const bulletin_site_t   *site;
    const bulletin_tpart_t  *part;

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

    if (pc != NULL && pc->site != NULL) {
        site = pc->site;

    } else {
        bulletin_site_default(&dsite);
        site = &dsite;
    }

    cat.data = (const uint8_t *) BULLETIN_CATEGORY_DEFAULT;
    cat.len = sizeof(BULLETIN_CATEGORY_DEFAULT) - 1;

    if (rec->category.len) {
        cat = rec->category;
    }

    if (pc != NULL) {
        /* none: one category, whose list is every bulletin's */
        cslug = pc->slug;

    } else {
        bulletin_category_slug(&cat, slug);
        cslug.data = (const uint8_t *) slug;
        cslug.len = strlen(slug);
    }

    for (i = 0; i < t->nparts && r->error == BULLETIN_OK; i++) {
        part = &t->parts[i];
        s = NULL;

        switch (part->type) {

        case BULLETIN_PART_LITERAL:
            bulletin_render_bytes(r, t->text + part->off, part->len);
            break;

        case BULLETIN_PART_ID:
            s = &rec->id;
            break;

        case BULLETIN_PART_TITLE:
            s = &rec->title;
            break;

        case BULLETIN_PART_CATEGORY:
            s = &cat;
            break;

        case BULLETIN_PART_PUBLISHED:
            s = &rec->published;
            break;

        case BULLETIN_PART_DATE:
            /* YYYY-MM-DD: a valid published begins with it */
            bulletin_render_escape(r, rec->published.data,
                                   rec->published.len < 10
                                   ? rec->published.len : 10);
            break;

        case BULLETIN_PART_SOURCE:
            s = &rec->source;
            break;

        case BULLETIN_PART_SUMMARY:
            s = &rec->summary;
            break;

        case BULLETIN_PART_BODY:
            bulletin_render_body(r, rec);
            break;

        case BULLETIN_PART_SHARE_BAR:
            bulletin_render_share_bar(r);
            break;

        case BULLETIN_PART_VIEWS:
            bulletin_render_slot(r, NULL, 0, BULLETIN_SLOT_VIEWS);
            break;

        case BULLETIN_PART_SHARES:
            bulletin_render_slot(r, NULL, 0, BULLETIN_SLOT_SHARES);
            break;

        case BULLETIN_PART_DESCRIPTION:
            bulletin_describe(rec, r->description, &desc);
            s = &desc;
            break;

        case BULLETIN_PART_CATEGORY_URL:
            bulletin_render_category_href(r, &cslug);
            break;

        case BULLETIN_PART_PREV:
            bulletin_render_neighbour(r, pc ? pc->prev : NULL, 0);
            break;

        case BULLETIN_PART_NEXT:
            bulletin_render_neighbour(r, pc ? pc->next : NULL, 1);
            break;

        case BULLETIN_PART_QR:
            bulletin_render_qr(r, site, &rec->id);
            break;

        case BULLETIN_PART_CANONICAL:
            if (site->absolute) {
                bulletin_render_escape(r, site->base_url.data,
                                       site->base_url.len);
                s = &rec->id;
            }

            break;

        case BULLETIN_PART_CRUMBS:
            bulletin_render_crumbs(r, site, &cat, &cslug);
            break;

        default:
            bulletin_render_site_part(r, site, part->type);
            break;
        }

        if (s != NULL) {
            bulletin_render_escape(r, s->data, s->len);
        }
    }

    return bulletin_render_finish(r, rec->id.data, rec->id.len, &rec->title,
                                  &rec->published, page);
}


int
bulletin_render_index(bulletin_render_t *r, const bulletin_template_t *t,
    const bulletin_list_ctx_t *lc, bulletin_wpage_t *page)
{
    int                      n;
    size_t                   i, id_len;
    bulletin_str_t           title, ltitle;
    bulletin_site_t          dsite;
    const bulletin_site_t   *site;
    const bulletin_tpart_t  *part;

    static const bulletin_str_t  all = {
        (const uint8_t *) BULLETIN_INDEX_TITLE,
        sizeof(BULLETIN_INDEX_TITLE) - 1
    };

    static const bulletin_str_t  epoch = {
        (const uint8_t *) "1970-01-01", 10
    };

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

    if (lc->site != NULL) {
        site = lc->site;

    } else {
        bulletin_site_default(&dsite);
        site = &dsite;
    }

    ltitle = lc->category ? lc->category->name : all;

    id_len = bulletin_list_id(r->id,
                              lc->category ? &lc->category->slug : NULL,
                              lc->page);
    if (id_len == 0) {
        return BULLETIN_ERR_ID;
    }

    for (i = 0; i < t->nparts && r->error == BULLETIN_OK; i++) {
        part = &t->parts[i];

        switch (part->type) {

        case BULLETIN_PART_LITERAL:
            bulletin_render_bytes(r, t->text + part->off, part->len);
            break;

        case BULLETIN_PART_LIST:
            bulletin_render_list(r, lc->entries, lc->n);
            break;

        case BULLETIN_PART_COUNT:
            bulletin_render_number(r, lc->n);
            break;

        case BULLETIN_PART_TOTAL:
            bulletin_render_number(r, lc->total);
            break;

        case BULLETIN_PART_PAGE:
            bulletin_render_number(r, lc->page);
            break;

        case BULLETIN_PART_PAGES:
            bulletin_render_number(r, lc->pages);
            break;

        case BULLETIN_PART_LIST_TITLE:
            bulletin_render_escape(r, ltitle.data, ltitle.len);
            break;

        case BULLETIN_PART_PAGER:
            bulletin_render_pager(r, lc);
            break;

        case BULLETIN_PART_CATEGORIES:
            bulletin_render_categories(r, lc->categories, lc->ncategories);
            break;

        case BULLETIN_PART_CANONICAL:
            if (site->absolute) {
                bulletin_render_escape(r, site->base_url.data,
                                       site->base_url.len);

                if (lc->category != NULL || lc->page > 1) {
                    bulletin_render_bytes(r, r->id, id_len);
                }
            }

            break;

        case BULLETIN_PART_DESCRIPTION:
            bulletin_render_escape(r, site->name.data, site->name.len);
            bulletin_render_literal(r, " ");
            bulletin_render_escape(r, ltitle.data, ltitle.len);
            bulletin_render_literal(r, "：共 ");
            bulletin_render_number(r, lc->total);
            bulletin_render_literal(r, " 篇，第 ");
            bulletin_render_number(r, lc->page);
            bulletin_render_literal(r, " 页 共 ");
            bulletin_render_number(r, lc->pages);
            bulletin_render_literal(r, " 页");
            break;

        case BULLETIN_PART_CRUMBS:
            bulletin_render_crumbs(r, site,
                                   lc->category ? &lc->category->name : NULL,
                                   lc->category ? &lc->category->slug : NULL);
            break;

        default:
            bulletin_render_site_part(r, site, part->type);
            break;
        }
    }

    /* the status's title: the list's, and its page after the first */

    title = ltitle;

    if (lc->page > 1 && ltitle.len + 32 < sizeof(r->title)) {
        memcpy(r->title, ltitle.data, ltitle.len);
        n = snprintf((char *) r->title + ltitle.len, 32, " 第%zu页",
                     lc->page);
        title.data = r->title;
        title.len = ltitle.len + (size_t) n;
    }

    /* the list is as new as its newest bulletin */

    return bulletin_render_finish(r, (const uint8_t *) r->id, id_len,
                                  &title,
                                  lc->n ? &lc->entries[0].published : &epoch,
                                  page);
}


size_t
bulletin_list_id(char *buf, const bulletin_str_t *slug, size_t page)
{
    int  n;

    if (slug == NULL) {
        n = page > 1 ? snprintf(buf, BULLETIN_LIST_ID_SIZE,
                                BULLETIN_INDEX_ID "-%zu", page)
                     : snprintf(buf, BULLETIN_LIST_ID_SIZE,
                                BULLETIN_INDEX_ID);

    } else if (slug->len > BULLETIN_SLUG_MAX) {
        return 0;

    } else {
        n = page > 1 ? snprintf(buf, BULLETIN_LIST_ID_SIZE,
                                BULLETIN_CATEGORY_PREFIX "%.*s-%zu",
                                (int) slug->len, (const char *) slug->data,
                                page)
                     : snprintf(buf, BULLETIN_LIST_ID_SIZE,
                                BULLETIN_CATEGORY_PREFIX "%.*s",
                                (int) slug->len, (const char *) slug->data);
    }

    if (n <= 0 || n > BULLETIN_ID_MAX) {
        return 0;
    }

    return (size_t) n;
}


void
bulletin_category_slug(const bulletin_str_t *name, char *buf)
{
    size_t    i;
    uint32_t  h;

    /* FNV-1a, 32 bits */

    h = 2166136261u;

    for (i = 0; i < name->len; i++) {
        h ^= name->data[i];
        h *= 16777619u;
    }

    snprintf(buf, BULLETIN_SLUG_MAX + 1, "c%08x", h);
}


void
bulletin_describe(const bulletin_record_t *rec, uint8_t *buf,
    bulletin_str_t *out)
{
    size_t                   i, chars, len, n;
    int                      space;
    const uint8_t           *p, *end;
    const bulletin_block_t  *b;

    if (rec->summary.len) {
        *out = rec->summary;
        return;
    }

    for (i = 0; i < rec->nblocks; i++) {
        b = &rec->blocks[i];

        if (b->type != BULLETIN_BLOCK_PARAGRAPH) {
            continue;
        }

        /* white space runs as one space; a character whole or not at all */

        len = 0;
        chars = 0;
        space = 0;
        p = b->text.data;
        end = p + b->text.len;

        while (p < end) {
            if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
                space = len > 0;
                p++;
                continue;
            }

            for (n = 1; p + n < end && (p[n] & 0xc0) == 0x80; n++) {
                /* void */
            }

            if (chars + space + 1 > BULLETIN_DESCRIPTION_CHARS) {
                /* room for "…" within the characters */

                while (chars > BULLETIN_DESCRIPTION_CHARS - 1) {
                    do {
                        len--;
                    } while (len && (buf[len] & 0xc0) == 0x80);

                    chars--;
                }

                while (len && buf[len - 1] == ' ') {
                    len--;
                }

                memcpy(buf + len, "…", sizeof("…") - 1);
                len += sizeof("…") - 1;
                break;
            }

            if (space) {
                buf[len++] = ' ';
                chars++;
                space = 0;
            }

            memcpy(buf + len, p, n);
            len += n;
            chars++;
            p += n;
        }

        if (len) {
            out->data = buf;
            out->len = len;
            return;
        }
    }

    *out = rec->title;
}


size_t
bulletin_html_escape(uint8_t *dst, const uint8_t *src, size_t len)
{
    uint8_t        *d;
    const uint8_t  *end;

    d = dst;
    end = src + len;

    while (src < end) {

        switch (*src) {

        case '&':
            memcpy(d, "&amp;", 5);
            d += 5;
            break;

        case '<':
            memcpy(d, "&lt;", 4);
            d += 4;
            break;

        case '>':
            memcpy(d, "&gt;", 4);
            d += 4;
            break;

        case '"':
            memcpy(d, "&quot;", 6);
            d += 6;
            break;

        case '\'':
            memcpy(d, "&#39;", 5);
            d += 5;
            break;

        default:
            *d++ = *src;
            break;
        }

        src++;
    }

    return (size_t) (d - dst);
}


static uint8_t *
bulletin_render_space(bulletin_render_t *r, size_t n)
{
    size_t    size;
    uint8_t  *p;

    if (r->error != BULLETIN_OK) {
        return NULL;
    }

    if (n > BULLETIN_PAGE_MAX - r->plain_len) {
        r->error = BULLETIN_ERR_TOO_LARGE;
        return NULL;
    }

    if (r->plain_len + n > r->plain_size) {
        size = r->plain_size ? r->plain_size : 16384;

        while (size < r->plain_len + n) {
            size *= 2;
        }

        p = realloc(r->plain, size);
        if (p == NULL) {
            r->error = BULLETIN_ERR_NOMEM;
            return NULL;
        }

        r->plain = p;
        r->plain_size = size;
    }

    return r->plain + r->plain_len;
}


static void
bulletin_render_bytes(bulletin_render_t *r, const void *data, size_t len)
{
    uint8_t  *p;

    p = bulletin_render_space(r, len);
    if (p == NULL) {
        return;
    }

    if (len) {
        memcpy(p, data, len);
    }

    r->plain_len += len;
}


static void
bulletin_render_escape(bulletin_render_t *r, const uint8_t *data,
    size_t len)
{
    size_t          n;
    uint8_t        *p;
    const uint8_t  *q, *end;

    /* an absent string is NULL: no arithmetic on it */
    if (len == 0) {
        return;
    }

    n = len;
    end = data + len;

    for (q = data; q < end; q++) {
        switch (*q) {
        case '&': n += 4; break;
        case '<': n += 3; break;
        case '>': n += 3; break;
        case '"': n += 5; break;
        case '\'': n += 4; break;
        default: break;
        }
    }

    p = bulletin_render_space(r, n);
    if (p == NULL) {
        return;
    }

    r->plain_len += bulletin_html_escape(p, data, len);
}


static void
bulletin_render_number(bulletin_render_t *r, uint64_t n)
{
    char  buf[24];
    int   len;

    len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long) n);

    bulletin_render_bytes(r, buf, (size_t) len);
}


static void
bulletin_render_slot(bulletin_render_t *r, const uint8_t *ref,
    size_t ref_len, uint32_t kind)
{
    size_t                size;
    size_t               *cuts, *offs;
    bulletin_wslot_t     *slots;
    bulletin_wsegment_t  *segments;

    if (r->error != BULLETIN_OK) {
        return;
    }

    if (r->nslots == BULLETIN_SLOTS_MAX) {
        r->error = BULLETIN_ERR_TOO_LARGE;
        return;
    }

    if (r->nslots == r->slots_size) {
        size = r->slots_size ? r->slots_size * 2 : 16;

        cuts = realloc(r->cuts, size * sizeof(size_t));
        if (cuts == NULL) {
            goto nomem;
        }

        r->cuts = cuts;

        slots = realloc(r->slots, size * sizeof(bulletin_wslot_t));
        if (slots == NULL) {
            goto nomem;
        }

        r->slots = slots;

        segments = realloc(r->segments,
                           (size + 1) * sizeof(bulletin_wsegment_t));
        if (segments == NULL) {
            goto nomem;
        }

        r->segments = segments;

        offs = realloc(r->gzip_offs, (size + 1) * sizeof(size_t));
        if (offs == NULL) {
            goto nomem;
        }

        r->gzip_offs = offs;
        r->slots_size = size;
    }

    r->cuts[r->nslots] = r->plain_len;
    r->slots[r->nslots].ref = ref;
    r->slots[r->nslots].ref_len = ref_len;
    r->slots[r->nslots].kind = kind;
    r->nslots++;

    return;

nomem:

    r->error = BULLETIN_ERR_NOMEM;
}


static void
bulletin_render_body(bulletin_render_t *r, const bulletin_record_t *rec)
{
    size_t                   i;
    const bulletin_block_t  *b;

    for (i = 0; i < rec->nblocks; i++) {
        b = &rec->blocks[i];

        bulletin_render_bytes(r, bulletin_block_open[b->type],
                              strlen(bulletin_block_open[b->type]));
        bulletin_render_escape(r, b->text.data, b->text.len);
        bulletin_render_bytes(r, bulletin_block_close[b->type],
                              strlen(bulletin_block_close[b->type]));
    }
}


static void
bulletin_render_share_bar(bulletin_render_t *r)
{
    size_t       i, j, len;
    const char  *name, *label;

    for (i = 0; i < r->nchannels; i++) {
        name = r->channels[i];
        len = strlen(name);
        label = name;

        for (j = 0; bulletin_labels[j].channel != NULL; j++) {
            if (strcmp(bulletin_labels[j].channel, name) == 0) {
                label = bulletin_labels[j].label;
                break;
            }
        }

        if (i) {
            bulletin_render_literal(r, "\n");
        }

        bulletin_render_literal(r, "<button type=\"button\" "
                                "class=\"bulletin-share\" data-channel=\"");
        bulletin_render_escape(r, (const uint8_t *) name, len);
        bulletin_render_literal(r, "\">");
        bulletin_render_escape(r, (const uint8_t *) label, strlen(label));
        bulletin_render_literal(r, " <span class=\"bulletin-share-count\">");
        bulletin_render_slot(r, NULL, 0, BULLETIN_SLOT_CHANNEL + i);
        bulletin_render_literal(r, "</span></button>");
    }
}


static void
bulletin_render_list(bulletin_render_t *r,
    const bulletin_index_entry_t *entries, size_t n)
{
    size_t                         i;
    const bulletin_index_entry_t  *e;

    for (i = 0; i < n; i++) {
        e = &entries[i];

        /* the list is served at /bulletin/: "ID" is /bulletin/ID */

        bulletin_render_literal(r, "<li><a href=\"");
        bulletin_render_escape(r, e->id.data, e->id.len);
        bulletin_render_literal(r, "\">");
        bulletin_render_escape(r, e->title.data, e->title.len);
        bulletin_render_literal(r, "</a> <time datetime=\"");
        bulletin_render_escape(r, e->published.data, e->published.len);
        bulletin_render_literal(r, "\">");
        bulletin_render_escape(r, e->published.data,
                               e->published.len < 10
                               ? e->published.len : 10);
        bulletin_render_literal(r, "</time> <span class=\"bulletin-list-"
                                "views\">浏览 <span class=\"bulletin-views\">");
        bulletin_render_slot(r, e->id.data, e->id.len, BULLETIN_SLOT_VIEWS);
        bulletin_render_literal(r, "</span></span></li>\n");
    }
}


/*
 * Cuts the page at its slots, and deflates each non-empty piece on a full
 * flush of one stream: each piece ends byte-aligned and no back-reference
 * crosses a slot, so the module can put stored blocks of digits between.
 */

static int
bulletin_render_finish(bulletin_render_t *r, const uint8_t *id,
    size_t id_len, const bulletin_str_t *title,
    const bulletin_str_t *published, bulletin_wpage_t *page)
{
    int                        rc;
    size_t                     i, start, end, len;
    const uint8_t             *data;
    bulletin_wsegment_t       *seg;
    bulletin_segment_cache_t  *c;

    if (r->error != BULLETIN_OK) {
        return r->error;
    }

    if (deflateReset(&r->zs) != Z_OK || deflateReset(&r->zs_small) != Z_OK)
    {
        return BULLETIN_ERR_SYSTEM;
    }

    r->gzip_len = 0;
    start = 0;

    for (i = 0; i <= r->nslots; i++) {
        end = i < r->nslots ? r->cuts[i] : r->plain_len;
        seg = &r->segments[i];
        data = r->plain + start;
        len = end - start;

        seg->plain_len = len;
        seg->gzip_len = 0;
        seg->crc = 0;
        r->gzip_offs[i] = r->gzip_len;

        if (len == 0) {
            continue;
        }

        c = i < BULLETIN_CACHE_SEGMENTS ? &r->cache[i] : NULL;

        if (c != NULL && c->plain_len == len
            && memcmp(c->data, data, len) == 0)
        {
            if (bulletin_render_gzip_space(r, c->gzip_len) == NULL) {
                return BULLETIN_ERR_NOMEM;
            }

            memcpy(r->gzip + r->gzip_len, c->data + len, c->gzip_len);
            r->gzip_len += c->gzip_len;
            seg->crc = c->crc;

        } else {
            seg->crc = (uint32_t) crc32_z(0, data, len);

            rc = bulletin_render_deflate(r, data, len);
            if (rc != BULLETIN_OK) {
                return rc;
            }

            if (c != NULL && len <= BULLETIN_CACHE_MAX) {
                bulletin_render_cache(c, data, len,
                                      r->gzip + r->gzip_offs[i],
                                      r->gzip_len - r->gzip_offs[i],
                                      seg->crc);
            }
        }

        seg->gzip_len = r->gzip_len - r->gzip_offs[i];
        start = end;
    }

    for (i = 0; i <= r->nslots; i++) {
        seg = &r->segments[i];
        seg->plain = r->plain + (i ? r->cuts[i - 1] : 0);
        seg->gzip = r->gzip + r->gzip_offs[i];
    }

    page->id = id;
    page->id_len = id_len;
    page->title = title->data;
    page->title_len = title->len;
    page->published = published->data;
    page->published_len = published->len;
    page->type = BULLETIN_TYPE_HTML;
    page->nslots = (uint32_t) r->nslots;
    page->slots = r->slots;
    page->segments = r->segments;
    page->inputs = 0;
    page->hash = 0;
    page->reused = 0;
    page->source = NULL;

    return BULLETIN_OK;
}


static uint8_t *
bulletin_render_gzip_space(bulletin_render_t *r, size_t n)
{
    size_t    size;
    uint8_t  *p;

    if (r->gzip_size - r->gzip_len < n) {
        size = r->gzip_size;

        while (size - r->gzip_len < n) {
            size *= 2;
        }

        p = realloc(r->gzip, size);
        if (p == NULL) {
            return NULL;
        }

        r->gzip = p;
        r->gzip_size = size;
    }

    return r->gzip + r->gzip_len;
}


static int
bulletin_render_deflate(bulletin_render_t *r, const uint8_t *data,
    size_t len)
{
    int        rc;
    size_t     need;
    z_stream  *zs;

    zs = (len <= BULLETIN_SMALL_SEGMENT) ? &r->zs_small : &r->zs;

    zs->next_in = (uint8_t *) data;
    zs->avail_in = (uInt) len;

    /* a full flush adds a few bytes to the bound */
    need = deflateBound(zs, len) + 16;

    for ( ;; ) {
        if (bulletin_render_gzip_space(r, need) == NULL) {
            return BULLETIN_ERR_NOMEM;
        }

        zs->next_out = r->gzip + r->gzip_len;
        zs->avail_out = (uInt) (r->gzip_size - r->gzip_len);

        rc = deflate(zs, Z_FULL_FLUSH);

        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return BULLETIN_ERR_SYSTEM;
        }

        r->gzip_len = (size_t) (zs->next_out - r->gzip);

        if (zs->avail_out != 0 && zs->avail_in == 0) {
            return BULLETIN_OK;
        }

        need = r->gzip_size;
    }
}


static void
bulletin_render_cache(bulletin_segment_cache_t *c, const uint8_t *plain,
    size_t plain_len, const uint8_t *gzip, size_t gzip_len, uint32_t crc)
{
    size_t    n;
    uint8_t  *p;

    n = plain_len + gzip_len;

    if (n > c->size) {
        p = realloc(c->data, n);
        if (p == NULL) {
            /* no cache: deflate again next time */
            c->plain_len = 0;
            return;
        }

        c->data = p;
        c->size = n;
    }

    memcpy(c->data, plain, plain_len);
    memcpy(c->data + plain_len, gzip, gzip_len);
    c->plain_len = plain_len;
    c->gzip_len = gzip_len;
    c->crc = crc;
}


/* the parts of the site's chrome both kinds of page have */

static void
bulletin_render_site_part(bulletin_render_t *r, const bulletin_site_t *site,
    unsigned type)
{
    switch (type) {

    case BULLETIN_PART_SITE_NAME:
        bulletin_render_escape(r, site->name.data, site->name.len);
        break;

    case BULLETIN_PART_FOOTER:
        bulletin_render_footer(r, site);
        break;

    case BULLETIN_PART_FEED_URL:
        if (site->absolute) {
            bulletin_render_escape(r, site->base_url.data,
                                   site->base_url.len);
            bulletin_render_literal(r, BULLETIN_FEED_PATH);
        }

        break;

    case BULLETIN_PART_BASE_URL:
        if (site->base_url.len) {
            bulletin_render_escape(r, site->base_url.data,
                                   site->base_url.len);

        } else {
            bulletin_render_literal(r, "./");
        }

        break;

    default:
        /* a placeholder of the other kind of page: not in this template */
        break;
    }
}


static void
bulletin_render_footer(bulletin_render_t *r, const bulletin_site_t *site)
{
    if (site->sponsor.len) {
        bulletin_render_literal(r, "<p>");
        bulletin_render_escape(r, site->sponsor.data, site->sponsor.len);
        bulletin_render_literal(r, "</p>");
    }

    if (site->contact.len) {
        bulletin_render_literal(r, "<p>");
        bulletin_render_escape(r, site->contact.data, site->contact.len);
        bulletin_render_literal(r, "</p>");
    }

    if (site->icp.len) {
        bulletin_render_literal(r, "<p><a href=\"https://beian.miit.gov.cn/\" "
                                "target=\"_blank\" rel=\"noopener\">");
        bulletin_render_escape(r, site->icp.data, site->icp.len);
        bulletin_render_literal(r, "</a></p>");
    }
}


/* the site's crumbs, then the category's list when there is one */

static void
bulletin_render_crumbs(bulletin_render_t *r, const bulletin_site_t *site,
    const bulletin_str_t *name, const bulletin_str_t *slug)
{
    size_t                   i;
    const bulletin_crumb_t  *c;

    for (i = 0; i < site->ncrumbs; i++) {
        c = &site->crumbs[i];

        bulletin_render_literal(r, "<li><a href=\"");
        bulletin_render_escape(r, c->url.data, c->url.len);
        bulletin_render_literal(r, "\">");
        bulletin_render_escape(r, c->name.data, c->name.len);
        bulletin_render_literal(r, "</a></li>");
    }

    if (name == NULL) {
        return;
    }

    bulletin_render_literal(r, "<li><a href=\"");
    bulletin_render_category_href(r, slug);
    bulletin_render_literal(r, "\">");
    bulletin_render_escape(r, name->data, name->len);
    bulletin_render_literal(r, "</a></li>");
}


/* 上一篇 (older) or 下一篇 (newer) */

static void
bulletin_render_neighbour(bulletin_render_t *r,
    const bulletin_index_entry_t *e, int next)
{
    if (e == NULL) {
        if (next) {
            bulletin_render_literal(r, "<span class=\"next\">下一篇：没有了"
                                    "</span>");
        } else {
            bulletin_render_literal(r, "<span class=\"prev\">上一篇：没有了"
                                    "</span>");
        }

        return;
    }

    if (next) {
        bulletin_render_literal(r, "<a class=\"next\" rel=\"next\" href=\"");
    } else {
        bulletin_render_literal(r, "<a class=\"prev\" rel=\"prev\" href=\"");
    }

    bulletin_render_escape(r, e->id.data, e->id.len);

    if (next) {
        bulletin_render_literal(r, "\">下一篇：<span>");
    } else {
        bulletin_render_literal(r, "\">上一篇：<span>");
    }

    bulletin_render_escape(r, e->title.data, e->title.len);
    bulletin_render_literal(r, "</span></a>");
}


static void
bulletin_render_qr(bulletin_render_t *r, const bulletin_site_t *site,
    const bulletin_str_t *id)
{
    size_t    len, n;
    uint8_t  *p;

    if (!site->absolute) {
        return;
    }

    len = site->base_url.len + id->len;

    if (len > BULLETIN_QR_TEXT_MAX) {
        return;
    }

    /* the URL, then its code: the longest fits in 1 MiB */

    if (r->qr == NULL) {
        r->qr_size = BULLETIN_QR_TEXT_MAX + 1024 * 1024;

        r->qr = malloc(r->qr_size);
        if (r->qr == NULL) {
            r->error = BULLETIN_ERR_NOMEM;
            return;
        }
    }

    memcpy(r->qr, site->base_url.data, site->base_url.len);
    memcpy(r->qr + site->base_url.len, id->data, id->len);

    n = bulletin_qr_svg(r->qr, len, r->qr + len, r->qr_size - len);

    if (n == 0) {
        return;
    }

    p = bulletin_render_space(r, n);
    if (p == NULL) {
        return;
    }

    memcpy(p, r->qr + len, n);
    r->plain_len += n;
}


static void
bulletin_render_list_href(bulletin_render_t *r, const bulletin_list_ctx_t *lc,
    size_t page)
{
    char  id[BULLETIN_LIST_ID_SIZE];

    if (lc->category == NULL && page == 1) {
        /* _index is served at the base URL itself */
        bulletin_render_literal(r, "./");
        return;
    }

    bulletin_render_bytes(r, id,
                          bulletin_list_id(id, lc->category
                                               ? &lc->category->slug : NULL,
                                           page));
}


/* a category's list; with no slug, every bulletin's is the one */

static void
bulletin_render_category_href(bulletin_render_t *r,
    const bulletin_str_t *slug)
{
    if (slug->len == 0) {
        bulletin_render_literal(r, "./");
        return;
    }

    bulletin_render_literal(r, BULLETIN_CATEGORY_PREFIX);
    bulletin_render_escape(r, slug->data, slug->len);
}


static void
bulletin_render_pager(bulletin_render_t *r, const bulletin_list_ctx_t *lc)
{
    bulletin_render_literal(r, "<nav class=\"pager\" aria-label=\"分页\">");

    if (lc->page > 1) {
        bulletin_render_literal(r, "<a class=\"prev\" rel=\"prev\" href=\"");
        bulletin_render_list_href(r, lc, lc->page - 1);
        bulletin_render_literal(r, "\">上一页</a>");

    } else {
        bulletin_render_literal(r, "<span class=\"prev\">上一页</span>");
    }

    bulletin_render_literal(r, "<span class=\"pages\">第 ");
    bulletin_render_number(r, lc->page);
    bulletin_render_literal(r, " 页 共 ");
    bulletin_render_number(r, lc->pages);
    bulletin_render_literal(r, " 页</span>");

    if (lc->page < lc->pages) {
        bulletin_render_literal(r, "<a class=\"next\" rel=\"next\" href=\"");
        bulletin_render_list_href(r, lc, lc->page + 1);
        bulletin_render_literal(r, "\">下一页</a>");

    } else {
        bulletin_render_literal(r, "<span class=\"next\">下一页</span>");
    }

    bulletin_render_literal(r, "</nav>");
}


static void
bulletin_render_categories(bulletin_render_t *r,
    const bulletin_category_t *c, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        bulletin_render_literal(r, "<li><a href=\"");
        bulletin_render_category_href(r, &c[i].slug);
        bulletin_render_literal(r, "\">");
        bulletin_render_escape(r, c[i].name.data, c[i].name.len);
        bulletin_render_literal(r, "</a> (");
        bulletin_render_number(r, c[i].count);
        bulletin_render_literal(r, ")</li>");
    }
}


/*
 * The sitemap and the feed: XML, whose 1.0 has no place for most C0
 * controls (JSON strings may hold them): they become U+FFFD.
 */

static void
bulletin_render_xml(bulletin_render_t *r, const uint8_t *data, size_t len)
{
    size_t          start, i;

    start = 0;

    for (i = 0; i < len; i++) {
        if (data[i] >= 0x20 || data[i] == '\t' || data[i] == '\n'
            || data[i] == '\r')
        {
            continue;
        }

        bulletin_render_escape(r, data + start, i - start);
        bulletin_render_literal(r, "\xef\xbf\xbd");
        start = i + 1;
    }

    bulletin_render_escape(r, data + start, len - start);
}


static void
bulletin_render_time(bulletin_render_t *r, int64_t t)
{
    char       buf[32];
    size_t     n;
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL) {
        r->error = BULLETIN_ERR_TIME;
        return;
    }

    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);

    bulletin_render_bytes(r, buf, n);
}


int
bulletin_render_sitemap(bulletin_render_t *r, const bulletin_site_t *site,
    const char *id, int index, const bulletin_url_t *urls, size_t n,
    bulletin_wpage_t *page)
{
    size_t          i;
    int64_t         newest;
    bulletin_str_t  title, published;

    if (!site->absolute || strlen(id) >= sizeof(r->id)) {
        return BULLETIN_ERR_ID;
    }

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

    newest = 0;

    bulletin_render_literal(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");

    if (index) {
        bulletin_render_literal(r, "<sitemapindex xmlns=\"http://www."
                                "sitemaps.org/schemas/sitemap/0.9\">\n");
    } else {
        bulletin_render_literal(r, "<urlset xmlns=\"http://www.sitemaps.org/"
                                "schemas/sitemap/0.9\">\n");
    }

    for (i = 0; i < n && r->error == BULLETIN_OK; i++) {
        if (index) {
            bulletin_render_literal(r, "<sitemap><loc>");
        } else {
            bulletin_render_literal(r, "<url><loc>");
        }

        bulletin_render_escape(r, site->base_url.data, site->base_url.len);
        bulletin_render_xml(r, urls[i].path.data, urls[i].path.len);
        bulletin_render_literal(r, "</loc><lastmod>");
        bulletin_render_time(r, urls[i].lastmod);

        if (index) {
            bulletin_render_literal(r, "</lastmod></sitemap>\n");
        } else {
            bulletin_render_literal(r, "</lastmod></url>\n");
        }

        if (urls[i].lastmod > newest) {
            newest = urls[i].lastmod;
        }
    }

    if (index) {
        bulletin_render_literal(r, "</sitemapindex>\n");
    } else {
        bulletin_render_literal(r, "</urlset>\n");
    }

    strcpy(r->id, id);

    title.data = (const uint8_t *) r->id;
    title.len = strlen(r->id);

    /* the newest date, as the record's published */
    bulletin_render_date(r, newest, &published);

    return bulletin_render_typed(r, title.data, title.len, &title,
                                 &published, BULLETIN_TYPE_SITEMAP, page);
}


int
bulletin_render_feed(bulletin_render_t *r, const bulletin_site_t *site,
    const bulletin_feed_entry_t *entries, size_t n, bulletin_wpage_t *page)
{
    size_t                        i;
    bulletin_str_t                title, published;
    const bulletin_feed_entry_t  *e;

    if (!site->absolute) {
        return BULLETIN_ERR_ID;
    }

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

    bulletin_render_literal(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<feed xmlns=\"http://www.w3.org/2005/Atom\" "
                            "xml:lang=\"zh-CN\">\n<id>");
    bulletin_render_escape(r, site->base_url.data, site->base_url.len);
    bulletin_render_literal(r, "</id>\n<title>");
    bulletin_render_xml(r, site->name.data, site->name.len);
    bulletin_render_literal(r, "</title>\n<updated>");
    bulletin_render_time(r, n ? entries[0].published_at : 0);
    bulletin_render_literal(r, "</updated>\n<author><name>");
    bulletin_render_xml(r, site->name.data, site->name.len);
    bulletin_render_literal(r, "</name></author>\n<link rel=\"self\" "
                            "type=\"application/atom+xml\" href=\"");
    bulletin_render_escape(r, site->base_url.data, site->base_url.len);
    bulletin_render_literal(r, BULLETIN_FEED_PATH "\"/>\n<link "
                            "rel=\"alternate\" type=\"text/html\" href=\"");
    bulletin_render_escape(r, site->base_url.data, site->base_url.len);
    bulletin_render_literal(r, "\"/>\n<generator>bulletin-build"
                            "</generator>\n");

    for (i = 0; i < n; i++) {
        e = &entries[i];

        bulletin_render_literal(r, "<entry>\n<id>");
        bulletin_render_escape(r, site->base_url.data, site->base_url.len);
        bulletin_render_escape(r, e->id.data, e->id.len);
        bulletin_render_literal(r, "</id>\n<title>");
        bulletin_render_xml(r, e->title.data, e->title.len);
        bulletin_render_literal(r, "</title>\n<updated>");
        bulletin_render_time(r, e->published_at);
        bulletin_render_literal(r, "</updated>\n<published>");
        bulletin_render_time(r, e->published_at);
        bulletin_render_literal(r, "</published>\n<link rel=\"alternate\" "
                                "type=\"text/html\" href=\"");
        bulletin_render_escape(r, site->base_url.data, site->base_url.len);
        bulletin_render_escape(r, e->id.data, e->id.len);
        bulletin_render_literal(r, "\"/>\n<category term=\"");
        bulletin_render_xml(r, e->category.data, e->category.len);
        bulletin_render_literal(r, "\"/>\n<summary>");
        bulletin_render_xml(r, e->description.data, e->description.len);
        bulletin_render_literal(r, "</summary>\n</entry>\n");
    }

    bulletin_render_literal(r, "</feed>\n");

    title.data = (const uint8_t *) BULLETIN_FEED_ID;
    title.len = sizeof(BULLETIN_FEED_ID) - 1;

    bulletin_render_date(r, n ? entries[0].published_at : 0, &published);

    return bulletin_render_typed(r, title.data, title.len, &title,
                                 &published, BULLETIN_TYPE_ATOM, page);
}


static void
bulletin_render_date(bulletin_render_t *r, int64_t t,
    bulletin_str_t *published)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    published->data = r->title;
    published->len = 0;

    if (gmtime_r(&tt, &tm) != NULL) {
        published->len = strftime((char *) r->title, sizeof(r->title),
                                  "%Y-%m-%d", &tm);
    }

    if (published->len != 10) {
        memcpy(r->title, "1970-01-01", 10);
        published->len = 10;
    }
}


static int
bulletin_render_typed(bulletin_render_t *r, const uint8_t *id,
    size_t id_len, const bulletin_str_t *title,
    const bulletin_str_t *published, uint32_t type, bulletin_wpage_t *page)
{
    int  rc;

    rc = bulletin_render_finish(r, id, id_len, title, published, page);

    page->type = type;

    return rc;
}
