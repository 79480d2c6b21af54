/*
 * Copyright (C) bulletin authors
 *
 * CRC-32 is zlib's: crc32_z() for bytes.  What zlib leaves to be wished
 * is here: the operator of a length that any z_off_t can take, and the
 * combination of two CRCs with a stored operator at request time.  The
 * CRC of A followed by B is  bulletin_crc32_combine_op(crc(A), crc(B),
 * op), where op = bulletin_crc32_op(len(B)) = x^(8 * len(B)) mod P.
 */


#ifndef _BULLETIN_CRC_H_INCLUDED_
#define _BULLETIN_CRC_H_INCLUDED_


#include <stdint.h>


/* x^(8 * len) mod P: the operator of a piece of len bytes */
uint32_t bulletin_crc32_op(uint64_t len);

/* the CRC of A followed by B, from crc(A), crc(B) and B's operator */
uint32_t bulletin_crc32_combine_op(uint32_t crc_a, uint32_t crc_b,
    uint32_t op_b);


#endif /* _BULLETIN_CRC_H_INCLUDED_ */
