
/*
 * Copyright (C) bulletin authors
 */


#include <string.h>
#include <zlib.h>

#include "bulletin_store.h"
#include "bulletin_counters.h"


#define BULLETIN_COUNTERS_IDENTITY                                            \
    offsetof(bulletin_counters_header_t, state)

#define bulletin_counters_assert(name, cond)                                  \
    typedef char bulletin_counters_assert_##name[(cond) ? 1 : -1]

bulletin_counters_assert(slot,
                         sizeof(bulletin_counters_slot_t) == 192);
bulletin_counters_assert(state,
                         sizeof(bulletin_counters_state_t) == 152);
bulletin_counters_assert(zone,
                         offsetof(bulletin_counters_header_t, zone) == 32);
bulletin_counters_assert(header,
                         sizeof(bulletin_counters_header_t)
                         <= BULLETIN_COUNTERS_HEADER);


static int bulletin_counters_identity(const bulletin_counters_header_t *h,
    size_t size, char *detail);
static int bulletin_counters_in_force(const bulletin_counters_header_t *h,
    uint32_t capacity, bulletin_counters_info_t *info,
    const bulletin_counters_state_t **in_force,
    const bulletin_counters_state_t **cut, char *detail);
static int bulletin_counters_cut(const bulletin_counters_state_t *cut,
    uint32_t capacity, char *detail);
static int bulletin_counters_channels(const bulletin_counters_state_t *st,
    char *detail);
static uint32_t bulletin_counters_adopt(const void *region, uint32_t used,
    uint32_t capacity);
static uint32_t bulletin_counters_crc(const void *region,
    const bulletin_counters_state_t *state, int unnamed);
static int bulletin_counters_state_valid(const void *region,
    const bulletin_counters_state_t *state);
static void bulletin_counters_put_zone(bulletin_counters_header_t *h,
    const char *zone);
static int bulletin_counters_zone_check(const bulletin_counters_header_t *h,
    bulletin_counters_info_t *info, char *detail);


static const char  *bulletin_counters_errors[] = {
    "counters region too short",
    "not a counters file (bad magic)",
    "unsupported counters format version",
    "counters file of another byte order",
    "counters file of another slot size",
    "counters header checksum mismatch",
    "counters state out of range",
    "counters zone full",
    "too many share channels",
    "invalid zone name in the counters header",
};


const char *
bulletin_counters_strerror(int err)
{
    if (err >= BULLETIN_COUNTERS_ERR_SHORT
        && err < BULLETIN_COUNTERS_ERR_LAST)
    {
        return bulletin_counters_errors[err - BULLETIN_COUNTERS_ERR_SHORT];
    }

    return bulletin_strerror(err);
}


uint32_t
bulletin_counters_capacity(size_t size)
{
    size_t  n;

    if (size < BULLETIN_COUNTERS_HEADER) {
        return 0;
    }

    n = (size - BULLETIN_COUNTERS_HEADER) / sizeof(bulletin_counters_slot_t);

    return n > UINT32_MAX ? UINT32_MAX : (uint32_t) n;
}


size_t
bulletin_counters_size(uint32_t n)
{
    return BULLETIN_COUNTERS_HEADER
           + (size_t) n * sizeof(bulletin_counters_slot_t);
}


int
bulletin_counters_zone_valid(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > BULLETIN_COUNTERS_ZONE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (name[i] < '!' || name[i] > '~' || name[i] == '"'
            || name[i] == '\\')
        {
            return 0;
        }
    }

    return 1;
}


void
bulletin_counters_format(void *region, size_t size, int64_t created,
    const char *zone, size_t len)
{
    bulletin_counters_header_t  *h = region;

    memset(h, 0, BULLETIN_COUNTERS_HEADER);

    memcpy(h->magic, BULLETIN_COUNTERS_MAGIC, sizeof(h->magic));
    h->version = BULLETIN_COUNTERS_VERSION;
    h->byte_order = BULLETIN_STORE_BYTE_ORDER;
    h->header_size = BULLETIN_COUNTERS_HEADER;
    h->slot_size = sizeof(bulletin_counters_slot_t);
    h->created = created;

    if (len) {
        memcpy(h->zone, zone, len);
    }

    h->state[0].seq = 1;
    h->state[0].crc = bulletin_counters_crc(region, &h->state[0], 0);
}


int
bulletin_counters_check(const void *region, size_t size,
    bulletin_counters_info_t *info, char *detail)
{
    int                                rc;
    uint32_t                           capacity, used;
    const bulletin_counters_state_t   *st, *cut;
    const bulletin_counters_header_t  *h = region;

    detail[0] = '\0';

    rc = bulletin_counters_identity(h, size, detail);
    if (rc != BULLETIN_COUNTERS_OK) {
        return rc;
    }

    capacity = bulletin_counters_capacity(size);

    rc = bulletin_counters_in_force(h, capacity, info, &st, &cut, detail);
    if (rc != BULLETIN_COUNTERS_OK) {
        return rc;
    }

    rc = bulletin_counters_channels(st, detail);
    if (rc != BULLETIN_COUNTERS_OK) {
        return rc;
    }

    used = bulletin_counters_adopt(region, st->used, capacity);

    /*
     * A newer state beyond the region's end: if ids run to the end, the
     * region was cut short and slots are lost; if not, that state is the
     * damaged one and the older, with the ids after it, is whole.
     */

    if (cut != NULL && cut->seq > st->seq && used == capacity) {
        return bulletin_counters_cut(cut, capacity, detail);
    }

    info->capacity = capacity;
    info->used = used;
    info->nchannels = st->nchannels;
    memcpy(info->channels, st->channels, sizeof(info->channels));
    info->created = h->created;

    return BULLETIN_COUNTERS_OK;
}


static int
bulletin_counters_identity(const bulletin_counters_header_t *h, size_t size,
    char *detail)
{
    if (size < BULLETIN_COUNTERS_HEADER) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_SHORT,
                             "%zu bytes, the header alone is %d",
                             size, BULLETIN_COUNTERS_HEADER);
    }

    if (memcmp(h->magic, BULLETIN_COUNTERS_MAGIC, sizeof(h->magic)) != 0) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_MAGIC,
                             "the file does not begin with \"%s\"",
                             BULLETIN_COUNTERS_MAGIC);
    }

    if (h->byte_order != BULLETIN_STORE_BYTE_ORDER) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_BYTE_ORDER,
                             "byte order mark 0x%08x",
                             (unsigned) h->byte_order);
    }

    if (h->version != BULLETIN_COUNTERS_VERSION
        || h->header_size != BULLETIN_COUNTERS_HEADER)
    {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_VERSION,
                             "version %u with a %u-byte header, "
                             "this module reads version %d",
                             (unsigned) h->version,
                             (unsigned) h->header_size,
                             BULLETIN_COUNTERS_VERSION);
    }

    if (h->slot_size != sizeof(bulletin_counters_slot_t)) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_SLOT_SIZE,
                             "slots of %u bytes, this module's are %zu",
                             (unsigned) h->slot_size,
                             sizeof(bulletin_counters_slot_t));
    }

    return BULLETIN_COUNTERS_OK;
}


/*
 * The state copy in force, the newest valid one, and the zone name it
 * covers; *cut is the newest copy that counts more slots than the region
 * holds, which cannot be checked: the region lost slots, if that copy is
 * the newest.
 */

static int
bulletin_counters_in_force(const bulletin_counters_header_t *h,
    uint32_t capacity, bulletin_counters_info_t *info,
    const bulletin_counters_state_t **in_force,
    const bulletin_counters_state_t **cut, char *detail)
{
    int                               valid, named;
    uint32_t                          i;
    const bulletin_counters_state_t  *st;

    st = NULL;
    *cut = NULL;
    named = 0;

    for (i = 0; i < 2; i++) {

        if (h->state[i].seq == 0) {
            continue;
        }

        if (h->state[i].used > capacity) {
            if (*cut == NULL || h->state[i].seq > (*cut)->seq) {
                *cut = &h->state[i];
            }

            continue;
        }

        valid = bulletin_counters_state_valid(h, &h->state[i]);

        if (valid == 0) {
            continue;
        }

        if (st == NULL || h->state[i].seq > st->seq) {
            st = &h->state[i];
            info->state = i;
            named = (valid == 1);
        }
    }

    *in_force = st;

    if (*cut != NULL && st == NULL) {
        return bulletin_counters_cut(*cut, capacity, detail);
    }

    if (st == NULL) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_CHECKSUM,
                             "neither copy of the state matches its "
                             "checksum");
    }

    /* a name no copy in force covers is a naming cut short: none */

    info->zone[0] = '\0';

    if (named) {
        return bulletin_counters_zone_check(h, info, detail);
    }

    return BULLETIN_COUNTERS_OK;
}


static int
bulletin_counters_cut(const bulletin_counters_state_t *cut,
    uint32_t capacity, char *detail)
{
    return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_STATE,
                         "%u slots used of %u the file holds: "
                         "it was cut short", (unsigned) cut->used,
                         (unsigned) capacity);
}


static int
bulletin_counters_channels(const bulletin_counters_state_t *st, char *detail)
{
    size_t    n;
    uint32_t  i;

    if (st->nchannels > BULLETIN_CHANNELS_MAX) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_STATE,
                             "%u channels", (unsigned) st->nchannels);
    }

    for (i = 0; i < st->nchannels; i++) {
        n = strnlen(st->channels[i], BULLETIN_CHANNEL_SIZE);

        if (!bulletin_channel_valid((const uint8_t *) st->channels[i], n)) {
            return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_STATE,
                                 "channel %u has an invalid name",
                                 (unsigned) i);
        }
    }

    return BULLETIN_COUNTERS_OK;
}


/* the state's slots and the ids an append wrote before committing them */

static uint32_t
bulletin_counters_adopt(const void *region, uint32_t used, uint32_t capacity)
{
    const bulletin_counters_slot_t  *slot;

    while (used < capacity) {
        slot = bulletin_counters_slot((void *) region, used);

        if (slot->id[0] == '\0'
            || !bulletin_id_valid((const uint8_t *) slot->id,
                                  bulletin_counters_id_len(slot), 1))
        {
            break;
        }

        used++;
    }

    return used;
}


void
bulletin_counters_commit(void *region, bulletin_counters_info_t *info)
{
    uint32_t                     next;
    bulletin_counters_state_t   *st;
    bulletin_counters_header_t  *h = region;

    next = info->state ^ 1;
    st = &h->state[next];

    bulletin_counters_put_zone(h, info->zone);

    /* a copy cut short fails its checksum: the other copy stays in force */

    st->seq = h->state[info->state].seq + 1;
    st->used = info->used;
    st->nchannels = info->nchannels;
    memcpy(st->channels, info->channels, sizeof(st->channels));
    st->reserved = 0;
    st->crc = bulletin_counters_crc(region, st, 0);

    info->state = next;
}


void
bulletin_counters_name(void *region, bulletin_counters_info_t *info,
    const char *zone, size_t len)
{
    memcpy(info->zone, zone, len);
    info->zone[len] = '\0';

    bulletin_counters_put_zone(region, info->zone);
}


bulletin_counters_slot_t *
bulletin_counters_slot(void *region, uint32_t i)
{
    return (bulletin_counters_slot_t *) ((char *) region
                                         + BULLETIN_COUNTERS_HEADER)
           + i;
}


size_t
bulletin_counters_id_len(const bulletin_counters_slot_t *slot)
{
    return strnlen(slot->id, sizeof(slot->id));
}


/* 1: valid; 2: valid with the zone name read as zeros; 0: not valid */

static int
bulletin_counters_state_valid(const void *region,
    const bulletin_counters_state_t *state)
{
    size_t                             i;
    const bulletin_counters_header_t  *h = region;

    if (bulletin_counters_crc(region, state, 0) == state->crc) {
        return 1;
    }

    for (i = 0; i < sizeof(h->zone); i++) {
        if (h->zone[i] != '\0') {
            return bulletin_counters_crc(region, state, 1) == state->crc
                   ? 2 : 0;
        }
    }

    return 0;
}


/* unchanged bytes are not written: "nginx -t" may be reading them */

static void
bulletin_counters_put_zone(bulletin_counters_header_t *h, const char *zone)
{
    char  name[BULLETIN_COUNTERS_ZONE_MAX];

    /* a naming cut short may have left bytes past this name's end */

    memset(name, 0, sizeof(name));
    memcpy(name, zone, strnlen(zone, sizeof(name)));

    if (memcmp(h->zone, name, sizeof(name)) != 0) {
        memcpy(h->zone, name, sizeof(name));
    }
}


static int
bulletin_counters_zone_check(const bulletin_counters_header_t *h,
    bulletin_counters_info_t *info, char *detail)
{
    size_t  i, len;

    len = strnlen(h->zone, sizeof(h->zone));

    for (i = len; i < sizeof(h->zone); i++) {
        if (h->zone[i] != '\0') {
            return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_ZONE,
                                 "byte %zu of the zone name follows its "
                                 "end", i);
        }
    }

    if (len && !bulletin_counters_zone_valid(h->zone, len)) {
        return bulletin_fail(detail, BULLETIN_COUNTERS_ERR_ZONE,
                             "the zone name holds a byte that is not a "
                             "printable ASCII character");
    }

    memcpy(info->zone, h->zone, len);
    info->zone[len] = '\0';

    return BULLETIN_COUNTERS_OK;
}


static uint32_t
bulletin_counters_crc(const void *region,
    const bulletin_counters_state_t *state, int unnamed)
{
    uint8_t                          identity[BULLETIN_COUNTERS_IDENTITY];
    uint32_t                         i, crc;
    bulletin_counters_state_t        copy;
    const bulletin_counters_slot_t  *slot;

    memcpy(identity, region, sizeof(identity));

    if (unnamed) {
        memset(identity + offsetof(bulletin_counters_header_t, zone), 0,
               BULLETIN_COUNTERS_ZONE_MAX);
    }

    crc = (uint32_t) crc32_z(0, identity, sizeof(identity));

    copy = *state;
    copy.crc = 0;

    crc = (uint32_t) crc32_z(crc, (const uint8_t *) &copy, sizeof(copy));

    for (i = 0; i < state->used; i++) {
        slot = bulletin_counters_slot((void *) region, i);
        crc = (uint32_t) crc32_z(crc, (const uint8_t *) slot->id,
                                 sizeof(slot->id));
    }

    return crc;
}
