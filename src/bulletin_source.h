
/*
 * Copyright (C) bulletin authors
 *
 * A bulletin source file (one JSON object, see DESIGN.md) read into a
 * record.  Only the builder and its tests use this: it is the one place
 * that knows JSON, and the header names no jansson type.
 */


#ifndef _BULLETIN_SOURCE_H_INCLUDED_
#define _BULLETIN_SOURCE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define BULLETIN_BLOCK_HEADING     0
#define BULLETIN_BLOCK_SUBHEADING  1
#define BULLETIN_BLOCK_PARAGRAPH   2


typedef struct {
    const uint8_t           *data;          /* UTF-8, not NUL-terminated; */
    size_t                   len;           /* NULL and 0 when absent */
} bulletin_str_t;


typedef struct {
    unsigned                 type;          /* BULLETIN_BLOCK_* */
    bulletin_str_t           text;
} bulletin_block_t;


typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           published;     /* as the source wrote it */
    bulletin_str_t           category;
    bulletin_str_t           source;
    bulletin_str_t           summary;
    int64_t                  published_at;  /* unix time, for sorting */
    unsigned                 id_line;       /* where the id is, for a */
    unsigned                 id_col;        /* message about a duplicate */
    size_t                   nblocks;
    bulletin_block_t        *blocks;
    uint64_t                 hash;          /* FNV-1a 64 of the file's
                                               bytes, as read */
    void                    *json;          /* owns the strings */
} bulletin_record_t;


#define BULLETIN_SOURCE_MAX        (64 * 1024 * 1024)  /* a file's bytes */


/* the site file (--site): every key optional */

#define BULLETIN_PAGE_SIZE_MAX     1000
#define BULLETIN_FEED_SIZE_MAX     1000
#define BULLETIN_SLUG_MAX          32

typedef struct {
    bulletin_str_t           name;
    bulletin_str_t           url;
} bulletin_crumb_t;


typedef struct {
    bulletin_str_t           name;          /* a category's */
    bulletin_str_t           slug;          /* [a-z0-9-] */
} bulletin_slug_t;


typedef struct {
    bulletin_str_t           name;
    bulletin_str_t           base_url;      /* ends with "/"; may be empty */
    int                      absolute;      /* base_url is http(s)://... */
    size_t                   page_size;
    size_t                   feed_size;
    size_t                   ncrumbs;
    bulletin_crumb_t        *crumbs;
    size_t                   nslugs;
    bulletin_slug_t         *slugs;
    bulletin_str_t           sponsor;       /* the footer's lines, */
    bulletin_str_t           contact;       /* empty when not set */
    bulletin_str_t           icp;
    uint64_t                 hash;          /* FNV-1a 64 of the file's
                                               bytes; 0: the defaults */
    void                    *json;          /* owns the strings */
} bulletin_site_t;


/* the messages of one or more files, each "FILE[:LINE:COL]: message" */

typedef struct {
    char                   **msgs;
    size_t                   n;
    size_t                   nalloc;
    int                      nomem;         /* a message was lost */
} bulletin_errors_t;


/*
 * Reads a bulletin from buf (len bytes, the contents of the file called
 * name).  On success returns 0 and fills rec, to be released with
 * bulletin_record_free(); otherwise returns -1, leaves rec empty and
 * appends every problem found to errs.
 */
int bulletin_source_parse(bulletin_record_t *rec, const char *name,
    const uint8_t *buf, size_t len, bulletin_errors_t *errs);

/* the same, reading the file; a file that cannot be read is an error */
int bulletin_source_load(bulletin_record_t *rec, const char *path,
    bulletin_errors_t *errs);

void bulletin_record_free(bulletin_record_t *rec);

/*
 * The site file: bulletin_site_default() fills the defaults, which
 * bulletin_site_parse() (or _load()) replaces with what the file sets;
 * -1 with every problem in errs, "FILE:LINE:COL: message".
 */
void bulletin_site_default(bulletin_site_t *site);
int bulletin_site_parse(bulletin_site_t *site, const char *name,
    const uint8_t *buf, size_t len, bulletin_errors_t *errs);
int bulletin_site_load(bulletin_site_t *site, const char *path,
    bulletin_errors_t *errs);
void bulletin_site_free(bulletin_site_t *site);

/*
 * published: YYYY-MM-DD, or an RFC 3339 date-time, of a real date and
 * time.  Returns 0 and the unix time (a date alone is its midnight UTC),
 * or -1.
 */
int bulletin_published_parse(const uint8_t *s, size_t len, int64_t *t);

int bulletin_errors_add(bulletin_errors_t *errs, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void bulletin_errors_clear(bulletin_errors_t *errs);


#endif /* _BULLETIN_SOURCE_H_INCLUDED_ */
