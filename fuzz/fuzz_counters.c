
/*
 * Copyright (C) bulletin authors
 *
 * The counters region check with arbitrary bytes (a counters file is
 * read by `nginx -t` and by every master), then what the module does
 * with a region it accepted: commit a state, append an id as an
 * interrupted append leaves it, name a region that has no zone name,
 * and check again.
 *
 * Each input is checked twice: as it is, and with both state copies'
 * checksums made right, so that the checks past the checksum see the
 * mutations.
 */


#include <string.h>
#include <zlib.h>

#include "bulletin_store.h"
#include "bulletin_counters.h"
#include "fuzz.h"


static void fuzz_counters(uint8_t *region, size_t size);
static void fuzz_counters_again(uint8_t *region, size_t size,
    const bulletin_counters_info_t *before);
static void fuzz_counters_info(const uint8_t *region, size_t size,
    const bulletin_counters_info_t *info);
static uint32_t fuzz_counters_crc(const uint8_t *region,
    const bulletin_counters_state_t *state);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          i, fixed;
    uint8_t                     *region;
    uint32_t                     crc;
    bulletin_counters_header_t  *h;

    /* exactly size bytes (malloc's alignment is 16): ASan sees past it */
    region = malloc(size ? size : 1);
    fuzz_check(region != NULL);

    memcpy(region, data, size);
    fuzz_counters(region, size);

    if (size < BULLETIN_COUNTERS_HEADER) {
        free(region);
        return 0;
    }

    memcpy(region, data, size);
    h = (bulletin_counters_header_t *) region;
    fixed = 0;

    for (i = 0; i < 2; i++) {
        if (h->state[i].used > bulletin_counters_capacity(size)) {
            continue;
        }

        crc = fuzz_counters_crc(region, &h->state[i]);

        if (crc != h->state[i].crc) {
            h->state[i].crc = crc;
            fixed = 1;
        }
    }

    if (fixed) {
        fuzz_counters(region, size);
    }

    free(region);

    return 0;
}


static void
fuzz_counters(uint8_t *region, size_t size)
{
    int                        rc;
    char                       detail[BULLETIN_DETAIL_MAX];
    bulletin_counters_info_t   info;

    memset(detail, 'x', sizeof(detail));

    rc = bulletin_counters_check(region, size, &info, detail);

    fuzz_check(memchr(detail, '\0', sizeof(detail)) != NULL);

    if (rc != BULLETIN_COUNTERS_OK) {
        fuzz_check(rc >= BULLETIN_COUNTERS_ERR_SHORT
                   && rc < BULLETIN_COUNTERS_ERR_LAST);
        fuzz_check(detail[0] != '\0');
        fuzz_check(strcmp(bulletin_counters_strerror(rc), "unknown error")
                   != 0);
        return;
    }

    fuzz_counters_info(region, size, &info);
    fuzz_counters_again(region, size, &info);
}


/*
 * What the module does next: commit the state (adopting the ids an
 * interrupted append left), append one id without committing (a crash
 * mid-append), check, commit, check.  Every check must accept the region
 * and keep every slot it had.
 */

static void
fuzz_counters_again(uint8_t *region, size_t size,
    const bulletin_counters_info_t *before)
{
    int                          rc;
    char                         detail[BULLETIN_DETAIL_MAX];
    uint32_t                     used;
    bulletin_counters_info_t     info, again;
    bulletin_counters_slot_t    *slot;
    bulletin_counters_header_t  *h;

    h = (bulletin_counters_header_t *) region;

    /* a sequence number at its end wraps to 0, "never written" */
    if (h->state[before->state].seq >= UINT64_MAX - 2) {
        return;
    }

    info = *before;
    bulletin_counters_commit(region, &info);

    fuzz_check(info.state == (before->state ^ 1));

    rc = bulletin_counters_check(region, size, &again, detail);

    fuzz_check(rc == BULLETIN_COUNTERS_OK);
    fuzz_check(again.state == info.state);
    fuzz_check(again.used == before->used);
    fuzz_check(again.nchannels == before->nchannels);
    fuzz_check(memcmp(again.channels, before->channels,
                      sizeof(again.channels)) == 0);
    fuzz_check(again.capacity == before->capacity);
    fuzz_check(again.created == before->created);
    fuzz_check(strcmp(again.zone, before->zone) == 0);

    /* a region with no zone name is named, as the master does */

    if (again.zone[0] == '\0') {
        bulletin_counters_name(region, &again, "fuzz-zone", 9);

        rc = bulletin_counters_check(region, size, &info, detail);

        fuzz_check(rc == BULLETIN_COUNTERS_OK);
        fuzz_check(info.zone[0] == '\0');
        fuzz_check(info.used == again.used);

        bulletin_counters_commit(region, &again);

        rc = bulletin_counters_check(region, size, &info, detail);

        fuzz_check(rc == BULLETIN_COUNTERS_OK);
        fuzz_check(strcmp(info.zone, "fuzz-zone") == 0);
        fuzz_check(info.used == again.used);

        again = info;
    }

    if (again.used == again.capacity) {
        return;
    }

    used = again.used;
    slot = bulletin_counters_slot(region, used);

    memset(slot->id, 0, sizeof(slot->id));
    memcpy(slot->id, "fuzz-append", sizeof("fuzz-append") - 1);

    rc = bulletin_counters_check(region, size, &again, detail);

    fuzz_check(rc == BULLETIN_COUNTERS_OK);
    fuzz_check(again.used >= used + 1);
    fuzz_counters_info(region, size, &again);

    used = again.used;
    bulletin_counters_commit(region, &again);

    rc = bulletin_counters_check(region, size, &info, detail);

    fuzz_check(rc == BULLETIN_COUNTERS_OK);
    fuzz_check(info.used == used);
}


/* what a caller may trust of an accepted region */

static void
fuzz_counters_info(const uint8_t *region, size_t size,
    const bulletin_counters_info_t *info)
{
    size_t                              len;
    uint32_t                            i;
    bulletin_counters_slot_t            copy;
    const bulletin_counters_slot_t     *slot;
    const bulletin_counters_header_t   *h;

    h = (const bulletin_counters_header_t *) region;

    fuzz_check(info->capacity == bulletin_counters_capacity(size));
    fuzz_check(info->used <= info->capacity);
    fuzz_check(info->state < 2);
    fuzz_check(h->state[info->state].used <= info->used);
    fuzz_check(info->nchannels <= BULLETIN_CHANNELS_MAX);
    fuzz_check(bulletin_counters_size(info->capacity) <= size);

    /* a zone name the module may print: terminated, and valid if any */

    len = strnlen(info->zone, sizeof(info->zone));
    fuzz_check(len < sizeof(info->zone));
    fuzz_check(len == 0 || bulletin_counters_zone_valid(info->zone, len));
    fuzz_check(len == 0 || memcmp(h->zone, info->zone, len) == 0);

    for (i = 0; i < info->nchannels; i++) {
        len = strnlen(info->channels[i], 16);
        fuzz_check(len < 16);
        fuzz_check(bulletin_channel_valid((const uint8_t *) info->channels[i],
                                          len));
    }

    /* the slots the module reads: every byte of each, where ASan sees */

    for (i = 0; i < info->used; i++) {
        slot = bulletin_counters_slot((void *) region, i);
        len = bulletin_counters_id_len(slot);

        fuzz_check(len <= BULLETIN_ID_MAX);
        fuzz_check((const uint8_t *) (slot + 1) <= region + size);

        if (i >= h->state[info->state].used) {
            /* adopted: only valid ids are */
            fuzz_check(bulletin_id_valid((const uint8_t *) slot->id, len, 1));
        }

        memcpy(&copy, slot, sizeof(copy));
        (void) bulletin_id_hash((const uint8_t *) slot->id, len);
    }
}


/* the state checksum, as src/bulletin_counters.c documents it */

static uint32_t
fuzz_counters_crc(const uint8_t *region,
    const bulletin_counters_state_t *state)
{
    uint32_t                    i, crc;
    bulletin_counters_state_t   copy;

    crc = (uint32_t) crc32_z(0, region,
                             offsetof(bulletin_counters_header_t, state));

    copy = *state;
    copy.crc = 0;

    crc = (uint32_t) crc32_z(crc, (const uint8_t *) &copy, sizeof(copy));

    for (i = 0; i < state->used; i++) {
        crc = (uint32_t) crc32_z(crc, region + BULLETIN_COUNTERS_HEADER
                                      + (size_t) i
                                        * sizeof(bulletin_counters_slot_t)
                                      + offsetof(bulletin_counters_slot_t,
                                                 id),
                                 BULLETIN_ID_MAX);
    }

    return crc;
}
