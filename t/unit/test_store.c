/*
 * Copyright (C) bulletin authors
 *
 * The store: writer round trip, look-up, response bodies (plain, and gzip
 * checked with zlib's inflate and gzip -t), the verifier against every
 * truncation and single-byte change, Last-Modified, failed commits.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bulletin_crc.h"
#include "bulletin_body.h"
#include "bulletin_store.h"
#include "bulletin_writer.h"


#define SEGS_MAX    16
#define NCOUNTS     7               /* NULL, five values, a sequence */


typedef struct {
    const char             *ref;    /* NULL: the page itself */
    uint32_t                kind;
} tslot_t;

typedef struct {
    const char             *id;
    const char             *title;
    const char             *published;
    uint32_t                nslots;
    const char             *segs[SEGS_MAX];
    tslot_t                 slots[SEGS_MAX];
} tpage_t;

typedef struct {
    uint8_t                *data;
    size_t                  len;
    size_t                  size;
} tbuf_t;

/* a count callback's context */
typedef struct {
    int                     mode;   /* 0: a constant, 1: a sequence */
    uint64_t                value;
    uint32_t                ncalls;
    uint32_t                pages[SEGS_MAX];
    uint32_t                kinds[SEGS_MAX];
} tcount_t;


static char            dir[64];
static char           *long_text;   /* compressible */
static char           *noise;       /* incompressible */
static char           *pos_segs[8][8];  /* "abcdefg"[i, j) */

static const char     *channels[] = { "wechat", "weibo", "qq", "link" };

static const uint64_t  values[] = {
    0, 9, 10, 12345678901234ULL, UINT64_MAX
};

static tpage_t  pages[] = {
    { "gamma", "Gamma <title> & \"quotes\"", "2020-05-22", 6,
      { "<html><p class=meta>views ", ", shares ", "</p><div>", " ",
        " ", " ", NULL /* long */ },
      { { NULL, BULLETIN_SLOT_VIEWS }, { NULL, BULLETIN_SLOT_SHARES },
        { NULL, BULLETIN_SLOT_CHANNEL + 0 },
        { NULL, BULLETIN_SLOT_CHANNEL + 1 },
        { NULL, BULLETIN_SLOT_CHANNEL + 2 },
        { NULL, BULLETIN_SLOT_CHANNEL + 3 } } },

    { "alpha", "北京市社会组织工作动态【第1期】", "2020-05-20", 4,
      { "", "<p>views ", "", " x ", "" },
      { { NULL, BULLETIN_SLOT_VIEWS }, { NULL, BULLETIN_SLOT_SHARES },
        { NULL, BULLETIN_SLOT_CHANNEL + 0 },
        { "beta", BULLETIN_SLOT_VIEWS } } },

    { "_index", "All bulletins", "2020-06-01T08:00:00+08:00", 4,
      { "<ul><li>alpha ", "</li><li>beta ", "</li><li>gamma ",
        "</li><li>index ", "</li></ul>" },
      { { "alpha", BULLETIN_SLOT_VIEWS }, { "beta", BULLETIN_SLOT_VIEWS },
        { "gamma", BULLETIN_SLOT_SHARES }, { NULL, BULLETIN_SLOT_VIEWS } } },

    { "beta", "", "2020-05-21", 0,
      { NULL /* noise */ }, { { NULL, 0 } } },

    { "void", "only counts", "2020-01-01", 2,
      { "", "", "" },
      { { NULL, BULLETIN_SLOT_VIEWS }, { "zero", BULLETIN_SLOT_SHARES } } },

    { "zero", "nothing at all", "2020-01-02", 0,
      { "" }, { { NULL, 0 } } },

    { "Z-9_last", "last", "2020-01-03", 1,
      { "<p>tail count: ", "" },
      { { NULL, BULLETIN_SLOT_CHANNEL + 3 } } },
};

#define NPAGES  (sizeof(pages) / sizeof(pages[0]))

/* small pages, for the tests that loop over every byte of a store */
static tpage_t  small[] = {
    { "a1", "A", "2020-05-20", 2,
      { "<p>", " views, ", " shares</p>" },
      { { NULL, BULLETIN_SLOT_VIEWS }, { NULL, BULLETIN_SLOT_SHARES } } },
    { "_index", "I", "2020-05-21", 2,
      { "", " ", "" },
      { { "a1", BULLETIN_SLOT_VIEWS }, { "b2", BULLETIN_SLOT_CHANNEL } } },
    { "b2", "B", "2020-05-22", 0, { "<p>b</p>" }, { { NULL, 0 } } },
};

#define NSMALL  (sizeof(small) / sizeof(small[0]))


static uint64_t
rnd(void)
{
    static uint64_t  x = 0x2545f4914f6cdd1dULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;

    return x * 0x2545f4914f6cdd1dULL;
}


static void
buf_add(tbuf_t *b, const void *p, size_t len)
{
    if (b->len + len > b->size) {
        b->size = (b->len + len) * 2 + 64;
        b->data = realloc(b->data, b->size);
        assert_non_null(b->data);
    }

    if (len != 0) {
        memcpy(b->data + b->len, p, len);
    }

    b->len += len;
}


static uint8_t *
read_file(const char *path, size_t *size)
{
    int          fd;
    uint8_t     *p;
    ssize_t      n;
    struct stat  sb;

    fd = open(path, O_RDONLY);
    assert_true(fd != -1);
    assert_int_equal(fstat(fd, &sb), 0);

    /* malloc's alignment is enough; ASan sees reads past the end */
    p = malloc(sb.st_size ? (size_t) sb.st_size : 1);
    assert_non_null(p);

    n = read(fd, p, (size_t) sb.st_size);
    assert_int_equal(n, sb.st_size);
    close(fd);

    *size = (size_t) sb.st_size;

    return p;
}


static int
count_files(const char *path)
{
    int             n;
    DIR            *d;
    struct dirent  *de;

    d = opendir(path);
    assert_non_null(d);

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }

    closedir(d);

    return n;
}


static void
fix_checksum(uint8_t *p, size_t size)
{
    bulletin_store_header_t  *h;

    h = (bulletin_store_header_t *) p;
    h->checksum = 0;
    h->checksum = (uint32_t) crc32_z(0, p, size);
}


/* a mutated store opens as case i expects, or the case is named */

static void
open_expect(bulletin_store_t *st, const uint8_t *p, size_t size, int i,
    int want)
{
    int  rc;

    rc = bulletin_store_open(st, p, size);

    if (rc != want) {
        print_error("case %d: %s (%s), expected %s\n", i,
                    bulletin_strerror(rc), st->detail,
                    bulletin_strerror(want));
    }

    assert_int_equal(rc, want);
}


static const char *
seg_text(const tpage_t *tp, uint32_t i)
{
    if (tp->segs[i] != NULL) {
        return tp->segs[i];
    }

    return (strcmp(tp->id, "beta") == 0) ? noise : long_text;
}


/* the page's gzip segments made as bulletin-build makes them */
static int
add_page(bulletin_writer_t *w, const tpage_t *tp)
{
    int                  rc;
    size_t               len, cap;
    uint8_t             *out[SEGS_MAX];
    uint32_t             i;
    z_stream             z;
    const char          *text;
    bulletin_wpage_t     page;
    bulletin_wslot_t     slots[SEGS_MAX];
    bulletin_wsegment_t  segs[SEGS_MAX];

    memset(&z, 0, sizeof(z_stream));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 9,
                                  Z_DEFAULT_STRATEGY), Z_OK);

    for (i = 0; i <= tp->nslots; i++) {
        text = seg_text(tp, i);
        len = strlen(text);

        segs[i].plain = (const uint8_t *) text;
        segs[i].plain_len = len;
        segs[i].crc = (uint32_t) crc32(0, (const Bytef *) text, (uInt) len);
        segs[i].gzip = NULL;
        segs[i].gzip_len = 0;
        out[i] = NULL;

        if (len == 0) {
            continue;
        }

        cap = deflateBound(&z, len) + 64;
        out[i] = malloc(cap);
        assert_non_null(out[i]);

        z.next_in = (Bytef *) text;
        z.avail_in = (uInt) len;
        z.next_out = out[i];
        z.avail_out = (uInt) cap;

        assert_int_equal(deflate(&z, Z_FULL_FLUSH), Z_OK);
        assert_int_equal(z.avail_in, 0);
        assert_true(z.avail_out > 0);

        segs[i].gzip = out[i];
        segs[i].gzip_len = cap - z.avail_out;
    }

    deflateEnd(&z);

    for (i = 0; i < tp->nslots; i++) {
        slots[i].ref = (const uint8_t *) tp->slots[i].ref;
        slots[i].ref_len = tp->slots[i].ref ? strlen(tp->slots[i].ref) : 0;
        slots[i].kind = tp->slots[i].kind;
    }

    memset(&page, 0, sizeof(bulletin_wpage_t));
    page.id = (const uint8_t *) tp->id;
    page.id_len = strlen(tp->id);
    page.title = (const uint8_t *) tp->title;
    page.title_len = strlen(tp->title);
    page.published = (const uint8_t *) tp->published;
    page.published_len = strlen(tp->published);
    page.nslots = tp->nslots;
    page.slots = slots;
    page.segments = segs;
    page.inputs = bulletin_fnv64(BULLETIN_FNV64_INIT, tp->id, strlen(tp->id));

    rc = bulletin_writer_add(w, &page);

    for (i = 0; i <= tp->nslots; i++) {
        free(out[i]);
    }

    return rc;
}


static int
build(const char *path, const tpage_t *tp, size_t n, int64_t built_at,
    const bulletin_store_t *prev, bulletin_wsummary_t *sum)
{
    int                 rc, err;
    size_t              i;
    bulletin_writer_t  *w;

    w = bulletin_writer_create(path, channels, 4, built_at, prev, &err);
    assert_non_null(w);

    for (i = 0; i < n; i++) {
        rc = add_page(w, &tp[i]);

        if (rc != BULLETIN_OK) {
            print_error("add %s: %s: %s\n", tp[i].id, bulletin_strerror(rc),
                        bulletin_writer_detail(w));
            bulletin_writer_abort(w);
            return rc;
        }
    }

    rc = bulletin_writer_commit(w, sum);

    if (rc != BULLETIN_OK) {
        print_error("commit: %s: %s\n", bulletin_strerror(rc),
                    bulletin_writer_detail(w));
        bulletin_writer_abort(w);
    }

    return rc;
}


static uint8_t *
build_open(const char *name, const tpage_t *tp, size_t n, int64_t built_at,
    const bulletin_store_t *prev, bulletin_store_t *st, size_t *size)
{
    char                 path[128];
    uint8_t             *p;
    bulletin_wsummary_t  sum;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    assert_int_equal(build(path, tp, n, built_at, prev, &sum), BULLETIN_OK);

    p = read_file(path, size);

    if (bulletin_store_open(st, p, *size) != BULLETIN_OK) {
        print_error("open %s: %s\n", path, st->detail);
        fail();
    }

    assert_int_equal(sum.bytes, *size);
    assert_int_equal(sum.pages, n);
    assert_memory_equal(sum.generation, st->header->generation, 16);
    assert_int_equal(sum.generation[16], '\0');

    return p;
}


static const bulletin_store_record_t *
find(const bulletin_store_t *st, const char *id)
{
    int64_t  i;

    i = bulletin_store_find(st, (const uint8_t *) id, strlen(id));
    assert_true(i >= 0);

    return &st->records[i];
}


static uint64_t
count_cb(void *ctx, uint32_t page, uint32_t kind)
{
    tcount_t  *c;
    uint64_t   v;

    c = ctx;

    assert_true(c->ncalls < SEGS_MAX);
    c->pages[c->ncalls] = page;
    c->kinds[c->ncalls] = kind;

    /* a sequence: lengths 1, 2, 20, 3, ... */
    v = c->value;

    if (c->mode == 1) {
        switch (c->ncalls % 4) {
        case 0:
            v = 7;
            break;
        case 1:
            v = 42 + c->ncalls;
            break;
        case 2:
            v = UINT64_MAX - c->ncalls;
            break;
        default:
            v = 100 + page;
        }
    }

    c->ncalls++;

    return v;
}


/* the body of tp with counts as count_cb gives them */
static void
expected_body(const tpage_t *tp, const bulletin_store_t *st, int mode,
    uint64_t value, tbuf_t *b)
{
    int        len;
    char       digits[32];
    uint32_t   i;
    tcount_t   c;
    uint32_t   page;

    memset(&c, 0, sizeof(tcount_t));
    c.mode = mode;
    c.value = value;
    b->len = 0;

    for (i = 0; i <= tp->nslots; i++) {
        buf_add(b, seg_text(tp, i), strlen(seg_text(tp, i)));

        if (i == tp->nslots || mode < 0) {
            continue;
        }

        page = (uint32_t) bulletin_store_find(st,
                   (const uint8_t *) (tp->slots[i].ref ? tp->slots[i].ref
                                                       : tp->id),
                   strlen(tp->slots[i].ref ? tp->slots[i].ref : tp->id));

        len = snprintf(digits, sizeof(digits), "%" PRIu64,
                       count_cb(&c, page, tp->slots[i].kind));
        buf_add(b, digits, (size_t) len);
    }
}


static void
inflate_all(const uint8_t *in, size_t len, tbuf_t *out)
{
    int       rc;
    uint8_t   chunk[16384];
    z_stream  z;

    memset(&z, 0, sizeof(z_stream));
    assert_int_equal(inflateInit2(&z, 31), Z_OK);

    z.next_in = (Bytef *) in;
    z.avail_in = (uInt) len;
    out->len = 0;

    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);

        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            print_error("inflate: %d %s\n", rc, z.msg ? z.msg : "");
            fail();
        }

        buf_add(out, chunk, sizeof(chunk) - z.avail_out);
    } while (rc != Z_STREAM_END);

    /* the stream ends exactly at the trailer */
    assert_int_equal(z.avail_in, 0);
    inflateEnd(&z);
}


static void
gzip_t(const tbuf_t *b)
{
    int   fd;
    char  path[128], cmd[256];

    snprintf(path, sizeof(path), "%s/body.gz", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd != -1);
    assert_int_equal(write(fd, b->data, b->len), (ssize_t) b->len);
    close(fd);

    snprintf(cmd, sizeof(cmd), "gzip -t %s", path);
    assert_int_equal(system(cmd), 0);

    unlink(path);
}


/*
 * Checks one body: mode -1 is a NULL callback, 0 a constant, 1 a
 * sequence; scratch and chunks are allocated at their exact maximum.
 */
static void
check_body(const bulletin_store_t *st, const tpage_t *tp, int gzip,
    int mode, uint64_t value, int run_gzip_t)
{
    size_t                          i, n, max, smax;
    uint8_t                        *scratch;
    uint64_t                        total, sum;
    tbuf_t                          body, want, plain;
    tcount_t                        c;
    uint32_t                        page;
    bulletin_chunk_t               *chunks;
    const bulletin_store_record_t  *rec;

    memset(&body, 0, sizeof(tbuf_t));
    memset(&want, 0, sizeof(tbuf_t));
    memset(&plain, 0, sizeof(tbuf_t));
    memset(&c, 0, sizeof(tcount_t));
    c.mode = mode;
    c.value = value;

    rec = find(st, tp->id);
    max = bulletin_body_chunks_max(rec);
    smax = bulletin_body_scratch_max(st, rec);
    chunks = malloc(max * sizeof(bulletin_chunk_t));
    scratch = malloc(smax);
    assert_non_null(chunks);
    assert_non_null(scratch);

    assert_int_equal(bulletin_body(st, rec, gzip,
                                   mode < 0 ? NULL : count_cb, &c, scratch,
                                   smax, chunks, &n, &total),
                     BULLETIN_OK);

    assert_true(n <= max);
    sum = 0;

    for (i = 0; i < n; i++) {
        assert_true(chunks[i].len > 0);
        buf_add(&body, chunks[i].data, chunks[i].len);
        sum += chunks[i].len;
    }

    assert_int_equal(sum, total);

    /*
     * without counts the page's segments, one after the other in the
     * file, leave as one piece (in gzip: the header, them, the tail)
     */
    if (mode < 0) {
        assert_true(n <= (size_t) (gzip ? 3 : 1));
    }

    /* the callback saw each slot's page and kind, in order */
    assert_int_equal(c.ncalls, mode < 0 ? 0 : tp->nslots);

    for (i = 0; i < c.ncalls; i++) {
        page = (uint32_t) bulletin_store_find(st,
                   (const uint8_t *) (tp->slots[i].ref ? tp->slots[i].ref
                                                       : tp->id),
                   strlen(tp->slots[i].ref ? tp->slots[i].ref : tp->id));
        assert_int_equal(c.pages[i], page);
        assert_int_equal(c.kinds[i], tp->slots[i].kind);
    }

    expected_body(tp, st, mode, value, &want);

    if (gzip) {
        assert_true(total >= BULLETIN_GZIP_HEADER_LEN
                             + BULLETIN_GZIP_TAIL_LEN);
        inflate_all(body.data, body.len, &plain);
        assert_int_equal(plain.len, want.len);

        if (want.len != 0) {
            assert_memory_equal(plain.data, want.data, want.len);
        }

        if (run_gzip_t) {
            gzip_t(&body);
        }

    } else {
        assert_int_equal(body.len, want.len);
        assert_int_equal(total, want.len);

        if (want.len != 0) {
            assert_memory_equal(body.data, want.data, want.len);
        }
    }

    free(body.data);
    free(want.data);
    free(plain.data);
    free(chunks);
    free(scratch);
}


static void
check_all_bodies(const bulletin_store_t *st, const tpage_t *tp, size_t n,
    int run_gzip_t)
{
    size_t  i, v;
    int     gzip;

    for (i = 0; i < n; i++) {
        for (gzip = 0; gzip <= 1; gzip++) {
            check_body(st, &tp[i], gzip, -1, 0, run_gzip_t);
            check_body(st, &tp[i], gzip, 1, 0, run_gzip_t);

            for (v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                check_body(st, &tp[i], gzip, 0, values[v], run_gzip_t);
            }
        }
    }
}


static int
setup(void **state)
{
    int     i, j;
    size_t  k, len;

    static const char  *words[] = {
        "社会组织", "bulletin ", "the ", "活动简报 ", "<p>", "</p>\n",
        "volunteers ", "北京市 ", "garbage sorting ", "&amp; "
    };

    snprintf(dir, sizeof(dir), "/tmp/bulletin-unit-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }

    long_text = malloc(200000);
    noise = malloc(70001);
    if (long_text == NULL || noise == NULL) {
        return -1;
    }

    len = 0;

    while (len < 150000) {
        k = rnd() % (sizeof(words) / sizeof(words[0]));
        memcpy(long_text + len, words[k], strlen(words[k]));
        len += strlen(words[k]);
    }

    long_text[len] = '\0';

    for (k = 0; k < 70000; k++) {
        noise[k] = (char) (1 + rnd() % 255);
    }

    noise[70000] = '\0';

    for (i = 0; i < 8; i++) {
        for (j = i; j < 8; j++) {
            pos_segs[i][j] = strndup(&"abcdefg"[i], (size_t) (j - i));
            if (pos_segs[i][j] == NULL) {
                return -1;
            }
        }
    }

    return 0;
}


static int
teardown(void **state)
{
    int   i, j;
    char  cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        return -1;
    }

    for (i = 0; i < 8; i++) {
        for (j = i; j < 8; j++) {
            free(pos_segs[i][j]);
        }
    }

    free(long_text);
    free(noise);

    return 0;
}


/* the request path's one pass agrees with valid(..., 1) and the hash */

static void
test_id_check(void **state)
{
    int       c1, c2;
    size_t    i, len;
    uint8_t   id[BULLETIN_ID_MAX + 2];
    uint32_t  h;

    (void) state;

    for (c1 = 0; c1 < 256; c1++) {
        for (c2 = 0; c2 < 256; c2 += 3) {
            for (len = 1; len <= 3; len++) {
                id[0] = (uint8_t) c1;
                id[1] = (uint8_t) c2;
                id[2] = 'x';

                h = 0xdeadbeef;

                assert_int_equal(bulletin_id_check(id, len, &h),
                                 bulletin_id_valid(id, len, 1));

                if (bulletin_id_valid(id, len, 1)) {
                    assert_int_equal(h, bulletin_id_hash(id, len));
                }
            }
        }
    }

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (uint8_t) ('a' + i % 26);
    }

    assert_true(bulletin_id_check(id, BULLETIN_ID_MAX, &h));
    assert_int_equal(h, bulletin_id_hash(id, BULLETIN_ID_MAX));
    assert_false(bulletin_id_check(id, BULLETIN_ID_MAX + 1, &h));
    assert_false(bulletin_id_check(id, 0, &h));
}


static void
test_id_valid(void **state)
{
    char  id[80];

    assert_true(bulletin_id_valid((const uint8_t *) "a", 1, 0));
    assert_true(bulletin_id_valid((const uint8_t *) "bj-sociorg-2020_01",
                                  18, 0));
    assert_true(bulletin_id_valid((const uint8_t *) "9Z", 2, 0));
    assert_false(bulletin_id_valid((const uint8_t *) "", 0, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "-a", 2, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "_index", 6, 0));
    assert_true(bulletin_id_valid((const uint8_t *) "_index", 6, 1));
    assert_true(bulletin_id_valid((const uint8_t *) "_", 1, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "a b", 3, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "a/b", 3, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "a.b", 3, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "a\0b", 3, 1));
    assert_false(bulletin_id_valid((const uint8_t *) "\xe5\x8c\x97", 3, 1));

    memset(id, 'x', sizeof(id));
    assert_true(bulletin_id_valid((const uint8_t *) id, BULLETIN_ID_MAX, 0));
    assert_false(bulletin_id_valid((const uint8_t *) id,
                                   BULLETIN_ID_MAX + 1, 0));

    assert_int_equal(bulletin_id_hash((const uint8_t *) "abc", 3),
                     bulletin_id_hash((const uint8_t *) "abcd", 3));
    assert_int_not_equal(bulletin_id_hash((const uint8_t *) "abc", 3),
                         bulletin_id_hash((const uint8_t *) "abd", 3));
}


static void
test_channel_valid(void **state)
{
    assert_true(bulletin_channel_valid((const uint8_t *) "wechat", 6));
    assert_true(bulletin_channel_valid((const uint8_t *) "a-b_9", 5));
    assert_true(bulletin_channel_valid((const uint8_t *) "abcdefghijklmno",
                                       15));
    assert_false(bulletin_channel_valid((const uint8_t *) "abcdefghijklmnop",
                                        16));
    assert_false(bulletin_channel_valid((const uint8_t *) "", 0));
    assert_false(bulletin_channel_valid((const uint8_t *) "WeChat", 6));
    assert_false(bulletin_channel_valid((const uint8_t *) "we chat", 7));
    assert_false(bulletin_channel_valid((const uint8_t *) "a,b", 3));
}


static void
test_format_u64(void **state)
{
    size_t   i, n;
    uint8_t  buf[BULLETIN_DIGITS_MAX];
    char     want[32];
    uint64_t v[] = { 0, 1, 9, 10, 99, 100, 12345678901234ULL,
                     10000000000000000000ULL, UINT64_MAX };

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = bulletin_format_u64(buf, v[i]);
        snprintf(want, sizeof(want), "%" PRIu64, v[i]);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(buf, want, n);
    }

    assert_int_equal(bulletin_format_u64(buf, UINT64_MAX),
                     BULLETIN_DIGITS_MAX);
}


static void
test_strerror(void **state)
{
    int  i;

    for (i = 0; i < BULLETIN_ERR_LAST; i++) {
        assert_string_not_equal(bulletin_strerror(i), "unknown error");
    }

    assert_string_equal(bulletin_strerror(BULLETIN_ERR_LAST),
                        "unknown error");
    assert_string_equal(bulletin_strerror(-1), "unknown error");
}


static void
test_roundtrip(void **state)
{
    int                             nfiles;
    char                            path[128], hex[17];
    size_t                          size, i, j;
    uint8_t                        *p;
    uint64_t                        plain;
    struct stat                     sb;
    const char                     *ref;
    bulletin_store_t                st;
    const bulletin_store_record_t  *r;

    nfiles = count_files(dir);
    p = build_open("roundtrip.blt", pages, NPAGES, 1600000000, NULL, &st,
                   &size);

    snprintf(path, sizeof(path), "%s/roundtrip.blt", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    assert_int_equal(count_files(dir), nfiles + 1);

    assert_int_equal(st.header->page_count, NPAGES);
    assert_int_equal(st.header->nchannels, 4);
    assert_string_equal(st.header->channels[0], "wechat");
    assert_string_equal(st.header->channels[3], "link");
    assert_int_equal(st.header->built_at, 1600000000);
    assert_true(st.header->index_size >= 2 * NPAGES);
    assert_true(st.header->index_size >= 8);
    assert_int_equal(st.header->data_off, sizeof(bulletin_store_header_t));
    assert_int_equal(size % 8, 0);

    /* records sorted bytewise, "Z-9_last" < "_index" < "alpha" */
    assert_memory_equal(st.base + st.records[0].id_off, "Z-9_last", 8);
    assert_memory_equal(st.base + st.records[1].id_off, "_index", 6);
    assert_memory_equal(st.base + st.records[2].id_off, "alpha", 5);

    for (i = 0; i < NPAGES; i++) {
        r = find(&st, pages[i].id);

        assert_int_equal(r->id_len, strlen(pages[i].id));
        assert_memory_equal(st.base + r->id_off, pages[i].id, r->id_len);
        assert_int_equal(r->title_len, strlen(pages[i].title));
        assert_memory_equal(st.base + r->title_off, pages[i].title,
                            r->title_len);
        assert_int_equal(r->published_len, strlen(pages[i].published));
        assert_memory_equal(st.base + r->published_off, pages[i].published,
                            r->published_len);
        assert_int_equal(r->last_modified, 1600000000);
        assert_int_equal(r->nslots, pages[i].nslots);

        snprintf(hex, sizeof(hex), "%016" PRIx64, r->hash);
        assert_int_equal(r->etag_len, 20);
        assert_memory_equal(st.base + r->etag_off, "W/\"", 3);
        assert_memory_equal(st.base + r->etag_off + 3, hex, 16);
        assert_memory_equal(st.base + r->etag_off + 19, "\"", 1);

        plain = 0;

        for (j = 0; j <= pages[i].nslots; j++) {
            plain += strlen(seg_text(&pages[i], (uint32_t) j));
            assert_int_equal(st.segments[r->segment_first + j].crc_op,
                 bulletin_crc32_op(st.segments[r->segment_first + j]
                                   .plain_len));
        }

        assert_int_equal(r->plain_len, plain);

        for (j = 0; j < pages[i].nslots; j++) {
            ref = pages[i].slots[j].ref ? pages[i].slots[j].ref
                                        : pages[i].id;
            assert_ptr_equal(&st.records[st.slots[r->slot_first + j].page],
                             find(&st, ref));
            assert_int_equal(st.slots[r->slot_first + j].kind,
                             pages[i].slots[j].kind);
        }
    }

    /* unknown and invalid ids */
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "delta", 5),
                     -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "alph", 4),
                     -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "alphaa", 6),
                     -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "", 0), -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "a b", 3),
                     -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *)
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        65), -1);

    for (i = 0; i < 1000; i++) {
        snprintf(path, sizeof(path), "id-%zu", i);
        assert_int_equal(bulletin_store_find(&st, (const uint8_t *) path,
                                             strlen(path)), -1);
    }

    /* the verifier wants an aligned buffer */
    {
        uint8_t           *q;
        bulletin_store_t   st2;

        q = malloc(size + 8);
        assert_non_null(q);
        memcpy(q + 4, p, size);
        assert_int_equal(bulletin_store_open(&st2, q + 4, size),
                         BULLETIN_ERR_ALIGN);
        free(q);
    }

    free(p);
}


static void
test_bodies(void **state)
{
    size_t            size;
    uint8_t          *p;
    bulletin_store_t  st;

    p = build_open("bodies.blt", pages, NPAGES, 1, NULL, &st, &size);

    check_all_bodies(&st, pages, NPAGES, 1);

    free(p);
}


/* one slot at every position of "abcdefg", and two at every pair */
static void
test_slot_positions(void **state)
{
    int               i, j, n;
    char              ids[64][32];
    size_t            size;
    uint8_t          *p;
    tpage_t           tp[64];
    bulletin_store_t  st;

    memset(tp, 0, sizeof(tp));
    n = 0;

    for (i = 0; i <= 7; i++) {
        snprintf(ids[n], sizeof(ids[n]), "one-%d", i);
        tp[n].id = ids[n];
        tp[n].title = "t";
        tp[n].published = "2020-01-01";
        tp[n].nslots = 1;
        tp[n].segs[0] = pos_segs[0][i];
        tp[n].segs[1] = pos_segs[i][7];
        tp[n].slots[0].kind = BULLETIN_SLOT_VIEWS;
        n++;
    }

    for (i = 0; i <= 7; i++) {
        for (j = i; j <= 7; j++) {
            snprintf(ids[n], sizeof(ids[n]), "two-%d-%d", i, j);
            tp[n].id = ids[n];
            tp[n].title = "t";
            tp[n].published = "2020-01-01";
            tp[n].nslots = 2;
            tp[n].segs[0] = pos_segs[0][i];
            tp[n].segs[1] = pos_segs[i][j];
            tp[n].segs[2] = pos_segs[j][7];
            tp[n].slots[0].kind = BULLETIN_SLOT_SHARES;
            tp[n].slots[1].ref = "one-3";
            tp[n].slots[1].kind = BULLETIN_SLOT_CHANNEL + 1;
            n++;
        }
    }

    assert_true(n <= 64);

    p = build_open("positions.blt", tp, (size_t) n, 1, NULL, &st, &size);

    check_all_bodies(&st, tp, (size_t) n, 1);

    free(p);
}


static void
test_truncated(void **state)
{
    size_t            size, len;
    uint8_t          *p, *q;
    bulletin_store_t  st;

    p = build_open("small.blt", small, NSMALL, 1, NULL, &st, &size);

    for (len = 0; len < size; len++) {
        q = malloc(len ? len : 1);
        assert_non_null(q);
        memcpy(q, p, len);

        assert_int_not_equal(bulletin_store_open(&st, q, len), BULLETIN_OK);
        assert_true(st.detail[0] != '\0');
        assert_int_equal(bulletin_store_open(&st, q, len),
                         len < sizeof(bulletin_store_header_t)
                         ? BULLETIN_ERR_SHORT : BULLETIN_ERR_SIZE);
        free(q);
    }

    free(p);
}


static void
test_changed_bytes(void **state)
{
    size_t            size, off;
    uint8_t          *p, *q, save;
    bulletin_store_t  st;

    p = build_open("small.blt", small, NSMALL, 1, NULL, &st, &size);

    q = malloc(size);
    assert_non_null(q);
    memcpy(q, p, size);

    for (off = 0; off < size; off++) {
        save = q[off];

        q[off] = save ^ 0xff;
        assert_int_not_equal(bulletin_store_open(&st, q, size), BULLETIN_OK);
        assert_true(st.detail[0] != '\0');

        q[off] = (uint8_t) (save + 1);
        assert_int_not_equal(bulletin_store_open(&st, q, size), BULLETIN_OK);

        q[off] = save;
    }

    assert_int_equal(bulletin_store_open(&st, q, size), BULLETIN_OK);

    free(q);
    free(p);
}


/*
 * Every single-byte change with the checksum made right again: the
 * verifier either refuses the store or everything it accepted is safe
 * to serve (ASan and valgrind watch the reads).
 */
static void
test_changed_bytes_rechecksummed(void **state)
{
    int                             gzip;
    size_t                          size, off, i, k, n, accepted, smax;
    uint8_t                        *p, *q, save, *scratch, sum;
    uint64_t                        total;
    uint8_t                         mut[4];
    bulletin_chunk_t               *chunks;
    bulletin_store_t                st;
    const bulletin_store_record_t  *r;
    tcount_t                        c;

    p = build_open("small.blt", small, NSMALL, 1, NULL, &st, &size);

    q = malloc(size);
    assert_non_null(q);
    memcpy(q, p, size);
    accepted = 0;
    sum = 0;

    for (off = 0; off < size; off++) {
        save = q[off];
        mut[0] = save ^ 0xff;
        mut[1] = (uint8_t) (save + 1);
        mut[2] = save ^ 0x80;
        mut[3] = (uint8_t) (save - 1);

        for (k = 0; k < 4; k++) {
            q[off] = mut[k];
            fix_checksum(q, size);

            if (bulletin_store_open(&st, q, size) != BULLETIN_OK) {
                assert_true(st.detail[0] != '\0');
                continue;
            }

            accepted++;

            for (i = 0; i < st.header->page_count; i++) {
                r = &st.records[i];

                assert_int_equal(bulletin_store_find(&st,
                                     st.base + r->id_off, r->id_len),
                                 (int64_t) i);

                smax = bulletin_body_scratch_max(&st, r);
                chunks = malloc(bulletin_body_chunks_max(r)
                                * sizeof(bulletin_chunk_t));
                scratch = malloc(smax);

                for (gzip = 0; gzip <= 1; gzip++) {
                    memset(&c, 0, sizeof(tcount_t));
                    c.value = UINT64_MAX;
                    assert_int_equal(bulletin_body(&st, r, gzip, count_cb,
                                                   &c, scratch, smax, chunks,
                                                   &n, &total),
                                     BULLETIN_OK);

                    while (n-- != 0) {
                        sum ^= chunks[n].data[chunks[n].len - 1];
                        sum ^= chunks[n].data[0];
                    }
                }

                free(chunks);
                free(scratch);
            }
        }

        q[off] = save;
        fix_checksum(q, size);
    }

    /* titles and times in range: harmless changes are accepted */
    assert_true(accepted > 0);
    (void) sum;

    free(q);
    free(p);
}


typedef struct {
    const char  *what;
    int          err;
} tcase_t;


static void
mutate(uint8_t *q, size_t size, int which)
{
    uint32_t                   i;
    bulletin_store_header_t   *h;
    bulletin_store_record_t   *r;
    bulletin_store_segment_t  *s;
    bulletin_store_slot_t     *sl;
    bulletin_store_bucket_t   *b;
    bulletin_store_record_t    t;

    h = (bulletin_store_header_t *) q;
    r = (bulletin_store_record_t *) (q + h->records_off);
    s = (bulletin_store_segment_t *) (q + h->segments_off);
    sl = (bulletin_store_slot_t *) (q + h->slots_off);
    b = (bulletin_store_bucket_t *) (q + h->index_off);

    switch (which) {
    case 0: h->magic[0] = 'X'; break;
    case 1: h->version = BULLETIN_STORE_VERSION + 1; break;
    case 2: h->byte_order = 0x04030201; break;
    case 3: h->header_size = 288; break;
    case 4: h->file_size += 8; break;
    case 5: h->checksum ^= 1; return;
    case 6: h->reserved0 = 1; break;
    case 7: h->version = 2; h->sources_off = 8; break;
    case 8: h->generation[3] = 'G'; break;
    case 9: h->index_size = 12; break;
    case 10: h->index_size = 2; break;
    case 11: h->nchannels = 9; break;
    case 12: memcpy(h->channels[1], "wechat", 7); break;
    case 13: memset(h->channels[0], 'x', 16); break;
    case 14: h->channels[6][0] = 'x'; break;
    case 15: h->channels[2][0] = 'Q'; break;
    case 16: h->channels[0][7] = 'x'; break;    /* after the NUL */
    case 17: h->records_off += 4; break;
    case 18: h->records_off = h->file_size; break;
    case 19: h->index_off = h->records_off; break;
    case 20: h->data_size += 8; break;
    case 21: h->nsegments = (uint64_t) 1 << 62; break;
    case 22: h->nslots = (uint64_t) 1 << 61; break;
    case 23: h->data_off = 0; h->data_size += 280; break;
    case 24: h->slots_off = UINT64_MAX - 7; break;
    case 25: r[0].id_off = UINT64_MAX - 2; break;
    case 26: r[0].id_len = 0; break;
    case 27: r[1].etag_len = 19; break;
    case 28: r[1].hash ^= 1; break;
    case 29: r[0].segment_first = (uint32_t) h->nsegments; break;
    case 30: r[0].slot_first = (uint32_t) h->nslots; break;
    case 31: r[0].nslots = BULLETIN_SLOTS_MAX + 1; break;
    case 32: s[0].plain_off = UINT64_MAX - 1; break;
    case 33: s[1].gzip_len = 0; break;
    case 34: s[1].plain_len -= 1; break;
    case 35: r[0].plain_len = BULLETIN_PAGE_MAX + 1; break;
    case 36: sl[0].page = h->page_count; break;
    case 37: sl[0].kind = BULLETIN_SLOT_CHANNEL + h->nchannels; break;
    case 38:
        for (i = 0; b[i].record == 0; i++) { /* void */ }
        b[i].record = h->page_count + 1;
        break;
    case 39:
        for (i = 0; b[i].record == 0; i++) { /* void */ }
        b[i].record = 0;
        break;
    case 40:
        for (i = 0; b[i].record == 0; i++) { /* void */ }
        b[i].hash ^= 1;
        break;
    case 41: t = r[0]; r[0] = r[1]; r[1] = t; break;
    case 42: r[1].id_off = r[0].id_off; r[1].id_len = r[0].id_len; break;
    case 43: r[0].type = BULLETIN_TYPE_LAST + 1; break;
    case 44: s[1].gzip_off = h->data_off + h->data_size - 1; break;
    case 45: s[0].gzip_len = UINT32_MAX; break;
    case 46: r[2].title_len = (uint32_t) h->data_size; break;
    case 47: h->page_count = h->index_size; break;
    case 48: h->index_off = 4; break;
    case 49: r[1].last_modified = -1; break;
    case 50: r[1].last_modified = BULLETIN_TIME_MAX + 1; break;
    case 51: r[1].last_modified = INT64_MIN; break;
    case 52: h->built_at = -1; break;
    case 53: h->built_at = BULLETIN_TIME_MAX + 1; break;
    case 54: s[1].crc ^= 1; break;
    case 55: s[1].crc_op ^= 1; break;
    case 56: s[0].crc_op = bulletin_crc32_op(s[0].plain_len + 1); break;
    case 57: q[r[1].title_off] = 0xff; break;
    case 58: q[r[1].published_off + 5] = 'x'; break;
    case 59: r[1].published_len = 9; break;
    case 60: q[s[1].gzip_off + s[1].gzip_len - 1] ^= 1; break;
    case 61:
        s[1].plain_off = h->data_off;
        s[1].plain_len = (uint32_t) h->data_size;
        break;
    case 62: h->inputs_off += 4; break;
    case 63: h->inputs_off = h->file_size; break;
    case 64: h->inputs_off = h->file_size - 8; break;
    case 65: h->inputs_off = h->records_off; break;
    case 66: h->inputs_off = UINT64_MAX - 7; break;
    case 67: h->inputs_off = h->data_off; break;
    case 68: h->version = 1; break;
    case 69: h->inputs_off = h->slots_off + 8; break;
    }

    fix_checksum(q, size);
}


static void
test_structure(void **state)
{
    int               i;
    size_t            size;
    uint8_t          *p, *q;
    bulletin_store_t  st;

    static const int  want[] = {
        BULLETIN_ERR_MAGIC, BULLETIN_ERR_VERSION, BULLETIN_ERR_BYTE_ORDER,
        BULLETIN_ERR_HEADER, BULLETIN_ERR_SIZE, BULLETIN_ERR_CHECKSUM,
        BULLETIN_ERR_HEADER, BULLETIN_ERR_HEADER, BULLETIN_ERR_HEADER,
        BULLETIN_ERR_HEADER, BULLETIN_ERR_HEADER,
        BULLETIN_ERR_CHANNEL, BULLETIN_ERR_CHANNEL, BULLETIN_ERR_CHANNEL,
        BULLETIN_ERR_CHANNEL, BULLETIN_ERR_CHANNEL, BULLETIN_ERR_CHANNEL,
        BULLETIN_ERR_ALIGN, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_ID, BULLETIN_ERR_RECORD,
        BULLETIN_ERR_RECORD, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_TOO_LARGE, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_RECORD,
        BULLETIN_ERR_RECORD, BULLETIN_ERR_TOO_LARGE, BULLETIN_ERR_SLOT,
        BULLETIN_ERR_SLOT, BULLETIN_ERR_INDEX, BULLETIN_ERR_INDEX,
        BULLETIN_ERR_INDEX, BULLETIN_ERR_INDEX, BULLETIN_ERR_DUPLICATE,
        BULLETIN_ERR_RECORD, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_HEADER, BULLETIN_ERR_ALIGN,
        BULLETIN_ERR_TIME, BULLETIN_ERR_TIME, BULLETIN_ERR_TIME,
        BULLETIN_ERR_TIME, BULLETIN_ERR_TIME,
        BULLETIN_ERR_RECORD, BULLETIN_ERR_RECORD, BULLETIN_ERR_RECORD,
        BULLETIN_ERR_TEXT, BULLETIN_ERR_TEXT, BULLETIN_ERR_TEXT,
        BULLETIN_ERR_RECORD, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_ALIGN, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS,
        BULLETIN_ERR_HEADER, BULLETIN_ERR_BOUNDS
    };

    /* what a few of the new cases must say */
    static const struct {
        int          which;
        const char  *says;
    }  detail[] = {
        { 49, "last_modified -1 is not a time" },
        { 52, "built_at -1 is not a time" },
        { 54, "segment 1: its plain bytes' CRC-32 is" },
        { 55, "segment 1: crc_op" },
        { 57, "the title is not valid UTF-8" },
        { 60, "does not end on a full flush" },
        { 61, "pages share bytes" },
        { 63, "the inputs section" },
        { 65, "overlaps" },
        { 68, "inputs_off is not zero in a version 1 store" }
    };
    size_t  k;

    p = build_open("small.blt", small, NSMALL, 1, NULL, &st, &size);

    /* small[] sorts as "_index", "a1", "b2": record 0 has slots */
    assert_memory_equal(st.base + st.records[0].id_off, "_index", 6);

    q = malloc(size);
    assert_non_null(q);

    for (i = 0; i < (int) (sizeof(want) / sizeof(want[0])); i++) {
        memcpy(q, p, size);
        mutate(q, size, i);

        open_expect(&st, q, size, i, want[i]);
        assert_true(st.detail[0] != '\0');

        for (k = 0; k < sizeof(detail) / sizeof(detail[0]); k++) {
            if (detail[k].which == i && strstr(st.detail, detail[k].says)
                                        == NULL)
            {
                print_error("case %d: \"%s\" does not say \"%s\"\n", i,
                            st.detail, detail[k].says);
                fail();
            }
        }
    }

    free(q);
    free(p);
}


/*
 * The inputs section: each record's fingerprint as added, read through
 * bulletin_store_inputs(), which answers 0 out of range; a version 1
 * store (no section) opens and has none.
 */

static void
test_inputs(void **state)
{
    size_t                          size;
    uint8_t                        *p;
    uint32_t                        i;
    bulletin_store_t                st;
    bulletin_store_header_t        *h;
    const bulletin_store_record_t  *r;

    p = build_open("inputs.blt", small, NSMALL, 1, NULL, &st, &size);

    assert_int_equal(st.header->version, BULLETIN_STORE_VERSION);
    assert_true(st.header->inputs_off != 0);

    for (i = 0; i < st.header->page_count; i++) {
        r = &st.records[i];

        assert_true(bulletin_store_inputs(&st, i)
                    == bulletin_fnv64(BULLETIN_FNV64_INIT,
                                      st.base + r->id_off, r->id_len));
    }

    assert_true(bulletin_store_inputs(&st, st.header->page_count) == 0);
    assert_true(bulletin_store_inputs(&st, UINT32_MAX) == 0);

    h = (bulletin_store_header_t *) p;
    h->version = 1;
    h->inputs_off = 0;
    fix_checksum(p, size);

    assert_int_equal(bulletin_store_open(&st, p, size), BULLETIN_OK);
    assert_true(bulletin_store_inputs(&st, 0) == 0);

    free(p);
}


static void
test_last_modified(void **state)
{
    size_t                          size1, size2, size3;
    uint8_t                        *p1, *p2, *p3;
    tpage_t                         v2[NSMALL + 1];
    bulletin_store_t                st1, st2, st3;
    bulletin_wsummary_t             sum;
    char                            path[128];

    p1 = build_open("lm1.blt", small, NSMALL, 1000, NULL, &st1, &size1);

    /* a1 changes its text, _index a slot's kind, b2 nothing; c3 is new */
    memcpy(v2, small, sizeof(small));
    v2[0].segs[2] = " shares!</p>";
    v2[1].slots[1].kind = BULLETIN_SLOT_CHANNEL + 1;
    memset(&v2[NSMALL], 0, sizeof(tpage_t));
    v2[NSMALL].id = "c3";
    v2[NSMALL].title = "C";
    v2[NSMALL].published = "2020-05-23";
    v2[NSMALL].segs[0] = "<p>c</p>";

    snprintf(path, sizeof(path), "%s/lm2.blt", dir);
    assert_int_equal(build(path, v2, NSMALL + 1, 2000, &st1, &sum),
                     BULLETIN_OK);
    assert_int_equal(sum.kept, 1);

    p2 = read_file(path, &size2);
    assert_int_equal(bulletin_store_open(&st2, p2, size2), BULLETIN_OK);

    assert_int_equal(find(&st2, "b2")->last_modified, 1000);
    assert_int_equal(find(&st2, "b2")->hash, find(&st1, "b2")->hash);
    assert_int_equal(find(&st2, "a1")->last_modified, 2000);
    assert_int_not_equal(find(&st2, "a1")->hash, find(&st1, "a1")->hash);
    assert_int_equal(find(&st2, "_index")->last_modified, 2000);
    assert_int_not_equal(find(&st2, "_index")->hash,
                         find(&st1, "_index")->hash);
    assert_int_equal(find(&st2, "c3")->last_modified, 2000);

    /* unchanged again, from lm2: everything kept, even c3's */
    p3 = build_open("lm3.blt", v2, NSMALL + 1, 3000, &st2, &st3, &size3);
    assert_int_equal(find(&st3, "a1")->last_modified, 2000);
    assert_int_equal(find(&st3, "b2")->last_modified, 1000);
    assert_int_equal(find(&st3, "c3")->last_modified, 2000);
    assert_memory_equal(st3.header->generation, st2.header->generation, 16);

    free(p1);
    free(p2);
    free(p3);
}


static void
test_generation(void **state)
{
    size_t            size1, size2;
    uint8_t          *p1, *p2;
    tpage_t           rev[NSMALL];
    bulletin_store_t  st1, st2;
    size_t            i;

    for (i = 0; i < NSMALL; i++) {
        rev[i] = small[NSMALL - 1 - i];
    }

    /* the same pages, another order, another time: the same store */
    p1 = build_open("g1.blt", small, NSMALL, 1000, NULL, &st1, &size1);
    p2 = build_open("g2.blt", rev, NSMALL, 5000, NULL, &st2, &size2);

    assert_memory_equal(st1.header->generation, st2.header->generation, 16);
    assert_int_equal(size1, size2);

    for (i = 0; i < NSMALL; i++) {
        assert_int_equal(st1.records[i].hash, st2.records[i].hash);
    }

    free(p2);

    rev[0].segs[0] = "<p>c</p>";
    p2 = build_open("g2.blt", rev, NSMALL, 1000, NULL, &st2, &size2);
    assert_memory_not_equal(st1.header->generation, st2.header->generation,
                            16);

    free(p1);
    free(p2);
}


static void
test_failed_commit(void **state)
{
    int                  rc, err, nfiles;
    char                 path[128];
    size_t               size, size2;
    uint8_t             *orig, *now;
    tpage_t              bad;
    bulletin_store_t     st;
    bulletin_writer_t   *w;
    const char          *d;

    orig = build_open("keep.blt", small, NSMALL, 1, NULL, &st, &size);
    snprintf(path, sizeof(path), "%s/keep.blt", dir);
    nfiles = count_files(dir);

    /* a duplicate id: add refuses it, naming it; abort leaves nothing */
    w = bulletin_writer_create(path, channels, 4, 2, NULL, &err);
    assert_non_null(w);
    assert_int_equal(count_files(dir), nfiles + 1);
    assert_int_equal(add_page(w, &small[0]), BULLETIN_OK);
    assert_int_equal(add_page(w, &small[0]), BULLETIN_ERR_DUPLICATE);
    assert_non_null(strstr(bulletin_writer_detail(w), "\"a1\""));
    bulletin_writer_abort(w);

    assert_int_equal(count_files(dir), nfiles);
    now = read_file(path, &size2);
    assert_int_equal(size2, size);
    assert_memory_equal(now, orig, size);
    free(now);

    /* an unknown ref: commit refuses it, naming both ids */
    bad = small[0];
    bad.id = "c3";
    bad.slots[1].ref = "nope";

    w = bulletin_writer_create(path, channels, 4, 2, NULL, &err);
    assert_non_null(w);
    assert_int_equal(add_page(w, &small[2]), BULLETIN_OK);
    assert_int_equal(add_page(w, &bad), BULLETIN_OK);
    assert_int_equal(add_page(w, &small[0]), BULLETIN_OK);

    rc = bulletin_writer_commit(w, NULL);
    assert_int_equal(rc, BULLETIN_ERR_REFERENCE);
    d = bulletin_writer_detail(w);
    assert_non_null(strstr(d, "\"c3\""));
    assert_non_null(strstr(d, "\"nope\""));

    /* a second commit fails the same way */
    assert_int_equal(bulletin_writer_commit(w, NULL), BULLETIN_ERR_REFERENCE);
    assert_int_equal(count_files(dir), nfiles);
    bulletin_writer_abort(w);

    assert_int_equal(count_files(dir), nfiles);
    now = read_file(path, &size2);
    assert_int_equal(size2, size);
    assert_memory_equal(now, orig, size);
    free(now);

    free(orig);

    unlink(path);
}


static void
test_unwritable(void **state)
{
    int                 err;
    char                path[128];
    bulletin_writer_t  *w;

    err = BULLETIN_OK;
    w = bulletin_writer_create("/nonexistent-bulletin-dir/out.blt",
                               channels, 4, 1, NULL, &err);
    assert_null(w);
    assert_int_equal(err, BULLETIN_ERR_SYSTEM);
    assert_int_equal(errno, ENOENT);

    err = BULLETIN_OK;
    w = bulletin_writer_create("/proc/bulletin-unit.blt", channels, 4, 1,
                               NULL, &err);
    assert_null(w);
    assert_int_equal(err, BULLETIN_ERR_SYSTEM);

    /* root writes in a mode 0555 folder: only others can test that */
    if (geteuid() != 0) {
        snprintf(path, sizeof(path), "%s/ro", dir);
        assert_int_equal(mkdir(path, 0555), 0);
        snprintf(path, sizeof(path), "%s/ro/out.blt", dir);

        err = BULLETIN_OK;
        w = bulletin_writer_create(path, channels, 4, 1, NULL, &err);
        assert_null(w);
        assert_int_equal(err, BULLETIN_ERR_SYSTEM);
        assert_int_equal(errno, EACCES);

        snprintf(path, sizeof(path), "%s/ro", dir);
        rmdir(path);
    }
}


static void
test_writer_checks(void **state)
{
    int                  err, nfiles;
    char                 path[128], longid[80];
    size_t               size;
    uint8_t             *p;
    tpage_t              tp;
    bulletin_store_t     st;
    bulletin_writer_t   *w;
    bulletin_wsummary_t  sum;
    bulletin_wpage_t     page;
    bulletin_wsegment_t  segs[BULLETIN_SLOTS_MAX + 2];
    bulletin_wslot_t     slots[BULLETIN_SLOTS_MAX + 1];

    static const char *const  nine[] = {
        "a", "b", "c", "d", "e", "f", "g", "h", "i"
    };
    static const char *const  dup[] = { "a", "b", "a" };
    static const char *const  upper[] = { "WeChat" };
    static const char *const  empty[] = { "" };

    snprintf(path, sizeof(path), "%s/checks.blt", dir);
    nfiles = count_files(dir);

    assert_null(bulletin_writer_create(path, nine, 9, 1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_CHANNEL);
    assert_null(bulletin_writer_create(path, dup, 3, 1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_CHANNEL);
    assert_null(bulletin_writer_create(path, upper, 1, 1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_CHANNEL);
    assert_null(bulletin_writer_create(path, empty, 1, 1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_CHANNEL);
    assert_int_equal(count_files(dir), nfiles);

    w = bulletin_writer_create(path, nine, 8, 1, NULL, &err);
    assert_non_null(w);

    tp = small[2];
    tp.id = "-x";
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_ID);
    tp.id = "";
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_ID);
    memset(longid, 'x', sizeof(longid));
    longid[65] = '\0';
    tp.id = longid;
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_ID);

    tp = small[0];
    tp.slots[1].kind = BULLETIN_SLOT_CHANNEL + 8;
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_SLOT);
    assert_non_null(strstr(bulletin_writer_detail(w), "a1"));

    tp = small[0];
    tp.slots[0].ref = "not valid";
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_REFERENCE);

    /* hand-made pages: bad CRC, gzip bytes without plain ones, too many */
    memset(&page, 0, sizeof(bulletin_wpage_t));
    memset(segs, 0, sizeof(segs));
    memset(slots, 0, sizeof(slots));
    page.id = (const uint8_t *) "hand";
    page.id_len = 4;
    page.published = (const uint8_t *) "2020-01-01";
    page.published_len = 10;
    page.segments = segs;
    page.slots = slots;

    segs[0].plain = (const uint8_t *) "abc";
    segs[0].plain_len = 3;
    segs[0].gzip = (const uint8_t *) "xyz";
    segs[0].gzip_len = 3;
    segs[0].crc = 0;
    assert_int_equal(bulletin_writer_add(w, &page), BULLETIN_ERR_RECORD);
    assert_non_null(strstr(bulletin_writer_detail(w), "CRC"));

    segs[0].plain_len = 0;
    assert_int_equal(bulletin_writer_add(w, &page), BULLETIN_ERR_RECORD);

    segs[0].gzip_len = 0;
    page.nslots = BULLETIN_SLOTS_MAX + 1;
    assert_int_equal(bulletin_writer_add(w, &page), BULLETIN_ERR_TOO_LARGE);

    /* the most slots a page may have, all empty segments */
    page.nslots = BULLETIN_SLOTS_MAX;
    assert_int_equal(bulletin_writer_add(w, &page), BULLETIN_OK);

    /* after refused pages the writer goes on */
    assert_int_equal(add_page(w, &small[2]), BULLETIN_OK);
    assert_int_equal(bulletin_writer_commit(w, &sum), BULLETIN_OK);
    assert_int_equal(sum.pages, 2);

    p = read_file(path, &size);
    assert_int_equal(bulletin_store_open(&st, p, size), BULLETIN_OK);
    assert_int_equal(st.header->nchannels, 8);
    assert_int_equal(find(&st, "hand")->nslots, BULLETIN_SLOTS_MAX);
    assert_int_equal(bulletin_body_chunks_max(find(&st, "hand")),
                     2 * BULLETIN_SLOTS_MAX + 3);
    free(p);
    unlink(path);
}


static void
test_empty_store(void **state)
{
    int                  err;
    char                 path[128];
    size_t               size;
    uint8_t             *p;
    bulletin_store_t     st;
    bulletin_writer_t   *w;
    bulletin_wsummary_t  sum;

    snprintf(path, sizeof(path), "%s/empty.blt", dir);

    w = bulletin_writer_create(path, NULL, 0, 1, NULL, &err);
    assert_non_null(w);
    assert_int_equal(bulletin_writer_commit(w, &sum), BULLETIN_OK);
    assert_int_equal(sum.pages, 0);

    p = read_file(path, &size);
    assert_int_equal(bulletin_store_open(&st, p, size), BULLETIN_OK);
    assert_int_equal(st.header->page_count, 0);
    assert_int_equal(st.header->nchannels, 0);
    assert_int_equal(st.header->index_size, 8);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "a", 1), -1);
    free(p);
    unlink(path);
}


static void
test_text_valid(void **state)
{
    size_t  i;

    static const char *const  utf8_good[] = {
        "", "a", "北京市", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
        "\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf", "tab\tand\nnewline"
    };
    static const char *const  utf8_bad[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80",
        "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xff", "\xe5\x8c", "a\xe5", "\xc2", "\xc2\x41", "\xe5\x8c\x41"
    };
    static const char *const  published_good[] = {
        "2020-05-20", "2020-05-20T10:00:00+08:00", "2020-06-12T09:00:00Z",
        "2020-06-12t09:00:00.123456z", "0000-00-00",
        "2020-06-12T09:00:00.1234567890123456789012345678901234567890Z"
    };
    static const char *const  published_bad[] = {
        "", "2020-05-2", "2020/05/20", "20200-5-20", "2020-05-20 10:00",
        "2020-05-20T10:00:00\"", "2020-05-20T10:00:00\n", "x020-05-20",
        "2020-05-20T10:00:00.12345678901234567890123456789012345678901234Z"
    };

    for (i = 0; i < sizeof(utf8_good) / sizeof(utf8_good[0]); i++) {
        assert_true(bulletin_utf8_valid((const uint8_t *) utf8_good[i],
                                        strlen(utf8_good[i])));
    }

    for (i = 0; i < sizeof(utf8_bad) / sizeof(utf8_bad[0]); i++) {
        if (bulletin_utf8_valid((const uint8_t *) utf8_bad[i],
                                strlen(utf8_bad[i])))
        {
            print_error("bad UTF-8 %zu accepted\n", i);
            fail();
        }
    }

    /* U+0000 is UTF-8 (JSON escapes it), and a length is a length */
    assert_true(bulletin_utf8_valid((const uint8_t *) "a\0b", 3));
    assert_false(bulletin_utf8_valid((const uint8_t *) "\xe5\x8c\x97", 2));

    for (i = 0; i < sizeof(published_good) / sizeof(published_good[0]); i++)
    {
        assert_true(bulletin_published_valid(
                        (const uint8_t *) published_good[i],
                        strlen(published_good[i])));
    }

    for (i = 0; i < sizeof(published_bad) / sizeof(published_bad[0]); i++) {
        if (bulletin_published_valid((const uint8_t *) published_bad[i],
                                     strlen(published_bad[i])))
        {
            print_error("bad published %zu accepted\n", i);
            fail();
        }
    }

    assert_false(bulletin_published_valid((const uint8_t *) "2020-05-20\0",
                                          11));
}


/* what the writer refuses, so that it never writes what the verifier
 * refuses */
static void
test_writer_text(void **state)
{
    int                  err;
    char                 path[128], *title;
    tpage_t              tp;
    bulletin_writer_t   *w;

    snprintf(path, sizeof(path), "%s/text.blt", dir);

    assert_null(bulletin_writer_create(path, channels, 4, -1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_TIME);
    assert_null(bulletin_writer_create(path, channels, 4,
                                       BULLETIN_TIME_MAX + 1, NULL, &err));
    assert_int_equal(err, BULLETIN_ERR_TIME);

    w = bulletin_writer_create(path, channels, 4, BULLETIN_TIME_MAX, NULL,
                               &err);
    assert_non_null(w);

    title = malloc(BULLETIN_TITLE_MAX + 2);
    assert_non_null(title);
    memset(title, 'x', BULLETIN_TITLE_MAX + 1);
    title[BULLETIN_TITLE_MAX + 1] = '\0';

    tp = small[2];
    tp.title = title;
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_TOO_LARGE);
    assert_non_null(strstr(bulletin_writer_detail(w), "4097 bytes"));

    tp.title = "\xe5\x8c";
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_TEXT);
    assert_non_null(strstr(bulletin_writer_detail(w), "UTF-8"));

    tp.title = "B";
    tp.published = "2020-5-20";
    assert_int_equal(add_page(w, &tp), BULLETIN_ERR_TEXT);
    assert_non_null(strstr(bulletin_writer_detail(w), "published"));

    /* the longest title, and the last second of 9999 */
    title[BULLETIN_TITLE_MAX] = '\0';
    tp.title = title;
    tp.published = "9999-12-31T23:59:59Z";
    assert_int_equal(add_page(w, &tp), BULLETIN_OK);
    assert_int_equal(bulletin_writer_commit(w, NULL), BULLETIN_OK);

    {
        size_t            size;
        uint8_t          *p;
        bulletin_store_t  st;

        p = read_file(path, &size);
        assert_int_equal(bulletin_store_open(&st, p, size), BULLETIN_OK);
        assert_int_equal(find(&st, "b2")->title_len, BULLETIN_TITLE_MAX);
        assert_int_equal(find(&st, "b2")->last_modified, BULLETIN_TIME_MAX);
        free(p);
    }

    free(title);
    unlink(path);
}


/*
 * A title over BULLETIN_TITLE_MAX bytes that lies in the file: refused
 * by the verifier too (a store by another writer).
 */
static void
test_long_title(void **state)
{
    size_t            size;
    uint8_t          *p;
    tpage_t           tp[1];
    bulletin_store_t  st;
    bulletin_store_record_t  *r;

    tp[0] = pages[0];
    p = build_open("title.blt", tp, 1, 1, NULL, &st, &size);

    /* the title grows over the published date, etag and page bytes */
    r = (bulletin_store_record_t *) (p + st.header->records_off);
    r->title_len = BULLETIN_TITLE_MAX + 1;
    fix_checksum(p, size);

    assert_int_equal(bulletin_store_open(&st, p, size),
                     BULLETIN_ERR_TOO_LARGE);
    assert_non_null(strstr(st.detail, "a title of 4097 bytes"));

    free(p);
}


/*
 * The sources section (format 3): written for the pages that have a
 * source, zeros for the others, read back through bulletin_store_source()
 * and refused by the verifier when a field is out of bounds.
 */

static int
add_source_page(bulletin_writer_t *w, const char *id, uint32_t type,
    const bulletin_wsource_t *src)
{
    bulletin_wpage_t     page;
    bulletin_wsegment_t  seg;

    memset(&seg, 0, sizeof(seg));
    seg.plain = (const uint8_t *) "";

    memset(&page, 0, sizeof(page));
    page.id = (const uint8_t *) id;
    page.id_len = strlen(id);
    page.type = type;
    page.title = (const uint8_t *) "t";
    page.title_len = 1;
    page.published = (const uint8_t *) "2020-01-01";
    page.published_len = 10;
    page.segments = &seg;
    page.source = src;

    return bulletin_writer_add(w, &page);
}


static void
test_sources(void **state)
{
    int                       i, err;
    char                      path[128];
    size_t                    size;
    uint8_t                  *p, *q;
    bulletin_store_t          st;
    bulletin_writer_t        *w;
    bulletin_wsource_t        a, b, bad;
    bulletin_store_header_t  *h;
    bulletin_store_source_t   src, *s;

    static const int  want[] = {
        BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_RECORD,
        BULLETIN_ERR_TIME, BULLETIN_ERR_TEXT, BULLETIN_ERR_TEXT,
        BULLETIN_ERR_HEADER, BULLETIN_ERR_BOUNDS, BULLETIN_ERR_BOUNDS
    };

    memset(&a, 0, sizeof(a));
    a.path = (const uint8_t *) "in/a1.json";
    a.path_len = 10;
    a.category = (const uint8_t *) "\xe7\xae\x80\xe6\x8a\xa5";
    a.category_len = 6;
    a.hash = 0x0123456789abcdefULL;
    a.published_at = 1577836800;
    a.line = 1;
    a.col = 8;

    b = a;
    b.path = (const uint8_t *) "b2.json";
    b.path_len = 7;
    b.category = NULL;
    b.category_len = 0;

    snprintf(path, sizeof(path), "%s/sources.blt", dir);

    w = bulletin_writer_create(path, channels, 4, 1, NULL, &err);
    assert_non_null(w);

    /* what the verifier would refuse is refused before it is written */

    bad = a;
    bad.path_len = 0;
    assert_int_equal(add_source_page(w, "x", BULLETIN_TYPE_HTML, &bad),
                     BULLETIN_ERR_TOO_LARGE);
    bad = a;
    bad.category = (const uint8_t *) "\xff";
    bad.category_len = 1;
    assert_int_equal(add_source_page(w, "x", BULLETIN_TYPE_HTML, &bad),
                     BULLETIN_ERR_TEXT);
    bad = a;
    bad.path = (const uint8_t *) "a\0b";
    bad.path_len = 3;
    assert_int_equal(add_source_page(w, "x", BULLETIN_TYPE_HTML, &bad),
                     BULLETIN_ERR_TEXT);
    assert_int_equal(add_source_page(w, "_sitemap", BULLETIN_TYPE_SITEMAP,
                                     &a),
                     BULLETIN_ERR_TOO_LARGE);

    assert_int_equal(add_source_page(w, "a1", BULLETIN_TYPE_HTML, &a),
                     BULLETIN_OK);
    assert_int_equal(add_source_page(w, "b2", BULLETIN_TYPE_HTML, &b),
                     BULLETIN_OK);
    assert_int_equal(add_source_page(w, "_index", BULLETIN_TYPE_HTML, NULL),
                     BULLETIN_OK);
    assert_int_equal(bulletin_writer_commit(w, NULL), BULLETIN_OK);

    p = read_file(path, &size);
    assert_int_equal(bulletin_store_open(&st, p, size), BULLETIN_OK);
    assert_int_equal(st.header->version, 3);
    assert_true(st.header->sources_off != 0);

    /* records by id: "_index", "a1", "b2" */

    assert_int_equal(bulletin_store_source(&st, 0, &src), -1);

    assert_int_equal(bulletin_store_source(&st, 1, &src), 0);
    assert_int_equal(src.path_len, 10);
    assert_memory_equal(st.base + src.path_off, "in/a1.json", 10);
    assert_int_equal(src.category_len, 6);
    assert_memory_equal(st.base + src.category_off, a.category, 6);
    assert_true(src.hash == a.hash);
    assert_true(src.published_at == a.published_at);
    assert_int_equal(src.line, 1);
    assert_int_equal(src.col, 8);

    assert_int_equal(bulletin_store_source(&st, 2, &src), 0);
    assert_memory_equal(st.base + src.path_off, "b2.json", 7);
    assert_int_equal(src.category_len, 0);
    assert_true(src.category_off == 0);

    assert_int_equal(bulletin_store_source(&st, 3, &src), -1);

    q = malloc(size);
    assert_non_null(q);

    for (i = 0; i < (int) (sizeof(want) / sizeof(want[0])); i++) {
        memcpy(q, p, size);
        h = (bulletin_store_header_t *) q;
        s = (bulletin_store_source_t *) (q + h->sources_off);

        switch (i) {
        case 0: s[1].path_off = h->file_size; break;
        case 1: s[1].category_len = 7; s[1].category_off = h->file_size - 3;
                break;
        case 2: s[0].hash = 1; break;
        case 3: s[1].published_at = -1; break;
        case 4: q[s[1].path_off + 2] = '\0'; break;
        case 5: q[s[1].category_off] = 0xff; break;
        case 6: h->version = 2; break;
        case 7: h->sources_off = h->file_size - 8; break;
        case 8: s[2].category_len = 0; s[2].category_off = 8; break;
        }

        fix_checksum(q, size);

        open_expect(&st, q, size, i, want[i]);
    }

    free(q);
    free(p);
}


/*
 * The file rewritten in place after it was verified: every function of
 * the request path reads only what it checked against the verified
 * header, and says BULLETIN_ERR_CHANGED where the record, a segment or a
 * slot no longer holds.  A copy of exactly the file's size: valgrind and
 * ASan (make test-asan) see any byte read past it.
 */
static void
test_rewritten(void **state)
{
    size_t                     size, n, smax, i, inscratch;
    uint8_t                   *p, *q, *scratch;
    uint64_t                   len, want;
    tcount_t                   c;
    bulletin_chunk_t           chunks[2 * SEGS_MAX + 3];
    bulletin_store_t           st;
    bulletin_store_record_t    rec, *r;
    bulletin_store_header_t   *h;
    bulletin_store_segment_t  *s;
    bulletin_store_slot_t     *sl;
    bulletin_store_bucket_t   *b;
    uint32_t                   a1, seg;

    p = build_open("live.blt", small, NSMALL, 1, NULL, &st, &size);

    q = malloc(size);
    assert_non_null(q);

#define REOPEN()                                                              \
    memcpy(q, p, size);                                                       \
    assert_int_equal(bulletin_store_open(&st, q, size), BULLETIN_OK);         \
    h = (bulletin_store_header_t *) q;                                        \
    r = (bulletin_store_record_t *) (q + h->records_off);                     \
    s = (bulletin_store_segment_t *) (q + h->segments_off);                   \
    sl = (bulletin_store_slot_t *) (q + h->slots_off);                        \
    b = (bulletin_store_bucket_t *) (q + h->index_off);                       \
    a1 = (uint32_t) bulletin_store_find(&st, (const uint8_t *) "a1", 2);      \
    seg = r[a1].segment_first

    /* records: each field the request path reads, out of range */

    REOPEN();
    assert_int_equal(bulletin_store_record(&st, a1, &rec), BULLETIN_OK);
    assert_memory_equal(&rec, &r[a1], sizeof(rec));
    assert_int_equal(bulletin_store_record(&st, NSMALL, &rec),
                     BULLETIN_ERR_BOUNDS);

    r[a1].last_modified = -1;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);
    r[a1].last_modified = BULLETIN_TIME_MAX + 1;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);

    REOPEN();
    r[a1].title_len = (uint32_t) size;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);

    REOPEN();
    r[a1].etag_off = size - 8;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);

    REOPEN();
    r[a1].id_off = UINT64_MAX - 1;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "a1", 2), -1);

    REOPEN();
    r[a1].segment_first = (uint32_t) h->nsegments - r[a1].nslots;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);

    REOPEN();
    r[a1].nslots = UINT32_MAX;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);

    /* the header in the file is not what requests check against */

    REOPEN();
    h->page_count = UINT32_MAX;
    h->nsegments = UINT64_MAX;
    h->data_size = UINT64_MAX;
    h->index_size = 1u << 31;
    assert_int_equal(bulletin_store_record(&st, NSMALL, &rec),
                     BULLETIN_ERR_BOUNDS);
    r[a1].segment_first = 1000;
    assert_int_equal(bulletin_store_record(&st, a1, &rec),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(st.header->page_count, NSMALL);

    /* the index: a bucket past the records, every bucket used */

    REOPEN();

    for (i = 0; i <= st.mask; i++) {
        b[i].record = (i & 1) ? NSMALL + 1 : UINT32_MAX;
        b[i].hash = bulletin_id_hash((const uint8_t *) "a1", 2);
    }

    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "a1", 2), -1);
    assert_int_equal(bulletin_store_find(&st, (const uint8_t *) "zz", 2), -1);

    /* a segment's length or offset pointing past the end of the file */

    memset(&c, 0, sizeof(tcount_t));

    REOPEN();
    assert_int_equal(bulletin_store_record(&st, a1, &rec), BULLETIN_OK);
    smax = bulletin_body_scratch_max(&st, &rec);
    scratch = malloc(smax);
    assert_non_null(scratch);

    s[seg + 2].plain_len = (uint32_t) size;
    assert_int_equal(bulletin_body(&st, &rec, 0, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(n, 0);
    assert_int_equal(len, 0);

    REOPEN();
    s[seg + 2].gzip_off = size - 2;
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 1, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);

    /* the plain body reads no gzip offset */
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 0, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_OK);

    /* a segment's plain and gzip lengths at odds, or not the record's */

    REOPEN();
    s[seg + 1].gzip_len = 0;
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 1, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);

    REOPEN();
    s[seg + 1].plain_len -= 1;
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 0, NULL, NULL, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);

    /* a slot of a page or kind the verified store does not have */

    REOPEN();
    sl[rec.slot_first].page = NSMALL;
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 1, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(c.ncalls, 0);

    /* without counts, slots are not read */
    assert_int_equal(bulletin_body(&st, &rec, 1, NULL, NULL, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_OK);

    REOPEN();
    sl[rec.slot_first + 1].kind = BULLETIN_SLOT_CHANNEL + 4;
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 0, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(c.ncalls, 1);

    /*
     * Bytes moved from the last segment to the first, the sums kept: a
     * body of the file's bytes as they are now, and a first segment now
     * too long for the scratch sized before is sent from the mapping.
     */

    REOPEN();
    s[seg].plain_len += s[seg + 2].plain_len;
    s[seg + 2].plain_len = 0;
    s[seg].gzip_len += s[seg + 2].gzip_len;
    s[seg + 2].gzip_len = 0;
    c.ncalls = 0;
    c.value = UINT64_MAX;
    assert_int_equal(bulletin_body(&st, &rec, 0, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_OK);
    want = rec.plain_len + 2 * BULLETIN_DIGITS_MAX;
    assert_int_equal(len, want);

    inscratch = 0;

    for (i = 0; i < n; i++) {
        if (chunks[i].data >= scratch && chunks[i].data < scratch + smax) {
            assert_true(chunks[i].data + chunks[i].len <= scratch + smax);
            inscratch += chunks[i].len;

        } else {
            assert_true(chunks[i].data >= q
                        && chunks[i].data + chunks[i].len <= q + size);
        }
    }

    assert_true(inscratch <= smax);

    /* scratch too short for the digits: refused, nothing written */
    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 1, count_cb, &c, scratch,
                                   2 * (BULLETIN_GZIP_STORED_LEN
                                        + BULLETIN_DIGITS_MAX),
                                   chunks, &n, &len),
                     BULLETIN_ERR_CHANGED);
    assert_int_equal(c.ncalls, 0);

    free(scratch);
    free(q);
    free(p);

    /*
     * A segment too long to be copied (gamma's last, 150 KB) gives 200
     * bytes to the first: copied, it would overflow the scratch sized
     * before the change.
     */

    p = build_open("live2.blt", pages, 1, 1, NULL, &st, &size);
    q = malloc(size);
    assert_non_null(q);

    REOPEN();
    a1 = (uint32_t) bulletin_store_find(&st, (const uint8_t *) "gamma", 5);
    seg = r[a1].segment_first;
    assert_int_equal(bulletin_store_record(&st, a1, &rec), BULLETIN_OK);
    smax = bulletin_body_scratch_max(&st, &rec);
    scratch = malloc(smax);
    assert_non_null(scratch);

    assert_true(s[seg].plain_len + 200 <= BULLETIN_BODY_COPY_MAX);
    assert_true(s[seg + 6].plain_len > BULLETIN_BODY_COPY_MAX + 200);
    s[seg].plain_len += 200;
    s[seg + 6].plain_len -= 200;

    c.ncalls = 0;
    assert_int_equal(bulletin_body(&st, &rec, 0, count_cb, &c, scratch, smax,
                                   chunks, &n, &len),
                     BULLETIN_OK);

    inscratch = 0;

    for (i = 0; i < n; i++) {
        if (chunks[i].data >= scratch && chunks[i].data < scratch + smax) {
            assert_true(chunks[i].data + chunks[i].len <= scratch + smax);
            inscratch += chunks[i].len;
        }
    }

    assert_true(inscratch <= smax);

#undef REOPEN

    free(scratch);
    free(q);
    free(p);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_id_check),
        cmocka_unit_test(test_channel_valid),
        cmocka_unit_test(test_format_u64),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_writer_checks),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_empty_store),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_slot_positions),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_changed_bytes),
        cmocka_unit_test(test_changed_bytes_rechecksummed),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_last_modified),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_failed_commit),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_text_valid),
        cmocka_unit_test(test_writer_text),
        cmocka_unit_test(test_long_title),
        cmocka_unit_test(test_rewritten),
        cmocka_unit_test(test_sources),
    };

    return cmocka_run_group_tests_name("bulletin_store", tests, setup,
                                       teardown);
}
