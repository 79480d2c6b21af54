
/*
 * Copyright (C) bulletin authors
 *
 * The status and share locations' query arguments: the input is the
 * request's raw query string (r->args, not NUL-terminated), parsed by
 * bulletin_status_args() and bulletin_share_channel() and compared with
 * a plain reading of the same "key=value&..." rules.
 */


#include <string.h>

#include "bulletin_args.h"
#include "fuzz.h"


static void fuzz_status(const uint8_t *args, size_t len);
static void fuzz_share(const uint8_t *args, size_t len,
    const bulletin_store_header_t *h);
static size_t fuzz_piece(const uint8_t *p, size_t len, size_t *key_len,
    const uint8_t **value, size_t *value_len);
static int fuzz_is(const uint8_t *s, size_t len, const char *name);


/* the store's channel lists the share location meets */

static const char  *fuzz_channels[][BULLETIN_CHANNELS_MAX] = {
    { "wechat", "weibo", "qq", "link" },
    { "a", "abcdefghijklmno", "wechat-moments", "x_1", "qq", "q", "link",
      "linkedin" },
    { NULL }
};

#define FUZZ_NLISTS  (sizeof(fuzz_channels) / sizeof(fuzz_channels[0]))


static const char  *fuzz_reasons[] = {
    "format must be \"json\" or \"prometheus\"",
    "top must be a number from 0 to 999999999, or \"all\"",
    "id must not be empty",
    "unknown argument: the arguments are format, top and id",
};

#define FUZZ_NREASONS  (sizeof(fuzz_reasons) / sizeof(fuzz_reasons[0]))


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                    i, j;
    uint8_t                  *args;
    bulletin_store_header_t   h;

    /* exactly size bytes, as r->args: ASan sees a read past the end */
    args = malloc(size ? size : 1);
    fuzz_check(args != NULL);
    memcpy(args, data, size);

    fuzz_status(args, size);

    for (i = 0; i < FUZZ_NLISTS; i++) {
        memset(&h, 0, sizeof(h));

        for (j = 0; j < BULLETIN_CHANNELS_MAX && fuzz_channels[i][j]; j++) {
            strcpy(h.channels[j], fuzz_channels[i][j]);
        }

        h.nchannels = (uint32_t) j;

        fuzz_share(args, size, &h);
    }

    free(args);

    return 0;
}


static void
fuzz_status(const uint8_t *args, size_t len)
{
    size_t                   i, n, key_len, value_len;
    uint32_t                 top;
    const char              *reason, *want;
    const uint8_t           *p, *value;
    bulletin_status_args_t   st, ref;

    st.format = BULLETIN_FORMAT_JSON;
    st.top = 100;
    st.id = NULL;
    st.id_len = 0;

    reason = bulletin_status_args(args, len, &st);

    /* the reference: the same pieces, read one by one */

    ref.format = BULLETIN_FORMAT_JSON;
    ref.top = 100;
    ref.id = NULL;
    ref.id_len = 0;
    want = NULL;

    for (p = args; p < args + len && want == NULL; p += n) {
        n = fuzz_piece(p, args + len - p, &key_len, &value, &value_len);

        if (key_len == 0 && value == NULL) {
            continue;
        }

        if (fuzz_is(p, key_len, "format")) {
            if (fuzz_is(value, value_len, "json")) {
                ref.format = BULLETIN_FORMAT_JSON;

            } else if (fuzz_is(value, value_len, "prometheus")) {
                ref.format = BULLETIN_FORMAT_PROMETHEUS;

            } else {
                want = fuzz_reasons[0];
            }

        } else if (fuzz_is(p, key_len, "top")) {
            if (fuzz_is(value, value_len, "all")) {
                ref.top = BULLETIN_TOP_ALL;
                continue;
            }

            top = 0;

            for (i = 0; value != NULL && i < value_len; i++) {
                if (value[i] < '0' || value[i] > '9') {
                    break;
                }

                top = top * 10 + (value[i] - '0');
            }

            if (value == NULL || value_len == 0 || value_len > 9
                || i != value_len)
            {
                want = fuzz_reasons[1];

            } else {
                ref.top = top;
            }

        } else if (fuzz_is(p, key_len, "id")) {
            if (value == NULL || value_len == 0) {
                want = fuzz_reasons[2];

            } else {
                ref.id = value;
                ref.id_len = value_len;
            }

        } else {
            want = fuzz_reasons[3];
        }
    }

    if (want != NULL) {
        fuzz_check(reason != NULL && strcmp(reason, want) == 0);

        /* one line, and nothing of the request in it */
        fuzz_check(strchr(reason, '\n') == NULL);
        fuzz_check((uintptr_t) reason + strlen(reason) <= (uintptr_t) args
                   || (uintptr_t) reason >= (uintptr_t) args + len);
        return;
    }

    fuzz_check(reason == NULL);
    fuzz_check(st.format == ref.format);
    fuzz_check(st.top == ref.top);
    fuzz_check(st.top == BULLETIN_TOP_ALL || st.top <= BULLETIN_TOP_MAX);
    fuzz_check(st.id == ref.id && st.id_len == ref.id_len);

    if (st.id != NULL) {
        fuzz_check(st.id > args && st.id_len <= len - (size_t) (st.id - args));
        fuzz_check(memchr(st.id, '&', st.id_len) == NULL);
    }
}


static void
fuzz_share(const uint8_t *args, size_t len, const bulletin_store_header_t *h)
{
    int             got, want;
    size_t          n, key_len, value_len;
    uint32_t        j;
    const uint8_t  *p, *value;

    got = bulletin_share_channel(args, len, h);

    /* the first "channel=", whatever follows */

    want = BULLETIN_CHANNEL_MISSING;

    for (p = args; p < args + len; p += n) {
        n = fuzz_piece(p, args + len - p, &key_len, &value, &value_len);

        if (!fuzz_is(p, key_len, "channel") || value == NULL) {
            continue;
        }

        if (value_len == 0) {
            break;
        }

        want = BULLETIN_CHANNEL_UNKNOWN;

        for (j = 0; j < h->nchannels; j++) {
            if (strlen(h->channels[j]) == value_len
                && memcmp(h->channels[j], value, value_len) == 0)
            {
                want = (int) j;
                break;
            }
        }

        break;
    }

    fuzz_check(got == want);
    fuzz_check(got == BULLETIN_CHANNEL_MISSING
               || got == BULLETIN_CHANNEL_UNKNOWN
               || (got >= 0 && (uint32_t) got < h->nchannels));
}


/* one piece up to "&": its key and value (NULL without "="); returns
 * the bytes to the next piece */

static size_t
fuzz_piece(const uint8_t *p, size_t len, size_t *key_len,
    const uint8_t **value, size_t *value_len)
{
    size_t  end, i;

    for (end = 0; end < len && p[end] != '&'; end++) { /* void */ }

    for (i = 0; i < end && p[i] != '='; i++) { /* void */ }

    *key_len = i;

    if (i == end) {
        *value = NULL;
        *value_len = 0;

    } else {
        *value = p + i + 1;
        *value_len = end - i - 1;
    }

    return end < len ? end + 1 : end;
}


static int
fuzz_is(const uint8_t *s, size_t len, const char *name)
{
    return s != NULL && len == strlen(name) && memcmp(s, name, len) == 0;
}
