
/*
 * Copyright (C) bulletin authors
 *
 * typed-store: a store of pages of any record type, for the nginx-level
 * tests of sitemaps and feeds (t/230-counts.t) that do not want to
 * depend on the builder's own pages.
 *
 *   typed-store OUT ID TYPE FILE [ID TYPE FILE]...
 *
 * TYPE is html, sitemap or atom; FILE holds the page's bytes, in which,
 * for html, each "{{views}}" is a count slot of the page's views.  The
 * channels are wechat, weibo, qq and link, as the builder's default.
 *
 * The store written is verified again as nginx verifies it.  Built by
 * the test with cc against build/libbulletin.a and zlib.
 */


#define _GNU_SOURCE                     /* memmem() */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bulletin_store.h"
#include "bulletin_writer.h"


#define PAGES_MAX  16
#define SLOTS_MAX  16
#define MARK       "{{views}}"


typedef struct {
    const char              *id;
    uint32_t                 type;
    bulletin_wpage_t         page;
    bulletin_wslot_t         slots[SLOTS_MAX];
    bulletin_wsegment_t      segments[SLOTS_MAX + 1];
} page_t;


static void *
slurp(const char *path, size_t *size)
{
    FILE    *f;
    long     n;
    void    *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        perror(path);
        fclose(f);
        return NULL;
    }

    buf = malloc(n ? (size_t) n : 1);

    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "%s: read failed\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }

    fclose(f);
    *size = (size_t) n;

    return buf;
}


/* a segment: its plain bytes, and raw deflate ending on a full flush */

static int
segment(bulletin_wsegment_t *s, const uint8_t *p, size_t len)
{
    uint8_t   *out;
    z_stream   z;

    memset(s, 0, sizeof(*s));

    s->plain = p;
    s->plain_len = len;
    s->crc = (uint32_t) crc32(0, p, (uInt) len);

    if (len == 0) {
        return 0;
    }

    memset(&z, 0, sizeof(z));

    if (deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }

    out = malloc(deflateBound(&z, len) + 16);
    if (out == NULL) {
        deflateEnd(&z);
        return -1;
    }

    z.next_in = (Bytef *) p;
    z.avail_in = (uInt) len;
    z.next_out = out;
    z.avail_out = (uInt) (deflateBound(&z, len) + 16);

    if (deflate(&z, Z_FULL_FLUSH) != Z_OK || z.avail_in != 0) {
        deflateEnd(&z);
        return -1;
    }

    s->gzip = out;
    s->gzip_len = z.total_out;

    deflateEnd(&z);

    return 0;
}


/* the page's bytes cut at each "{{views}}" */

static int
page(page_t *pg, const char *id, const char *type, const char *file)
{
    size_t          size, n;
    uint8_t        *buf, *p, *end, *mark;

    pg->id = id;

    if (strcmp(type, "html") == 0) {
        pg->type = BULLETIN_TYPE_HTML;

    } else if (strcmp(type, "sitemap") == 0) {
        pg->type = BULLETIN_TYPE_SITEMAP;

    } else if (strcmp(type, "atom") == 0) {
        pg->type = BULLETIN_TYPE_ATOM;

    } else {
        fprintf(stderr, "%s: unknown type \"%s\"\n", id, type);
        return -1;
    }

    buf = slurp(file, &size);
    if (buf == NULL) {
        return -1;
    }

    memset(&pg->page, 0, sizeof(pg->page));

    pg->page.id = (const uint8_t *) id;
    pg->page.id_len = strlen(id);
    pg->page.type = pg->type;
    pg->page.title = (const uint8_t *) id;
    pg->page.title_len = strlen(id);
    pg->page.published = (const uint8_t *) "2020-05-20";
    pg->page.published_len = sizeof("2020-05-20") - 1;

    p = buf;
    end = buf + size;
    n = 0;

    for ( ;; ) {
        mark = (pg->type == BULLETIN_TYPE_HTML)
               ? memmem(p, end - p, MARK, sizeof(MARK) - 1) : NULL;

        if (mark == NULL || n == SLOTS_MAX) {
            break;
        }

        if (segment(&pg->segments[n], p, mark - p) != 0) {
            return -1;
        }

        pg->slots[n].ref = NULL;
        pg->slots[n].ref_len = 0;
        pg->slots[n].kind = BULLETIN_SLOT_VIEWS;
        n++;

        p = mark + sizeof(MARK) - 1;
    }

    if (segment(&pg->segments[n], p, end - p) != 0) {
        return -1;
    }

    pg->page.nslots = (uint32_t) n;
    pg->page.slots = pg->slots;
    pg->page.segments = pg->segments;

    return 0;
}


/* the file as nginx verifies it */

static int
verify(const char *path)
{
    int               rc;
    size_t            size;
    uint8_t          *buf;
    bulletin_store_t  st;

    buf = slurp(path, &size);
    if (buf == NULL) {
        return -1;
    }

    rc = bulletin_store_open(&st, buf, size);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", path, bulletin_strerror(rc),
                st.detail);
        free(buf);
        return -1;
    }

    free(buf);

    return 0;
}


int
main(int argc, char **argv)
{
    int                   i, n, err;
    page_t               *pages;
    bulletin_writer_t    *w;
    bulletin_wsummary_t   sum;

    static const char    *channels[] = { "wechat", "weibo", "qq", "link" };

    if (argc < 5 || (argc - 2) % 3 != 0 || (argc - 2) / 3 > PAGES_MAX) {
        fprintf(stderr, "usage: typed-store OUT ID TYPE FILE "
                        "[ID TYPE FILE]...\n");
        return 64;
    }

    n = (argc - 2) / 3;

    pages = calloc(n, sizeof(page_t));
    if (pages == NULL) {
        return 1;
    }

    for (i = 0; i < n; i++) {
        if (page(&pages[i], argv[2 + 3 * i], argv[3 + 3 * i],
                 argv[4 + 3 * i])
            != 0)
        {
            return 1;
        }
    }

    w = bulletin_writer_create(argv[1], channels, 4, 1590000000, NULL, &err);

    if (w == NULL) {
        fprintf(stderr, "%s: %s\n", argv[1], bulletin_strerror(err));
        return 1;
    }

    for (i = 0; i < n; i++) {
        err = bulletin_writer_add(w, &pages[i].page);

        if (err != BULLETIN_OK) {
            fprintf(stderr, "%s: %s: %s\n", pages[i].id,
                    bulletin_strerror(err), bulletin_writer_detail(w));
            bulletin_writer_abort(w);
            return 1;
        }
    }

    err = bulletin_writer_commit(w, &sum);

    if (err != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[1], bulletin_strerror(err),
                bulletin_writer_detail(w));
        bulletin_writer_abort(w);
        return 1;
    }

    return verify(argv[1]) == 0 ? 0 : 1;
}
