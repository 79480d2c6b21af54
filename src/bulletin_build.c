
/*
 * Copyright (C) bulletin authors
 *
 * bulletin-build: bulletin JSON files into one store file.
 *
 * Files are read, checked, rendered and deflated by worker threads, a
 * window of pages at a time, and handed to the writer in input order by
 * the main thread, which keeps of each page only what the list page and
 * the duplicate check need.  Memory grows with the number of pages, not
 * with their bytes.
 *
 * A page whose input fingerprint (bulletin_build_inputs(), or
 * bulletin_list_inputs() for a list page) is the one the previous OUTPUT
 * recorded for it is not rendered: its segments are copied from the
 * previous store, and the store written is the same, byte for byte, as
 * with --full.  A file whose path and bytes' hash the previous store's
 * sources section has is not parsed either (bulletin_build_known()): its
 * entry is made from the store's record and source.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulletin_arena.h"
#include "bulletin_file.h"
#include "bulletin_idtab.h"
#include "bulletin_inputs.h"
#include "bulletin_pipeline.h"
#include "bulletin_render.h"
#include "bulletin_source.h"
#include "bulletin_store.h"
#include "bulletin_version.h"
#include "bulletin_writer.h"


#define BULLETIN_BUILD_NAME        "bulletin-build"
#define BULLETIN_DEFAULT_CHANNELS  "wechat,weibo,qq,link"
#define BULLETIN_KNOWN_THREADS     8



/*
 * What is kept of each page: for the lists, the neighbours, the sitemap,
 * the feed and the duplicate check.
 */

typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           published;
    bulletin_str_t           category;
    bulletin_str_t           description;   /* the feed's only */
    int64_t                  published_at;
    uint64_t                 source;        /* its file's hash */
    uint64_t                 inputs;        /* its page's fingerprint */
    uint32_t                 reuse;         /* its record in the previous
                                               store + 1, or 0: render */
    uint32_t                 cat;           /* in categories */
    uint32_t                 file;
    uint32_t                 line;
    uint32_t                 col;
} bulletin_entry_t;


typedef struct bulletin_build_s {
    const char              *output;
    const char              *template;
    const char              *list_template;
    const char              *site_file;
    const char              *channels;
    int                      full;          /* --full: reuse no page */
    int64_t                  now;           /* SOURCE_DATE_EPOCH, or the
                                               clock's */
    const bulletin_store_t  *prev;          /* the previous output, or
                                               NULL */
    uint64_t                 inputs;        /* what every page is made
                                               with: version, template,
                                               site, channels */
    uint32_t                *file_entry;    /* a file's entry */
    char                   **parse;         /* the files the first pass */
    size_t                  *parse_file;    /* parses, and their indexes */
    size_t                   nparse;        /* in files */
    size_t                   nknown;        /* the others: unchanged */
    bulletin_idtab_t         sources;       /* prev's: path -> record */
    bulletin_wsource_t       wsource;       /* the page added */
    size_t                   nreused;
    uint64_t                 list_inputs;   /* what every list page is
                                               made with besides its own
                                               context */
    bulletin_wsegment_t     *rsegments;     /* a reused page's, */
    bulletin_wslot_t        *rslots;        /* pointing into prev */
    size_t                   rcap;          /* slots they have room for */
    bulletin_site_t          site;
    bulletin_inputs_t         files;
    bulletin_writer_t       *writer;        /* while pages are added */

    char                    *channel_buf;
    const char              *channel[BULLETIN_CHANNELS_MAX];
    size_t                   nchannels;

    bulletin_arena_t         arena;
    bulletin_entry_t        *entries;
    size_t                   nentries;
    size_t                   nalloc;
    bulletin_idtab_t         table;         /* id -> entry */

    bulletin_index_entry_t  *index;         /* the entries, newest first */
    bulletin_index_entry_t  *by_category;   /* the same, by category */
    bulletin_category_t     *categories;
    size_t                  *cat_first;     /* in by_category */
    size_t                   ncategories;
    size_t                   ncatalloc;
    bulletin_idtab_t         cattab;        /* name -> category */

    bulletin_url_t          *urls;          /* the sitemap's */
    size_t                   nurls;
    size_t                   nurlalloc;
    size_t                   nlists;        /* list pages */
    size_t                   nlists_reused;
    int                      pass;

    size_t                   nerrors;
    size_t                   nbad;          /* files with errors */

    int                      progress;
    struct timespec          start;
    struct timespec          shown;
} bulletin_build_t;


typedef struct {
    void                    *base;
    size_t                   size;
    bulletin_store_t         st;
    const char              *reason;        /* of BULLETIN_ERR_SYSTEM */
} bulletin_map_t;


/* a thread's share of the files the previous store may know */

typedef struct {
    struct bulletin_build_s *b;
    uint32_t                *known;         /* the record + 1, or 0 */
    size_t                   first;
    size_t                   last;
    uint8_t                 *buf;           /* a file's bytes */
    size_t                   size;
} bulletin_known_t;


static int bulletin_verify(const char *path, int list);
static int bulletin_map(const char *path, bulletin_map_t *m, int *err);
static void bulletin_unmap(bulletin_map_t *m);
static int bulletin_build(bulletin_build_t *b);
static bulletin_template_t *bulletin_build_template(bulletin_build_t *b);
static int bulletin_build_prev(bulletin_build_t *b, bulletin_map_t *prev);
static int bulletin_build_pages(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_template_t *tpl);
static int bulletin_build_commit(bulletin_build_t *b, bulletin_writer_t *w);
static int bulletin_build_index(bulletin_build_t *b, bulletin_writer_t *w);
static int bulletin_build_order(bulletin_build_t *b);
static int bulletin_build_list(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r, bulletin_template_t *tpl,
    const bulletin_category_t *c, const bulletin_index_entry_t *entries,
    size_t n);
static int bulletin_build_sitemap(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r);
static int bulletin_build_feed(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r);
static int bulletin_build_add(bulletin_build_t *b, bulletin_writer_t *w,
    int rc, bulletin_wpage_t *page, const char *what);
static int bulletin_url_add(bulletin_build_t *b, const char *path,
    size_t len, int64_t lastmod);
static int bulletin_context(void *data, const bulletin_record_t *rec,
    bulletin_page_ctx_t *pc);
static int bulletin_collect(void *data, bulletin_job_t *job, int *fatal);
static int bulletin_build_inputs(bulletin_build_t *b);
static int bulletin_build_known(bulletin_build_t *b);
static void *bulletin_known_thread(void *data);
static int bulletin_known(bulletin_known_t *kt, size_t file, int64_t rec);
static int bulletin_known_add(bulletin_build_t *b, size_t file, uint32_t rec);
static const uint8_t *bulletin_source_key(const void *ctx, uint32_t i,
    size_t *len);
static const bulletin_wsource_t *bulletin_wsource(bulletin_build_t *b,
    const bulletin_entry_t *e);
static uint64_t bulletin_fnv64_str(uint64_t h, const bulletin_str_t *s);
static uint64_t bulletin_fnv64_neighbour(uint64_t h,
    const bulletin_index_entry_t *n);
static int bulletin_reuse(void *data, size_t file);
static int bulletin_reused_page(bulletin_build_t *b, uint32_t rec,
    uint64_t inputs, bulletin_wpage_t *page);
static uint64_t bulletin_list_inputs(bulletin_build_t *b,
    const bulletin_list_ctx_t *lc);
static int bulletin_source_date_epoch(int64_t *now);
static int bulletin_consume(void *data, bulletin_job_t *job, int *fatal);
static const uint8_t *bulletin_category_key(const void *ctx, uint32_t i,
    size_t *len);
static int bulletin_parse_channels(bulletin_build_t *b);
static int bulletin_entry_add(bulletin_build_t *b, bulletin_record_t *rec,
    size_t file);
static const uint8_t *bulletin_entry_key(const void *ctx, uint32_t i,
    size_t *len);
static int bulletin_entry_cmp(const void *one, const void *two);
static void bulletin_progress(void *data, size_t done, size_t total,
    int last);
static void bulletin_error(bulletin_build_t *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void bulletin_failed(bulletin_build_t *b);
static void bulletin_signal(int signo);
static void bulletin_create_failed(const char *output, int err);
static void bulletin_usage(FILE *f);
static int bulletin_option_once(const char **value, const char *name);
static int bulletin_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;


static volatile sig_atomic_t  bulletin_signo;


int
main(int argc, char **argv)
{
    int               c, rc;
    char              msg[PATH_MAX + 128];
    size_t            i;
    const char       *verify, *list;
    bulletin_build_t  b;

    static const struct option  options[] = {
        { "channels", required_argument, NULL, 'c' },
        { "site",     required_argument, NULL, 's' },
        { "list-template", required_argument, NULL, 'l' },
        { "full",     no_argument,       NULL, 'F' },
        { "verify",   required_argument, NULL, 'V' },
        { "list",     required_argument, NULL, 'L' },
        { "help",     no_argument,       NULL, 'h' },
        { "version",  no_argument,       NULL, 'v' },
        { NULL, 0, NULL, 0 }
    };

    /* getopt's messages name the program as every other message does */
    argv[0] = (char *) BULLETIN_BUILD_NAME;

    memset(&b, 0, sizeof(bulletin_build_t));
    bulletin_idtab_init(&b.table, NULL, 0, bulletin_entry_key, &b);
    bulletin_idtab_init(&b.cattab, NULL, 0, bulletin_category_key, &b);
    bulletin_site_default(&b.site);
    verify = NULL;
    list = NULL;

    for ( ;; ) {
        c = getopt_long(argc, argv, "ho:t:", options, NULL);

        if (c == -1) {
            break;
        }

        switch (c) {

        case 'h':
            bulletin_usage(stdout);
            return 0;

        case 'v':
            printf(BULLETIN_BUILD_NAME " " BULLETIN_VERSION "\n");
            return 0;

        case 'o':
            if (bulletin_option_once(&b.output, "-o") != 0) {
                return 2;
            }

            break;

        case 't':
            if (bulletin_option_once(&b.template, "-t") != 0) {
                return 2;
            }

            break;

        case 's':
            if (bulletin_option_once(&b.site_file, "--site") != 0) {
                return 2;
            }

            break;

        case 'l':
            if (bulletin_option_once(&b.list_template, "--list-template")
                != 0)
            {
                return 2;
            }

            break;

        case 'F':
            b.full = 1;
            break;

        case 'c':
            if (bulletin_option_once(&b.channels, "--channels") != 0) {
                return 2;
            }

            break;

        case 'V':
        case 'L':
            if (verify != NULL || list != NULL) {
                return bulletin_usage_error("--verify or --list given twice");
            }

            if (c == 'V') {
                verify = optarg;

            } else {
                list = optarg;
            }

            break;

        default:
            /* getopt said what */
            return bulletin_usage_error(NULL);
        }
    }

    if (verify != NULL || list != NULL) {
        if (b.output != NULL || b.template != NULL || b.channels != NULL
            || b.site_file != NULL || b.list_template != NULL || b.full
            || optind != argc)
        {
            return bulletin_usage_error("--%s takes one STORE and nothing "
                                        "else", verify ? "verify" : "list");
        }

        return bulletin_verify(verify ? verify : list, list != NULL);
    }

    if (b.output == NULL) {
        return bulletin_usage_error("no output: -o OUTPUT is required");
    }

    if (optind == argc) {
        return bulletin_usage_error("no input: name .json files or folders");
    }

    if (b.output[0] == '\0') {
        return bulletin_usage_error("-o: an empty name");
    }

    if (bulletin_source_date_epoch(&b.now) != 0) {
        return 2;
    }

    if (b.channels == NULL) {
        b.channels = BULLETIN_DEFAULT_CHANNELS;
    }


    if (bulletin_parse_channels(&b) != 0) {
        free(b.channel_buf);
        return 2;
    }

    b.progress = isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &b.start);

    if (b.site_file != NULL) {
        bulletin_errors_t  errs;

        memset(&errs, 0, sizeof(bulletin_errors_t));

        if (bulletin_site_load(&b.site, b.site_file, &errs) != 0) {
            for (i = 0; i < errs.n; i++) {
                fprintf(stderr, "%s\n", errs.msgs[i]);
            }

            fprintf(stderr, "%s: %zu error%s in the site file, %s not "
                    "written\n", BULLETIN_BUILD_NAME, errs.n,
                    errs.n == 1 ? "" : "s", b.output);
            bulletin_errors_clear(&errs);
            bulletin_site_free(&b.site);
            free(b.channel_buf);
            return 1;
        }

        if (!b.site.absolute) {
            fprintf(stderr, "%s: note: %s has no absolute http(s) "
                    "base_url: no canonical URLs, QR codes, sitemap or "
                    "feed\n", BULLETIN_BUILD_NAME, b.site_file);
        }
    }

    /* every bad input is reported, then every bad file among the rest */

    for (i = (size_t) optind; i < (size_t) argc; i++) {
        if (bulletin_inputs_collect(&b.files, argv[i], msg, sizeof(msg))
            != 0)
        {
            bulletin_error(&b, "%s", msg);
            b.nbad++;
        }
    }

    if (b.files.n == 0) {
        bulletin_failed(&b);
        rc = 1;

    } else {
        rc = bulletin_build(&b);
    }

    if (b.parse != b.files.paths) {
        free(b.parse);
    }

    bulletin_inputs_free(&b.files);
    free(b.channel_buf);
    free(b.entries);
    free(b.index);
    free(b.by_category);
    free(b.categories);
    free(b.cat_first);
    free(b.urls);
    free(b.file_entry);
    free(b.rsegments);
    free(b.rslots);
    free(b.parse_file);
    bulletin_idtab_free(&b.sources);
    bulletin_idtab_free(&b.table);
    bulletin_idtab_free(&b.cattab);
    bulletin_site_free(&b.site);
    bulletin_arena_free(&b.arena);

    if (bulletin_signo) {
        signal(bulletin_signo, SIG_DFL);
        raise(bulletin_signo);
    }

    return rc;
}


/* --verify and --list */

static int
bulletin_verify(const char *path, int list)
{
    int                             err;
    char                           *line;
    size_t                          i, j, n, size;
    bulletin_map_t                  m;
    const bulletin_store_t         *st;
    const bulletin_store_record_t  *rec;

    if (bulletin_map(path, &m, &err) != 0) {
        if (err == BULLETIN_ERR_SYSTEM) {
            fprintf(stderr, "%s: %s\n", path, m.reason);

        } else {
            fprintf(stderr, "%s: %s: %s\n", path, bulletin_strerror(err),
                    m.st.detail);
        }

        bulletin_unmap(&m);
        return 1;
    }

    st = &m.st;

    if (!list) {
        printf("%s: ok, %u pages, %zu bytes, generation %.16s\n", path,
               st->header->page_count, m.size, st->header->generation);
        bulletin_unmap(&m);
        return 0;
    }

    size = 0;
    line = NULL;

    for (i = 0; i < st->header->page_count; i++) {
        rec = &st->records[i];

        n = rec->id_len + rec->published_len + rec->title_len + 3;

        if (n > size) {
            free(line);
            size = n * 2;
            line = malloc(size);

            if (line == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                bulletin_unmap(&m);
                return 1;
            }
        }

        n = 0;
        memcpy(line + n, st->base + rec->id_off, rec->id_len);
        n += rec->id_len;
        line[n++] = '\t';
        memcpy(line + n, st->base + rec->published_off, rec->published_len);
        n += rec->published_len;
        line[n++] = '\t';

        /* one page a line, whatever a title holds */

        for (j = 0; j < rec->title_len; j++) {
            line[n] = (char) st->base[rec->title_off + j];

            if ((unsigned char) line[n] < 0x20 || line[n] == 0x7f) {
                line[n] = ' ';
            }

            n++;
        }

        line[n++] = '\n';

        if (fwrite(line, 1, n, stdout) != n) {
            break;
        }
    }

    free(line);
    bulletin_unmap(&m);

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the list: %s\n",
                BULLETIN_BUILD_NAME, strerror(errno));
        return 1;
    }

    return 0;
}


static int
bulletin_map(const char *path, bulletin_map_t *m, int *err)
{
    int          fd, e;
    struct stat  sb;

    memset(m, 0, sizeof(bulletin_map_t));

    fd = bulletin_file_open(path, &sb, &m->reason);
    if (fd == -1) {
        *err = BULLETIN_ERR_SYSTEM;
        return -1;
    }

    m->size = (size_t) sb.st_size;

    if (m->size) {
        m->base = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);

        if (m->base == MAP_FAILED) {
            m->base = NULL;
            goto failed;
        }
    }

    close(fd);

    *err = bulletin_store_open(&m->st, m->base, m->size);

    return *err == BULLETIN_OK ? 0 : -1;

failed:

    e = errno;
    close(fd);
    m->reason = strerror(e);
    *err = BULLETIN_ERR_SYSTEM;

    return -1;
}


static void
bulletin_unmap(bulletin_map_t *m)
{
    if (m->base != NULL) {
        munmap(m->base, m->size);
        m->base = NULL;
    }
}


/* the build */

static int
bulletin_build(bulletin_build_t *b)
{
    int                   err, rc, prev_ok;
    size_t                i;
    struct stat           sb;
    bulletin_map_t        prev;
    bulletin_writer_t    *w;
    bulletin_template_t  *tpl;

    tpl = bulletin_build_template(b);
    if (tpl == NULL) {
        return 1;
    }

    if (stat(b->output, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "%s: is a folder\n", b->output);
        bulletin_template_free(tpl);
        return 1;
    }

    prev_ok = bulletin_build_prev(b, &prev);

    b->prev = prev_ok ? &prev.st : NULL;
    b->inputs = BULLETIN_FNV64_INIT;
    b->inputs = bulletin_fnv64(b->inputs, BULLETIN_BUILD_NAME " "
                               BULLETIN_VERSION,
                               sizeof(BULLETIN_BUILD_NAME " "
                                      BULLETIN_VERSION) - 1);
    b->inputs = bulletin_fnv64_u32(b->inputs, BULLETIN_STORE_VERSION);
    b->inputs = bulletin_fnv64_u64(b->inputs, bulletin_template_hash(tpl));
    b->inputs = bulletin_fnv64_u64(b->inputs, b->site.hash);
    b->inputs = bulletin_fnv64_u32(b->inputs, (uint32_t) b->nchannels);

    for (i = 0; i < b->nchannels; i++) {
        b->inputs = bulletin_fnv64_u32(b->inputs,
                                       (uint32_t) strlen(b->channel[i]));
        b->inputs = bulletin_fnv64(b->inputs, b->channel[i],
                                   strlen(b->channel[i]));
    }

    w = bulletin_writer_create(b->output, b->channel, b->nchannels, b->now,
                               b->prev, &err);
    if (w == NULL) {
        bulletin_create_failed(b->output, err);
        bulletin_unmap(&prev);
        bulletin_template_free(tpl);
        return 1;
    }

    rc = bulletin_build_pages(b, w, tpl);

    bulletin_template_free(tpl);

    if (rc == 0) {
        rc = bulletin_build_commit(b, w);

    } else {
        bulletin_writer_abort(w);

        if (b->nerrors) {
            bulletin_failed(b);
        }
    }

    bulletin_unmap(&prev);

    return rc;
}


static bulletin_template_t *
bulletin_build_template(bulletin_build_t *b)
{
    char                  msg[512];
    bulletin_template_t  *tpl;

    if (b->template != NULL) {
        tpl = bulletin_template_load(b->template, BULLETIN_TEMPLATE_PAGE,
                                     msg, sizeof(msg));
    } else {
        tpl = bulletin_template_parse("(default template)",
                                      (const uint8_t *)
                                      bulletin_template_default,
                                      bulletin_template_default_len,
                                      BULLETIN_TEMPLATE_PAGE, msg,
                                      sizeof(msg));
    }

    if (tpl == NULL) {
        fprintf(stderr, "%s\n", msg);
    }

    return tpl;
}


/* an existing store that verifies lends its Last-Modified times */

static int
bulletin_build_prev(bulletin_build_t *b, bulletin_map_t *prev)
{
    int  err;

    memset(prev, 0, sizeof(bulletin_map_t));

    if (access(b->output, F_OK) != 0) {
        return 0;
    }

    if (bulletin_map(b->output, prev, &err) == 0) {
        return 1;
    }

    fprintf(stderr, "%s: warning: the existing store is not sound "
            "(%s: %s), so no page keeps its Last-Modified\n",
            b->output,
            err == BULLETIN_ERR_SYSTEM ? "cannot read"
                                       : bulletin_strerror(err),
            err == BULLETIN_ERR_SYSTEM ? prev->reason
                                       : prev->st.detail);
    bulletin_unmap(prev);

    return 0;
}


/*
 * Every input through the workers to the writer, then the list page:
 * 1 when the store is not to be written
 */

static int
bulletin_build_pages(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_template_t *tpl)
{
    int                       rc;
    const char               *err_text;
    struct sigaction          sa;
    bulletin_pipeline_conf_t  pc;

    /* an interrupted build removes its temporary file */

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = bulletin_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /*
     * Two passes: the first reads every file, for the order and the
     * duplicates; the second renders, each page knowing its neighbours.
     * A file the previous store has, with the same bytes, is not parsed.
     */

    if (bulletin_build_known(b) != 0) {
        return 1;
    }

    memset(&pc, 0, sizeof(bulletin_pipeline_conf_t));
    pc.paths = b->parse;
    pc.n = b->nparse;
    pc.tpl = tpl;
    pc.channels = b->channel;
    pc.nchannels = b->nchannels;
    pc.render = 0;
    pc.consume = bulletin_collect;
    pc.progress = bulletin_progress;
    pc.ctx = b;
    pc.interrupted = &bulletin_signo;

    b->writer = w;
    b->pass = 1;

    rc = 0;
    err_text = NULL;

    if (b->nparse) {
        rc = bulletin_pipeline_run(&pc, &err_text);
    }

    if (err_text != NULL) {
        fprintf(stderr, "%s: %s\n", BULLETIN_BUILD_NAME, err_text);
    }

    if (rc != 0 || b->nerrors != 0 || bulletin_signo) {
        return 1;
    }

    pc.paths = b->files.paths;
    pc.n = b->files.n;

    if (bulletin_build_order(b) != 0 || bulletin_build_inputs(b) != 0) {
        return 1;
    }

    pc.render = 1;
    pc.consume = bulletin_consume;
    pc.context = bulletin_context;
    pc.reuse = bulletin_reuse;
    b->pass = 2;

    rc = bulletin_pipeline_run(&pc, &err_text);

    if (err_text != NULL) {
        fprintf(stderr, "%s: %s\n", BULLETIN_BUILD_NAME, err_text);
    }

    if (rc == 0 && b->nerrors == 0 && !bulletin_signo) {
        rc = bulletin_build_index(b, w);
    }

    return (rc != 0 || b->nerrors != 0 || bulletin_signo) ? 1 : 0;
}


static int
bulletin_build_commit(bulletin_build_t *b, bulletin_writer_t *w)
{
    int                  rc;
    bulletin_wsummary_t  sum;

    rc = bulletin_writer_commit(w, &sum);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", b->output, bulletin_strerror(rc),
                bulletin_writer_detail(w));
        bulletin_writer_abort(w);
        return 1;
    }

    /* a commit that succeeds frees the writer */

    printf("%s: %u pages (%zu bulletin%s, %zu list page%s%s), %llu bytes, "
           "generation %s, %zu unchanged file%s not parsed, %zu reused, "
           "%zu list page%s reused, %u kept their Last-Modified\n",
           b->output, sum.pages, b->nentries, b->nentries == 1 ? "" : "s",
           b->nlists, b->nlists == 1 ? "" : "s",
           b->site.absolute ? ", the sitemap and the feed" : "",
           (unsigned long long) sum.bytes, sum.generation, b->nknown,
           b->nknown == 1 ? "" : "s", b->nreused,
           b->nlists_reused, b->nlists_reused == 1 ? "" : "s", sum.kept);

    return 0;
}


/*
 * A page done by a worker: its messages, or its entry and its bytes to
 * the writer.  Returns -1 when the build can no longer succeed; *fatal
 * when it must stop at once.
 */

static int
bulletin_collect(void *data, bulletin_job_t *job, int *fatal)
{
    bulletin_build_t  *b = data;

    size_t       i, file;
    const char  *path;

    file = b->parse_file ? b->parse_file[job->file] : job->file;
    path = b->files.paths[file];

    if (job->errs.n || job->errs.nomem) {
        for (i = 0; i < job->errs.n; i++) {
            bulletin_error(b, "%s", job->errs.msgs[i]);
        }

        if (job->errs.nomem) {
            bulletin_error(b, "%s: out of memory", path);
        }

        b->nbad++;
        return -1;
    }

    if (bulletin_entry_add(b, &job->rec, file) != 0) {
        b->nbad++;
        return -1;
    }

    return 0;
}


/* the second pass: a page rendered, or reused, to the writer */

static int
bulletin_consume(void *data, bulletin_job_t *job, int *fatal)
{
    bulletin_build_t  *b = data;

    int                 rc;
    size_t              i;
    int64_t             found;
    uint8_t             buf[BULLETIN_DESCRIPTION_SIZE];
    const char         *path;
    bulletin_str_t      desc;
    bulletin_entry_t   *e;
    bulletin_writer_t  *w;

    w = b->writer;

    path = b->files.paths[job->file];

    if (job->errs.n || job->errs.nomem) {
        for (i = 0; i < job->errs.n; i++) {
            bulletin_error(b, "%s", job->errs.msgs[i]);
        }

        if (job->errs.nomem) {
            bulletin_error(b, "%s: out of memory", path);
        }

        b->nbad++;
        return -1;
    }

    if (b->nerrors) {
        /* the store is not written: rendering was skipped */
        return -1;
    }

    if (job->rendered == BULLETIN_ERR_CHANGED) {
        bulletin_error(b, "%s: changed while it was being built", path);
        b->nbad++;
        return -1;
    }

    if (job->rendered != BULLETIN_OK) {
        bulletin_error(b, "%s: cannot render: %s", path,
                       job->rendered == BULLETIN_ERR_TOO_LARGE
                       ? "the page is too large (more than 64 MiB, or more "
                         "than 4096 count slots)"
                       : bulletin_strerror(job->rendered));
        b->nbad++;
        *fatal = job->rendered == BULLETIN_ERR_NOMEM;
        return -1;
    }

    if (job->reused) {
        e = &b->entries[b->file_entry[job->file]];

        if (bulletin_reused_page(b, e->reuse - 1, e->inputs, &job->page)
            != 0)
        {
            *fatal = 1;
            return -1;
        }

        b->nreused++;

        found = -1;

    } else {
        /* bulletin_context() found it */
        found = bulletin_idtab_find(&b->table, job->rec.id.data,
                                    job->rec.id.len);
        e = &b->entries[found];
        job->page.inputs = e->inputs;
    }

    job->page.source = bulletin_wsource(b, e);

    rc = bulletin_writer_add(w, &job->page);

    if (rc == BULLETIN_OK) {
        if (found >= 0 && (size_t) found < b->site.feed_size) {
            e = &b->entries[found];

            bulletin_describe(&job->rec, buf, &desc);

            e->description.data = bulletin_arena_copy(&b->arena, desc.data,
                                                      desc.len);
            if (e->description.data == NULL) {
                bulletin_error(b, "%s: out of memory", path);
                *fatal = 1;
                return -1;
            }

            e->description.len = desc.len;
        }

        return 0;
    }

    if (rc == BULLETIN_ERR_SYSTEM || rc == BULLETIN_ERR_NOMEM) {
        bulletin_error(b, "%s: %s: %s", b->output, bulletin_strerror(rc),
                       bulletin_writer_detail(w));
        *fatal = 1;

    } else {
        bulletin_error(b, "%s: %s: %s", path, bulletin_strerror(rc),
                       bulletin_writer_detail(w));
        b->nbad++;
    }

    return -1;
}


/*
 * Before the first pass: the files the previous store has (by path) with
 * the same bytes (by hash) are entries at once, from its record and its
 * source; the others are for the first pass to parse.  --full parses
 * every file.
 */

static int
bulletin_build_known(bulletin_build_t *b)
{
    long                      n;
    size_t                    i, t, started;
    int64_t                   found;
    uint32_t                 *known;
    pthread_t                 tid[BULLETIN_KNOWN_THREADS];
    const char               *env;
    bulletin_known_t          kt[BULLETIN_KNOWN_THREADS];
    const bulletin_store_t   *st;
    bulletin_store_source_t   src;

    st = b->prev;

    b->parse = b->files.paths;
    b->nparse = b->files.n;

    if (b->full || st == NULL || st->header->sources_off == 0) {
        return 0;
    }

    bulletin_idtab_init(&b->sources, NULL, 0, bulletin_source_key, b);

    for (i = 0; i < st->header->page_count; i++) {
        if (bulletin_store_source(st, (uint32_t) i, &src) != 0) {
            continue;
        }

        /* a path twice (a store not of this builder): the first */

        found = bulletin_idtab_find(&b->sources, st->base + src.path_off,
                                    src.path_len);

        if (found < 0
            && bulletin_idtab_add(&b->sources, (uint32_t) i) != BULLETIN_OK)
        {
            goto nomem;
        }
    }

    b->parse = malloc((b->files.n ? b->files.n : 1) * sizeof(char *));
    b->parse_file = malloc((b->files.n ? b->files.n : 1) * sizeof(size_t));

    if (b->parse == NULL || b->parse_file == NULL) {
        goto nomem;
    }

    known = calloc(b->files.n ? b->files.n : 1, sizeof(uint32_t));
    if (known == NULL) {
        goto nomem;
    }

    /* reading and hashing, on as many threads as the pipeline */

    env = getenv("BULLETIN_BUILD_THREADS");
    n = env != NULL ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : (n > BULLETIN_KNOWN_THREADS ? BULLETIN_KNOWN_THREADS : n);

    for (t = 0; t < (size_t) n; t++) {
        kt[t].b = b;
        kt[t].known = known;
        kt[t].first = b->files.n * t / n;
        kt[t].last = b->files.n * (t + 1) / n;
        kt[t].buf = NULL;
        kt[t].size = 0;
    }

    for (t = 1; t < (size_t) n; t++) {
        if (pthread_create(&tid[t], NULL, bulletin_known_thread, &kt[t])
            != 0)
        {
            break;
        }
    }

    started = t;

    bulletin_known_thread(&kt[0]);

    for (t = 1; t < started; t++) {
        pthread_join(tid[t], NULL);
    }

    for (t = started; t < (size_t) n; t++) {
        bulletin_known_thread(&kt[t]);
    }

    for (t = 0; t < (size_t) n; t++) {
        free(kt[t].buf);
    }

    b->nparse = 0;

    for (i = 0; i < b->files.n; i++) {
        if (known[i]) {
            if (bulletin_known_add(b, i, known[i] - 1) != 0) {
                free(known);
                return -1;
            }

            b->nknown++;
            continue;
        }

        b->parse[b->nparse] = b->files.paths[i];
        b->parse_file[b->nparse++] = i;
    }

    free(known);

    return 0;

nomem:

    fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);

    return -1;
}


/* in threads: the table and the mapping are only read */

static void *
bulletin_known_thread(void *data)
{
    bulletin_known_t  *kt = data;

    size_t             i;
    int64_t            found;
    bulletin_build_t  *b;

    b = kt->b;

    for (i = kt->first; i < kt->last; i++) {
        found = bulletin_idtab_find(&b->sources,
                                    (const uint8_t *) b->files.paths[i],
                                    strlen(b->files.paths[i]));

        if (found >= 0 && bulletin_known(kt, i, found)) {
            kt->known[i] = (uint32_t) found + 1;
        }
    }

    return NULL;
}


/* 1 when file has the bytes its source in the previous store says */

static int
bulletin_known(bulletin_known_t *kt, size_t file, int64_t rec)
{
    int                       fd, rc;
    size_t                    n, want;
    ssize_t                   r;
    uint8_t                  *p;
    struct stat               sb;
    const char               *reason;
    bulletin_build_t         *b;
    const bulletin_store_t   *st;
    bulletin_store_record_t   pr;
    bulletin_store_source_t   src;

    b = kt->b;
    st = b->prev;

    if (bulletin_store_source(st, (uint32_t) rec, &src) != 0
        || bulletin_store_record(st, (uint32_t) rec, &pr) != BULLETIN_OK
        || pr.type != BULLETIN_TYPE_HTML)
    {
        return 0;
    }

    /*
     * What cannot be read is the first pass's to say.  The bytes go to
     * the thread's buffer, and a read short of the size + 1 asked for is
     * the end of the file: no read more to see it, no allocation a file.
     */

    fd = bulletin_file_open(b->files.paths[file], &sb, &reason);
    if (fd == -1) {
        return 0;
    }

    rc = 0;

    if ((uint64_t) sb.st_size > BULLETIN_SOURCE_MAX) {
        goto done;
    }

    want = (size_t) sb.st_size + 1;

    if (want > kt->size) {
        p = realloc(kt->buf, want);
        if (p == NULL) {
            goto done;
        }

        kt->buf = p;
        kt->size = want;
    }

    n = 0;

    for ( ;; ) {
        r = read(fd, kt->buf + n, want - n);

        if (r == -1 && errno == EINTR) {
            continue;
        }

        if (r <= 0) {
            break;
        }

        n += (size_t) r;

        if (n >= (size_t) sb.st_size) {
            break;
        }
    }

    if (r >= 0 && n == (size_t) sb.st_size) {
        rc = bulletin_fnv64(BULLETIN_FNV64_INIT, kt->buf, n) == src.hash;
    }

done:

    close(fd);

    return rc;
}


/* the file is an entry, from the previous store's record and source */

static int
bulletin_known_add(bulletin_build_t *b, size_t file, uint32_t rec)
{
    const bulletin_store_t   *st;
    bulletin_record_t         r;
    bulletin_store_record_t   pr;
    bulletin_store_source_t   src;

    st = b->prev;

    /* copied and checked once more, as the threads did */

    if (bulletin_store_source(st, rec, &src) != 0
        || bulletin_store_record(st, rec, &pr) != BULLETIN_OK
        || pr.type != BULLETIN_TYPE_HTML)
    {
        bulletin_error(b, "%s: the previous store changed while it was "
                       "read: build again, or with --full", b->output);
        return -1;
    }

    /* bulletin_store_record() and _source() checked where these lie */

    memset(&r, 0, sizeof(bulletin_record_t));

    r.id.data = st->base + pr.id_off;
    r.id.len = pr.id_len;
    r.title.data = st->base + pr.title_off;
    r.title.len = pr.title_len;
    r.published.data = st->base + pr.published_off;
    r.published.len = pr.published_len;
    r.category.data = src.category_len ? st->base + src.category_off : NULL;
    r.category.len = src.category_len;
    r.published_at = src.published_at;
    r.id_line = src.line;
    r.id_col = src.col;
    r.hash = src.hash;

    if (bulletin_entry_add(b, &r, file) != 0) {
        b->nbad++;
        return -1;
    }

    return 0;
}


static const uint8_t *
bulletin_source_key(const void *ctx, uint32_t i, size_t *len)
{
    const bulletin_build_t  *b = ctx;

    bulletin_store_source_t  src;

    if (bulletin_store_source(b->prev, i, &src) != 0) {
        *len = 0;
        return (const uint8_t *) "";
    }

    *len = src.path_len;

    return b->prev->base + src.path_off;
}


/* what the store keeps of the file a page is made from */

static const bulletin_wsource_t *
bulletin_wsource(bulletin_build_t *b, const bulletin_entry_t *e)
{
    bulletin_wsource_t  *s;

    s = &b->wsource;

    s->path = (const uint8_t *) b->files.paths[e->file];
    s->path_len = strlen(b->files.paths[e->file]);
    s->category = e->category.data;
    s->category_len = e->category.len;
    s->hash = e->source;
    s->published_at = e->published_at;
    s->line = e->line;
    s->col = e->col;

    if (s->path_len > BULLETIN_SOURCE_PATH_MAX
        || s->category_len > BULLETIN_CATEGORY_MAX)
    {
        return NULL;
    }

    return s;
}


/*
 * After the first pass: the entries newest first, the id table again
 * for their new places, and the categories, each with its bulletins
 * newest first and its slug.
 */

static int
bulletin_build_order(bulletin_build_t *b)
{
    char                  slug[BULLETIN_SLUG_MAX + 1];
    size_t                i, j, n, *next;
    int64_t               found;
    bulletin_str_t        name;
    bulletin_entry_t     *e;
    bulletin_category_t  *c, *cats;
    bulletin_idtab_t      slugs;

    static const bulletin_str_t  dflt = {
        (const uint8_t *) BULLETIN_CATEGORY_DEFAULT,
        sizeof(BULLETIN_CATEGORY_DEFAULT) - 1
    };

    qsort(b->entries, b->nentries, sizeof(bulletin_entry_t),
          bulletin_entry_cmp);

    bulletin_idtab_free(&b->table);
    bulletin_idtab_init(&b->table, NULL, 0, bulletin_entry_key, b);

    n = b->nentries;

    b->index = malloc((n ? n : 1) * sizeof(bulletin_index_entry_t));
    b->by_category = malloc((n ? n : 1) * sizeof(bulletin_index_entry_t));

    if (b->index == NULL || b->by_category == NULL) {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        e = &b->entries[i];

        if (bulletin_idtab_add(&b->table, (uint32_t) i) != BULLETIN_OK) {
            goto nomem;
        }

        b->index[i].id = e->id;
        b->index[i].title = e->title;
        b->index[i].published = e->published;

        name = e->category.len ? e->category : dflt;

        found = bulletin_idtab_find(&b->cattab, name.data, name.len);

        if (found < 0) {
            if (b->ncategories == b->ncatalloc) {
                b->ncatalloc = b->ncatalloc ? b->ncatalloc * 2 : 16;

                cats = realloc(b->categories,
                               b->ncatalloc * sizeof(bulletin_category_t));
                if (cats == NULL) {
                    goto nomem;
                }

                b->categories = cats;
            }

            c = &b->categories[b->ncategories];
            c->name = name;
            c->count = 0;
            c->slug.data = NULL;
            c->slug.len = 0;

            found = (int64_t) b->ncategories;

            if (bulletin_idtab_add(&b->cattab, (uint32_t) found)
                != BULLETIN_OK)
            {
                goto nomem;
            }

            b->ncategories++;
        }

        e->cat = (uint32_t) found;
        b->categories[found].count++;
    }

    b->cat_first = malloc((b->ncategories + 1) * sizeof(size_t));
    next = malloc((b->ncategories + 1) * sizeof(size_t));

    if (b->cat_first == NULL || next == NULL) {
        free(next);
        goto nomem;
    }

    j = 0;

    for (i = 0; i < b->ncategories; i++) {
        b->cat_first[i] = j;
        next[i] = j;
        j += b->categories[i].count;
    }

    for (i = 0; i < n; i++) {
        b->by_category[next[b->entries[i].cat]++] = b->index[i];
    }

    free(next);

    /*
     * The site file's slugs, else a hash of the name; none twice.  A
     * lone category with no slug in the site file has no list of its
     * own: every bulletin's is its list.
     */

    bulletin_idtab_init(&slugs, NULL, 0, bulletin_category_key, b);
    b->pass = 3;

    for (i = 0; i < b->ncategories; i++) {
        c = &b->categories[i];

        for (j = 0; j < b->site.nslugs; j++) {
            if (b->site.slugs[j].name.len == c->name.len
                && memcmp(b->site.slugs[j].name.data, c->name.data,
                          c->name.len) == 0)
            {
                c->slug = b->site.slugs[j].slug;
                break;
            }
        }

        if (c->slug.len == 0 && b->ncategories == 1) {
            continue;
        }

        if (c->slug.len == 0) {
            bulletin_category_slug(&c->name, slug);

            c->slug.len = strlen(slug);
            c->slug.data = bulletin_arena_copy(&b->arena,
                                               (const uint8_t *) slug,
                                               c->slug.len);
            if (c->slug.data == NULL) {
                bulletin_idtab_free(&slugs);
                goto nomem;
            }
        }

        found = bulletin_idtab_find(&slugs, c->slug.data, c->slug.len);

        if (found >= 0) {
            bulletin_error(b, "%s: the categories \"%.*s\" and \"%.*s\" "
                           "have one slug, \"%.*s\": name another in the "
                           "site file's \"categories\"",
                           b->site_file ? b->site_file : BULLETIN_BUILD_NAME,
                           (int) b->categories[found].name.len,
                           (const char *) b->categories[found].name.data,
                           (int) c->name.len, (const char *) c->name.data,
                           (int) c->slug.len, (const char *) c->slug.data);
            continue;
        }

        if (bulletin_idtab_add(&slugs, (uint32_t) i) != BULLETIN_OK) {
            bulletin_idtab_free(&slugs);
            goto nomem;
        }
    }

    bulletin_idtab_free(&slugs);
    b->pass = 2;

    if (b->nerrors) {
        bulletin_failed(b);
        return -1;
    }

    return 0;

nomem:

    fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);

    return -1;
}


/* in the worker threads, which only read what the first pass made */

static int
bulletin_context(void *data, const bulletin_record_t *rec,
    bulletin_page_ctx_t *pc)
{
    bulletin_build_t  *b = data;

    size_t             i;
    int64_t            found;
    bulletin_entry_t  *e;

    found = bulletin_idtab_find(&b->table, rec->id.data, rec->id.len);

    if (found < 0) {
        return -1;
    }

    i = (size_t) found;
    e = &b->entries[i];

    if (e->published_at != rec->published_at
        || e->category.len != rec->category.len
        || (e->category.len
            && memcmp(e->category.data, rec->category.data,
                      e->category.len) != 0))
    {
        return -1;
    }

    pc->site = &b->site;
    pc->slug = b->categories[e->cat].slug;

    pc->prev = i + 1 < b->nentries ? &b->index[i + 1] : NULL;
    pc->next = i > 0 ? &b->index[i - 1] : NULL;

    return 0;
}


/*
 * After the order: each bulletin's input fingerprint, of everything its
 * page is made from (what bulletin_render_page() reads: the record, from
 * its file's bytes, and the context bulletin_context() gives; the
 * template, the site and the channels, in b->inputs), and whether the
 * previous store has the page made from the same.  The feed's bulletins
 * are read again for their descriptions, so they are rendered anew.
 */

static int
bulletin_build_inputs(bulletin_build_t *b)
{
    size_t              i;
    int64_t             found;
    uint64_t            h;
    bulletin_entry_t   *e;
    bulletin_str_t      slug;

    b->file_entry = malloc((b->files.n ? b->files.n : 1) * sizeof(uint32_t));
    if (b->file_entry == NULL) {
        fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
        return -1;
    }

    for (i = 0; i < b->nentries; i++) {
        e = &b->entries[i];
        b->file_entry[e->file] = (uint32_t) i;

        slug = b->categories[e->cat].slug;

        h = bulletin_fnv64_u64(b->inputs, e->source);
        h = bulletin_fnv64_str(h, &slug);
        h = bulletin_fnv64_neighbour(h, i + 1 < b->nentries
                                        ? &b->index[i + 1] : NULL);
        h = bulletin_fnv64_neighbour(h, i > 0 ? &b->index[i - 1] : NULL);

        e->inputs = h;
        e->reuse = 0;

        if (b->full || b->prev == NULL
            || (b->site.absolute && i < b->site.feed_size))
        {
            continue;
        }

        found = bulletin_store_find(b->prev, e->id.data, e->id.len);

        if (found >= 0 && h != 0
            && bulletin_store_inputs(b->prev, (uint32_t) found) == h)
        {
            e->reuse = (uint32_t) found + 1;
        }
    }

    return 0;
}


static uint64_t
bulletin_fnv64_str(uint64_t h, const bulletin_str_t *s)
{
    h = bulletin_fnv64_u64(h, s->len);

    return bulletin_fnv64(h, s->data, s->len);
}


static uint64_t
bulletin_fnv64_neighbour(uint64_t h, const bulletin_index_entry_t *n)
{
    h = bulletin_fnv64_u32(h, n != NULL);

    if (n == NULL) {
        return h;
    }

    h = bulletin_fnv64_str(h, &n->id);
    h = bulletin_fnv64_str(h, &n->title);

    return bulletin_fnv64_str(h, &n->published);
}


/*
 * A list page's fingerprint: of everything bulletin_render_index()
 * reads, its context and, in b->list_inputs, the list template and the
 * categories besides what every page is made with.
 */

static uint64_t
bulletin_list_inputs(bulletin_build_t *b, const bulletin_list_ctx_t *lc)
{
    size_t    i;
    uint64_t  h;

    h = bulletin_fnv64_u32(b->list_inputs, lc->category != NULL);

    if (lc->category != NULL) {
        h = bulletin_fnv64_str(h, &lc->category->name);
        h = bulletin_fnv64_str(h, &lc->category->slug);
    }

    h = bulletin_fnv64_u64(h, lc->page);
    h = bulletin_fnv64_u64(h, lc->pages);
    h = bulletin_fnv64_u64(h, lc->total);
    h = bulletin_fnv64_u64(h, lc->n);

    for (i = 0; i < lc->n; i++) {
        h = bulletin_fnv64_neighbour(h, &lc->entries[i]);
    }

    /* 0 is "no fingerprint" */

    return h ? h : 1;
}


/* in the worker threads, like bulletin_context() */

static int
bulletin_reuse(void *data, size_t file)
{
    bulletin_build_t  *b = data;

    return b->entries[b->file_entry[file]].reuse != 0;
}


/*
 * A page of the previous store as the writer takes a page: its bytes
 * stay in the mapping, each slot names the page it counts by id, which
 * the writer resolves to the page's index in the new store.
 */

static int
bulletin_reused_page(bulletin_build_t *b, uint32_t rec, uint64_t inputs,
    bulletin_wpage_t *page)
{
    void                      *p;
    uint32_t                   i, n;
    bulletin_store_slot_t      slot;
    bulletin_store_record_t    pr, sr;
    bulletin_store_segment_t   seg;
    const bulletin_store_t    *st;

    st = b->prev;

    if (bulletin_store_record(st, rec, &pr) != BULLETIN_OK
        || pr.type != BULLETIN_TYPE_HTML)
    {
        goto changed;
    }

    n = pr.nslots;

    if (n + 1 > b->rcap) {
        p = realloc(b->rsegments, (n + 1) * sizeof(bulletin_wsegment_t));
        if (p == NULL) {
            goto nomem;
        }

        b->rsegments = p;

        p = realloc(b->rslots, (n + 1) * sizeof(bulletin_wslot_t));
        if (p == NULL) {
            goto nomem;
        }

        b->rslots = p;
        b->rcap = n + 1;
    }

    /* bulletin_store_record() checked that they lie in their sections */

    for (i = 0; i <= n; i++) {
        memcpy(&seg, &st->segments[pr.segment_first + i], sizeof(seg));

        if (!bulletin_store_in_data(st->header, seg.plain_off, seg.plain_len)
            || !bulletin_store_in_data(st->header, seg.gzip_off,
                                       seg.gzip_len))
        {
            goto changed;
        }

        b->rsegments[i].plain = st->base + seg.plain_off;
        b->rsegments[i].plain_len = seg.plain_len;
        b->rsegments[i].gzip = st->base + seg.gzip_off;
        b->rsegments[i].gzip_len = seg.gzip_len;
        b->rsegments[i].crc = seg.crc;
        b->rsegments[i].crc_op = seg.crc_op;
    }

    for (i = 0; i < n; i++) {
        memcpy(&slot, &st->slots[pr.slot_first + i], sizeof(slot));

        b->rslots[i].kind = slot.kind;
        b->rslots[i].ref = NULL;
        b->rslots[i].ref_len = 0;

        if (slot.page == rec) {
            continue;
        }

        if (bulletin_store_record(st, slot.page, &sr) != BULLETIN_OK) {
            goto changed;
        }

        b->rslots[i].ref = st->base + sr.id_off;
        b->rslots[i].ref_len = sr.id_len;
    }

    /* the record's strings, like its segments, lie in the data */

    memset(page, 0, sizeof(bulletin_wpage_t));

    page->id = st->base + pr.id_off;
    page->id_len = pr.id_len;
    page->type = BULLETIN_TYPE_HTML;
    page->title = st->base + pr.title_off;
    page->title_len = pr.title_len;
    page->published = st->base + pr.published_off;
    page->published_len = pr.published_len;
    page->nslots = n;
    page->slots = b->rslots;
    page->segments = b->rsegments;
    page->inputs = inputs;
    page->hash = pr.hash;
    page->reused = 1;

    return 0;

changed:

    bulletin_error(b, "%s: the previous store changed while it was read: "
                   "build again, or with --full", b->output);
    return -1;

nomem:

    bulletin_error(b, "%s: out of memory", BULLETIN_BUILD_NAME);
    return -1;
}


/*
 * The reproducible-builds convention: the build's time, where it writes
 * one (built_at, a new page's Last-Modified), is SOURCE_DATE_EPOCH when
 * it is set and not empty.
 */

static int
bulletin_source_date_epoch(int64_t *now)
{
    char        *end;
    const char  *env;
    long long    t;

    env = getenv("SOURCE_DATE_EPOCH");

    if (env == NULL || env[0] == '\0') {
        *now = (int64_t) time(NULL);
        return 0;
    }

    errno = 0;
    t = strtoll(env, &end, 10);

    if (env[0] < '0' || env[0] > '9' || *end != '\0' || errno != 0
        || !bulletin_time_valid(t))
    {
        fprintf(stderr, "%s: SOURCE_DATE_EPOCH \"%s\" is not a unix time "
                "in decimal digits from 0 to %lld\n", BULLETIN_BUILD_NAME,
                env, (long long) BULLETIN_TIME_MAX);
        return -1;
    }

    *now = (int64_t) t;

    return 0;
}


/* the lists, then the sitemap and the feed */

static int
bulletin_build_index(bulletin_build_t *b, bulletin_writer_t *w)
{
    int                   rc;
    char                  msg[512];
    size_t                i;
    uint64_t              h;
    bulletin_render_t    *r;
    bulletin_template_t  *tpl;

    r = bulletin_render_create(b->channel, b->nchannels);

    if (b->list_template != NULL) {
        tpl = bulletin_template_load(b->list_template,
                                     BULLETIN_TEMPLATE_INDEX, msg,
                                     sizeof(msg));
    } else {
        tpl = bulletin_template_parse("(list template)",
                                      (const uint8_t *)
                                      bulletin_template_index,
                                      bulletin_template_index_len,
                                      BULLETIN_TEMPLATE_INDEX, msg,
                                      sizeof(msg));
    }

    if (r == NULL || tpl == NULL) {
        fprintf(stderr, "%s\n", tpl == NULL ? msg : "out of memory");
        rc = -1;
        goto done;
    }

    /* what every list page shows besides its own entries: the categories */

    h = bulletin_fnv64_u64(b->inputs, bulletin_template_hash(tpl));
    h = bulletin_fnv64_u64(h, b->ncategories);

    for (i = 0; i < b->ncategories; i++) {
        h = bulletin_fnv64_str(h, &b->categories[i].name);
        h = bulletin_fnv64_str(h, &b->categories[i].slug);
        h = bulletin_fnv64_u64(h, b->categories[i].count);
    }

    b->list_inputs = h;

    /* every detail page in the sitemap, dated by its publication */

    if (b->site.absolute) {
        for (i = 0; i < b->nentries; i++) {
            if (bulletin_url_add(b, (const char *) b->entries[i].id.data,
                                 b->entries[i].id.len,
                                 b->entries[i].published_at)
                != 0)
            {
                rc = -1;
                goto done;
            }
        }
    }

    rc = bulletin_build_list(b, w, r, tpl, NULL, b->index, b->nentries);

    for (i = 0; rc == 0 && i < b->ncategories; i++) {
        if (b->categories[i].slug.len == 0) {
            continue;
        }

        rc = bulletin_build_list(b, w, r, tpl, &b->categories[i],
                                 b->by_category + b->cat_first[i],
                                 b->categories[i].count);
    }

    if (rc == 0 && b->site.absolute) {
        rc = bulletin_build_sitemap(b, w, r);
    }

    if (rc == 0 && b->site.absolute) {
        rc = bulletin_build_feed(b, w, r);
    }

done:

    bulletin_template_free(tpl);
    bulletin_render_free(r);

    return rc;
}


/* a list's pages: "_index", "_index-2", ... or "_c-SLUG", "_c-SLUG-2" */

static int
bulletin_build_list(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r, bulletin_template_t *tpl,
    const bulletin_category_t *c, const bulletin_index_entry_t *entries,
    size_t n)
{
    int                  rc;
    char                 id[BULLETIN_LIST_ID_SIZE];
    size_t               len, ps, first;
    int64_t              found;
    uint64_t             inputs;
    bulletin_wpage_t     page;
    bulletin_list_ctx_t  lc;

    ps = b->site.page_size;

    memset(&lc, 0, sizeof(bulletin_list_ctx_t));
    lc.site = &b->site;
    lc.category = c;
    lc.total = n;
    lc.pages = n ? (n + ps - 1) / ps : 1;
    lc.categories = b->categories;
    lc.ncategories = b->ncategories;

    for (lc.page = 1; lc.page <= lc.pages; lc.page++) {
        first = (lc.page - 1) * ps;
        lc.entries = entries + first;
        lc.n = n - first < ps ? n - first : ps;

        inputs = bulletin_list_inputs(b, &lc);
        found = -1;

        if (!b->full && b->prev != NULL) {
            len = bulletin_list_id(id, c ? &c->slug : NULL, lc.page);
            found = bulletin_store_find(b->prev, (const uint8_t *) id, len);

            if (found >= 0
                && bulletin_store_inputs(b->prev, (uint32_t) found) != inputs)
            {
                found = -1;
            }
        }

        if (found >= 0) {
            if (bulletin_reused_page(b, (uint32_t) found, inputs, &page)
                != 0)
            {
                return -1;
            }

            b->nlists_reused++;
            rc = BULLETIN_OK;

        } else {
            rc = bulletin_render_index(r, tpl, &lc, &page);
            page.inputs = inputs;
        }

        if (bulletin_build_add(b, w, rc, &page, "a list page") != 0) {
            return -1;
        }

        b->nlists++;

        if (!b->site.absolute) {
            continue;
        }

        /* _index is served at the base URL itself */

        len = (c == NULL && lc.page == 1)
              ? 0 : bulletin_list_id(id, c ? &c->slug : NULL, lc.page);

        if (bulletin_url_add(b, id, len,
                             lc.n ? b->entries[bulletin_idtab_find(
                                        &b->table, lc.entries[0].id.data,
                                        lc.entries[0].id.len)].published_at
                                  : 0)
            != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* one sitemap, or over BULLETIN_SITEMAP_MAX URLs an index of several */

static int
bulletin_build_sitemap(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r)
{
    int               rc;
    char              id[32];
    size_t            i, j, n, nmaps;
    bulletin_url_t   *maps;
    bulletin_wpage_t  page;

    if (b->nurls <= BULLETIN_SITEMAP_MAX) {
        rc = bulletin_render_sitemap(r, &b->site, BULLETIN_SITEMAP_ID, 0,
                                     b->urls, b->nurls, &page);

        return bulletin_build_add(b, w, rc, &page, "the sitemap");
    }

    nmaps = (b->nurls + BULLETIN_SITEMAP_MAX - 1) / BULLETIN_SITEMAP_MAX;

    maps = calloc(nmaps, sizeof(bulletin_url_t));
    if (maps == NULL) {
        fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
        return -1;
    }

    rc = 0;

    for (i = 0; i < nmaps && rc == 0; i++) {
        snprintf(id, sizeof(id), BULLETIN_SITEMAP_ID "-%zu", i + 1);

        n = b->nurls - i * BULLETIN_SITEMAP_MAX;
        n = n < BULLETIN_SITEMAP_MAX ? n : BULLETIN_SITEMAP_MAX;

        maps[i].path.len = strlen(id);
        maps[i].path.data = bulletin_arena_copy(&b->arena,
                                                (const uint8_t *) id,
                                                maps[i].path.len);
        if (maps[i].path.data == NULL) {
            fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
            rc = -1;
            break;
        }

        for (j = 0; j < n; j++) {
            if (b->urls[i * BULLETIN_SITEMAP_MAX + j].lastmod
                > maps[i].lastmod)
            {
                maps[i].lastmod = b->urls[i * BULLETIN_SITEMAP_MAX + j]
                                  .lastmod;
            }
        }

        rc = bulletin_render_sitemap(r, &b->site, id, 0,
                                     b->urls + i * BULLETIN_SITEMAP_MAX, n,
                                     &page);
        rc = bulletin_build_add(b, w, rc, &page, "a sitemap");
    }

    if (rc == 0) {
        rc = bulletin_render_sitemap(r, &b->site, BULLETIN_SITEMAP_ID, 1,
                                     maps, nmaps, &page);
        rc = bulletin_build_add(b, w, rc, &page, "the sitemap index");
    }

    free(maps);

    return rc;
}


static int
bulletin_build_feed(bulletin_build_t *b, bulletin_writer_t *w,
    bulletin_render_t *r)
{
    int                     rc;
    size_t                  i, n;
    bulletin_entry_t       *e;
    bulletin_wpage_t        page;
    bulletin_feed_entry_t  *f;

    static const bulletin_str_t  dflt = {
        (const uint8_t *) BULLETIN_CATEGORY_DEFAULT,
        sizeof(BULLETIN_CATEGORY_DEFAULT) - 1
    };

    n = b->nentries < b->site.feed_size ? b->nentries : b->site.feed_size;

    f = calloc(n ? n : 1, sizeof(bulletin_feed_entry_t));
    if (f == NULL) {
        fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
        return -1;
    }

    for (i = 0; i < n; i++) {
        e = &b->entries[i];

        f[i].id = e->id;
        f[i].title = e->title;
        f[i].category = e->category.len ? e->category : dflt;
        f[i].description = e->description.len ? e->description : e->title;
        f[i].published = e->published;
        f[i].published_at = e->published_at;
    }

    rc = bulletin_render_feed(r, &b->site, f, n, &page);
    rc = bulletin_build_add(b, w, rc, &page, "the feed");

    free(f);

    return rc;
}


static int
bulletin_build_add(bulletin_build_t *b, bulletin_writer_t *w, int rc,
    bulletin_wpage_t *page, const char *what)
{
    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: cannot render %s: %s\n", BULLETIN_BUILD_NAME,
                what, bulletin_strerror(rc));
        return -1;
    }

    rc = bulletin_writer_add(w, page);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", b->output, bulletin_strerror(rc),
                bulletin_writer_detail(w));
        return -1;
    }

    return 0;
}


static int
bulletin_url_add(bulletin_build_t *b, const char *path, size_t len,
    int64_t lastmod)
{
    size_t           n;
    bulletin_url_t  *urls;

    if (b->nurls == b->nurlalloc) {
        n = b->nurlalloc ? b->nurlalloc * 2 : 1024;

        urls = realloc(b->urls, n * sizeof(bulletin_url_t));
        if (urls == NULL) {
            fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
            return -1;
        }

        b->urls = urls;
        b->nurlalloc = n;
    }

    b->urls[b->nurls].path.data = len ? bulletin_arena_copy(&b->arena,
                                                            (const uint8_t *)
                                                            path, len)
                                      : (const uint8_t *) "";
    b->urls[b->nurls].path.len = len;
    b->urls[b->nurls].lastmod = lastmod;

    if (b->urls[b->nurls].path.data == NULL) {
        fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
        return -1;
    }

    b->nurls++;

    return 0;
}


static int
bulletin_entry_cmp(const void *one, const void *two)
{
    size_t                   n;
    int                      rc;
    const bulletin_entry_t  *a, *b;

    a = one;
    b = two;

    if (a->published_at != b->published_at) {
        return a->published_at > b->published_at ? -1 : 1;
    }

    n = a->id.len < b->id.len ? a->id.len : b->id.len;
    rc = memcmp(a->id.data, b->id.data, n);

    if (rc != 0) {
        return rc;
    }

    return a->id.len < b->id.len ? -1 : (a->id.len > b->id.len);
}


/*
 * Keeps what the list page needs of a page, and refuses an id seen
 * before, naming both files.
 */

static int
bulletin_entry_add(bulletin_build_t *b, bulletin_record_t *rec, size_t file)
{
    size_t             n;
    int64_t            found;
    bulletin_entry_t  *e, *entries;

    found = bulletin_idtab_find(&b->table, rec->id.data, rec->id.len);

    if (found >= 0) {
        e = &b->entries[found];

        bulletin_error(b, "%s:%u:%u: duplicate id \"%.*s\", also in "
                       "%s:%u:%u", b->files.paths[file], rec->id_line,
                       rec->id_col, (int) rec->id.len,
                       (const char *) rec->id.data,
                       b->files.paths[e->file], e->line, e->col);
        return -1;
    }

    if (b->nentries == b->nalloc) {
        n = b->nalloc ? b->nalloc * 2 : 1024;

        entries = realloc(b->entries, n * sizeof(bulletin_entry_t));
        if (entries == NULL) {
            goto nomem;
        }

        b->entries = entries;
        b->nalloc = n;
    }

    e = &b->entries[b->nentries];

    e->id.data = bulletin_arena_copy(&b->arena, rec->id.data, rec->id.len);
    e->title.data = bulletin_arena_copy(&b->arena, rec->title.data,
                                        rec->title.len);
    e->published.data = bulletin_arena_copy(&b->arena, rec->published.data,
                                            rec->published.len);

    if (e->id.data == NULL || e->title.data == NULL
        || e->published.data == NULL)
    {
        goto nomem;
    }

    e->id.len = rec->id.len;
    e->title.len = rec->title.len;
    e->published.len = rec->published.len;
    e->category.data = NULL;
    e->category.len = rec->category.len;
    e->description.data = NULL;
    e->description.len = 0;

    if (rec->category.len) {
        e->category.data = bulletin_arena_copy(&b->arena, rec->category.data,
                                               rec->category.len);
        if (e->category.data == NULL) {
            goto nomem;
        }
    }

    e->published_at = rec->published_at;
    e->source = rec->hash;
    e->inputs = 0;
    e->reuse = 0;
    e->file = (uint32_t) file;
    e->line = rec->id_line;
    e->col = rec->id_col;

    if (bulletin_idtab_add(&b->table, (uint32_t) b->nentries)
        != BULLETIN_OK)
    {
        goto nomem;
    }

    b->nentries++;

    return 0;

nomem:

    bulletin_error(b, "%s: out of memory", b->files.paths[file]);

    return -1;
}


static const uint8_t *
bulletin_category_key(const void *ctx, uint32_t i, size_t *len)
{
    const bulletin_build_t  *b = ctx;

    /* the slugs' check (pass 3) keys the categories by their slugs */

    if (b->pass == 3) {
        *len = b->categories[i].slug.len;
        return b->categories[i].slug.data;
    }

    *len = b->categories[i].name.len;

    return b->categories[i].name.data;
}


static const uint8_t *
bulletin_entry_key(const void *ctx, uint32_t i, size_t *len)
{
    const bulletin_build_t  *b = ctx;

    *len = b->entries[i].id.len;

    return b->entries[i].id.data;
}


static int
bulletin_parse_channels(bulletin_build_t *b)
{
    char    *p, *name, *next;
    size_t   i, len;

    b->channel_buf = strdup(b->channels);
    if (b->channel_buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", BULLETIN_BUILD_NAME);
        return -1;
    }

    p = b->channel_buf;

    for (name = p; name != NULL; name = next) {
        next = strchr(name, ',');

        if (next != NULL) {
            *next++ = '\0';
        }

        len = strlen(name);

        if (!bulletin_channel_valid((const uint8_t *) name, len)) {
            bulletin_usage_error("--channels: invalid channel \"%s\": "
                                 "expected 1 to %d of a-z 0-9 _ -", name,
                                 BULLETIN_CHANNEL_MAX);
            return -1;
        }

        for (i = 0; i < b->nchannels; i++) {
            if (strcmp(b->channel[i], name) == 0) {
                bulletin_usage_error("--channels: \"%s\" given twice", name);
                return -1;
            }
        }

        if (b->nchannels == BULLETIN_CHANNELS_MAX) {
            bulletin_usage_error("--channels: more than %d channels",
                                 BULLETIN_CHANNELS_MAX);
            return -1;
        }

        b->channel[b->nchannels++] = name;
    }

    return 0;
}


/* on a terminal only, for builds of a second or more, in place */

static void
bulletin_progress(void *data, size_t done, size_t total, int last)
{
    bulletin_build_t  *b = data;

    double           since, elapsed;
    struct timespec  now;

    if (!b->progress) {
        return;
    }

    if (last) {
        if (b->shown.tv_sec || b->shown.tv_nsec) {
            fputs("\r\033[K", stderr);
        }

        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &now);

    elapsed = (double) (now.tv_sec - b->start.tv_sec)
              + (double) (now.tv_nsec - b->start.tv_nsec) / 1e9;
    since = (double) (now.tv_sec - b->shown.tv_sec)
            + (double) (now.tv_nsec - b->shown.tv_nsec) / 1e9;

    if ((total < 1000 && elapsed < 1.0) || since < 0.1) {
        return;
    }

    b->shown = now;

    fprintf(stderr, "\r%s: %zu/%zu pages, %.0f%%\033[K", BULLETIN_BUILD_NAME,
            done, total, (double) done * 100 / (double) total);
}


static void
bulletin_error(bulletin_build_t *b, const char *fmt, ...)
{
    va_list  args;

    if (b->progress && (b->shown.tv_sec || b->shown.tv_nsec)) {
        fputs("\r\033[K", stderr);
    }

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);

    b->nerrors++;
}


static void
bulletin_failed(bulletin_build_t *b)
{
    if (b->nerrors == 0) {
        fprintf(stderr, "%s: no .json input, %s not written\n",
                BULLETIN_BUILD_NAME, b->output);
        return;
    }

    fprintf(stderr, "%s: %zu error%s in %zu input%s, %s not written\n",
            BULLETIN_BUILD_NAME, b->nerrors, b->nerrors == 1 ? "" : "s",
            b->nbad, b->nbad == 1 ? "" : "s", b->output);
}


static void
bulletin_signal(int signo)
{
    bulletin_signo = signo;
}


/*
 * The writer creates OUTPUT's temporary file beside it: where that
 * fails, the folder is what the user must mend, so the message names it.
 */

static void
bulletin_create_failed(const char *output, int err)
{
    int          e;
    const char  *name, *slash;

    e = errno;

    if (err != BULLETIN_ERR_SYSTEM) {
        fprintf(stderr, "%s: cannot create: %s\n", output,
                bulletin_strerror(err));
        return;
    }

    slash = strrchr(output, '/');
    name = slash ? slash + 1 : output;

    fprintf(stderr, "%s: cannot create the temporary file .%s.XXXXXX in "
            "the folder \"%.*s\": %s\n", output, name,
            slash ? (int) (slash - output + (slash == output)) : 1,
            slash ? output : ".", strerror(e));
}


static void
bulletin_usage(FILE *f)
{
    fprintf(f,
        "usage: " BULLETIN_BUILD_NAME " [--site FILE] [-t TEMPLATE] "
        "[--list-template TEMPLATE]\n"
        "                      [--channels LIST] [--full] -o OUTPUT "
        "INPUT...\n"
        "       " BULLETIN_BUILD_NAME " --verify STORE\n"
        "       " BULLETIN_BUILD_NAME " --list STORE\n"
        "\n"
        "Compiles bulletin JSON files into one store file for nginx.\n"
        "\n"
        "  INPUT            a .json file, or a folder whose *.json files "
        "are read\n"
        "  -o OUTPUT        the store; replaced only by a complete, synced "
        "new one\n"
        "  --site FILE      the site file: name, base_url, page_size, "
        "feed_size,\n"
        "                   crumbs, categories, footer (JSON)\n"
        "  -t TEMPLATE      the detail page template (default: the "
        "shipped one)\n"
        "  --list-template TEMPLATE\n"
        "                   the lists' template (default: the shipped "
        "one)\n"
        "  --channels LIST  share channels, comma-separated, at most %d "
        "(default:\n"
        "                   " BULLETIN_DEFAULT_CHANNELS ")\n"
        "  --full           render every page, reusing none from the "
        "previous OUTPUT\n"
        "  --verify STORE   exit 0 only when STORE is sound\n"
        "  --list STORE     one page a line: id, published, title, "
        "tab-separated\n"
        "  -h, --help       this text\n"
        "  --version        the version\n"
        "\n"
        "SOURCE_DATE_EPOCH, when set, is the build's time (built_at, a new "
        "page's\n"
        "Last-Modified): the same inputs then make the same bytes.\n",
        BULLETIN_CHANNELS_MAX);
}


/* an option of one value: given twice, it is an error of usage */

static int
bulletin_option_once(const char **value, const char *name)
{
    if (*value != NULL) {
        return bulletin_usage_error("%s given twice", name);
    }

    *value = optarg;

    return 0;
}


static int
bulletin_usage_error(const char *fmt, ...)
{
    va_list  args;

    if (fmt != NULL) {
        fprintf(stderr, "%s: ", BULLETIN_BUILD_NAME);

        va_start(args, fmt);
        vfprintf(stderr, fmt, args);
        va_end(args);

        fputc('\n', stderr);
    }

    fprintf(stderr, "Try '%s --help' for more information.\n",
            BULLETIN_BUILD_NAME);

    return 2;
}
