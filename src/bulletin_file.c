
/*
 * Copyright (C) bulletin authors
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulletin_file.h"


int
bulletin_file_open(const char *path, struct stat *sb, const char **reason)
{
    int  fd, e;

    fd = open(path, O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC);

    if (fd == -1) {
        e = errno;

        /* O_NOFOLLOW's ELOOP also answers a loop of links: say which */

        if (e == ELOOP && lstat(path, sb) == 0 && S_ISLNK(sb->st_mode)) {
            *reason = "is a symbolic link, which is not followed";

        } else {
            *reason = strerror(e);
        }

        errno = e;
        return -1;
    }

    if (fstat(fd, sb) == -1) {
        e = errno;
        *reason = strerror(e);
        close(fd);
        errno = e;
        return -1;
    }

    if (!S_ISREG(sb->st_mode)) {
        *reason = S_ISDIR(sb->st_mode) ? "is a folder"
                                       : "is not a regular file";
        close(fd);
        errno = S_ISDIR(sb->st_mode) ? EISDIR : EINVAL;
        return -1;
    }

    return fd;
}


uint8_t *
bulletin_file_read(const char *path, size_t max, size_t *len, char *err,
    size_t size)
{
    int           fd;
    size_t        n, want;
    ssize_t       r;
    uint8_t      *buf;
    const char   *reason;
    struct stat   sb;

    fd = bulletin_file_open(path, &sb, &reason);

    if (fd == -1) {
        snprintf(err, size, "%s: cannot open: %s", path, reason);
        return NULL;
    }

    if ((uint64_t) sb.st_size > max) {
        if (max % (1024 * 1024) == 0) {
            snprintf(err, size, "%s: larger than %zu MiB", path,
                     max / 1024 / 1024);

        } else {
            snprintf(err, size, "%s: larger than %zu KiB", path, max / 1024);
        }

        close(fd);
        return NULL;
    }

    /* one byte more than the size, to notice a file that grew */
    want = (size_t) sb.st_size + 1;

    buf = malloc(want);
    if (buf == NULL) {
        snprintf(err, size, "%s: out of memory", path);
        close(fd);
        return NULL;
    }

    n = 0;

    while (n < want) {
        r = read(fd, buf + n, want - n);

        if (r == -1) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(err, size, "%s: cannot read: %s", path,
                     strerror(errno));
            goto failed;
        }

        if (r == 0) {
            break;
        }

        n += (size_t) r;
    }

    if (n == want || n != (size_t) sb.st_size) {
        snprintf(err, size, "%s: changed while being read", path);
        goto failed;
    }

    close(fd);

    *len = n;

    return buf;

failed:

    free(buf);
    close(fd);

    return NULL;
}
