
/*
 * Copyright (C) bulletin authors
 *
 * Walking a valid JSON text to a key or an element, for the positions
 * of the builder's messages.
 */


#ifndef _BULLETIN_JSON_SCAN_H_INCLUDED_
#define _BULLETIN_JSON_SCAN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* past the white space at p */
const uint8_t *bulletin_json_ws(const uint8_t *p, const uint8_t *end);

/*
 * The key of an object (obj at its "{") whose name is key, its value in
 * *value; NULL when there is none
 */
const uint8_t *bulletin_json_find_key(const uint8_t *obj,
    const uint8_t *end, const char *key, size_t len, const uint8_t **value);

/* the index-th element of an array (arr at its "["), or NULL */
const uint8_t *bulletin_json_element(const uint8_t *arr,
    const uint8_t *end, size_t index);


#endif /* _BULLETIN_JSON_SCAN_H_INCLUDED_ */
