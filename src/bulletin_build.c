
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
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
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

/*
 * The list page shows the newest bulletins only: a page of every one of
 * 100,000 bulletins would be megabytes, and a page may hold at most
 * BULLETIN_SLOTS_MAX count slots.
 */
#define BULLETIN_INDEX_MAX         1000


/* what is kept of each page: for the list page and the duplicate check */

typedef struct {
    bulletin_str_t           id;
    bulletin_str_t           title;
    bulletin_str_t           published;
    int64_t                  published_at;
    uint32_t                 file;
    uint32_t                 line;
    uint32_t                 col;
} bulletin_entry_t;


typedef struct {
    const char              *output;
    const char              *template;
    const char              *channels;
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
static int bulletin_consume(void *data, bulletin_job_t *job, int *fatal);
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
            if (b.output != NULL) {
                return bulletin_usage_error("-o given twice");
            }

            b.output = optarg;
            break;

        case 't':
            if (b.template != NULL) {
                return bulletin_usage_error("-t given twice");
            }

            b.template = optarg;
            break;

        case 'c':
            if (b.channels != NULL) {
                return bulletin_usage_error("--channels given twice");
            }

            b.channels = optarg;
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

    if (b.channels == NULL) {
        b.channels = BULLETIN_DEFAULT_CHANNELS;
    }

    if (bulletin_parse_channels(&b) != 0) {
        free(b.channel_buf);
        return 2;
    }

    b.progress = isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &b.start);

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

    bulletin_inputs_free(&b.files);
    free(b.channel_buf);
    free(b.entries);
    bulletin_idtab_free(&b.table);
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

    w = bulletin_writer_create(b->output, b->channel, b->nchannels,
                               (int64_t) time(NULL),
                               prev_ok ? &prev.st : NULL, &err);
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

    pc.paths = b->files.paths;
    pc.n = b->files.n;
    pc.tpl = tpl;
    pc.channels = b->channel;
    pc.nchannels = b->nchannels;
    pc.render = b->nerrors == 0;
    pc.consume = bulletin_consume;
    pc.progress = bulletin_progress;
    pc.ctx = b;
    pc.interrupted = &bulletin_signo;

    b->writer = w;

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

    printf("%s: %u pages (%zu bulletin%s and the list), %llu bytes, "
           "generation %s, %u kept their Last-Modified\n",
           b->output, sum.pages, b->nentries, b->nentries == 1 ? "" : "s",
           (unsigned long long) sum.bytes, sum.generation, sum.kept);

    return 0;
}


/*
 * A page done by a worker: its messages, or its entry and its bytes to
 * the writer.  Returns -1 when the build can no longer succeed; *fatal
 * when it must stop at once.
 */

static int
bulletin_consume(void *data, bulletin_job_t *job, int *fatal)
{
    bulletin_build_t  *b = data;

    int                 rc;
    size_t              i;
    const char         *path;
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

    if (bulletin_entry_add(b, &job->rec, job->file) != 0) {
        b->nbad++;
        return -1;
    }

    if (b->nerrors) {
        /* the store is not written: rendering was skipped */
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

    rc = bulletin_writer_add(w, &job->page);

    if (rc == BULLETIN_OK) {
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


/* the list page, _index: the newest bulletins first */

static int
bulletin_build_index(bulletin_build_t *b, bulletin_writer_t *w)
{
    int                      rc;
    char                     msg[512];
    size_t                   i, n;
    bulletin_wpage_t         page;
    bulletin_render_t       *r;
    bulletin_template_t     *tpl;
    bulletin_index_entry_t  *list;

    qsort(b->entries, b->nentries, sizeof(bulletin_entry_t),
          bulletin_entry_cmp);

    n = b->nentries < BULLETIN_INDEX_MAX ? b->nentries : BULLETIN_INDEX_MAX;

    list = malloc((n ? n : 1) * sizeof(bulletin_index_entry_t));
    r = bulletin_render_create(b->channel, b->nchannels);
    tpl = bulletin_template_parse("(list template)",
                                  (const uint8_t *) bulletin_template_index,
                                  bulletin_template_index_len,
                                  BULLETIN_TEMPLATE_INDEX, msg, sizeof(msg));

    if (list == NULL || r == NULL || tpl == NULL) {
        fprintf(stderr, "%s: %s\n", BULLETIN_BUILD_NAME,
                tpl == NULL ? msg : "out of memory");
        rc = -1;
        goto done;
    }

    for (i = 0; i < n; i++) {
        list[i].id = b->entries[i].id;
        list[i].title = b->entries[i].title;
        list[i].published = b->entries[i].published;
    }

    rc = bulletin_render_index(r, tpl, list, n, b->nentries, &page);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: cannot render the list page: %s\n",
                BULLETIN_BUILD_NAME, bulletin_strerror(rc));
        rc = -1;
        goto done;
    }

    rc = bulletin_writer_add(w, &page);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", b->output, bulletin_strerror(rc),
                bulletin_writer_detail(w));
        rc = -1;
    }

done:

    bulletin_template_free(tpl);
    bulletin_render_free(r);
    free(list);

    return rc;
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
    e->published_at = rec->published_at;
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
        "usage: " BULLETIN_BUILD_NAME " [-t TEMPLATE] [--channels LIST] "
        "-o OUTPUT INPUT...\n"
        "       " BULLETIN_BUILD_NAME " --verify STORE\n"
        "       " BULLETIN_BUILD_NAME " --list STORE\n"
        "\n"
        "Compiles bulletin JSON files into one store file for nginx.\n"
        "\n"
        "  INPUT            a .json file, or a folder whose *.json files "
        "are read\n"
        "  -o OUTPUT        the store; replaced only by a complete, synced "
        "new one\n"
        "  -t TEMPLATE      the detail page template (default: the "
        "shipped one)\n"
        "  --channels LIST  share channels, comma-separated, at most %d "
        "(default:\n"
        "                   " BULLETIN_DEFAULT_CHANNELS ")\n"
        "  --verify STORE   exit 0 only when STORE is sound\n"
        "  --list STORE     one page a line: id, published, title, "
        "tab-separated\n"
        "  -h, --help       this text\n"
        "  --version        the version\n",
        BULLETIN_CHANNELS_MAX);
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
