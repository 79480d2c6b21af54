
/*
 * Copyright (C) bulletin authors
 */


#include <string.h>

#include "bulletin_args.h"


typedef struct {
    const uint8_t           *key;
    size_t                   key_len;
    const uint8_t           *value;     /* NULL: no "=" */
    size_t                   value_len;
} bulletin_arg_t;


static const uint8_t *bulletin_arg_next(const uint8_t *p,
    const uint8_t *last, bulletin_arg_t *arg);
static int bulletin_arg_is(const uint8_t *s, size_t len, const char *name);


const char *
bulletin_status_args(const uint8_t *args, size_t len,
    bulletin_status_args_t *st)
{
    size_t          i;
    uint32_t        n;
    const uint8_t  *p, *last;
    bulletin_arg_t  arg;

    p = args;
    last = args + len;

    while (p < last) {
        p = bulletin_arg_next(p, last, &arg);

        if (arg.key_len == 0 && arg.value == NULL) {
            continue;
        }

        if (bulletin_arg_is(arg.key, arg.key_len, "format")) {

            if (bulletin_arg_is(arg.value, arg.value_len, "json")) {
                st->format = BULLETIN_FORMAT_JSON;

            } else if (bulletin_arg_is(arg.value, arg.value_len,
                                       "prometheus"))
            {
                st->format = BULLETIN_FORMAT_PROMETHEUS;

            } else {
                return "format must be \"json\" or \"prometheus\"";
            }

            continue;
        }

        if (bulletin_arg_is(arg.key, arg.key_len, "top")) {

            if (bulletin_arg_is(arg.value, arg.value_len, "all")) {
                st->top = BULLETIN_TOP_ALL;
                continue;
            }

            if (arg.value == NULL || arg.value_len == 0
                || arg.value_len > sizeof(BULLETIN_TOP_MAX_TEXT) - 1)
            {
                return "top must be a number from 0 to " BULLETIN_TOP_MAX_TEXT
                       ", or \"all\"";
            }

            n = 0;

            for (i = 0; i < arg.value_len; i++) {
                if (arg.value[i] < '0' || arg.value[i] > '9') {
                    return "top must be a number from 0 to "
                           BULLETIN_TOP_MAX_TEXT ", "
                           "or \"all\"";
                }

                n = n * 10 + (arg.value[i] - '0');
            }

            st->top = n;
            continue;
        }

        if (bulletin_arg_is(arg.key, arg.key_len, "id")) {

            if (arg.value == NULL || arg.value_len == 0) {
                return "id must not be empty";
            }

            st->id = arg.value;
            st->id_len = arg.value_len;
            continue;
        }

        return "unknown argument: the arguments are format, top and id";
    }

    return NULL;
}


int
bulletin_share_channel(const uint8_t *args, size_t len,
    const bulletin_store_header_t *header)
{
    uint32_t        j;
    const uint8_t  *p, *last, *value;
    bulletin_arg_t  arg;

    p = args;
    last = args + len;
    value = NULL;

    while (p < last) {
        p = bulletin_arg_next(p, last, &arg);

        if (bulletin_arg_is(arg.key, arg.key_len, "channel")
            && arg.value != NULL)
        {
            value = arg.value;
            len = arg.value_len;
            break;
        }
    }

    if (value == NULL || len == 0) {
        return BULLETIN_CHANNEL_MISSING;
    }

    /* the name's own length: a value's NUL bytes never meet the padding */

    for (j = 0; j < header->nchannels; j++) {
        if (len <= BULLETIN_CHANNEL_MAX
            && strnlen(header->channels[j], sizeof(header->channels[j]))
               == len
            && memcmp(header->channels[j], value, len) == 0)
        {
            return (int) j;
        }
    }

    return BULLETIN_CHANNEL_UNKNOWN;
}


/* one "key=value" of "a=1&b=2", and where the next begins */

static const uint8_t *
bulletin_arg_next(const uint8_t *p, const uint8_t *last, bulletin_arg_t *arg)
{
    const uint8_t  *amp, *eq;

    amp = memchr(p, '&', last - p);
    if (amp == NULL) {
        amp = last;
    }

    eq = memchr(p, '=', amp - p);

    arg->key = p;

    if (eq == NULL) {
        arg->key_len = amp - p;
        arg->value = NULL;
        arg->value_len = 0;

    } else {
        arg->key_len = eq - p;
        arg->value = eq + 1;
        arg->value_len = amp - eq - 1;
    }

    return amp == last ? last : amp + 1;
}


static int
bulletin_arg_is(const uint8_t *s, size_t len, const char *name)
{
    return s != NULL && len == strlen(name) && memcmp(s, name, len) == 0;
}
