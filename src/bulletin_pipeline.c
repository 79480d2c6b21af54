
/*
 * Copyright (C) bulletin authors
 */


#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulletin_pipeline.h"


#define BULLETIN_THREADS_MAX       16

#define BULLETIN_JOB_FREE          0
#define BULLETIN_JOB_BUSY          1
#define BULLETIN_JOB_DONE          2


typedef struct {
    pthread_mutex_t                  mutex;
    pthread_cond_t                   free_cond;
    pthread_cond_t                   done_cond;
    bulletin_job_t                  *jobs;
    size_t                           njobs;
    size_t                           next;      /* the next file to claim */
    const bulletin_pipeline_conf_t  *conf;
    int                              failed;    /* render nothing more */
    int                              stop;
} bulletin_pipeline_t;


static int bulletin_pipeline_consume(bulletin_pipeline_t *p);
static int bulletin_pipeline_reused(bulletin_pipeline_t *p, size_t i);
static void *bulletin_pipeline_worker(void *data);
static size_t bulletin_pipeline_threads(void);


int
bulletin_pipeline_run(const bulletin_pipeline_conf_t *conf,
    const char **err)
{
    int                   rc;
    size_t                i, nthreads, started;
    pthread_t            *threads;
    bulletin_pipeline_t   p;

    memset(&p, 0, sizeof(bulletin_pipeline_t));

    *err = NULL;

    nthreads = bulletin_pipeline_threads();

    if (nthreads > conf->n) {
        nthreads = conf->n ? conf->n : 1;
    }

    /* a few pages ahead of the consumer per thread, no more */
    p.njobs = nthreads * 2 + 2;
    p.conf = conf;
    p.failed = !conf->render;

    p.jobs = calloc(p.njobs, sizeof(bulletin_job_t));
    threads = calloc(nthreads, sizeof(pthread_t));

    if (p.jobs == NULL || threads == NULL) {
        *err = "out of memory";
        free(p.jobs);
        free(threads);
        return -1;
    }

    rc = -1;
    started = 0;

    for (i = 0; i < p.njobs; i++) {
        p.jobs[i].render = bulletin_render_create(conf->channels,
                                                  conf->nchannels);

        if (p.jobs[i].render == NULL) {
            *err = "out of memory";
            goto done;
        }
    }

    pthread_mutex_init(&p.mutex, NULL);
    pthread_cond_init(&p.free_cond, NULL);
    pthread_cond_init(&p.done_cond, NULL);

    for (started = 0; started < nthreads; started++) {
        if (pthread_create(&threads[started], NULL, bulletin_pipeline_worker,
                           &p)
            != 0)
        {
            break;
        }
    }

    if (started == 0) {
        *err = "cannot start a thread";

    } else {
        rc = bulletin_pipeline_consume(&p);

        pthread_mutex_lock(&p.mutex);
        p.stop = 1;
        pthread_cond_broadcast(&p.free_cond);
        pthread_mutex_unlock(&p.mutex);
    }

    for (i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }

    pthread_cond_destroy(&p.done_cond);
    pthread_cond_destroy(&p.free_cond);
    pthread_mutex_destroy(&p.mutex);

done:

    for (i = 0; i < p.njobs; i++) {
        bulletin_record_free(&p.jobs[i].rec);
        bulletin_errors_clear(&p.jobs[i].errs);
        bulletin_render_free(p.jobs[i].render);
    }

    free(p.jobs);
    free(threads);

    return rc;
}


/* each page in input order, as soon as a worker has it done */

static int
bulletin_pipeline_consume(bulletin_pipeline_t *p)
{
    int                              stop;
    size_t                           i;
    bulletin_job_t                  *job, reused;
    const bulletin_pipeline_conf_t  *conf;

    conf = p->conf;
    stop = 0;

    for (i = 0; i < conf->n && !stop && !*conf->interrupted; i++) {

        /* no worker takes a page reused: it goes to the consumer at once */

        if (bulletin_pipeline_reused(p, i)) {
            memset(&reused, 0, sizeof(bulletin_job_t));
            reused.file = i;
            reused.reused = 1;

            if (conf->consume(conf->ctx, &reused, &stop) != 0) {
                pthread_mutex_lock(&p->mutex);
                p->failed = 1;
                pthread_mutex_unlock(&p->mutex);
            }

            if (conf->progress) {
                conf->progress(conf->ctx, i + 1, conf->n, 0);
            }

            continue;
        }

        job = &p->jobs[i % p->njobs];

        pthread_mutex_lock(&p->mutex);

        while (!(job->state == BULLETIN_JOB_DONE && job->file == i)) {
            pthread_cond_wait(&p->done_cond, &p->mutex);
        }

        pthread_mutex_unlock(&p->mutex);

        if (conf->consume(conf->ctx, job, &stop) != 0) {
            pthread_mutex_lock(&p->mutex);
            p->failed = 1;
            pthread_mutex_unlock(&p->mutex);
        }

        bulletin_record_free(&job->rec);
        bulletin_errors_clear(&job->errs);

        pthread_mutex_lock(&p->mutex);
        job->state = BULLETIN_JOB_FREE;
        pthread_cond_broadcast(&p->free_cond);
        pthread_mutex_unlock(&p->mutex);

        if (conf->progress) {
            conf->progress(conf->ctx, i + 1, conf->n, 0);
        }
    }

    if (conf->progress) {
        conf->progress(conf->ctx, i, conf->n, 1);
    }

    return (stop || *conf->interrupted) ? -1 : 0;
}


/*
 * The consumer and the workers ask alike, of data that does not change
 * during the run: they agree on which files no worker takes.
 */

static int
bulletin_pipeline_reused(bulletin_pipeline_t *p, size_t i)
{
    return !p->conf->render ? 0
           : p->conf->reuse != NULL && p->conf->reuse(p->conf->ctx, i);
}


static void *
bulletin_pipeline_worker(void *data)
{
    int                   render;
    size_t                i;
    sigset_t              set;
    bulletin_job_t       *job;
    bulletin_pipeline_t  *p;

    p = data;

    /* signals are the main thread's to see */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    pthread_mutex_lock(&p->mutex);

    for ( ;; ) {
        while (!p->stop && p->next < p->conf->n
               && bulletin_pipeline_reused(p, p->next))
        {
            p->next++;
        }

        while (!p->stop && p->next < p->conf->n
               && p->jobs[p->next % p->njobs].state != BULLETIN_JOB_FREE)
        {
            pthread_cond_wait(&p->free_cond, &p->mutex);
        }

        if (p->stop || p->next >= p->conf->n) {
            break;
        }

        i = p->next++;
        job = &p->jobs[i % p->njobs];
        job->state = BULLETIN_JOB_BUSY;
        job->file = i;
        render = !p->failed;

        pthread_mutex_unlock(&p->mutex);

        job->rendered = BULLETIN_OK;
        job->reused = 0;
        job->parsed = bulletin_source_load(&job->rec, p->conf->paths[i],
                                           &job->errs) == 0;

        if (job->parsed && render) {
            memset(&job->pctx, 0, sizeof(bulletin_page_ctx_t));

            if (p->conf->context != NULL
                && p->conf->context(p->conf->ctx, &job->rec, &job->pctx)
                   != 0)
            {
                job->rendered = BULLETIN_ERR_CHANGED;

            } else {
                job->rendered = bulletin_render_page(job->render,
                                                     p->conf->tpl, &job->rec,
                                                     &job->pctx, &job->page);
            }
        }

        pthread_mutex_lock(&p->mutex);

        job->state = BULLETIN_JOB_DONE;
        pthread_cond_broadcast(&p->done_cond);
    }

    pthread_mutex_unlock(&p->mutex);

    return NULL;
}


/*
 * Threads for the pages: one a core (deflate at the best level is most of
 * the work), or BULLETIN_BUILD_THREADS, for measurements.
 */

static size_t
bulletin_pipeline_threads(void)
{
    long         n;
    const char  *env;

    env = getenv("BULLETIN_BUILD_THREADS");

    n = env != NULL ? strtol(env, NULL, 10)
                    : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1) {
        n = 1;
    }

    if (n > BULLETIN_THREADS_MAX) {
        n = BULLETIN_THREADS_MAX;
    }

    return (size_t) n;
}
