
/*
 * Copyright (C) bulletin authors
 */


#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bulletin_file.h"
#include "bulletin_json_scan.h"
#include "bulletin_source.h"
#include "bulletin_store.h"


#define BULLETIN_QUOTE_MAX         48

#define BULLETIN_KEY_ID            0
#define BULLETIN_KEY_TITLE         1
#define BULLETIN_KEY_PUBLISHED     2
#define BULLETIN_KEY_BLOCKS        3
#define BULLETIN_KEY_CATEGORY      4
#define BULLETIN_KEY_SOURCE        5
#define BULLETIN_KEY_SUMMARY       6
#define BULLETIN_KEY_REQUIRED      4       /* the first four */
#define BULLETIN_KEY_N             7


typedef struct {
    const char              *name;
    const uint8_t           *start;
    const uint8_t           *end;
    const uint8_t           *top;           /* the object's "{" */
    bulletin_errors_t       *errs;
    unsigned                 nerrors;
} bulletin_source_ctx_t;


/*
 * Where a message points, found in the text only when there is a message:
 * a key of the object (or its value), or an element of "blocks", or a key
 * of that element (or its value).
 */

typedef struct {
    const char              *key;
    size_t                   block;         /* element + 1, or 0 */
    const char              *bkey;
    int                      value;
} bulletin_loc_t;


static void bulletin_source_error(bulletin_source_ctx_t *ctx,
    const bulletin_loc_t *loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static json_t *bulletin_source_top(bulletin_source_ctx_t *ctx,
    const char *name, const uint8_t *buf, size_t len, bulletin_errors_t *errs);
static void bulletin_source_syntax(bulletin_source_ctx_t *ctx,
    const json_error_t *jerr);
static const uint8_t *bulletin_utf8_bad(const uint8_t *p,
    const uint8_t *end);
static void bulletin_source_position(bulletin_source_ctx_t *ctx,
    const uint8_t *at, unsigned *line, unsigned *col);
static const uint8_t *bulletin_source_locate(bulletin_source_ctx_t *ctx,
    const bulletin_loc_t *loc);
static int bulletin_source_string(bulletin_source_ctx_t *ctx,
    json_t *value, const bulletin_loc_t *loc, const char *what,
    int nonempty, bulletin_str_t *str);
static int bulletin_source_id(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_record_t *rec);
static int bulletin_source_published(bulletin_source_ctx_t *ctx,
    json_t *value, bulletin_record_t *rec);
static int bulletin_source_blocks(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_record_t *rec);
static const char *bulletin_json_type(json_t *value);
static void bulletin_site_size(bulletin_source_ctx_t *ctx, json_t *value,
    const bulletin_loc_t *loc, size_t max, size_t *size);
static void bulletin_site_base_url(bulletin_source_ctx_t *ctx,
    json_t *value, bulletin_site_t *site);
static void bulletin_site_crumbs(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site);
static void bulletin_site_slugs(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site);
static void bulletin_site_footer(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site);
static int bulletin_url_bad(const bulletin_str_t *url, int link);
static const char *bulletin_quote(char *buf, const char *s, size_t len);
static const char *bulletin_json_error_text(char *buf, const char *text);


static const char  *bulletin_keys[BULLETIN_KEY_N] = {
    "id", "title", "published", "blocks", "category", "source", "summary"
};

#define BULLETIN_SITE_NAME         0
#define BULLETIN_SITE_BASE_URL     1
#define BULLETIN_SITE_PAGE_SIZE    2
#define BULLETIN_SITE_FEED_SIZE    3
#define BULLETIN_SITE_CRUMBS       4
#define BULLETIN_SITE_CATEGORIES   5
#define BULLETIN_SITE_FOOTER       6
#define BULLETIN_SITE_N            7

static const char  *bulletin_site_keys[BULLETIN_SITE_N] = {
    "name", "base_url", "page_size", "feed_size", "crumbs", "categories",
    "footer"
};

static const char  *bulletin_footer_keys[] = {
    "sponsor", "contact", "icp", NULL
};

#define BULLETIN_SITE_NAME_DEFAULT  "社会组织服务平台"

static bulletin_crumb_t  bulletin_default_crumbs[] = {
    { { (const uint8_t *) "首页", sizeof("首页") - 1 },
      { (const uint8_t *) "./", 2 } }
};


static const char  *bulletin_block_names[] = {
    "heading", "subheading", "paragraph"
};


int
bulletin_errors_add(bulletin_errors_t *errs, const char *fmt, ...)
{
    int       n;
    char     *msg, **msgs;
    size_t    nalloc;
    va_list   args;

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (n < 0) {
        goto failed;
    }

    msg = malloc((size_t) n + 1);
    if (msg == NULL) {
        goto failed;
    }

    va_start(args, fmt);
    vsnprintf(msg, (size_t) n + 1, fmt, args);
    va_end(args);

    if (errs->n == errs->nalloc) {
        nalloc = errs->nalloc ? errs->nalloc * 2 : 8;

        msgs = realloc(errs->msgs, nalloc * sizeof(char *));
        if (msgs == NULL) {
            free(msg);
            goto failed;
        }

        errs->msgs = msgs;
        errs->nalloc = nalloc;
    }

    errs->msgs[errs->n++] = msg;

    return 0;

failed:

    errs->nomem = 1;

    return -1;
}


void
bulletin_errors_clear(bulletin_errors_t *errs)
{
    size_t  i;

    for (i = 0; i < errs->n; i++) {
        free(errs->msgs[i]);
    }

    free(errs->msgs);

    errs->msgs = NULL;
    errs->n = 0;
    errs->nalloc = 0;
    errs->nomem = 0;
}


int
bulletin_source_load(bulletin_record_t *rec, const char *path,
    bulletin_errors_t *errs)
{
    int       rc;
    char      err[PATH_MAX + 128];
    size_t    len;
    uint8_t  *buf;

    memset(rec, 0, sizeof(bulletin_record_t));

    buf = bulletin_file_read(path, BULLETIN_SOURCE_MAX, &len, err,
                             sizeof(err));
    if (buf == NULL) {
        bulletin_errors_add(errs, "%s", err);
        return -1;
    }

    rc = bulletin_source_parse(rec, path, buf, len, errs);

    free(buf);

    return rc;
}


int
bulletin_source_parse(bulletin_record_t *rec, const char *name,
    const uint8_t *buf, size_t len, bulletin_errors_t *errs)
{
    int                     seen[BULLETIN_KEY_N];
    char                    q[BULLETIN_QUOTE_MAX * 4 + 8];
    size_t                  i;
    json_t                 *json, *value;
    const char             *key;
    bulletin_loc_t          loc;
    bulletin_source_ctx_t   ctx;

    memset(rec, 0, sizeof(bulletin_record_t));
    memset(seen, 0, sizeof(seen));

    rec->hash = bulletin_fnv64(BULLETIN_FNV64_INIT, buf, len);

    json = bulletin_source_top(&ctx, name, buf, len, errs);

    if (json == NULL) {
        return -1;
    }

    memset(&loc, 0, sizeof(bulletin_loc_t));

    /* object keys iterate in the order of the text */

    json_object_foreach(json, key, value) {

        loc.key = key;
        loc.value = 1;

        for (i = 0; i < BULLETIN_KEY_N; i++) {
            if (strcmp(key, bulletin_keys[i]) == 0) {
                break;
            }
        }

        if (i == BULLETIN_KEY_N) {
            loc.value = 0;
            bulletin_source_error(&ctx, &loc, "unknown key %s (expected id, "
                                  "title, published, blocks, category, "
                                  "source or summary)",
                                  bulletin_quote(q, key, strlen(key)));
            continue;
        }

        seen[i] = 1;

        switch (i) {

        case BULLETIN_KEY_ID:
            bulletin_source_id(&ctx, value, rec);
            break;

        case BULLETIN_KEY_PUBLISHED:
            bulletin_source_published(&ctx, value, rec);
            break;

        case BULLETIN_KEY_BLOCKS:
            bulletin_source_blocks(&ctx, value, rec);
            break;

        case BULLETIN_KEY_TITLE:
            bulletin_source_string(&ctx, value, &loc, "\"title\"", 1,
                                   &rec->title);
            break;

        case BULLETIN_KEY_CATEGORY:
            bulletin_source_string(&ctx, value, &loc, "\"category\"", 0,
                                   &rec->category);
            break;

        case BULLETIN_KEY_SOURCE:
            bulletin_source_string(&ctx, value, &loc, "\"source\"", 0,
                                   &rec->source);
            break;

        default: /* BULLETIN_KEY_SUMMARY */
            bulletin_source_string(&ctx, value, &loc, "\"summary\"", 0,
                                   &rec->summary);
            break;
        }
    }

    /* at the object's "{" */

    memset(&loc, 0, sizeof(bulletin_loc_t));

    for (i = 0; i < BULLETIN_KEY_REQUIRED; i++) {
        if (!seen[i]) {
            bulletin_source_error(&ctx, &loc, "missing required key \"%s\"",
                                  bulletin_keys[i]);
        }
    }

    if (ctx.nerrors) {
        free(rec->blocks);
        memset(rec, 0, sizeof(bulletin_record_t));
        json_decref(json);
        return -1;
    }

    rec->json = json;

    return 0;
}


void
bulletin_record_free(bulletin_record_t *rec)
{
    free(rec->blocks);

    if (rec->json != NULL) {
        json_decref((json_t *) rec->json);
    }

    memset(rec, 0, sizeof(bulletin_record_t));
}


static void
bulletin_source_error(bulletin_source_ctx_t *ctx, const bulletin_loc_t *loc,
    const char *fmt, ...)
{
    char      msg[512];
    unsigned  line, col;
    va_list   args;

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    ctx->nerrors++;

    if (loc == NULL) {
        bulletin_errors_add(ctx->errs, "%s: %s", ctx->name, msg);
        return;
    }

    bulletin_source_position(ctx, bulletin_source_locate(ctx, loc), &line,
                             &col);

    bulletin_errors_add(ctx->errs, "%s:%u:%u: %s", ctx->name, line, col, msg);
}


/* lines from 1, columns from 1 in characters, as jansson counts */

/*
 * A text that is not JSON.  jansson names what it expected where it
 * stopped; where that is a missing or a stray comma, or a byte that is
 * not UTF-8, the message says so and points at the place to mend.
 */

/*
 * A JSON file's top (a bulletin's or the site file's): a byte order mark
 * skipped (no part of the JSON: editors hide it), parsed with duplicate
 * keys refused, an object; NULL once the error is recorded
 */

static json_t *
bulletin_source_top(bulletin_source_ctx_t *ctx, const char *name,
    const uint8_t *buf, size_t len, bulletin_errors_t *errs)
{
    json_t          *json;
    json_error_t     jerr;
    bulletin_loc_t   loc;

    if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf) {
        buf += 3;
        len -= 3;
    }

    ctx->name = name;
    ctx->start = buf;
    ctx->end = buf + len;
    ctx->top = bulletin_json_ws(buf, ctx->end);
    ctx->errs = errs;
    ctx->nerrors = 0;

    json = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES, &jerr);

    if (json == NULL) {
        bulletin_source_syntax(ctx, &jerr);
        return NULL;
    }

    if (!json_is_object(json)) {
        memset(&loc, 0, sizeof(bulletin_loc_t));
        bulletin_source_error(ctx, &loc, "expected a JSON object, not %s",
                              bulletin_json_type(json));
        json_decref(json);
        return NULL;
    }

    return json;
}


static void
bulletin_source_syntax(bulletin_source_ctx_t *ctx, const json_error_t *jerr)
{
    char            text[JSON_ERROR_TEXT_LENGTH * 4];
    size_t          n;
    unsigned        line, col;
    const char     *near, *cause;
    const uint8_t  *at, *token, *p;

    line = jerr->line > 0 ? (unsigned) jerr->line : 1;
    col = jerr->column > 0 ? (unsigned) jerr->column : 1;
    cause = NULL;
    at = NULL;

    (void) bulletin_json_error_text(text, jerr->text);

    if (json_error_code(jerr) == json_error_invalid_utf8) {
        at = bulletin_utf8_bad(ctx->start, ctx->end);

        if (at != NULL) {
            bulletin_source_position(ctx, at, &line, &col);
            bulletin_errors_add(ctx->errs, "%s:%u:%u: invalid UTF-8: byte "
                                "0x%02x", ctx->name, line, col, *at);
            return;
        }
    }

    /* the token jansson stopped at, as "... near 'TOKEN'" quotes it */

    near = strstr(jerr->text, " near '");
    token = NULL;

    if (near != NULL && jerr->position > 0
        && (size_t) jerr->position <= (size_t) (ctx->end - ctx->start))
    {
        near += sizeof(" near '") - 1;
        n = strlen(near);

        if (n > 1 && near[n - 1] == '\'' && (size_t) jerr->position >= n - 1
            && memcmp(ctx->start + jerr->position - (n - 1), near, n - 1)
               == 0)
        {
            token = ctx->start + jerr->position - (n - 1);
        }
    }

    if (token != NULL
        && (strncmp(jerr->text, "'}' expected", 12) == 0
            || strncmp(jerr->text, "']' expected", 12) == 0))
    {
        /* a value where "," or the end was expected: a comma is missing
         * after the value before it, most often at the end of a line */

        for (p = token; p > ctx->start && (p[-1] == ' ' || p[-1] == '\t'
                                            || p[-1] == '\n'
                                            || p[-1] == '\r'); p--)
        {
            /* void */
        }

        at = p;
        cause = "missing \",\" here, before the next value";

    } else if (token != NULL
               && (strcmp(jerr->text, "string or '}' expected near '}'") == 0
                   || strcmp(jerr->text, "unexpected token near ']'") == 0))
    {
        /* a "," with nothing after it */

        for (p = token; p > ctx->start && p[-1] != ','; p--) {
            /* void */
        }

        if (p > ctx->start) {
            at = p - 1;
            cause = "a \",\" with nothing after it";
        }
    }

    if (cause != NULL) {
        bulletin_source_position(ctx, at, &line, &col);
        bulletin_errors_add(ctx->errs, "%s:%u:%u: %s (%s)", ctx->name, line,
                            col, cause, text);
        return;
    }

    bulletin_errors_add(ctx->errs, "%s:%u:%u: %s%s", ctx->name, line, col,
                        json_error_code(jerr) == json_error_invalid_utf8
                        ? "invalid UTF-8: " : "", text);
}


/* the first byte of p that does not begin a valid UTF-8 sequence */

static const uint8_t *
bulletin_utf8_bad(const uint8_t *p, const uint8_t *end)
{
    size_t  n;

    while (p < end) {
        for (n = 1; n <= 4 && p + n <= end; n++) {
            if (bulletin_utf8_valid(p, n)) {
                break;
            }
        }

        if (n > 4 || p + n > end) {
            return p;
        }

        p += n;
    }

    return NULL;
}


static void
bulletin_source_position(bulletin_source_ctx_t *ctx, const uint8_t *at,
    unsigned *line, unsigned *col)
{
    const uint8_t  *p;

    *line = 1;
    *col = 1;

    if (at == NULL) {
        return;
    }

    for (p = ctx->start; p < at && p < ctx->end; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;

        } else if ((*p & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}


static const uint8_t *
bulletin_source_locate(bulletin_source_ctx_t *ctx, const bulletin_loc_t *loc)
{
    const uint8_t  *at, *value;

    at = ctx->top;

    if (loc->key == NULL) {
        return at;
    }

    at = bulletin_json_find_key(at, ctx->end, loc->key, strlen(loc->key),
                                &value);

    if (loc->block == 0 && loc->bkey == NULL) {
        return loc->value ? value : at;
    }

    if (loc->block) {
        at = bulletin_json_element(value, ctx->end, loc->block - 1);

    } else {
        /* a key of the object that is the key's value */
        at = value;
    }

    if (loc->bkey == NULL) {
        return at;
    }

    at = bulletin_json_find_key(at, ctx->end, loc->bkey, strlen(loc->bkey),
                                &value);

    return loc->value ? value : at;
}


static int
bulletin_source_string(bulletin_source_ctx_t *ctx, json_t *value,
    const bulletin_loc_t *loc, const char *what, int nonempty,
    bulletin_str_t *str)
{
    if (!json_is_string(value)) {
        bulletin_source_error(ctx, loc, "%s must be a string, not %s", what,
                              bulletin_json_type(value));
        return -1;
    }

    if (nonempty && json_string_length(value) == 0) {
        bulletin_source_error(ctx, loc, "%s must not be empty", what);
        return -1;
    }

    str->data = (const uint8_t *) json_string_value(value);
    str->len = json_string_length(value);

    return 0;
}


static int
bulletin_source_id(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_record_t *rec)
{
    char             q[BULLETIN_QUOTE_MAX * 4 + 8];
    bulletin_str_t  *str;
    bulletin_loc_t   loc = { "id", 0, NULL, 1 };

    str = &rec->id;

    if (bulletin_source_string(ctx, value, &loc, "\"id\"", 1, str) != 0) {
        return -1;
    }

    if (bulletin_id_valid(str->data, str->len, 0)) {
        /* for a message about a duplicate, which only the builder sees */
        bulletin_source_position(ctx, bulletin_source_locate(ctx, &loc),
                                 &rec->id_line, &rec->id_col);
        return 0;
    }

    if (bulletin_id_valid(str->data, str->len, 1)) {
        bulletin_source_error(ctx, &loc, "id %s is reserved: ids beginning "
                              "with \"_\" are for the pages the builder "
                              "makes",
                              bulletin_quote(q, (const char *) str->data,
                                             str->len));
    } else {
        bulletin_source_error(ctx, &loc, "invalid id %s: expected 1 to %d of "
                              "A-Z a-z 0-9 _ -, beginning with a letter or "
                              "digit",
                              bulletin_quote(q, (const char *) str->data,
                                             str->len),
                              BULLETIN_ID_MAX);
    }

    str->data = NULL;
    str->len = 0;

    return -1;
}


static int
bulletin_source_published(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_record_t *rec)
{
    char             q[BULLETIN_QUOTE_MAX * 4 + 8];
    bulletin_str_t  *str;
    bulletin_loc_t   loc = { "published", 0, NULL, 1 };

    str = &rec->published;

    if (bulletin_source_string(ctx, value, &loc, "\"published\"", 1, str)
        != 0)
    {
        return -1;
    }

    if (bulletin_published_parse(str->data, str->len, &rec->published_at)
        == 0)
    {
        return 0;
    }

    bulletin_source_error(ctx, &loc, "invalid published date %s: expected "
                          "YYYY-MM-DD or an RFC 3339 date-time "
                          "(YYYY-MM-DDTHH:MM:SS+08:00) of a real date",
                          bulletin_quote(q, (const char *) str->data,
                                         str->len));
    str->data = NULL;
    str->len = 0;

    return -1;
}


static int
bulletin_source_blocks(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_record_t *rec)
{
    char               q[BULLETIN_QUOTE_MAX * 4 + 8], what[64];
    size_t             i, j, n;
    json_t            *block, *text;
    unsigned           before;
    const char        *key;
    bulletin_loc_t     loc = { "blocks", 0, NULL, 1 };
    bulletin_block_t  *blocks;

    if (!json_is_array(value)) {
        bulletin_source_error(ctx, &loc, "\"blocks\" must be an array, not "
                              "%s", bulletin_json_type(value));
        return -1;
    }

    n = json_array_size(value);

    if (n == 0) {
        bulletin_source_error(ctx, &loc, "\"blocks\" must not be empty");
        return -1;
    }

    blocks = malloc(n * sizeof(bulletin_block_t));
    if (blocks == NULL) {
        bulletin_source_error(ctx, NULL, "out of memory");
        return -1;
    }

    before = ctx->nerrors;

    for (i = 0; i < n; i++) {
        block = json_array_get(value, i);

        loc.block = i + 1;
        loc.bkey = NULL;

        if (!json_is_object(block)) {
            bulletin_source_error(ctx, &loc, "block %zu must be an object, "
                                  "not %s", i + 1, bulletin_json_type(block));
            continue;
        }

        if (json_object_size(block) != 1) {
            bulletin_source_error(ctx, &loc, "block %zu must have exactly "
                                  "one key (heading, subheading or "
                                  "paragraph), not %zu", i + 1,
                                  json_object_size(block));
            continue;
        }

        json_object_foreach(block, key, text) {
            loc.bkey = key;

            for (j = 0; j < 3; j++) {
                if (strcmp(key, bulletin_block_names[j]) == 0) {
                    break;
                }
            }

            if (j == 3) {
                loc.value = 0;
                bulletin_source_error(ctx, &loc, "block %zu: unknown block "
                                      "type %s (expected heading, "
                                      "subheading or paragraph)", i + 1,
                                      bulletin_quote(q, key, strlen(key)));
                loc.value = 1;
                break;
            }

            snprintf(what, sizeof(what), "block %zu: \"%s\"", i + 1,
                     bulletin_block_names[j]);

            blocks[i].type = (unsigned) j;
            bulletin_source_string(ctx, text, &loc, what, 1,
                                   &blocks[i].text);
        }
    }

    if (ctx->nerrors != before) {
        free(blocks);
        return -1;
    }

    rec->blocks = blocks;
    rec->nblocks = n;

    return 0;
}


void
bulletin_site_default(bulletin_site_t *site)
{
    memset(site, 0, sizeof(bulletin_site_t));

    site->name.data = (const uint8_t *) BULLETIN_SITE_NAME_DEFAULT;
    site->name.len = sizeof(BULLETIN_SITE_NAME_DEFAULT) - 1;
    site->page_size = 20;
    site->feed_size = 20;
    site->crumbs = bulletin_default_crumbs;
    site->ncrumbs = sizeof(bulletin_default_crumbs)
                    / sizeof(bulletin_crumb_t);
}


int
bulletin_site_load(bulletin_site_t *site, const char *path,
    bulletin_errors_t *errs)
{
    int       rc;
    char      err[PATH_MAX + 128];
    size_t    len;
    uint8_t  *buf;

    buf = bulletin_file_read(path, BULLETIN_SOURCE_MAX, &len, err,
                             sizeof(err));
    if (buf == NULL) {
        bulletin_errors_add(errs, "%s", err);
        return -1;
    }

    rc = bulletin_site_parse(site, path, buf, len, errs);

    free(buf);

    return rc;
}


int
bulletin_site_parse(bulletin_site_t *site, const char *name,
    const uint8_t *buf, size_t len, bulletin_errors_t *errs)
{
    char                    q[BULLETIN_QUOTE_MAX * 4 + 8];
    size_t                  i;
    json_t                 *json, *value;
    const char             *key;
    bulletin_loc_t          loc;
    bulletin_source_ctx_t   ctx;

    json = bulletin_source_top(&ctx, name, buf, len, errs);

    if (json == NULL) {
        return -1;
    }

    memset(&loc, 0, sizeof(bulletin_loc_t));

    site->json = json;
    site->hash = bulletin_fnv64(BULLETIN_FNV64_INIT, buf, len);

    json_object_foreach(json, key, value) {

        loc.key = key;
        loc.value = 1;

        for (i = 0; i < BULLETIN_SITE_N; i++) {
            if (strcmp(key, bulletin_site_keys[i]) == 0) {
                break;
            }
        }

        switch (i) {

        case BULLETIN_SITE_NAME:
            bulletin_source_string(&ctx, value, &loc, "\"name\"", 1,
                                   &site->name);
            break;

        case BULLETIN_SITE_BASE_URL:
            bulletin_site_base_url(&ctx, value, site);
            break;

        case BULLETIN_SITE_PAGE_SIZE:
            bulletin_site_size(&ctx, value, &loc, BULLETIN_PAGE_SIZE_MAX,
                               &site->page_size);
            break;

        case BULLETIN_SITE_FEED_SIZE:
            bulletin_site_size(&ctx, value, &loc, BULLETIN_FEED_SIZE_MAX,
                               &site->feed_size);
            break;

        case BULLETIN_SITE_CRUMBS:
            bulletin_site_crumbs(&ctx, value, site);
            break;

        case BULLETIN_SITE_CATEGORIES:
            bulletin_site_slugs(&ctx, value, site);
            break;

        case BULLETIN_SITE_FOOTER:
            bulletin_site_footer(&ctx, value, site);
            break;

        default:
            loc.value = 0;
            bulletin_source_error(&ctx, &loc, "unknown key %s (expected "
                                  "name, base_url, page_size, feed_size, "
                                  "crumbs, categories or footer)",
                                  bulletin_quote(q, key, strlen(key)));
            break;
        }
    }

    return ctx.nerrors ? -1 : 0;
}


void
bulletin_site_free(bulletin_site_t *site)
{
    if (site->crumbs != bulletin_default_crumbs) {
        free(site->crumbs);
    }

    free(site->slugs);

    if (site->json != NULL) {
        json_decref((json_t *) site->json);
    }

    memset(site, 0, sizeof(bulletin_site_t));
}


static void
bulletin_site_size(bulletin_source_ctx_t *ctx, json_t *value,
    const bulletin_loc_t *loc, size_t max, size_t *size)
{
    json_int_t  n;

    if (!json_is_integer(value)) {
        bulletin_source_error(ctx, loc, "\"%s\" must be an integer, not %s",
                              loc->key, bulletin_json_type(value));
        return;
    }

    n = json_integer_value(value);

    if (n < 1 || n > (json_int_t) max) {
        bulletin_source_error(ctx, loc, "\"%s\" must be 1 to %zu, not %lld",
                              loc->key, max, (long long) n);
        return;
    }

    *size = (size_t) n;
}


static void
bulletin_site_base_url(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site)
{
    size_t           i;
    bulletin_str_t   url;
    bulletin_loc_t   loc = { "base_url", 0, NULL, 1 };

    if (bulletin_source_string(ctx, value, &loc, "\"base_url\"", 0, &url)
        != 0)
    {
        return;
    }

    if (url.len == 0) {
        return;
    }

    for (i = 0; i < url.len; i++) {
        if (url.data[i] <= 0x20 || url.data[i] >= 0x7f
            || strchr("\"<>\\^`{|}", url.data[i]) != NULL)
        {
            bulletin_source_error(ctx, &loc, "\"base_url\": byte 0x%02x at "
                                  "%zu is not allowed in a URL (percent-"
                                  "encode it)", url.data[i], i + 1);
            return;
        }
    }

    if (url.data[url.len - 1] != '/') {
        bulletin_source_error(ctx, &loc, "\"base_url\" must end with \"/\" "
                              "(a page's URL is base_url followed by its "
                              "id)");
        return;
    }

    if ((url.len > 8 && memcmp(url.data, "https://", 8) == 0
         && url.data[8] != '/')
        || (url.len > 7 && memcmp(url.data, "http://", 7) == 0
            && url.data[7] != '/'))
    {
        site->absolute = 1;

    } else if (url.data[0] != '/' || (url.len > 1 && url.data[1] == '/')) {
        bulletin_source_error(ctx, &loc, "\"base_url\" must be an absolute "
                              "http:// or https:// URL, or a path beginning "
                              "with \"/\"");
        return;
    }

    site->base_url = url;
}


/*
 * A link of the site's chrome: no control byte, space or quote, and no
 * scheme but http and https, so that no "javascript:" gets in.
 */

static int
bulletin_url_bad(const bulletin_str_t *url, int link)
{
    size_t  i;

    for (i = 0; i < url->len; i++) {
        if (url->data[i] <= 0x20 || url->data[i] == 0x7f
            || url->data[i] == '"' || url->data[i] == '<'
            || url->data[i] == '>' || url->data[i] == '\\')
        {
            return 1;
        }

        if (url->data[i] == '/' || url->data[i] == '?'
            || url->data[i] == '#')
        {
            return 0;
        }

        if (url->data[i] == ':') {
            return !((i == 4 && memcmp(url->data, "http", 4) == 0)
                     || (i == 5 && memcmp(url->data, "https", 5) == 0));
        }
    }

    return 0;
}


static void
bulletin_site_crumbs(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site)
{
    size_t             i, j, n;
    json_t            *crumb, *v;
    char               what[64];
    const char        *key;
    bulletin_loc_t     loc = { "crumbs", 0, NULL, 1 };
    bulletin_crumb_t  *crumbs;

    if (!json_is_array(value)) {
        bulletin_source_error(ctx, &loc, "\"crumbs\" must be an array, not "
                              "%s", bulletin_json_type(value));
        return;
    }

    n = json_array_size(value);

    crumbs = calloc(n ? n : 1, sizeof(bulletin_crumb_t));
    if (crumbs == NULL) {
        bulletin_source_error(ctx, NULL, "out of memory");
        return;
    }

    if (site->crumbs != bulletin_default_crumbs) {
        free(site->crumbs);
    }

    site->crumbs = crumbs;
    site->ncrumbs = n;

    for (i = 0; i < n; i++) {
        crumb = json_array_get(value, i);

        loc.block = i + 1;
        loc.bkey = NULL;
        loc.value = 1;

        if (!json_is_object(crumb)) {
            bulletin_source_error(ctx, &loc, "crumb %zu must be an object "
                                  "{\"name\": ..., \"url\": ...}, not %s",
                                  i + 1, bulletin_json_type(crumb));
            continue;
        }

        json_object_foreach(crumb, key, v) {
            loc.bkey = key;

            for (j = 0; j < 2; j++) {
                if (strcmp(key, j ? "url" : "name") == 0) {
                    break;
                }
            }

            if (j == 2) {
                loc.value = 0;
                bulletin_source_error(ctx, &loc, "crumb %zu: unknown key "
                                      "\"%s\" (expected name or url)",
                                      i + 1, key);
                loc.value = 1;
                continue;
            }

            snprintf(what, sizeof(what), "crumb %zu: \"%s\"", i + 1, key);

            if (bulletin_source_string(ctx, v, &loc, what, 1,
                                       j ? &crumbs[i].url : &crumbs[i].name)
                == 0
                && j == 1 && bulletin_url_bad(&crumbs[i].url, 1))
            {
                bulletin_source_error(ctx, &loc, "%s: not a link (an http:// "
                                      "or https:// URL, or a path, with no "
                                      "space, quote or control byte)", what);
            }
        }

        loc.bkey = NULL;

        if (crumbs[i].name.len == 0 || crumbs[i].url.len == 0) {
            if (json_object_get(crumb, "name") == NULL
                || json_object_get(crumb, "url") == NULL)
            {
                bulletin_source_error(ctx, &loc, "crumb %zu: \"name\" and "
                                      "\"url\" are required", i + 1);
            }
        }
    }
}


static void
bulletin_site_slugs(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site)
{
    size_t            i, j, n;
    json_t           *v;
    const char       *key;
    bulletin_str_t    slug;
    bulletin_slug_t  *slugs;
    bulletin_loc_t    loc = { "categories", 0, NULL, 1 };

    if (!json_is_object(value)) {
        bulletin_source_error(ctx, &loc, "\"categories\" must be an object "
                              "(a category's name: its slug), not %s",
                              bulletin_json_type(value));
        return;
    }

    n = json_object_size(value);

    slugs = calloc(n ? n : 1, sizeof(bulletin_slug_t));
    if (slugs == NULL) {
        bulletin_source_error(ctx, NULL, "out of memory");
        return;
    }

    free(site->slugs);
    site->slugs = slugs;
    site->nslugs = 0;

    json_object_foreach(value, key, v) {
        loc.bkey = key;

        if (bulletin_source_string(ctx, v, &loc, "a category's slug", 1,
                                   &slug)
            != 0)
        {
            continue;
        }

        for (i = 0; i < slug.len; i++) {
            if (!((slug.data[i] >= 'a' && slug.data[i] <= 'z')
                  || (slug.data[i] >= '0' && slug.data[i] <= '9')
                  || (slug.data[i] == '-' && i > 0)))
            {
                break;
            }
        }

        if (i < slug.len || slug.len > BULLETIN_SLUG_MAX) {
            bulletin_source_error(ctx, &loc, "category \"%s\": invalid slug "
                                  "\"%.*s\": expected 1 to %d of a-z 0-9 -, "
                                  "beginning with a letter or digit", key,
                                  (int) slug.len, (const char *) slug.data,
                                  BULLETIN_SLUG_MAX);
            continue;
        }

        for (j = 0; j < site->nslugs; j++) {
            if (slugs[j].slug.len == slug.len
                && memcmp(slugs[j].slug.data, slug.data, slug.len) == 0)
            {
                break;
            }
        }

        if (j < site->nslugs) {
            bulletin_source_error(ctx, &loc, "category \"%s\": slug \"%.*s\" "
                                  "is also \"%.*s\"'s", key, (int) slug.len,
                                  (const char *) slug.data,
                                  (int) slugs[j].name.len,
                                  (const char *) slugs[j].name.data);
            continue;
        }

        slugs[site->nslugs].name.data = (const uint8_t *) key;
        slugs[site->nslugs].name.len = strlen(key);
        slugs[site->nslugs].slug = slug;
        site->nslugs++;
    }
}


static void
bulletin_site_footer(bulletin_source_ctx_t *ctx, json_t *value,
    bulletin_site_t *site)
{
    size_t           i;
    json_t          *v;
    char             q[BULLETIN_QUOTE_MAX * 4 + 8], what[32];
    const char      *key;
    bulletin_str_t  *line[3];
    bulletin_loc_t   loc = { "footer", 0, NULL, 1 };

    if (!json_is_object(value)) {
        bulletin_source_error(ctx, &loc, "\"footer\" must be an object, not "
                              "%s", bulletin_json_type(value));
        return;
    }

    line[0] = &site->sponsor;
    line[1] = &site->contact;
    line[2] = &site->icp;

    json_object_foreach(value, key, v) {
        loc.bkey = key;

        for (i = 0; bulletin_footer_keys[i] != NULL; i++) {
            if (strcmp(key, bulletin_footer_keys[i]) == 0) {
                break;
            }
        }

        if (bulletin_footer_keys[i] == NULL) {
            loc.value = 0;
            bulletin_source_error(ctx, &loc, "\"footer\": unknown key %s "
                                  "(expected sponsor, contact or icp)",
                                  bulletin_quote(q, key, strlen(key)));
            loc.value = 1;
            continue;
        }

        snprintf(what, sizeof(what), "\"footer\": \"%s\"", key);

        bulletin_source_string(ctx, v, &loc, what, 0, line[i]);
    }
}


static const char *
bulletin_json_type(json_t *value)
{
    switch (json_typeof(value)) {

    case JSON_OBJECT:
        return "an object";

    case JSON_ARRAY:
        return "an array";

    case JSON_STRING:
        return "a string";

    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";

    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";

    default:
        return "null";
    }
}


/*
 * A key or value quoted for a message: control characters, quotes and
 * backslashes escaped, cut after BULLETIN_QUOTE_MAX characters.
 */

static const char *
bulletin_quote(char *buf, const char *s, size_t len)
{
    char           *d;
    size_t          i, chars;
    unsigned char   c;

    d = buf;
    *d++ = '"';
    chars = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if ((c & 0xc0) != 0x80 && chars++ == BULLETIN_QUOTE_MAX) {
            *d++ = '.';
            *d++ = '.';
            *d++ = '.';
            break;
        }

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            if (c == '"' || c == '\\') {
                *d++ = '\\';
                *d++ = (char) c;

            } else {
                d += sprintf(d, "\\x%02x", c);
            }

            continue;
        }

        *d++ = (char) c;
    }

    *d++ = '"';
    *d = '\0';

    return buf;
}


/*
 * jansson's message quotes the text near the error as it is, newlines
 * and control characters too: escaped, the message stays one line.
 */

static const char *
bulletin_json_error_text(char *buf, const char *text)
{
    char           *d;
    unsigned char   c;

    d = buf;

    for ( /* void */ ; *text != '\0'; text++) {
        c = (unsigned char) *text;

        if (c < 0x20 || c == 0x7f) {
            d += sprintf(d, "\\x%02x", c);

        } else {
            *d++ = (char) c;
        }
    }

    *d = '\0';

    return buf;
}


static int
bulletin_digits(const uint8_t *p, size_t n, unsigned *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return 0;
}


int
bulletin_published_parse(const uint8_t *s, size_t len, int64_t *t)
{
    int       sign;
    int64_t   days, y;
    unsigned  year, month, day, hour, min, sec, oh, om, dim, m;
    size_t    i;

    static const unsigned  mdays[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len < 10 || s[4] != '-' || s[7] != '-'
        || bulletin_digits(s, 4, &year) != 0
        || bulletin_digits(s + 5, 2, &month) != 0
        || bulletin_digits(s + 8, 2, &day) != 0)
    {
        return -1;
    }

    if (month < 1 || month > 12 || day < 1) {
        return -1;
    }

    dim = mdays[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        dim = 29;
    }

    if (day > dim) {
        return -1;
    }

    hour = 0;
    min = 0;
    sec = 0;
    sign = 0;
    oh = 0;
    om = 0;

    if (len > 10) {
        if (len < 20 || (s[10] != 'T' && s[10] != 't')
            || s[13] != ':' || s[16] != ':'
            || bulletin_digits(s + 11, 2, &hour) != 0
            || bulletin_digits(s + 14, 2, &min) != 0
            || bulletin_digits(s + 17, 2, &sec) != 0)
        {
            return -1;
        }

        /* 60: a leap second */
        if (hour > 23 || min > 59 || sec > 60) {
            return -1;
        }

        i = 19;

        if (s[i] == '.') {
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                /* void */
            }

            if (i == 20) {
                return -1;
            }
        }

        if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
            /* UTC */

        } else if (i + 6 == len && (s[i] == '+' || s[i] == '-')
                   && s[i + 3] == ':'
                   && bulletin_digits(s + i + 1, 2, &oh) == 0
                   && bulletin_digits(s + i + 4, 2, &om) == 0
                   && oh <= 23 && om <= 59)
        {
            sign = s[i] == '-' ? -1 : 1;

        } else {
            return -1;
        }
    }

    /* days from 1970-01-01 in the proleptic Gregorian calendar */

    y = (int64_t) year - (month <= 2);
    m = month <= 2 ? month + 9 : month - 3;
    days = (y >= 0 ? y : y - 399) / 400;
    y = y - days * 400;
    days = days * 146097 + y * 365 + y / 4 - y / 100
           + (153 * m + 2) / 5 + day - 1 - 719468;

    *t = days * 86400 + hour * 3600 + min * 60 + sec
         - sign * (int64_t) (oh * 3600 + om * 60);

    return 0;
}
