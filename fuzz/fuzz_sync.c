
/*
 * Copyright (C) bulletin authors
 *
 * What bulletin-sync reads from Redis, which anyone who can write there
 * controls: node keys, channel lists, "ID VIEWS S..." lines and values,
 * node entries.  The input is lines: the first a channel list, then, for
 * each line, a node key picked by its first byte and the rest parsed as a
 * log line.  Checked: nothing reads outside the input (a copy of exactly
 * its size), what parses formats back to what parses the same, merging
 * is a max (a page's sum over the other nodes never goes down, whatever
 * comes, and the own node's counts never enter it), and a table full of
 * nodes or pages refuses, never overflows.
 */


#include <string.h>

#include "bulletin_store.h"
#include "bulletin_sync_table.h"
#include "fuzz.h"


#define FUZZ_SYNC_PAGES  64


static const char  fuzz_sync_channels[][BULLETIN_CHANNEL_SIZE] = {
    "wechat", "weibo", "qq", "link"
};

static const char  *fuzz_sync_nodes[] = {
    "own/1700000000", "web-2/1700000000", "web-3/1", "web-2/1700000001"
};


static void fuzz_sync_round_trip(const bulletin_sync_map_t *map,
    const bulletin_sync_counts_t *c);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *in, *p, *end, *nl;
    size_t                   id_len, k;
    int64_t                  node, page;
    uint32_t                 i, f;
    const char              *id;
    bulletin_sync_map_t      map;
    bulletin_sync_table_t    t;
    bulletin_sync_counts_t   c, before[FUZZ_SYNC_PAGES], after;

    in = malloc(size ? size : 1);
    fuzz_check(in != NULL);
    memcpy(in, data, size);

    p = in;
    end = in + size;

    /* the whole input as each kind of value */

    (void) bulletin_sync_name_valid(in, size);
    (void) bulletin_sync_key_valid(in, size);
    (void) bulletin_sync_parse_node(in, size);
    (void) bulletin_sync_id_valid(in, size);

    if (bulletin_sync_parse_u64(in, size, &c.v[0])) {
        fuzz_check(size >= 1 && size <= 20);
    }

    nl = memchr(p, '\n', end - p);

    if (!bulletin_sync_parse_map(&map, p, (nl ? nl : end) - p,
                                 fuzz_sync_channels, 4))
    {
        goto done;
    }

    fuzz_check(map.n <= BULLETIN_CHANNELS_MAX);

    bulletin_sync_table_init(&t, fuzz_sync_nodes[0],
                             strlen(fuzz_sync_nodes[0]));

    memset(before, 0, sizeof(before));

    p = nl ? nl + 1 : end;

    while (p < end) {
        nl = memchr(p, '\n', end - p);

        if (nl == NULL) {
            nl = end;
        }

        if (nl - p < 1) {
            p = nl + 1;
            continue;
        }

        node = bulletin_sync_table_node(&t, fuzz_sync_nodes[(uint8_t) *p % 4],
                                        strlen(fuzz_sync_nodes[(uint8_t) *p
                                                               % 4]));
        fuzz_check(node >= 0);

        (void) bulletin_sync_parse_counts(&map, p + 1, nl - p - 1, &c);

        if (bulletin_sync_parse_line(&map, p + 1, nl - p - 1, &id, &id_len,
                                     &c))
        {
            fuzz_check(id >= p + 1 && id + id_len <= nl);
            fuzz_check(bulletin_sync_id_valid(id, id_len));

            fuzz_sync_round_trip(&map, &c);

            if (bulletin_sync_table_merge(&t, (uint32_t) node, id, id_len, &c)
                < 0)
            {
                break;
            }

            page = bulletin_sync_table_find(&t, id, id_len);
            fuzz_check(page >= 0);

            if (page < FUZZ_SYNC_PAGES) {
                bulletin_sync_table_sum(&t, (uint32_t) page, &after);

                for (f = 0; f < BULLETIN_SYNC_FIELDS; f++) {
                    fuzz_check(after.v[f] >= before[page].v[f]);
                }

                /* the own node's counts are not the fleet's */

                if (node == 0) {
                    fuzz_check(memcmp(&after, &before[page], sizeof(after))
                               == 0);
                }

                before[page] = after;
            }
        }

        p = nl + 1;
    }

    /* every page's sum stands, after the dirty list is emptied */

    bulletin_sync_table_clean(&t);

    for (i = 0; i < t.npages && i < FUZZ_SYNC_PAGES; i++) {
        bulletin_sync_table_sum(&t, i, &after);

        for (k = 0; k < BULLETIN_SYNC_FIELDS; k++) {
            fuzz_check(after.v[k] == before[i].v[k]);
        }
    }

    bulletin_sync_table_free(&t);

done:

    free(in);

    return 0;
}


/*
 * Formatted in this zone's channel order, counts read back the same
 * through an identity map (what the sidecar publishes, the others read)
 */

static void
fuzz_sync_round_trip(const bulletin_sync_map_t *map,
    const bulletin_sync_counts_t *c)
{
    char                    buf[BULLETIN_SYNC_VALUE_SIZE];
    size_t                  len;
    uint32_t                f;
    bulletin_sync_map_t     same;
    bulletin_sync_counts_t  back;

    len = bulletin_sync_format(buf, c, 4);

    fuzz_check(len < sizeof(buf) && buf[len] == '\0');
    fuzz_check(bulletin_sync_parse_map(&same, "wechat weibo qq link",
                                       sizeof("wechat weibo qq link") - 1,
                                       fuzz_sync_channels, 4));
    fuzz_check(bulletin_sync_parse_counts(&same, buf, len, &back));

    for (f = 0; f < 5; f++) {
        fuzz_check(back.v[f] == c->v[f]);
    }
}
