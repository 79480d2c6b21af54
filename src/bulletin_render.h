
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
#define BULLETIN_INDEX_TITLE       "活动简报"
#define BULLETIN_CATEGORY_DEFAULT  "活动简报"


typedef struct bulletin_template_s  bulletin_template_t;
typedef struct bulletin_render_s    bulletin_render_t;


/* what the list page needs of each bulletin */

typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           published;
} bulletin_index_entry_t;


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
    const bulletin_record_t *rec, bulletin_wpage_t *page);
int bulletin_render_index(bulletin_render_t *r, const bulletin_template_t *t,
    const bulletin_index_entry_t *entries, size_t n, size_t total,
    bulletin_wpage_t *page);

/*
 * HTML-escapes & < > " ' of src into dst (at least 6 * len bytes), returns
 * the bytes written.
 */
size_t bulletin_html_escape(uint8_t *dst, const uint8_t *src, size_t len);


#endif /* _BULLETIN_RENDER_H_INCLUDED_ */
