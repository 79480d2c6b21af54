
/*
 * Copyright (C) bulletin authors
 *
 * Templates and rendering: a bulletin record (or the list of them) into
 * a page for the store writer, its bytes cut around count slots, each
 * piece also raw-deflated on its own full flush.  Plain C99 and zlib.
 */


#ifndef _BULLETIN_RENDER_H_INCLUDED_
#define _BULLETIN_RENDER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_source.h"
#include "bulletin_store.h"
#include "bulletin_writer.h"


#define BULLETIN_TEMPLATE_PAGE     0       /* a bulletin's detail page */
#define BULLETIN_TEMPLATE_INDEX    1       /* the list page, _index */

#define BULLETIN_INDEX_ID          "_index"
#define BULLETIN_INDEX_TITLE       "全部简报"
#define BULLETIN_CATEGORY_DEFAULT  "活动简报"
#define BULLETIN_CATEGORY_PREFIX   "_c-"
#define BULLETIN_SITEMAP_ID        "_sitemap"
#define BULLETIN_FEED_ID           "_feed"
#define BULLETIN_SITEMAP_PATH      "sitemap.xml"
#define BULLETIN_FEED_PATH         "feed.atom"
/* the sitemaps.org protocol's limit of URLs a file */
#define BULLETIN_SITEMAP_MAX       50000

/* a description: at most this many characters */
#define BULLETIN_DESCRIPTION_CHARS 120
#define BULLETIN_DESCRIPTION_SIZE  (BULLETIN_DESCRIPTION_CHARS * 4 + 4)

/* a list page's id: "_c-" SLUG "-" N */
#define BULLETIN_LIST_ID_SIZE      64


typedef struct bulletin_template_s  bulletin_template_t;
typedef struct bulletin_render_s    bulletin_render_t;


/* what the list page needs of each bulletin */

typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           published;
} bulletin_index_entry_t;


typedef struct {
    bulletin_str_t           name;
    bulletin_str_t           slug;
    size_t                   count;         /* its bulletins */
} bulletin_category_t;


/* what a detail page links to besides itself */

typedef struct {
    const bulletin_site_t         *site;
    bulletin_str_t                 slug;    /* its category's */
    const bulletin_index_entry_t  *prev;    /* the next older, or NULL */
    const bulletin_index_entry_t  *next;    /* the next newer, or NULL */
} bulletin_page_ctx_t;


/* one page of a list: of every bulletin, or of a category's */

typedef struct {
    const bulletin_site_t         *site;
    const bulletin_category_t     *category;    /* NULL: every bulletin */
    const bulletin_index_entry_t  *entries;     /* this page's */
    size_t                         n;
    size_t                         page;        /* from 1 */
    size_t                         pages;
    size_t                         total;
    const bulletin_category_t     *categories;
    size_t                         ncategories;
} bulletin_list_ctx_t;


/* a URL of the sitemap: base_url followed by path */

typedef struct {
    bulletin_str_t           path;
    int64_t                  lastmod;
} bulletin_url_t;


/* a bulletin of the feed */

typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           category;
    bulletin_str_t           description;
    int64_t                  published_at;
    bulletin_str_t           published;
} bulletin_feed_entry_t;


/* the shipped templates (bulletin_template.S), NUL-terminated */
extern const char      bulletin_template_default[];
extern const uint64_t  bulletin_template_default_len;
extern const char      bulletin_template_index[];
extern const uint64_t  bulletin_template_index_len;


/*
 * A template of the kind given, from len bytes of the file called name.
 * On a bad placeholder returns NULL with "NAME:LINE:COL: message" in err.
 */
bulletin_template_t *bulletin_template_parse(const char *name,
    const uint8_t *buf, size_t len, unsigned kind, char *err, size_t size);
bulletin_template_t *bulletin_template_load(const char *path, unsigned kind,
    char *err, size_t size);
/* FNV-1a 64 of the template's text, for the builder's input fingerprints */
uint64_t bulletin_template_hash(const bulletin_template_t *t);
void bulletin_template_free(bulletin_template_t *t);

/* channels: 1 to BULLETIN_CHANNELS_MAX names, already valid */
bulletin_render_t *bulletin_render_create(const char *const *channels,
    size_t nchannels);
void bulletin_render_free(bulletin_render_t *r);

/*
 * Render into page; page points into r (and into rec or entries) and
 * stays valid until r renders again.  Returns BULLETIN_OK, or
 * BULLETIN_ERR_NOMEM, BULLETIN_ERR_TOO_LARGE (over BULLETIN_SLOTS_MAX
 * slots or BULLETIN_PAGE_MAX bytes) or BULLETIN_ERR_SYSTEM (zlib).
 */
int bulletin_render_page(bulletin_render_t *r, const bulletin_template_t *t,
    const bulletin_record_t *rec, const bulletin_page_ctx_t *pc,
    bulletin_wpage_t *page);
int bulletin_render_index(bulletin_render_t *r, const bulletin_template_t *t,
    const bulletin_list_ctx_t *lc, bulletin_wpage_t *page);

/*
 * The sitemap (its id "_sitemap" or "_sitemap-N"): a <urlset> of urls,
 * or with index set a <sitemapindex> whose urls are the sitemaps; and
 * the Atom feed.  Both need an absolute base_url (BULLETIN_ERR_ID
 * otherwise).
 */
int bulletin_render_sitemap(bulletin_render_t *r,
    const bulletin_site_t *site, const char *id, int index,
    const bulletin_url_t *urls, size_t n, bulletin_wpage_t *page);
int bulletin_render_feed(bulletin_render_t *r, const bulletin_site_t *site,
    const bulletin_feed_entry_t *entries, size_t n, bulletin_wpage_t *page);

/*
 * The id of a list's page: "_index", "_index-N", "_c-SLUG", "_c-SLUG-N"
 * (slug NULL: the list of every bulletin); buf BULLETIN_LIST_ID_SIZE.
 */
size_t bulletin_list_id(char *buf, const bulletin_str_t *slug, size_t page);

/*
 * The description of a bulletin: its summary, else its first paragraph
 * cut to BULLETIN_DESCRIPTION_CHARS characters ("…" when cut), else its
 * title; out may point into buf (BULLETIN_DESCRIPTION_SIZE bytes).
 */
void bulletin_describe(const bulletin_record_t *rec, uint8_t *buf,
    bulletin_str_t *out);

/* a category's slug when the site file names none: "c" + FNV-1a hex */
void bulletin_category_slug(const bulletin_str_t *name, char *buf);

/*
 * HTML-escapes & < > " ' of src into dst (at least 6 * len bytes), returns
 * the bytes written.
 */
size_t bulletin_html_escape(uint8_t *dst, const uint8_t *src, size_t len);


#endif /* _BULLETIN_RENDER_H_INCLUDED_ */
