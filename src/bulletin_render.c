
/*
 * Copyright (C) bulletin authors
 */


#define _GNU_SOURCE                 /* memmem() */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bulletin_file.h"
#include "bulletin_render.h"


#define BULLETIN_TEMPLATE_MAX      (1024 * 1024)

/*
 * A segment as plain as the one last rendered at its place (the
 * template's script and style, the pieces between share buttons) takes
 * its deflated bytes from then: after a full flush they stand alone.
 */
#define BULLETIN_CACHE_SEGMENTS    16
#define BULLETIN_CACHE_MAX         (64 * 1024)

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

    /* the list page */
    BULLETIN_PART_LIST,
    BULLETIN_PART_COUNT,
    BULLETIN_PART_TOTAL
};


/*
 * What a placeholder's value may hold, and so where a template may put
 * it: escaped text is safe in HTML text and in quoted attribute values
 * that are not URLs, scripts or styles; markup only in HTML text; ids
 * and numbers (A-Z a-z 0-9 _ -) in URL values too.
 */
#define BULLETIN_VALUE_TEXT        0
#define BULLETIN_VALUE_HTML        1
#define BULLETIN_VALUE_WORD        2

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
    int                      zinit;
    int                      error;         /* sticky, for this page */

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
    { NULL, 0, 0 }
};


static const bulletin_placeholder_t  bulletin_index_placeholders[] = {
    { "list",       BULLETIN_PART_LIST,       BULLETIN_VALUE_HTML },
    { "count",      BULLETIN_PART_COUNT,      BULLETIN_VALUE_WORD },
    { "total",      BULLETIN_PART_TOTAL,      BULLETIN_VALUE_WORD },
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
    "share_bar, views or shares",
    "list, count or total"
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

    if (value == BULLETIN_VALUE_WORD) {
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

    for (i = 0; i < BULLETIN_CACHE_SEGMENTS; i++) {
        free(r->cache[i].data);
    }

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
    const bulletin_record_t *rec, bulletin_wpage_t *page)
{
    size_t                   i;
    const bulletin_str_t    *s;
    const bulletin_tpart_t  *part;

    static const bulletin_str_t  category = {
        (const uint8_t *) BULLETIN_CATEGORY_DEFAULT,
        sizeof(BULLETIN_CATEGORY_DEFAULT) - 1
    };

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

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
            s = rec->category.len ? &rec->category : &category;
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

        default:
            /* a placeholder of the list page: not in a page template */
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
    const bulletin_index_entry_t *entries, size_t n, size_t total,
    bulletin_wpage_t *page)
{
    size_t                   i;
    const bulletin_tpart_t  *part;

    static const bulletin_str_t  title = {
        (const uint8_t *) BULLETIN_INDEX_TITLE,
        sizeof(BULLETIN_INDEX_TITLE) - 1
    };

    static const bulletin_str_t  epoch = {
        (const uint8_t *) "1970-01-01", 10
    };

    r->error = BULLETIN_OK;
    r->plain_len = 0;
    r->nslots = 0;

    for (i = 0; i < t->nparts && r->error == BULLETIN_OK; i++) {
        part = &t->parts[i];

        switch (part->type) {

        case BULLETIN_PART_LITERAL:
            bulletin_render_bytes(r, t->text + part->off, part->len);
            break;

        case BULLETIN_PART_LIST:
            bulletin_render_list(r, entries, n);
            break;

        case BULLETIN_PART_COUNT:
            bulletin_render_number(r, n);
            break;

        case BULLETIN_PART_TOTAL:
            bulletin_render_number(r, total);
            break;

        default:
            break;
        }
    }

    /* the list is as new as its newest bulletin */

    return bulletin_render_finish(r, (const uint8_t *) BULLETIN_INDEX_ID,
                                  sizeof(BULLETIN_INDEX_ID) - 1, &title,
                                  n ? &entries[0].published : &epoch, page);
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

    if (deflateReset(&r->zs) != Z_OK) {
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
    page->nslots = (uint32_t) r->nslots;
    page->slots = r->slots;
    page->segments = r->segments;

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
    int     rc;
    size_t  need;

    r->zs.next_in = (uint8_t *) data;
    r->zs.avail_in = (uInt) len;

    /* a full flush adds a few bytes to the bound */
    need = deflateBound(&r->zs, len) + 16;

    for ( ;; ) {
        if (bulletin_render_gzip_space(r, need) == NULL) {
            return BULLETIN_ERR_NOMEM;
        }

        r->zs.next_out = r->gzip + r->gzip_len;
        r->zs.avail_out = (uInt) (r->gzip_size - r->gzip_len);

        rc = deflate(&r->zs, Z_FULL_FLUSH);

        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return BULLETIN_ERR_SYSTEM;
        }

        r->gzip_len = (size_t) (r->zs.next_out - r->gzip);

        if (r->zs.avail_out != 0 && r->zs.avail_in == 0) {
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
