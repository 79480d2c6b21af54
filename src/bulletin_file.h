
/*
 * Copyright (C) bulletin authors
 *
 * Opening and reading the files the builder takes in (bulletins,
 * templates, the previous store): never through a symbolic link, which
 * an editor could point at any file the build user may read and so
 * publish it; never blocking, since a FIFO renamed into place would hang
 * the reader; and only a regular file.
 */


#ifndef _BULLETIN_FILE_H_INCLUDED_
#define _BULLETIN_FILE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>


/*
 * A descriptor of a regular file, or -1 with *reason saying why not:
 * "is a symbolic link, which is not followed", "is a folder", "is not a
 * regular file", or strerror(errno).
 */
int bulletin_file_open(const char *path, struct stat *sb,
    const char **reason);

/*
 * The whole file in a malloc()ed buffer, at most max bytes, or NULL
 * with "PATH: what failed" in err.
 */
uint8_t *bulletin_file_read(const char *path, size_t max, size_t *len,
    char *err, size_t size);


#endif /* _BULLETIN_FILE_H_INCLUDED_ */
