
/*
 * Copyright (C) bulletin authors
 *
 * Writing a store (bulletin-build only; the module never links this).
 */


#ifndef _BULLETIN_WRITER_H_INCLUDED_
#define _BULLETIN_WRITER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_store.h"


/*
 * Writing a store: pages stream to a temporary file beside the output;
 * memory grows with the number of pages, not with their bytes.  Commit
 * writes the tables and header, syncs, renames into place and syncs the
 * folder; abort (or any failure) removes the temporary file, and an
 * existing output is never touched before the rename.
 */

typedef struct bulletin_writer_s  bulletin_writer_t;

typedef struct {
    const uint8_t           *plain;
    size_t                   plain_len;
    const uint8_t           *gzip;          /* raw deflate, full flush */
    size_t                   gzip_len;      /* 0 when plain_len is 0 */
    uint32_t                 crc;           /* CRC-32 of plain */
    uint32_t                 crc_op;        /* a reused page's: its
                                               operator (bulletin_crc.h) */
} bulletin_wsegment_t;

typedef struct {
    const uint8_t           *ref;           /* id of the page counted, */
    size_t                   ref_len;       /* NULL: this page */
    uint32_t                 kind;          /* BULLETIN_SLOT_* */
} bulletin_wslot_t;

/* the bulletin file a page is made from (bulletin_store.h, sources) */
typedef struct {
    const uint8_t           *path;
    size_t                   path_len;      /* 1 to 4096, no NUL */
    const uint8_t           *category;      /* UTF-8, at most 4096 */
    size_t                   category_len;
    uint64_t                 hash;          /* of the file's bytes */
    int64_t                  published_at;
    uint32_t                 line;          /* of its id */
    uint32_t                 col;
} bulletin_wsource_t;

typedef struct {
    const uint8_t           *id;
    size_t                   id_len;
    uint32_t                 type;          /* BULLETIN_TYPE_*: a type
                                               other than HTML for an id
                                               with "_" and no slot */
    const uint8_t           *title;
    size_t                   title_len;
    const uint8_t           *published;
    size_t                   published_len;
    uint32_t                 nslots;
    const bulletin_wslot_t  *slots;         /* nslots */
    const bulletin_wsegment_t *segments;    /* nslots + 1 */
    uint64_t                 inputs;        /* the input fingerprint, or
                                               0 (bulletin_store.h) */
    uint64_t                 hash;          /* with reused: the content
                                               hash prev has for it */
    unsigned                 reused:1;      /* segments and hash from
                                               prev, as it was verified */
    const bulletin_wsource_t *source;       /* NULL: made from no file */
} bulletin_wpage_t;

typedef struct {
    uint32_t                 pages;
    uint64_t                 bytes;         /* the file's size */
    char                     generation[17];
    uint32_t                 kept;          /* Last-Modified kept */
} bulletin_wsummary_t;

/*
 * prev, if not NULL, is the previous store (verified, and mapped until
 * the last add): a page whose content hash is unchanged keeps its
 * Last-Modified from it; others get built_at.  create fails with
 * BULLETIN_ERR_CHANNEL (a bad, duplicate or ninth channel), _TIME
 * (built_at out of range), _NOMEM, or _SYSTEM (errno says why: mkstemp
 * in the output's folder, fchmod).
 *
 * add checks the page (id, duplicate, limits, title and published as
 * the verifier wants them, segment CRCs and flushes, slot kinds) before
 * it writes anything: after such an error the page is not added
 * and the writer goes on; after BULLETIN_ERR_SYSTEM (a failed write)
 * every later add and the commit fail.  A reused page's segment CRCs,
 * their operators and its content hash are prev's, verified when prev
 * was opened: they are not computed again, and the file's CRC combines
 * them.  A slot's ref may name a page added later: commit resolves
 * refs (BULLETIN_ERR_REFERENCE otherwise).  The source's path and
 * category, when it has one, follow the page's bytes in the data
 * section, and its entry goes to the sources section.
 *
 * commit frees the writer on success.  On failure the temporary file is
 * gone and the writer is kept for bulletin_writer_detail(): free it with
 * bulletin_writer_abort().  abort also cancels a writer not committed.
 */
bulletin_writer_t *bulletin_writer_create(const char *path,
    const char *const *channels, size_t nchannels, int64_t built_at,
    const bulletin_store_t *prev, int *err);
int bulletin_writer_add(bulletin_writer_t *w, const bulletin_wpage_t *page);
int bulletin_writer_commit(bulletin_writer_t *w, bulletin_wsummary_t *sum);
void bulletin_writer_abort(bulletin_writer_t *w);
/* after a failure: what failed, e.g. the id or the system call */
const char *bulletin_writer_detail(const bulletin_writer_t *w);


#endif /* _BULLETIN_WRITER_H_INCLUDED_ */
