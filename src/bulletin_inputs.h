
/*
 * Copyright (C) bulletin authors
 *
 * The builder's inputs: .json files named, and the *.json files of the
 * folders named, in name order (hidden files skipped).  No symbolic
 * link is followed.
 */


#ifndef _BULLETIN_INPUTS_H_INCLUDED_
#define _BULLETIN_INPUTS_H_INCLUDED_


#include <stddef.h>


typedef struct {
    char                   **paths;
    size_t                   n;
    size_t                   nalloc;
} bulletin_inputs_t;


/* adds input's files; -1 with "INPUT: what is wrong" in err */
int bulletin_inputs_collect(bulletin_inputs_t *f, const char *input,
    char *err, size_t size);
void bulletin_inputs_free(bulletin_inputs_t *f);


#endif /* _BULLETIN_INPUTS_H_INCLUDED_ */
