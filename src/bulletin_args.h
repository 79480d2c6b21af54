
/*
 * Copyright (C) bulletin authors
 *
 * The query arguments of the share and status locations, parsed in plain
 * C so that the unit tests and the fuzzers drive them directly.
 */


#ifndef _BULLETIN_ARGS_H_INCLUDED_
#define _BULLETIN_ARGS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bulletin_store.h"


#define BULLETIN_FORMAT_JSON        0
#define BULLETIN_FORMAT_PROMETHEUS  1

#define BULLETIN_TOP_ALL            UINT32_MAX
#define BULLETIN_TOP_MAX            999999999
#define BULLETIN_TOP_MAX_TEXT       "999999999"     /* for messages */

#define BULLETIN_CHANNEL_MISSING    -1
#define BULLETIN_CHANNEL_UNKNOWN    -2


typedef struct {
    int                      format;
    uint32_t                 top;       /* BULLETIN_TOP_ALL: every page */
    const uint8_t           *id;        /* NULL: no id */
    size_t                   id_len;
} bulletin_status_args_t;


/*
 * Parses "format=json|prometheus", "top=N|all" and "id=ID"; st->top must
 * hold the default.  Returns NULL, or a one-line reason that quotes
 * nothing of the request.
 */
const char *bulletin_status_args(const uint8_t *args, size_t len,
    bulletin_status_args_t *st);

/* the index in the store's channels of "channel=NAME", or
 * BULLETIN_CHANNEL_MISSING or BULLETIN_CHANNEL_UNKNOWN */
int bulletin_share_channel(const uint8_t *args, size_t len,
    const bulletin_store_header_t *header);


#endif /* _BULLETIN_ARGS_H_INCLUDED_ */
