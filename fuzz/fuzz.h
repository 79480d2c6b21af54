
/*
 * Copyright (C) bulletin authors
 *
 * What the libFuzzer targets in fuzz/ share: a check that aborts with
 * the failed condition, so that a broken property is a crash libFuzzer
 * keeps and minimizes, like a sanitizer's report.
 */


#ifndef _BULLETIN_FUZZ_H_INCLUDED_
#define _BULLETIN_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


#define fuzz_check(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,            \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#endif /* _BULLETIN_FUZZ_H_INCLUDED_ */
