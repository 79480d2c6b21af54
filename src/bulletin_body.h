
/*
 * Copyright (C) bulletin authors
 *
 * A page's response body, at request time, from a verified store
 * (bulletin_store.h): the page's segments around its counts, plain, or
 * as a gzip stream spliced from stored deflate segments.
 */


#ifndef _BULLETIN_BODY_H_INCLUDED_
#define _BULLETIN_BODY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_store.h"


/* a piece of a response body, never of zero length */

typedef struct {
    const uint8_t                   *data;
    size_t                           len;
} bulletin_chunk_t;


/*
 * A count for a slot.  With a NULL callback every slot shows nothing
 * (the page's plain and gzip bodies are then still the same page).
 */
typedef uint64_t (*bulletin_count_pt)(void *ctx, uint32_t page,
    uint32_t kind);


/*
 * The response body of a page, from a record bulletin_store_record()
 * copied: fills chunks (at most bulletin_body_chunks_max()) with pieces
 * of the mapping and of scratch (scratch_len bytes, which
 * bulletin_body_scratch_max() gives), sets *len to the body's length.
 * With gzip, the body is a gzip stream: header, segments, the digits as
 * stored blocks, a final block and the trailer, its CRC-32 combined from
 * the segments' CRCs; nothing is compressed or checksummed but digits.
 * BULLETIN_ERR_CHANGED when a segment or slot read now is not what was
 * verified (scratch too short for the digits also fails).
 *
 * With counts, a segment of at most BULLETIN_BODY_COPY_MAX bytes (the
 * markup between two counts) is copied beside its digits while scratch
 * has room for it (BULLETIN_BODY_COPY_BUDGET bytes, besides the digits
 * and the tail), so that a page goes out in a few pieces rather than two
 * a count: each piece costs nginx about 180 instructions on its way to
 * writev(), copying a kilobyte about 100.
 */

#define BULLETIN_BODY_COPY_MAX     1024
#define BULLETIN_BODY_COPY_BUDGET  2048    /* of scratch, for copies */

size_t bulletin_body_chunks_max(const bulletin_store_record_t *rec);
size_t bulletin_body_scratch_max(const bulletin_store_t *st,
    const bulletin_store_record_t *rec);
int bulletin_body(const bulletin_store_t *st,
    const bulletin_store_record_t *rec, int gzip, bulletin_count_pt count,
    void *ctx, uint8_t *scratch, size_t scratch_len, bulletin_chunk_t *chunks,
    size_t *nchunks, uint64_t *len);

/* decimal digits of n into buf (BULLETIN_DIGITS_MAX), returns the count */
size_t bulletin_format_u64(uint8_t *buf, uint64_t n);


#endif /* _BULLETIN_BODY_H_INCLUDED_ */
