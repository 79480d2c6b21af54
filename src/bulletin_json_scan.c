
/*
 * Copyright (C) bulletin authors
 *
 * Positions for messages.  jansson knows no position once a text has
 * parsed, so these walk the text (valid JSON by then) to the key or
 * element a message is about.
 */


#include <string.h>

#include "bulletin_json_scan.h"


static const uint8_t *bulletin_json_skip_string(const uint8_t *p,
    const uint8_t *end);
static const uint8_t *bulletin_json_skip_value(const uint8_t *p,
    const uint8_t *end);
static unsigned bulletin_hex4(const uint8_t *p);
static int bulletin_json_key_equal(const uint8_t *p, const uint8_t *end,
    const char *key, size_t len);


const uint8_t *
bulletin_json_ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


static const uint8_t *
bulletin_json_skip_string(const uint8_t *p, const uint8_t *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }

        if (*p == '"') {
            return p + 1;
        }
    }

    return end;
}


static const uint8_t *
bulletin_json_skip_value(const uint8_t *p, const uint8_t *end)
{
    size_t  depth;

    depth = 0;

    while (p < end) {

        switch (*p) {

        case '"':
            p = bulletin_json_skip_string(p, end);

            if (depth == 0) {
                return p;
            }

            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return p;
            }

            if (--depth == 0) {
                return p + 1;
            }

            break;

        case ',':
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            if (depth == 0) {
                return p;
            }

            break;

        default:
            break;
        }

        p++;
    }

    return end;
}


static unsigned
bulletin_hex4(const uint8_t *p)
{
    unsigned  i, v, c;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];
        v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }

    return v;
}


/* whether the JSON string at p (its opening quote) decodes to key */

static int
bulletin_json_key_equal(const uint8_t *p, const uint8_t *end,
    const char *key, size_t len)
{
    size_t          n, i;
    uint8_t         c[4];
    unsigned        cp, lo;
    const uint8_t  *k, *kend;

    k = (const uint8_t *) key;
    kend = k + len;

    for (p++; p < end && *p != '"'; ) {

        if (*p != '\\') {
            if (k == kend || *k != *p) {
                return 0;
            }

            k++;
            p++;
            continue;
        }

        if (end - p < 2) {
            return 0;
        }

        n = 1;

        switch (p[1]) {
        case 'b': c[0] = '\b'; break;
        case 'f': c[0] = '\f'; break;
        case 'n': c[0] = '\n'; break;
        case 'r': c[0] = '\r'; break;
        case 't': c[0] = '\t'; break;
        case 'u': break;
        default: c[0] = p[1]; break;
        }

        if (p[1] != 'u') {
            p += 2;

        } else {
            if (end - p < 6) {
                return 0;
            }

            cp = bulletin_hex4(p + 2);
            p += 6;

            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6
                && p[0] == '\\' && p[1] == 'u')
            {
                lo = bulletin_hex4(p + 2);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }

            if (cp < 0x80) {
                c[0] = (uint8_t) cp;

            } else if (cp < 0x800) {
                c[0] = (uint8_t) (0xc0 | (cp >> 6));
                c[1] = (uint8_t) (0x80 | (cp & 0x3f));
                n = 2;

            } else if (cp < 0x10000) {
                c[0] = (uint8_t) (0xe0 | (cp >> 12));
                c[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
                c[2] = (uint8_t) (0x80 | (cp & 0x3f));
                n = 3;

            } else {
                c[0] = (uint8_t) (0xf0 | (cp >> 18));
                c[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3f));
                c[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
                c[3] = (uint8_t) (0x80 | (cp & 0x3f));
                n = 4;
            }
        }

        for (i = 0; i < n; i++) {
            if (k == kend || *k != c[i]) {
                return 0;
            }

            k++;
        }
    }

    return p < end && k == kend;
}


/*
 * In the object at obj, the position of key (its opening quote), and in
 * *value the position of its value; NULL when not found.
 */

const uint8_t *
bulletin_json_find_key(const uint8_t *obj, const uint8_t *end,
    const char *key, size_t len, const uint8_t **value)
{
    int             equal;
    const uint8_t  *p, *at;

    *value = NULL;

    if (obj == NULL || obj >= end || *obj != '{') {
        return NULL;
    }

    p = obj + 1;

    for ( ;; ) {
        p = bulletin_json_ws(p, end);

        if (p >= end || *p != '"') {
            return NULL;
        }

        at = p;
        equal = bulletin_json_key_equal(p, end, key, len);

        p = bulletin_json_skip_string(p, end);
        p = bulletin_json_ws(p, end);

        if (p >= end || *p != ':') {
            return NULL;
        }

        p = bulletin_json_ws(p + 1, end);

        if (equal) {
            *value = p;
            return at;
        }

        p = bulletin_json_skip_value(p, end);
        p = bulletin_json_ws(p, end);

        if (p >= end || *p != ',') {
            return NULL;
        }

        p++;
    }
}


const uint8_t *
bulletin_json_element(const uint8_t *arr, const uint8_t *end, size_t index)
{
    size_t          i;
    const uint8_t  *p;

    if (arr == NULL || arr >= end || *arr != '[') {
        return NULL;
    }

    p = arr + 1;

    for (i = 0; ; i++) {
        p = bulletin_json_ws(p, end);

        if (p >= end || *p == ']') {
            return NULL;
        }

        if (i == index) {
            return p;
        }

        p = bulletin_json_skip_value(p, end);
        p = bulletin_json_ws(p, end);

        if (p >= end || *p != ',') {
            return NULL;
        }

        p++;
    }
}
