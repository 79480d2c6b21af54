
/*
 * Copyright (C) bulletin authors
 *
 * store-dump: what a store holds, for the nginx-level tests (t/100-page.t)
 * to compare responses with, byte for byte.
 *
 *   store-dump STORE                 one line a page: id, etag,
 *                                    last_modified, plain length,
 *                                    gzip body length (tab-separated);
 *                                    first a line "generation HEX"
 *   store-dump STORE ID segments     the page's plain segments in a row,
 *                                    read from its record (slots empty)
 *   store-dump STORE ID plain        bulletin_body(), plain, no counts
 *   store-dump STORE ID gzip         bulletin_body(), gzip, no counts
 *
 * Built by the test with cc against build/libbulletin.a and zlib; it
 * reads the file, verifies it with bulletin_store_open() and exits 1
 * with the reason when it is refused, 2 when the id is unknown.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulletin_body.h"
#include "bulletin_store.h"


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

    /* malloc is aligned enough for the verifier's 8-byte check */
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


static int
body(const bulletin_store_t *st, const bulletin_store_record_t *rec,
    int gzip, int print)
{
    int                rc;
    size_t             i, n, sum, smax;
    uint8_t           *scratch;
    uint64_t           len;
    bulletin_chunk_t  *chunks;

    smax = bulletin_body_scratch_max(st, rec);
    chunks = malloc(bulletin_body_chunks_max(rec) * sizeof(bulletin_chunk_t));
    scratch = malloc(smax + 1);

    if (chunks == NULL || scratch == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }

    rc = bulletin_body(st, rec, gzip, NULL, NULL, scratch, smax, chunks, &n,
                       &len);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "bulletin_body(): %s\n", bulletin_strerror(rc));
        return -1;
    }

    sum = 0;

    for (i = 0; i < n; i++) {
        if (chunks[i].len == 0) {
            fprintf(stderr, "chunk %zu has zero length\n", i);
            return -1;
        }

        sum += chunks[i].len;

        if (print) {
            fwrite(chunks[i].data, 1, chunks[i].len, stdout);
        }
    }

    free(chunks);
    free(scratch);

    if (sum != len) {
        fprintf(stderr, "chunks hold %zu bytes, bulletin_body() said %llu\n",
                sum, (unsigned long long) len);
        return -1;
    }

    return (int) (len > 0x7fffffff ? 0x7fffffff : len);
}


int
main(int argc, char **argv)
{
    int                             rc, len;
    size_t                          size;
    int64_t                         page;
    uint32_t                        i, s;
    const uint8_t                  *base;
    bulletin_store_t                st;
    const bulletin_store_record_t  *rec;
    const bulletin_store_segment_t *seg;

    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: store-dump STORE [ID segments|plain|gzip]\n");
        return 64;
    }

    base = slurp(argv[1], &size);
    if (base == NULL) {
        return 1;
    }

    rc = bulletin_store_open(&st, base, size);

    if (rc != BULLETIN_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[1], bulletin_strerror(rc),
                st.detail);
        return 1;
    }

    if (argc == 2) {
        printf("generation %.16s\n", st.header->generation);

        for (i = 0; i < st.header->page_count; i++) {
            rec = &st.records[i];
            len = body(&st, rec, 1, 0);

            if (len < 0) {
                return 1;
            }

            printf("%.*s\t%.*s\t%lld\t%llu\t%d\n",
                   (int) rec->id_len, base + rec->id_off,
                   (int) rec->etag_len, base + rec->etag_off,
                   (long long) rec->last_modified,
                   (unsigned long long) rec->plain_len, len);
        }

        return 0;
    }

    page = bulletin_store_find(&st, (const uint8_t *) argv[2],
                               strlen(argv[2]));
    if (page < 0) {
        fprintf(stderr, "%s: no page \"%s\"\n", argv[1], argv[2]);
        return 2;
    }

    rec = &st.records[page];

    if (strcmp(argv[3], "segments") == 0) {
        seg = &st.segments[rec->segment_first];

        for (s = 0; s <= rec->nslots; s++) {
            fwrite(base + seg[s].plain_off, 1, seg[s].plain_len, stdout);
        }

        return 0;
    }

    if (strcmp(argv[3], "plain") == 0 || strcmp(argv[3], "gzip") == 0) {
        return body(&st, rec, argv[3][0] == 'g', 1) < 0 ? 1 : 0;
    }

    fprintf(stderr, "unknown mode \"%s\"\n", argv[3]);

    return 64;
}
