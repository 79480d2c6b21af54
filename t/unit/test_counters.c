/*
 * Copyright (C) bulletin authors
 *
 * The counters region: layout and size arithmetic, format, check and
 * commit, ids an interrupted append left past "used", the two state
 * copies (a torn newer copy falls back to the older one, both bad is a
 * checksum error), a crash at every byte of a commit, foreign regions
 * (magic, version, byte order, slot size) and truncated ones; the zone
 * name: recorded, checked, given to a file that has none (an earlier
 * version's), a naming cut short at every byte.  The checksum is
 * recomputed here with zlib, from the layout the header documents, not
 * with the code under test.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "bulletin_store.h"
#include "bulletin_counters.h"


#define CREATED     1700000000LL
#define NSLOTS      16

#define IDENTITY    64              /* header bytes before the states */
#define ZONE        "bulletin"
#define ZONE_AT     32              /* the zone name in the header */


typedef bulletin_counters_header_t  header_t;
typedef bulletin_counters_slot_t    slot_t;
typedef bulletin_counters_info_t    info_t;


/* what a test allocated: freed by the teardown, even after a failure */
static void        *allocated[4];


static const char  *ids[] = {
    "bj-sociorg-2020-01", "bj-sociorg-2020-02", "bj-sociorg-2020-03",
    "_index", "a", "Z9", "b-1", "c_2"
};


static void *
tracked(void *p)
{
    size_t  i;

    assert_non_null(p);

    for (i = 0; i < sizeof(allocated) / sizeof(allocated[0]); i++) {
        if (allocated[i] == NULL) {
            allocated[i] = p;
            return p;
        }
    }

    fail_msg("too many allocations");
    return NULL;
}


static int
teardown(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(allocated) / sizeof(allocated[0]); i++) {
        free(allocated[i]);
        allocated[i] = NULL;
    }

    return 0;
}


/* a zeroed, formatted region of n slots, of zone ZONE */

static void *
region_new(uint32_t n, size_t *size)
{
    void  *r;

    *size = bulletin_counters_size(n);

    r = tracked(calloc(1, *size));

    bulletin_counters_format(r, *size, CREATED, ZONE, strlen(ZONE));

    return r;
}


/* the same, with no zone name, as earlier versions made them */

static void *
region_unnamed(uint32_t n, size_t *size)
{
    void  *r;

    *size = bulletin_counters_size(n);

    r = tracked(calloc(1, *size));

    bulletin_counters_format(r, *size, CREATED, NULL, 0);

    return r;
}


static void
put_id(void *r, uint32_t i, const char *id)
{
    slot_t  *slot;

    slot = bulletin_counters_slot(r, i);

    memset(slot->id, 0, sizeof(slot->id));
    memcpy(slot->id, id, strlen(id));
}


static int
check(const void *r, size_t size, info_t *info)
{
    char  detail[BULLETIN_DETAIL_MAX];

    memset(info, 0xa5, sizeof(info_t));
    memset(detail, 'x', sizeof(detail));

    return bulletin_counters_check(r, size, info, detail);
}


static void
check_ok(const void *r, size_t size, info_t *info)
{
    char  detail[BULLETIN_DETAIL_MAX];
    int   rc;

    memset(info, 0xa5, sizeof(info_t));

    rc = bulletin_counters_check(r, size, info, detail);

    if (rc != BULLETIN_COUNTERS_OK) {
        fail_msg("check: %s: %s", bulletin_counters_strerror(rc), detail);
    }
}


/* the error, and a detail that is a terminated, non-empty string */

static int
check_fails(const void *r, size_t size, char *detail)
{
    int     rc;
    info_t  info;

    memset(detail, 'x', BULLETIN_DETAIL_MAX);

    rc = bulletin_counters_check(r, size, &info, detail);

    assert_int_not_equal(rc, BULLETIN_COUNTERS_OK);
    assert_non_null(memchr(detail, '\0', BULLETIN_DETAIL_MAX));
    assert_true(strlen(detail) > 0);

    return rc;
}


/* appends ids[from, to) and commits them, as the master does */

static void
append(void *r, size_t size, uint32_t to)
{
    uint32_t  i;
    info_t    info;

    check_ok(r, size, &info);

    for (i = info.used; i < to; i++) {
        put_id(r, i, ids[i % 8]);
    }

    info.used = to;

    bulletin_counters_commit(r, &info);
}


/* the state checksum, from the documented layout, with zlib */

static uint32_t
state_crc(const void *r, uint32_t copy)
{
    uLong                       crc;
    uint32_t                    i;
    const header_t             *h = r;
    bulletin_counters_state_t   st;

    st = h->state[copy];
    st.crc = 0;

    crc = crc32(0, r, IDENTITY);
    crc = crc32(crc, (const Bytef *) &st, sizeof(st));

    for (i = 0; i < h->state[copy].used; i++) {
        crc = crc32(crc, (const Bytef *) r + BULLETIN_COUNTERS_HEADER
                         + (size_t) i * 192 + 128, 64);
    }

    return (uint32_t) crc;
}


static void
test_layout(void **state)
{
    (void) state;

    assert_int_equal(sizeof(slot_t), 192);
    assert_int_equal(sizeof(slot_t) % 64, 0);
    assert_int_equal(offsetof(slot_t, views), 0);
    assert_int_equal(offsetof(slot_t, excluded), 8);
    assert_int_equal(offsetof(slot_t, shares), 16);
    assert_int_equal(offsetof(slot_t, id), 128);
    assert_int_equal(sizeof(((slot_t *) 0)->id), BULLETIN_ID_MAX);

    assert_int_equal(sizeof(bulletin_counters_state_t), 152);
    assert_int_equal(offsetof(bulletin_counters_state_t, crc), 144);

    assert_int_equal(offsetof(header_t, magic), 0);
    assert_int_equal(offsetof(header_t, version), 8);
    assert_int_equal(offsetof(header_t, byte_order), 12);
    assert_int_equal(offsetof(header_t, header_size), 16);
    assert_int_equal(offsetof(header_t, slot_size), 20);
    assert_int_equal(offsetof(header_t, created), 24);
    assert_int_equal(offsetof(header_t, zone), ZONE_AT);
    assert_int_equal(sizeof(((header_t *) 0)->zone), 32);
    assert_int_equal(BULLETIN_COUNTERS_ZONE_MAX, 32);
    assert_int_equal(offsetof(header_t, state), IDENTITY);
    assert_int_equal(offsetof(header_t, state[1]), IDENTITY + 152);
    assert_true(sizeof(header_t) <= BULLETIN_COUNTERS_HEADER);
    assert_int_equal(BULLETIN_COUNTERS_HEADER % 64, 0);
}


static void
test_capacity(void **state)
{
    uint32_t  n;
    size_t    s;
    char     *base;

    (void) state;

    assert_int_equal(bulletin_counters_capacity(0), 0);
    assert_int_equal(bulletin_counters_capacity(1), 0);
    assert_int_equal(bulletin_counters_capacity(4095), 0);
    assert_int_equal(bulletin_counters_capacity(4096), 0);
    assert_int_equal(bulletin_counters_capacity(4096 + 191), 0);
    assert_int_equal(bulletin_counters_capacity(4096 + 192), 1);
    assert_int_equal(bulletin_counters_capacity(4096 + 383), 1);
    assert_int_equal(bulletin_counters_capacity(4096 + 384), 2);

    /* nginx sizes: 32k (the least a zone takes), 1m, 16m */
    assert_int_equal(bulletin_counters_capacity(32768), (32768 - 4096) / 192);
    assert_int_equal(bulletin_counters_capacity(1048576), 5440);
    assert_int_equal(bulletin_counters_capacity(16777216), 87360);

    assert_int_equal(bulletin_counters_size(0), 4096);
    assert_int_equal(bulletin_counters_size(1), 4288);
    assert_int_equal(bulletin_counters_size(5439), 4096 + 5439 * 192);

    for (n = 0; n < 100000; n += 1 + n / 3) {
        s = bulletin_counters_size(n);
        assert_int_equal(bulletin_counters_capacity(s), n);
        assert_int_equal(bulletin_counters_capacity(s + 191), n);

        if (n) {
            assert_int_equal(bulletin_counters_capacity(s - 1), n - 1);
        }
    }

    /* no 32-bit overflow in the size of a big zone */
    assert_true(bulletin_counters_size(UINT32_MAX)
                == 4096 + (uint64_t) UINT32_MAX * 192);

    if (sizeof(size_t) > 4) {
        assert_int_equal(bulletin_counters_capacity(SIZE_MAX), UINT32_MAX);
        assert_int_equal(
            bulletin_counters_capacity(bulletin_counters_size(UINT32_MAX)),
            UINT32_MAX);
    }

    /* slots follow the header, each on its own cache lines */

    base = NULL;
    assert_int_equal(posix_memalign((void **) &base, 4096,
                                    bulletin_counters_size(1000)), 0);
    (void) tracked(base);

    for (n = 0; n < 1000; n++) {
        assert_ptr_equal((char *) bulletin_counters_slot(base, n),
                         base + 4096 + (size_t) n * 192);
        assert_int_equal(((uintptr_t) bulletin_counters_slot(base, n)) % 64,
                         0);
    }

}


static void
test_format(void **state)
{
    size_t           size;
    header_t        *h;
    info_t           info;
    uint8_t         *r;
    uint32_t         i;
    const uint16_t   one = 1;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    assert_memory_equal(r, "BLTCOUNT", 8);
    assert_int_equal(h->version, 1);
    assert_int_equal(h->byte_order, 0x01020304);
    assert_int_equal(h->header_size, 4096);
    assert_int_equal(h->slot_size, 192);
    assert_int_equal(h->created, CREATED);

    if (*(const uint8_t *) &one == 1) {
        /* little-endian bytes on disk */
        assert_memory_equal(r + 8, "\x01\x00\x00\x00\x04\x03\x02\x01", 8);
        assert_memory_equal(r + 16, "\x00\x10\x00\x00\xc0\x00\x00\x00", 8);
    }

    /* the zone name, NUL-padded */

    assert_memory_equal(r + ZONE_AT, ZONE, strlen(ZONE));

    for (i = ZONE_AT + strlen(ZONE); i < IDENTITY; i++) {
        assert_int_equal(r[i], 0);
    }

    /* a first state copy in force, the second never written */

    assert_true(h->state[0].seq == 1);
    assert_int_equal(h->state[0].used, 0);
    assert_int_equal(h->state[0].nchannels, 0);
    assert_int_equal(h->state[0].crc, state_crc(r, 0));

    for (i = IDENTITY + 152; i < BULLETIN_COUNTERS_HEADER; i++) {
        assert_int_equal(r[i], 0);
    }

    check_ok(r, size, &info);

    assert_int_equal(info.capacity, NSLOTS);
    assert_int_equal(info.used, 0);
    assert_int_equal(info.state, 0);
    assert_int_equal(info.nchannels, 0);
    assert_true(info.created == CREATED);
    assert_string_equal(info.zone, ZONE);

    /* the slots are left as they were: zeroed */

    for (i = BULLETIN_COUNTERS_HEADER; i < size; i++) {
        assert_int_equal(r[i], 0);
    }

    /* a size that is not a whole number of slots */

    check_ok(r, size + 100, &info);
    assert_int_equal(info.capacity, NSLOTS);

    /* a region of the header alone: valid, and holds nothing */

    check_ok(r, 4096, &info);
    assert_int_equal(info.capacity, 0);
    assert_int_equal(info.used, 0);

}


static void
test_commit(void **state)
{
    size_t     size;
    uint64_t   seq;
    uint8_t    before[152];
    header_t  *h;
    info_t     info, again;
    uint8_t   *r;
    uint32_t   i;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    check_ok(r, size, &info);

    for (i = 0; i < 3; i++) {
        put_id(r, i, ids[i]);
    }

    info.used = 3;
    info.nchannels = 2;
    memset(info.channels, 0, sizeof(info.channels));
    strcpy(info.channels[0], "wechat");
    strcpy(info.channels[1], "link");

    memcpy(before, &h->state[0], 152);

    bulletin_counters_commit(r, &info);

    /* into the other copy; the copy in force is not touched */

    assert_int_equal(info.state, 1);
    assert_memory_equal(&h->state[0], before, 152);
    assert_true(h->state[1].seq == 2);
    assert_int_equal(h->state[1].used, 3);
    assert_int_equal(h->state[1].nchannels, 2);
    assert_string_equal(h->state[1].channels[0], "wechat");
    assert_string_equal(h->state[1].channels[1], "link");
    assert_int_equal(h->state[1].crc, state_crc(r, 1));

    check_ok(r, size, &again);

    assert_int_equal(again.state, 1);
    assert_int_equal(again.used, 3);
    assert_int_equal(again.capacity, NSLOTS);
    assert_int_equal(again.nchannels, 2);
    assert_string_equal(again.channels[0], "wechat");
    assert_string_equal(again.channels[1], "link");
    assert_true(again.created == CREATED);

    /* copies alternate, and seq grows */

    for (i = 0; i < 6; i++) {
        seq = h->state[info.state].seq;
        memcpy(before, &h->state[info.state], 152);

        put_id(r, info.used, ids[(info.used) % 8]);
        info.used++;

        bulletin_counters_commit(r, &info);

        assert_int_equal(info.state, i % 2 == 0 ? 0 : 1);
        assert_true(h->state[info.state].seq == seq + 1);
        assert_memory_equal(&h->state[info.state ^ 1], before, 152);

        check_ok(r, size, &again);
        assert_int_equal(again.state, info.state);
        assert_int_equal(again.used, 4 + i);
    }

    /* the counts are no part of the checksum: workers add freely */

    for (i = 0; i < info.used; i++) {
        bulletin_counters_slot(r, i)->views = 1000 + i;
        bulletin_counters_slot(r, i)->excluded = 7;
        bulletin_counters_slot(r, i)->shares[i % 8] = UINT64_MAX;
    }

    check_ok(r, size, &again);
    assert_int_equal(again.used, 9);
    assert_true(bulletin_counters_slot(r, 5)->views == 1005);

    /* an id the state covers, changed, fails the copies that cover it */

    bulletin_counters_slot(r, 8)->id[0] ^= 0x20;    /* still valid */
    check_ok(r, size, &again);
    assert_int_equal(again.state, info.state ^ 1);   /* covers 8 ids */
    assert_int_equal(again.used, 9);                 /* 9th adopted */

    bulletin_counters_slot(r, 0)->id[0] ^= 0x20;
    assert_int_equal(check(r, size, &again), BULLETIN_COUNTERS_ERR_CHECKSUM);

}


static void
test_id_len(void **state)
{
    size_t  size;
    char    id64[65];
    info_t  info;
    void   *r;

    (void) state;

    r = region_new(4, &size);

    assert_int_equal(bulletin_counters_id_len(bulletin_counters_slot(r, 0)),
                     0);

    put_id(r, 0, "abc");
    assert_int_equal(bulletin_counters_id_len(bulletin_counters_slot(r, 0)),
                     3);

    /* the longest id fills the field, with no NUL */

    memset(id64, 'q', 64);
    id64[64] = '\0';
    put_id(r, 1, id64);
    assert_int_equal(bulletin_counters_id_len(bulletin_counters_slot(r, 1)),
                     64);

    check_ok(r, size, &info);
    assert_int_equal(info.used, 2);

    bulletin_counters_commit(r, &info);
    check_ok(r, size, &info);
    assert_int_equal(info.used, 2);

}


/*
 * The master writes ids, then the state that covers them: ids past
 * "used" are an append cut short, and the check adopts them.
 */

static void
test_adoption(void **state)
{
    size_t   size;
    info_t   info;
    slot_t  *slot;
    void    *r;
    uint8_t  copy[4096];
    uint32_t i;

    (void) state;

    r = region_new(NSLOTS, &size);

    append(r, size, 2);

    put_id(r, 2, ids[2]);
    put_id(r, 3, ids[3]);       /* "_index": a reserved id is an id */

    memcpy(copy, r, sizeof(copy));

    check_ok(r, size, &info);

    assert_int_equal(info.used, 4);
    assert_int_equal(info.state, 1);

    /* the check only reads */
    assert_memory_equal(copy, r, sizeof(copy));
    assert_int_equal(((header_t *) r)->state[1].used, 2);

    /* once committed, they are covered */

    bulletin_counters_commit(r, &info);
    assert_int_equal(((header_t *) r)->state[0].used, 4);

    check_ok(r, size, &info);
    assert_int_equal(info.used, 4);
    assert_int_equal(info.state, 0);

    /* adoption stops at the first free slot */

    put_id(r, 5, ids[5]);
    check_ok(r, size, &info);
    assert_int_equal(info.used, 4);

    /* and at the first slot that holds no valid id */

    put_id(r, 4, "-bad");
    check_ok(r, size, &info);
    assert_int_equal(info.used, 4);

    put_id(r, 4, "a/b");
    check_ok(r, size, &info);
    assert_int_equal(info.used, 4);

    slot = bulletin_counters_slot(r, 4);
    memset(slot->id, 0, sizeof(slot->id));
    slot->id[1] = 'x';              /* a NUL first: a free slot */
    check_ok(r, size, &info);
    assert_int_equal(info.used, 4);

    put_id(r, 4, ids[4]);
    check_ok(r, size, &info);
    assert_int_equal(info.used, 6);

    /* up to the last slot, and not one byte past the region */

    for (i = 6; i < NSLOTS; i++) {
        put_id(r, i, ids[i % 8]);
    }

    check_ok(r, size, &info);
    assert_int_equal(info.used, NSLOTS);
    assert_int_equal(info.capacity, NSLOTS);

    bulletin_counters_commit(r, &info);
    check_ok(r, size, &info);
    assert_int_equal(info.used, NSLOTS);

}


/*
 * A crash of the master at any byte of a commit loses no slot: the copy
 * being written fails its checksum until its last byte, and the ids it
 * covers were written before it, so the older copy plus adoption finds
 * them all.
 */

static void
test_torn_commit(void **state)
{
    size_t                      size, k;
    header_t                   *h;
    info_t                      info, found;
    bulletin_counters_state_t   old1;
    uint8_t                    *r, *done;
    uint32_t                    old, i;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 2);
    append(r, size, 3);         /* state 0 in force, seq 3 */

    check_ok(r, size, &info);
    old = info.state;
    assert_int_equal(old, 0);

    for (i = 3; i < 7; i++) {
        put_id(r, i, ids[i]);
    }

    info.used = 7;

    /* the commit's result, then every prefix of it over the old bytes */

    done = tracked(malloc(size));
    memcpy(done, r, size);
    bulletin_counters_commit(done, &info);
    assert_int_equal(info.state, 1);

    memcpy(&old1, &h->state[1], sizeof(old1));

    for (k = 0; k <= sizeof(bulletin_counters_state_t); k++) {
        memcpy(&h->state[1], &old1, sizeof(old1));
        memcpy(&h->state[1], &((header_t *) done)->state[1], k);

        check_ok(r, size, &found);

        assert_int_equal(found.used, 7);
        /* the new copy counts once its checksum is whole */
        assert_int_equal(found.state,
                         memcmp(&h->state[1], &((header_t *) done)->state[1],
                                offsetof(bulletin_counters_state_t, reserved))
                         == 0 ? 1 : 0);

        if (k >= offsetof(bulletin_counters_state_t, reserved)) {
            assert_int_equal(found.state, 1);
        }
    }

    /* and a recovery commits over the torn copy */

    memcpy(&h->state[1], &old1, sizeof(old1));
    memcpy(&h->state[1], &((header_t *) done)->state[1], 100);

    check_ok(r, size, &found);
    assert_int_equal(found.state, 0);
    assert_int_equal(found.used, 7);

    bulletin_counters_commit(r, &found);
    assert_int_equal(found.state, 1);
    assert_true(h->state[1].seq == h->state[0].seq + 1);

    check_ok(r, size, &found);
    assert_int_equal(found.state, 1);
    assert_int_equal(found.used, 7);
    assert_int_equal(h->state[1].used, 7);

}


static void
test_state_copies(void **state)
{
    char       detail[BULLETIN_DETAIL_MAX];
    size_t     size;
    header_t  *h;
    info_t     info;
    uint8_t   *r;
    uint32_t   newer, older, i;
    size_t     off;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 2);
    append(r, size, 4);

    check_ok(r, size, &info);
    newer = info.state;
    older = newer ^ 1;
    assert_int_equal(h->state[newer].used, 4);
    assert_int_equal(h->state[older].used, 2);

    /* any byte of the newer copy changed: the older copy, plus the ids
     * past its "used", which are adopted */

    for (off = 0; off < sizeof(bulletin_counters_state_t); off++) {
        if (off >= offsetof(bulletin_counters_state_t, reserved)) {
            break;                  /* the checksum covers it as it is */
        }

        ((uint8_t *) &h->state[newer])[off] ^= 0x01;

        check_ok(r, size, &info);

        if (info.state != older) {
            fail_msg("a changed byte %zu of the newer state copy was "
                     "taken", off);
        }

        assert_int_equal(info.used, 4);

        ((uint8_t *) &h->state[newer])[off] ^= 0x01;
    }

    check_ok(r, size, &info);
    assert_int_equal(info.state, newer);

    /* an older copy that is bad is not needed */

    h->state[older].crc ^= 1;
    check_ok(r, size, &info);
    assert_int_equal(info.state, newer);
    assert_int_equal(info.used, 4);

    /* both bad */

    h->state[newer].crc ^= 1;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_CHECKSUM);

    h->state[older].crc ^= 1;
    h->state[newer].crc ^= 1;
    check_ok(r, size, &info);

    /* a copy of seq 0 is never in force, whatever its checksum */

    h->state[newer].seq = 0;
    h->state[newer].crc = state_crc(r, newer);
    check_ok(r, size, &info);
    assert_int_equal(info.state, older);

    h->state[older].seq = 0;
    h->state[older].crc = state_crc(r, older);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_CHECKSUM);

    h->state[newer].seq = 7;
    h->state[newer].crc = state_crc(r, newer);
    h->state[older].seq = 6;
    h->state[older].crc = state_crc(r, older);
    check_ok(r, size, &info);
    assert_int_equal(info.state, newer);

    /* the higher seq wins, wherever it is */

    h->state[older].seq = 8;
    h->state[older].crc = state_crc(r, older);
    check_ok(r, size, &info);
    assert_int_equal(info.state, older);
    assert_int_equal(info.used, 4);

    h->state[older].seq = 6;
    h->state[older].crc = state_crc(r, older);

    /* the identity is under the checksum of both copies */

    for (off = 24; off < IDENTITY; off++) {
        r[off] ^= 0x80;
        assert_int_equal(check_fails(r, size, detail),
                         BULLETIN_COUNTERS_ERR_CHECKSUM);
        r[off] ^= 0x80;
    }

    /* an id both copies cover */

    for (i = 0; i < 64; i++) {
        bulletin_counters_slot(r, 1)->id[i] ^= 0x01;
        assert_int_equal(check_fails(r, size, detail),
                         BULLETIN_COUNTERS_ERR_CHECKSUM);
        bulletin_counters_slot(r, 1)->id[i] ^= 0x01;
    }

    /* the header's padding past the copies is nobody's */

    r[4000] = 0xff;
    check_ok(r, size, &info);
    assert_int_equal(info.state, newer);

}


static void
test_foreign(void **state)
{
    char       detail[BULLETIN_DETAIL_MAX];
    size_t     size;
    header_t  *h;
    info_t     info;
    uint8_t   *r;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 3);

    r[0] = 'b';
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_MAGIC);
    assert_non_null(strstr(detail, "BLTCOUNT"));
    r[0] = 'B';

    r[7] = 'S';
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_MAGIC);
    r[7] = 'T';

    h->version = 2;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_VERSION);
    assert_non_null(strstr(detail, "version 2"));
    h->version = 0;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_VERSION);
    h->version = 1;

    h->header_size = 8192;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_VERSION);
    h->header_size = 4096;

    h->byte_order = 0x04030201;     /* written by a big-endian machine */
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_BYTE_ORDER);
    h->byte_order = 0x01020304;

    h->slot_size = 128;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_SLOT_SIZE);
    assert_non_null(strstr(detail, "128"));
    assert_non_null(strstr(detail, "192"));
    h->slot_size = 256;
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_SLOT_SIZE);
    h->slot_size = 192;

    check_ok(r, size, &info);
    assert_int_equal(info.used, 3);

    /* a store, or zeroes, is not a counters file */

    memset(r, 0, BULLETIN_COUNTERS_HEADER);
    memcpy(r, BULLETIN_STORE_MAGIC, 8);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_MAGIC);

    memset(r, 0, size);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_MAGIC);

    /* a header whose identity is right and whose states are zero */

    bulletin_counters_format(r, size, CREATED, ZONE, strlen(ZONE));
    memset(&h->state, 0, sizeof(h->state));
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_CHECKSUM);

}


static void
test_truncated(void **state)
{
    char      detail[BULLETIN_DETAIL_MAX];
    size_t    size, s;
    info_t    info;
    uint8_t  *r;

    (void) state;

    r = region_new(NSLOTS, &size);

    append(r, size, 5);
    append(r, size, 5);         /* both copies cover the five ids */

    for (s = 0; s < BULLETIN_COUNTERS_HEADER; s += 97) {
        assert_int_equal(check_fails(r, s, detail),
                         BULLETIN_COUNTERS_ERR_SHORT);
    }

    assert_int_equal(check_fails(r, 4095, detail),
                     BULLETIN_COUNTERS_ERR_SHORT);
    assert_non_null(strstr(detail, "4095"));

    /* cut in the free slots: what remains is sound, and holds less */

    for (s = bulletin_counters_size(5); s < size; s += 61) {
        check_ok(r, s, &info);
        assert_int_equal(info.used, 5);
        assert_int_equal(info.capacity, bulletin_counters_capacity(s));
    }

    /* cut in the used slots: refused */

    for (s = BULLETIN_COUNTERS_HEADER; s < bulletin_counters_size(5);
         s += 37)
    {
        (void) check_fails(r, s, detail);
    }

}


/*
 * A region committed once, as nginx leaves a counters file after its
 * first start: the older copy is the format's, with no id.  Cut in its
 * used slots, the region must still be refused: files only grow, so a
 * copy whose "used" exceeds the capacity says the file lost slots.
 * Taking the older copy instead, and adopting the ids that are left,
 * makes the master grow the file back with the lost slots zeroed and
 * give their ids new slots: their counts silently reset.
 */

static void
test_truncated_after_one_commit(void **state)
{
    int       rc;
    char      detail[BULLETIN_DETAIL_MAX];
    size_t    size, s;
    info_t    info;
    uint8_t  *r;

    (void) state;

    r = region_new(NSLOTS, &size);

    append(r, size, 5);

    for (s = bulletin_counters_size(0); s < bulletin_counters_size(5);
         s += 37)
    {
        memset(detail, 'x', sizeof(detail));

        rc = bulletin_counters_check(r, s, &info, detail);

        if (rc == BULLETIN_COUNTERS_OK) {
            fail_msg("a region of 5 used slots cut to %zu bytes (%u slots) "
                     "is taken, with %u ids", s,
                     (unsigned) bulletin_counters_capacity(s),
                     (unsigned) info.used);
        }
    }

}


/*
 * A newer copy whose "used" is past the region's end, while the ids stop
 * before it: the region is whole and that copy is damaged, so the older
 * copy is taken, with the ids after it.
 */

static void
test_damaged_used(void **state)
{
    size_t     size;
    header_t  *h;
    info_t     info;
    uint8_t   *r;
    uint32_t   newer;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 3);
    append(r, size, 5);

    check_ok(r, size, &info);
    newer = info.state;

    h->state[newer].used = NSLOTS + 1000;

    check_ok(r, size, &info);
    assert_int_equal(info.state, newer ^ 1);
    assert_int_equal(info.used, 5);

    h->state[newer].used = UINT32_MAX;

    check_ok(r, size, &info);
    assert_int_equal(info.state, newer ^ 1);
    assert_int_equal(info.used, 5);

    /* the same, with ids to the region's end: cut short, refused */

    r = region_new(5, &size);
    h = (header_t *) r;

    append(r, size, 3);
    append(r, size, 5);

    check_ok(r, size, &info);
    h->state[info.state].used = 6;

    assert_int_not_equal(check(r, size, &info), BULLETIN_COUNTERS_OK);
}


/*
 * A file cut in its used slots should say so: "counters state out of
 * range" with the slots used and held, as the check's own branch for
 * it writes, rather than a checksum mismatch, which sends the operator
 * looking for corruption.
 */

static void
test_truncated_says_so(void **state)
{
    char      detail[BULLETIN_DETAIL_MAX];
    size_t    size;
    uint8_t  *r;

    (void) state;

    r = region_new(NSLOTS, &size);

    append(r, size, 5);
    append(r, size, 5);

    assert_int_equal(check_fails(r, bulletin_counters_size(3), detail),
                     BULLETIN_COUNTERS_ERR_STATE);
    assert_non_null(strstr(detail, "5 slots used of 3"));

}


static void
test_channels(void **state)
{
    char       detail[BULLETIN_DETAIL_MAX];
    size_t     size;
    header_t  *h;
    info_t     info;
    uint8_t   *r;
    uint32_t   i;

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    check_ok(r, size, &info);

    for (i = 0; i < BULLETIN_CHANNELS_MAX; i++) {
        snprintf(info.channels[i], 16, "ch-%u_%s", (unsigned) i,
                 i == 7 ? "abcdefghij" : "x");
    }

    assert_int_equal(strlen(info.channels[7]), 15);

    info.nchannels = BULLETIN_CHANNELS_MAX;
    bulletin_counters_commit(r, &info);

    check_ok(r, size, &info);
    assert_int_equal(info.nchannels, 8);
    assert_string_equal(info.channels[7], "ch-7_abcdefghij");

    /* a ninth, under a valid checksum */

    info.nchannels = 9;
    bulletin_counters_commit(r, &info);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_STATE);

    /* a bad name, under a valid checksum */

    info.nchannels = 2;
    strcpy(info.channels[1], "WeChat");
    bulletin_counters_commit(r, &info);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_STATE);
    assert_non_null(strstr(detail, "channel 1"));

    strcpy(info.channels[1], "");
    bulletin_counters_commit(r, &info);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_STATE);

    memset(info.channels[1], 'a', 16);     /* 16 bytes, no NUL */
    bulletin_counters_commit(r, &info);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_STATE);

    strcpy(info.channels[1], "qq");
    bulletin_counters_commit(r, &info);
    check_ok(r, size, &info);
    assert_int_equal(info.nchannels, 2);
    assert_string_equal(info.channels[1], "qq");
    assert_int_equal(h->state[info.state].crc, state_crc(r, info.state));

}


/* "nginx -t" maps the file read-only: the check must never write */

static void
test_read_only(void **state)
{
    size_t   size, len;
    info_t   info;
    uint8_t *r;
    long     page;

    (void) state;

    page = sysconf(_SC_PAGESIZE);
    size = bulletin_counters_size(NSLOTS);
    len = (size + page - 1) / page * page;

    r = mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
             -1, 0);
    assert_true(r != MAP_FAILED);

    bulletin_counters_format(r, size, CREATED, ZONE, strlen(ZONE));
    append(r, size, 3);
    put_id(r, 3, ids[3]);
    put_id(r, 4, ids[4]);
    ((header_t *) r)->state[1].crc ^= 1;   /* the newer copy, torn */

    assert_int_equal(mprotect(r, len, PROT_READ), 0);

    check_ok(r, size, &info);
    assert_int_equal(info.used, 5);
    assert_int_equal(info.state, 0);

    assert_int_equal(munmap(r, len), 0);
}


static void
test_zone_valid(void **state)
{
    size_t       i;
    char         name[40];
    const char  *good[] = { "bulletin", "a", "Z9", "my.zone-1_x", "a:b",
                            "~!#$%&'()*+,-./;<=>?@[]^`{|}" };
    const char  *bad[] = { "a b", "a\"b", "a\\b", "a\tb", "a\177",
                           "\xe7\xae\x80", "a\nb" };

    (void) state;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!bulletin_counters_zone_valid(good[i], strlen(good[i]))) {
            fail_msg("zone name \"%s\" refused", good[i]);
        }
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bulletin_counters_zone_valid(bad[i], strlen(bad[i]))) {
            fail_msg("zone name %zu taken", i);
        }
    }

    assert_false(bulletin_counters_zone_valid("", 0));
    assert_false(bulletin_counters_zone_valid("a\0b", 3));

    memset(name, 'z', sizeof(name));
    assert_true(bulletin_counters_zone_valid(name, 32));
    assert_false(bulletin_counters_zone_valid(name, 33));
}


/*
 * A region of an earlier version has zeros for a name: it is valid, and
 * unnamed, until the master names it; a name no copy in force covers is
 * none, so a naming cut short leaves the region unnamed.
 */

static void
test_zone_naming(void **state)
{
    char       detail[BULLETIN_DETAIL_MAX];
    size_t     size, i;
    header_t  *h;
    info_t     info, found;
    uint8_t   *r;

    (void) state;

    r = region_unnamed(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 3);

    for (i = ZONE_AT; i < IDENTITY; i++) {
        assert_int_equal(r[i], 0);
    }

    check_ok(r, size, &info);
    assert_string_equal(info.zone, "");
    assert_int_equal(info.used, 3);

    /* named, not yet committed: the copy in force covers no name */

    bulletin_counters_name(r, &info, ZONE, strlen(ZONE));
    assert_string_equal(info.zone, ZONE);
    assert_memory_equal(r + ZONE_AT, ZONE, strlen(ZONE) + 1);

    check_ok(r, size, &found);
    assert_string_equal(found.zone, "");
    assert_int_equal(found.used, 3);
    assert_int_equal(found.state, info.state);

    /* committed once: the newer copy covers it, the older does not */

    bulletin_counters_commit(r, &info);

    check_ok(r, size, &found);
    assert_string_equal(found.zone, ZONE);
    assert_int_equal(found.state, info.state);
    assert_int_equal(h->state[info.state].crc, state_crc(r, info.state));
    assert_int_not_equal(h->state[info.state ^ 1].crc,
                         state_crc(r, info.state ^ 1));

    /* the newer copy torn: the older one, which knows no name */

    h->state[info.state].crc ^= 1;
    check_ok(r, size, &found);
    assert_string_equal(found.zone, "");
    assert_int_equal(found.used, 3);
    h->state[info.state].crc ^= 1;

    /* committed twice: a damaged name is a damaged file */

    bulletin_counters_commit(r, &info);
    check_ok(r, size, &found);
    assert_string_equal(found.zone, ZONE);

    for (i = ZONE_AT; i < IDENTITY; i++) {
        r[i] ^= 0x01;
        assert_int_equal(check_fails(r, size, detail),
                         BULLETIN_COUNTERS_ERR_CHECKSUM);
        r[i] ^= 0x01;
    }

    memset(r + ZONE_AT, 0, 32);
    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_CHECKSUM);

    memcpy(r + ZONE_AT, ZONE, strlen(ZONE));
    check_ok(r, size, &found);
    assert_string_equal(found.zone, ZONE);

    /* an unnamed region with bytes in its name that nothing covers */

    r = region_unnamed(NSLOTS, &size);
    append(r, size, 2);

    memcpy(r + ZONE_AT, "\xff garbage \"\\", 12);
    check_ok(r, size, &found);
    assert_string_equal(found.zone, "");

    /* named over them: no byte of them is left */

    bulletin_counters_name(r, &found, "a", 1);
    bulletin_counters_commit(r, &found);

    check_ok(r, size, &found);
    assert_string_equal(found.zone, "a");
    assert_int_equal(found.used, 2);

    for (i = ZONE_AT + 1; i < IDENTITY; i++) {
        assert_int_equal(r[i], 0);
    }

    /* a commit with no name clears what a naming cut short left */

    r = region_unnamed(NSLOTS, &size);
    memcpy(r + ZONE_AT, "\xff garbage \"\\", 12);
    check_ok(r, size, &found);
    assert_string_equal(found.zone, "");

    bulletin_counters_commit(r, &found);

    for (i = ZONE_AT; i < IDENTITY; i++) {
        assert_int_equal(r[i], 0);
    }

    check_ok(r, size, &found);
    assert_string_equal(found.zone, "");

    /* 32 bytes, no NUL */

    r = region_unnamed(NSLOTS, &size);
    check_ok(r, size, &found);
    bulletin_counters_name(r, &found, "0123456789abcdef0123456789ABCDEF",
                           32);
    bulletin_counters_commit(r, &found);

    check_ok(r, size, &found);
    assert_string_equal(found.zone, "0123456789abcdef0123456789ABCDEF");
}


/*
 * A crash at any byte of a naming (the name written, then a commit):
 * the region is valid, keeps its ids, and is either unnamed or named in
 * full.
 */

static void
test_torn_naming(void **state)
{
    size_t      size, k;
    header_t   *h;
    info_t      info, found;
    uint8_t    *r, *before, *done;
    uint32_t    next;

    (void) state;

    r = region_unnamed(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 3);
    put_id(r, 3, ids[3]);               /* an append cut short too */

    /* a naming cut short before: garbage in the name */

    memcpy(r + ZONE_AT, "previous-name-cut-sh", 20);

    before = tracked(malloc(size));
    memcpy(before, r, size);

    check_ok(r, size, &info);
    assert_string_equal(info.zone, "");
    assert_int_equal(info.used, 4);

    done = tracked(malloc(size));
    memcpy(done, r, size);
    bulletin_counters_name(done, &info, ZONE, strlen(ZONE));
    bulletin_counters_commit(done, &info);
    next = info.state;

    /* every byte of the name, over the garbage */

    for (k = 0; k <= 32; k++) {
        memcpy(r, before, size);
        memcpy(r + ZONE_AT, done + ZONE_AT, k);

        check_ok(r, size, &found);
        assert_string_equal(found.zone, "");
        assert_int_equal(found.used, 4);
    }

    /* then every byte of the commit */

    for (k = 0; k <= sizeof(bulletin_counters_state_t); k++) {
        memcpy(r, before, size);
        memcpy(r + ZONE_AT, done + ZONE_AT, 32);
        memcpy(&h->state[next], &((header_t *) done)->state[next], k);

        check_ok(r, size, &found);
        assert_int_equal(found.used, 4);

        if (found.state == next) {
            assert_string_equal(found.zone, ZONE);
            assert_true(k >= offsetof(bulletin_counters_state_t, reserved));

        } else {
            assert_string_equal(found.zone, "");
        }
    }

    assert_int_equal(found.state, next);
}


/* a name the copies cover, but that no master writes: refused */

static void
test_zone_invalid(void **state)
{
    char          detail[BULLETIN_DETAIL_MAX];
    size_t        size, i;
    info_t        info;
    header_t     *h;
    uint8_t      *r;
    const char   *bad[] = { "a b", "a\"b", "a\\b", "\x01", "\xe7\xae\x80" };

    (void) state;

    r = region_new(NSLOTS, &size);
    h = (header_t *) r;

    append(r, size, 2);
    append(r, size, 2);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(r + ZONE_AT, 0, 32);
        memcpy(r + ZONE_AT, bad[i], strlen(bad[i]));
        h->state[0].crc = state_crc(r, 0);
        h->state[1].crc = state_crc(r, 1);

        assert_int_equal(check_fails(r, size, detail),
                         BULLETIN_COUNTERS_ERR_ZONE);
    }

    /* bytes after the name's end */

    memset(r + ZONE_AT, 0, 32);
    memcpy(r + ZONE_AT, "ab\0x", 4);
    h->state[0].crc = state_crc(r, 0);
    h->state[1].crc = state_crc(r, 1);

    assert_int_equal(check_fails(r, size, detail),
                     BULLETIN_COUNTERS_ERR_ZONE);
    assert_non_null(strstr(detail, "byte 3"));

    r[ZONE_AT + 3] = '\0';
    h->state[0].crc = state_crc(r, 0);
    h->state[1].crc = state_crc(r, 1);

    check_ok(r, size, &info);
    assert_string_equal(info.zone, "ab");
}


static void
test_strerror(void **state)
{
    int          i, j;
    const char  *s[BULLETIN_COUNTERS_ERR_LAST];

    (void) state;

    for (i = BULLETIN_COUNTERS_ERR_SHORT; i < BULLETIN_COUNTERS_ERR_LAST;
         i++)
    {
        s[i] = bulletin_counters_strerror(i);
        assert_non_null(s[i]);
        assert_true(strlen(s[i]) > 0);
        assert_null(strstr(s[i], "unknown"));

        for (j = BULLETIN_COUNTERS_ERR_SHORT; j < i; j++) {
            assert_string_not_equal(s[i], s[j]);
        }
    }

    assert_non_null(strstr(bulletin_counters_strerror(
                               BULLETIN_COUNTERS_ERR_CHECKSUM), "checksum"));
    assert_non_null(strstr(bulletin_counters_strerror(
                               BULLETIN_COUNTERS_ERR_MAGIC), "magic"));

    /* the store's errors, and nonsense, pass through */

    assert_string_equal(bulletin_counters_strerror(BULLETIN_ERR_SYSTEM),
                        bulletin_strerror(BULLETIN_ERR_SYSTEM));
    assert_string_equal(bulletin_counters_strerror(-1),
                        bulletin_strerror(-1));
    assert_string_equal(
        bulletin_counters_strerror(BULLETIN_COUNTERS_ERR_LAST),
        bulletin_strerror(BULLETIN_COUNTERS_ERR_LAST));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_teardown(test_layout, teardown),
        cmocka_unit_test_teardown(test_capacity, teardown),
        cmocka_unit_test_teardown(test_format, teardown),
        cmocka_unit_test_teardown(test_commit, teardown),
        cmocka_unit_test_teardown(test_id_len, teardown),
        cmocka_unit_test_teardown(test_adoption, teardown),
        cmocka_unit_test_teardown(test_torn_commit, teardown),
        cmocka_unit_test_teardown(test_state_copies, teardown),
        cmocka_unit_test_teardown(test_foreign, teardown),
        cmocka_unit_test_teardown(test_truncated, teardown),
        cmocka_unit_test_teardown(test_truncated_after_one_commit,
                                  teardown),
        cmocka_unit_test_teardown(test_truncated_says_so, teardown),
        cmocka_unit_test_teardown(test_damaged_used, teardown),
        cmocka_unit_test_teardown(test_channels, teardown),
        cmocka_unit_test_teardown(test_read_only, teardown),
        cmocka_unit_test_teardown(test_zone_valid, teardown),
        cmocka_unit_test_teardown(test_zone_naming, teardown),
        cmocka_unit_test_teardown(test_torn_naming, teardown),
        cmocka_unit_test_teardown(test_zone_invalid, teardown),
        cmocka_unit_test_teardown(test_strerror, teardown),
    };

    return cmocka_run_group_tests_name("bulletin_counters", tests, NULL,
                                       NULL);
}
