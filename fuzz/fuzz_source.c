
/*
 * Copyright (C) bulletin authors
 *
 * The builder's JSON reading: the input is a bulletin source file, read
 * by bulletin_source_parse() as bulletin-build reads every file it is
 * given.  A file it accepts must be a bulletin as DESIGN.md defines one;
 * a file it refuses must give messages "FILE:LINE:COL: ..." (or
 * "FILE: ...") of one line each, pointing inside the file.  The input's
 * bytes are also a published date for bulletin_published_parse().
 */


#define _GNU_SOURCE

#include <string.h>
#include <time.h>

#include "bulletin_source.h"
#include "bulletin_store.h"
#include "fuzz.h"


#define FUZZ_NAME  "fuzz.json"


static void fuzz_record(const bulletin_record_t *rec);
static void fuzz_message(const char *msg, const uint8_t *buf, size_t len);
static void fuzz_published(const uint8_t *s, size_t len);
static void fuzz_string(const bulletin_str_t *s, int required);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc;
    size_t              i;
    uint8_t            *buf;
    bulletin_errors_t   errs;
    bulletin_record_t   rec;

    /* exactly size bytes, as read from the file: ASan sees past it */
    buf = malloc(size ? size : 1);
    fuzz_check(buf != NULL);
    memcpy(buf, data, size);

    memset(&errs, 0, sizeof(errs));

    rc = bulletin_source_parse(&rec, FUZZ_NAME, buf, size, &errs);

    if (rc == 0) {
        fuzz_check(errs.n == 0);
        fuzz_record(&rec);
        bulletin_record_free(&rec);

    } else {
        fuzz_check(rc == -1);
        fuzz_check(errs.n > 0 || errs.nomem);
        fuzz_check(rec.json == NULL && rec.blocks == NULL);

        for (i = 0; i < errs.n; i++) {
            fuzz_message(errs.msgs[i], buf, size);
        }
    }

    bulletin_errors_clear(&errs);

    fuzz_published(buf, size);

    free(buf);

    return 0;
}


static void
fuzz_record(const bulletin_record_t *rec)
{
    size_t   i;
    int64_t  t;

    fuzz_string(&rec->id, 1);
    fuzz_check(bulletin_id_valid(rec->id.data, rec->id.len, 0));
    fuzz_check(rec->id_line >= 1 && rec->id_col >= 1);

    fuzz_string(&rec->title, 1);

    fuzz_string(&rec->published, 1);
    fuzz_check(bulletin_published_parse(rec->published.data,
                                        rec->published.len, &t) == 0);
    fuzz_check(t == rec->published_at);

    fuzz_string(&rec->category, 0);
    fuzz_string(&rec->source, 0);
    fuzz_string(&rec->summary, 0);

    fuzz_check(rec->nblocks >= 1 && rec->blocks != NULL);

    for (i = 0; i < rec->nblocks; i++) {
        fuzz_check(rec->blocks[i].type <= BULLETIN_BLOCK_PARAGRAPH);
        fuzz_string(&rec->blocks[i].text, 1);
    }

    fuzz_check(rec->json != NULL);
}


/* a string jansson decoded: no NUL in it, every byte readable */

static void
fuzz_string(const bulletin_str_t *s, int required)
{
    if (s->data == NULL) {
        fuzz_check(!required && s->len == 0);
        return;
    }

    fuzz_check(!required || s->len > 0);
    fuzz_check(memchr(s->data, '\0', s->len) == NULL);
    fuzz_check(s->data[s->len] == '\0');
}


/* "fuzz.json: ..." or "fuzz.json:LINE:COL: ...", one line, inside */

static void
fuzz_message(const char *msg, const uint8_t *buf, size_t len)
{
    size_t         i;
    char          *end;
    unsigned long  line, col, lines, width, w;

    fuzz_check(strncmp(msg, FUZZ_NAME ":", sizeof(FUZZ_NAME)) == 0);
    fuzz_check(strchr(msg, '\n') == NULL);

    msg += sizeof(FUZZ_NAME);

    if (msg[0] == ' ') {
        fuzz_check(msg[1] != '\0');
        return;
    }

    line = strtoul(msg, &end, 10);
    fuzz_check(end != msg && *end == ':');
    msg = end + 1;

    col = strtoul(msg, &end, 10);
    fuzz_check(end != msg && end[0] == ':' && end[1] == ' ' && end[2]);

    /* lines and the widest line, in characters (not continuation bytes) */

    lines = 1;
    width = 0;
    w = 0;

    for (i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            lines++;
            w = 0;

        } else if ((buf[i] & 0xc0) != 0x80) {
            w++;
        }

        width = w > width ? w : width;
    }

    fuzz_check(line >= 1 && line <= lines);
    fuzz_check(col >= 1 && col <= width + 2);
}


/* a date or RFC 3339 date-time: the same instant as timegm() says */

static void
fuzz_published(const uint8_t *s, size_t len)
{
    int        off;
    int64_t    t;
    struct tm  tm;
    unsigned   i, v[6];

    if (bulletin_published_parse(s, len, &t) != 0) {
        return;
    }

    fuzz_check(len == 10 || len >= 20);

    for (i = 0; i < 10; i++) {
        fuzz_check(i == 4 || i == 7 ? s[i] == '-'
                                    : s[i] >= '0' && s[i] <= '9');
    }

    memset(&tm, 0, sizeof(tm));
    memset(v, 0, sizeof(v));

    v[0] = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10
           + (s[3] - '0');
    v[1] = (s[5] - '0') * 10 + (s[6] - '0');
    v[2] = (s[8] - '0') * 10 + (s[9] - '0');

    off = 0;

    if (len > 10) {
        v[3] = (s[11] - '0') * 10 + (s[12] - '0');
        v[4] = (s[14] - '0') * 10 + (s[15] - '0');
        v[5] = (s[17] - '0') * 10 + (s[18] - '0');

        if (s[len - 1] != 'Z' && s[len - 1] != 'z') {
            off = ((s[len - 5] - '0') * 10 + (s[len - 4] - '0')) * 3600
                  + ((s[len - 2] - '0') * 10 + (s[len - 1] - '0')) * 60;

            if (s[len - 6] == '-') {
                off = -off;
            }
        }
    }

    tm.tm_year = (int) v[0] - 1900;
    tm.tm_mon = (int) v[1] - 1;
    tm.tm_mday = (int) v[2];
    tm.tm_hour = (int) v[3];
    tm.tm_min = (int) v[4];
    tm.tm_sec = (int) v[5];

    fuzz_check(v[1] >= 1 && v[1] <= 12 && v[2] >= 1);
    fuzz_check(t == (int64_t) timegm(&tm) - off);

    /* a real date: timegm() kept the day (no 31st of a 30-day month) */
    fuzz_check(tm.tm_mday == (int) v[2] || v[5] == 60);
}
