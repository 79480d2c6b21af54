
/*
 * Copyright (C) bulletin authors
 *
 * The builder's pages: read, checked, rendered and deflated by worker
 * threads, a window of pages ahead, and handed to one consumer in input
 * order, in the calling thread.  Memory grows with the window, not with
 * the pages.
 */


#ifndef _BULLETIN_PIPELINE_H_INCLUDED_
#define _BULLETIN_PIPELINE_H_INCLUDED_


#include <signal.h>
#include <stddef.h>

#include "bulletin_render.h"
#include "bulletin_source.h"
#include "bulletin_store.h"


typedef struct {
    size_t                   file;          /* its index in paths */
    int                      parsed;
    int                      reused;        /* neither read nor rendered,
                                               by no worker: conf->reuse
                                               said so */
    int                      rendered;      /* BULLETIN_OK, or an error */
    bulletin_record_t        rec;
    bulletin_errors_t        errs;          /* of the parse */
    bulletin_wpage_t         page;          /* when rendered */
    bulletin_page_ctx_t      pctx;          /* what it links to */

    int                      state;         /* the pipeline's */
    bulletin_render_t       *render;
} bulletin_job_t;


/*
 * consume: 0, or -1 to render no more pages (they are still parsed and
 * consumed, for their messages); *stop ends the run at once.
 */
typedef int (*bulletin_consume_pt)(void *ctx, bulletin_job_t *job,
    int *stop);
typedef void (*bulletin_progress_pt)(void *ctx, size_t done, size_t total,
    int last);
/*
 * context: what a page links to (its category's list, its neighbours),
 * called by the worker threads: it reads and never writes; -1 when the
 * page is not the one the first pass saw.
 */
typedef int (*bulletin_context_pt)(void *ctx, const bulletin_record_t *rec,
    bulletin_page_ctx_t *pc);

/*
 * reuse: 1 when the consumer has the page of file from elsewhere (the
 * previous store): no worker takes the file, and the consumer gets a job
 * with reused set and nothing else.  Called by the worker threads and the
 * consumer, for the same answer: it reads and never writes.
 */
typedef int (*bulletin_reuse_pt)(void *ctx, size_t file);

typedef struct {
    char *const                 *paths;
    size_t                       n;
    const bulletin_template_t   *tpl;
    const char *const           *channels;
    size_t                       nchannels;
    int                          render;    /* 0: parse only */
    bulletin_consume_pt          consume;
    bulletin_progress_pt         progress;  /* may be NULL */
    bulletin_context_pt          context;   /* may be NULL */
    bulletin_reuse_pt            reuse;     /* may be NULL */
    void                        *ctx;
    volatile sig_atomic_t       *interrupted;   /* checked between pages */
} bulletin_pipeline_conf_t;


/*
 * 0 when every page was consumed; -1 after a stop or an interruption,
 * or with *err set when the pipeline could not run (memory, threads).
 */
int bulletin_pipeline_run(const bulletin_pipeline_conf_t *conf,
    const char **err);


#endif /* _BULLETIN_PIPELINE_H_INCLUDED_ */
