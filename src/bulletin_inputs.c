
/*
 * Copyright (C) bulletin authors
 */


#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bulletin_inputs.h"


static int bulletin_inputs_add(bulletin_inputs_t *f, const char *dir,
    const char *name);
static int bulletin_strcmp(const void *one, const void *two);


int
bulletin_inputs_collect(bulletin_inputs_t *f, const char *input, char *err,
    size_t size)
{
    size_t          n, len, first;
    DIR            *dir;
    char          **names;
    struct stat     sb;
    struct dirent  *de;

    if (lstat(input, &sb) == -1) {
        snprintf(err, size, "%s: %s", input, strerror(errno));
        return -1;
    }

    if (S_ISLNK(sb.st_mode)) {
        snprintf(err, size, "%s: is a symbolic link, which is not followed",
                 input);
        return -1;
    }

    if (!S_ISDIR(sb.st_mode)) {
        len = strlen(input);

        if (len < 5 || strcmp(input + len - 5, ".json") != 0) {
            snprintf(err, size, "%s: not a .json file or a folder", input);
            return -1;
        }

        if (bulletin_inputs_add(f, NULL, input) != 0) {
            goto nomem;
        }

        return 0;
    }

    dir = opendir(input);
    if (dir == NULL) {
        snprintf(err, size, "%s: %s", input, strerror(errno));
        return -1;
    }

    first = f->n;

    for ( ;; ) {
        errno = 0;
        de = readdir(dir);

        if (de == NULL) {
            break;
        }

        len = strlen(de->d_name);

        /* hidden files: editors' backups and locks */
        /* a folder's site.json is the site file (--site), no bulletin */

        if (de->d_name[0] == '.' || len < 5
            || strcmp(de->d_name + len - 5, ".json") != 0
            || strcmp(de->d_name, "site.json") == 0)
        {
            continue;
        }

        if (bulletin_inputs_add(f, input, de->d_name) != 0) {
            closedir(dir);
            goto nomem;
        }
    }

    if (errno != 0) {
        snprintf(err, size, "%s: %s", input, strerror(errno));
        closedir(dir);
        return -1;
    }

    closedir(dir);

    n = f->n - first;

    if (n == 0) {
        snprintf(err, size, "%s: no .json files in this folder", input);
        return -1;
    }

    names = f->paths + first;
    qsort(names, n, sizeof(char *), bulletin_strcmp);

    return 0;

nomem:

    snprintf(err, size, "%s: out of memory", input);

    return -1;
}


void
bulletin_inputs_free(bulletin_inputs_t *f)
{
    size_t  i;

    for (i = 0; i < f->n; i++) {
        free(f->paths[i]);
    }

    free(f->paths);

    f->paths = NULL;
    f->n = 0;
    f->nalloc = 0;
}


static int
bulletin_inputs_add(bulletin_inputs_t *f, const char *dir, const char *name)
{
    char    *path, **paths;
    size_t   n, dlen, nlen;

    if (f->n == f->nalloc) {
        n = f->nalloc ? f->nalloc * 2 : 64;

        paths = realloc(f->paths, n * sizeof(char *));
        if (paths == NULL) {
            return -1;
        }

        f->paths = paths;
        f->nalloc = n;
    }

    dlen = dir ? strlen(dir) : 0;
    nlen = strlen(name);

    path = malloc(dlen + nlen + 2);
    if (path == NULL) {
        return -1;
    }

    if (dlen) {
        memcpy(path, dir, dlen);

        if (dir[dlen - 1] != '/') {
            path[dlen++] = '/';
        }
    }

    memcpy(path + dlen, name, nlen + 1);

    f->paths[f->n++] = path;

    return 0;
}


static int
bulletin_strcmp(const void *one, const void *two)
{
    return strcmp(*(char *const *) one, *(char *const *) two);
}
