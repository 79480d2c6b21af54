
/*
 * Copyright (C) bulletin authors
 */


#include <stdlib.h>
#include <string.h>

#include "bulletin_sync_table.h"


static const uint8_t *bulletin_sync_table_key(const void *ctx,
    uint32_t index, size_t *len);
static int bulletin_sync_table_page(bulletin_sync_table_t *t,
    const char *id, size_t len, uint32_t *page);
static int bulletin_sync_table_value(bulletin_sync_table_t *t,
    uint32_t page, uint32_t node, bulletin_sync_value_t **value);
static const char *bulletin_sync_word(const char **p, const char *end,
    size_t *len);


int
bulletin_sync_name_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > BULLETIN_SYNC_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


int
bulletin_sync_key_valid(const char *s, size_t len)
{
    uint64_t     created;
    const char  *slash;

    slash = memchr(s, '/', len);

    if (slash == NULL) {
        return 0;
    }

    return bulletin_sync_name_valid(s, slash - s)
           && bulletin_sync_parse_u64(slash + 1, len - (slash - s) - 1,
                                      &created);
}


int
bulletin_sync_parse_u64(const char *s, size_t len, uint64_t *v)
{
    size_t    i;
    uint64_t  n, d;

    if (len == 0 || len > BULLETIN_DIGITS_MAX) {
        return 0;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        d = (uint64_t) (s[i] - '0');

        if (n > (UINT64_MAX - d) / 10) {
            return 0;
        }

        n = n * 10 + d;
    }

    *v = n;

    return 1;
}


int
bulletin_sync_parse_map(bulletin_sync_map_t *map, const char *s, size_t len,
    const char (*channels)[BULLETIN_CHANNEL_SIZE], uint32_t nchannels)
{
    size_t       n;
    uint32_t     k;
    const char  *p, *end, *w;

    p = s;
    end = s + len;
    map->n = 0;

    for ( ;; ) {
        w = bulletin_sync_word(&p, end, &n);

        if (w == NULL) {
            break;
        }

        if (map->n == BULLETIN_CHANNELS_MAX
            || !bulletin_channel_valid((const uint8_t *) w, n))
        {
            return 0;
        }

        map->local[map->n] = -1;

        for (k = 0; k < nchannels && k < BULLETIN_CHANNELS_MAX; k++) {
            if (strnlen(channels[k], BULLETIN_CHANNEL_SIZE) == n
                && memcmp(channels[k], w, n) == 0)
            {
                map->local[map->n] = (int8_t) k;
                break;
            }
        }

        map->n++;
    }

    return p == end;
}


int
bulletin_sync_parse_counts(const bulletin_sync_map_t *map, const char *s,
    size_t len, bulletin_sync_counts_t *c)
{
    size_t       n;
    uint32_t     i;
    uint64_t     v;
    const char  *p, *end, *w;

    p = s;
    end = s + len;

    memset(c, 0, sizeof(bulletin_sync_counts_t));

    for (i = 0; i < 1 + map->n; i++) {
        w = bulletin_sync_word(&p, end, &n);

        if (w == NULL || !bulletin_sync_parse_u64(w, n, &v)) {
            return 0;
        }

        if (i == 0) {
            c->v[0] = v;

        } else if (map->local[i - 1] >= 0) {
            c->v[1 + map->local[i - 1]] = v;
        }
    }

    return bulletin_sync_word(&p, end, &n) == NULL && p == end;
}


int
bulletin_sync_parse_line(const bulletin_sync_map_t *map, const char *s,
    size_t len, const char **id, size_t *id_len, bulletin_sync_counts_t *c)
{
    size_t       n;
    const char  *p, *w;

    p = s;

    w = bulletin_sync_word(&p, s + len, &n);

    if (w != s || !bulletin_sync_id_valid(w, n)) {
        return 0;
    }

    *id = w;
    *id_len = n;

    return bulletin_sync_parse_counts(map, p, s + len - p, c);
}


int64_t
bulletin_sync_parse_node(const char *s, size_t len)
{
    size_t       n;
    uint64_t     ms;
    const char  *p, *w;

    p = s;

    w = bulletin_sync_word(&p, s + len, &n);

    if (w != s || !bulletin_sync_parse_u64(w, n, &ms) || ms > INT64_MAX) {
        return -1;
    }

    return (int64_t) ms;
}


size_t
bulletin_sync_format(char *buf, const bulletin_sync_counts_t *c,
    uint32_t nchannels)
{
    char      digits[BULLETIN_DIGITS_MAX];
    size_t    len, n;
    uint32_t  i;
    uint64_t  v;

    len = 0;

    for (i = 0; i < 1 + nchannels && i < BULLETIN_SYNC_FIELDS; i++) {
        if (i) {
            buf[len++] = ' ';
        }

        v = c->v[i];
        n = 0;

        do {
            digits[n++] = (char) ('0' + v % 10);
            v /= 10;
        } while (v);

        while (n) {
            buf[len++] = digits[--n];
        }
    }

    buf[len] = '\0';

    return len;
}


/* a page id, reserved ones too, but never the channels' field */

int
bulletin_sync_id_valid(const char *id, size_t len)
{
    if (len == sizeof(BULLETIN_SYNC_CHANNELS) - 1
        && memcmp(id, BULLETIN_SYNC_CHANNELS, len) == 0)
    {
        return 0;
    }

    return bulletin_id_valid((const uint8_t *) id, len, 1);
}


/* the next word of single spaces: NULL at the end or at a stray space */

static const char *
bulletin_sync_word(const char **p, const char *end, size_t *len)
{
    const char  *s, *q;

    s = *p;

    if (s == end) {
        return NULL;
    }

    if (*s == ' ') {
        if (s + 1 == end || s[1] == ' ') {
            return NULL;
        }

        s++;
    }

    q = s;

    while (q < end && *q != ' ') {
        q++;
    }

    *p = q;
    *len = q - s;

    return s;
}


void
bulletin_sync_table_init(bulletin_sync_table_t *t, const char *own,
    size_t len)
{
    memset(t, 0, offsetof(bulletin_sync_table_t, nodes));

    bulletin_idtab_init(&t->index, NULL, 0, bulletin_sync_table_key, t);

    t->own = UINT32_MAX;
    t->own = (uint32_t) bulletin_sync_table_node(t, own, len);
}


void
bulletin_sync_table_free(bulletin_sync_table_t *t)
{
    bulletin_idtab_free(&t->index);
    free(t->pages);
    free(t->values);
    free(t->dirty);

    t->pages = NULL;
    t->values = NULL;
    t->dirty = NULL;
}


int64_t
bulletin_sync_table_node(bulletin_sync_table_t *t, const char *key,
    size_t len)
{
    uint32_t  i;

    if (len >= BULLETIN_SYNC_KEY_SIZE || !bulletin_sync_key_valid(key, len)) {
        return -1;
    }

    for (i = 0; i < t->nnodes; i++) {
        if (strncmp(t->nodes[i], key, len) == 0 && t->nodes[i][len] == '\0') {
            return i;
        }
    }

    if (t->nnodes == BULLETIN_SYNC_NODES_MAX) {
        return -1;
    }

    memcpy(t->nodes[i], key, len);
    t->nodes[i][len] = '\0';

    return t->nnodes++;
}


int
bulletin_sync_table_merge(bulletin_sync_table_t *t, uint32_t node,
    const char *id, size_t len, const bulletin_sync_counts_t *c)
{
    int                     rose;
    uint32_t                page, i;
    bulletin_sync_value_t  *value;

    if (bulletin_sync_table_page(t, id, len, &page) != 0) {
        return -1;
    }

    if (bulletin_sync_table_value(t, page, node, &value) != 0) {
        return -1;
    }

    rose = 0;

    for (i = 0; i < BULLETIN_SYNC_FIELDS; i++) {
        if (c->v[i] > value->c.v[i]) {
            value->c.v[i] = c->v[i];
            rose = 1;
        }
    }

    if (rose && node != t->own && !t->pages[page].dirty) {
        t->pages[page].dirty = 1;
        t->dirty[t->ndirty++] = page;
    }

    return rose;
}


int64_t
bulletin_sync_table_find(const bulletin_sync_table_t *t, const char *id,
    size_t len)
{
    return bulletin_idtab_find(&t->index, (const uint8_t *) id, len);
}


void
bulletin_sync_table_sum(const bulletin_sync_table_t *t, uint32_t page,
    bulletin_sync_counts_t *sum)
{
    uint32_t                      i, v;
    const bulletin_sync_value_t  *value;

    memset(sum, 0, sizeof(bulletin_sync_counts_t));

    for (v = t->pages[page].values; v; v = value->next) {
        value = &t->values[v - 1];

        if (value->node == t->own) {
            continue;
        }

        for (i = 0; i < BULLETIN_SYNC_FIELDS; i++) {
            sum->v[i] = (sum->v[i] > UINT64_MAX - value->c.v[i])
                        ? UINT64_MAX : sum->v[i] + value->c.v[i];
        }
    }
}


void
bulletin_sync_table_clean(bulletin_sync_table_t *t)
{
    uint32_t  i;

    for (i = 0; i < t->ndirty; i++) {
        t->pages[t->dirty[i]].dirty = 0;
    }

    t->ndirty = 0;
}


static const uint8_t *
bulletin_sync_table_key(const void *ctx, uint32_t index, size_t *len)
{
    const bulletin_sync_table_t  *t = ctx;

    *len = t->pages[index].len;

    return (const uint8_t *) t->pages[index].id;
}


static int
bulletin_sync_table_page(bulletin_sync_table_t *t, const char *id,
    size_t len, uint32_t *page)
{
    int64_t                i;
    uint32_t               size, *dirty;
    bulletin_sync_page_t  *pages;

    i = bulletin_sync_table_find(t, id, len);

    if (i >= 0) {
        *page = (uint32_t) i;
        return 0;
    }

    if (len == 0 || len > BULLETIN_ID_MAX || t->npages == UINT32_MAX / 2) {
        return -1;
    }

    if (t->npages == t->pages_size) {
        size = t->pages_size ? t->pages_size * 2 : 1024;

        pages = realloc(t->pages, size * sizeof(bulletin_sync_page_t));
        if (pages == NULL) {
            return -1;
        }

        t->pages = pages;

        dirty = realloc(t->dirty, size * sizeof(uint32_t));
        if (dirty == NULL) {
            return -1;
        }

        t->dirty = dirty;
        t->pages_size = size;
    }

    i = t->npages;

    memset(&t->pages[i], 0, sizeof(bulletin_sync_page_t));
    memcpy(t->pages[i].id, id, len);
    t->pages[i].len = (uint32_t) len;

    if (bulletin_idtab_add(&t->index, (uint32_t) i) != BULLETIN_OK) {
        return -1;
    }

    t->npages++;
    *page = (uint32_t) i;

    return 0;
}


/* the node's value of a page, a zero one added if none */

static int
bulletin_sync_table_value(bulletin_sync_table_t *t, uint32_t page,
    uint32_t node, bulletin_sync_value_t **value)
{
    uint32_t                v, size;
    bulletin_sync_value_t  *values;

    for (v = t->pages[page].values; v; v = t->values[v - 1].next) {
        if (t->values[v - 1].node == node) {
            *value = &t->values[v - 1];
            return 0;
        }
    }

    if (t->nvalues == t->values_size) {
        if (t->values_size >= UINT32_MAX / 4) {
            return -1;
        }

        size = t->values_size ? t->values_size * 2 : 1024;

        values = realloc(t->values, size * sizeof(bulletin_sync_value_t));
        if (values == NULL) {
            return -1;
        }

        t->values = values;
        t->values_size = size;
    }

    v = t->nvalues++;

    memset(&t->values[v], 0, sizeof(bulletin_sync_value_t));
    t->values[v].node = node;
    t->values[v].next = t->pages[page].values;
    t->pages[page].values = v + 1;

    *value = &t->values[v];

    return 0;
}
