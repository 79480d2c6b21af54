
/*
 * Copyright (C) bulletin authors
 *
 * CRC-32 (the gzip and zlib one, reflected polynomial 0xedb88320) and
 * the GF(2) arithmetic that combines two CRCs without the bytes: the CRC
 * of A followed by B is  bulletin_crc32_multmodp(op, crc(A)) ^ crc(B),
 * where op = bulletin_crc32_op(len(B)) = x^(8 * len(B)) mod P.  zlib's
 * crc32_combine() computes op anew on every call; keeping op in the store
 * leaves one 32-step multiplication per piece at request time.
 */


#ifndef _BULLETIN_CRC_H_INCLUDED_
#define _BULLETIN_CRC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* crc is the CRC so far (0 to start), as zlib's crc32() */
uint32_t bulletin_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* x^(8 * len) mod P: the operator of a piece of len bytes */
uint32_t bulletin_crc32_op(uint64_t len);

/*
 * x^(8 * n) mod P for n = 0 .. 20: the operators of short pieces, such
 * as a count's decimal digits, without any multiplication
 */
#define BULLETIN_CRC32_OP_TABLE_LEN  21

extern const uint32_t  bulletin_crc32_op_table[BULLETIN_CRC32_OP_TABLE_LEN];

/* a * b mod P */
uint32_t bulletin_crc32_multmodp(uint32_t a, uint32_t b);

/* the CRC of A followed by B, from crc(A), crc(B) and B's operator */
uint32_t bulletin_crc32_combine_op(uint32_t crc_a, uint32_t crc_b,
    uint32_t op_b);


#endif /* _BULLETIN_CRC_H_INCLUDED_ */
