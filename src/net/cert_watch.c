/* Certificate file watch (see cert_watch.h): a repeating check timer and a
 * settle timer on the loop's thread, and a digest of the files' stat data.
 * The list arrives from any thread through a mutex-guarded slot and one
 * loop post. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"
#include "net/cert_watch.h"

/* A list of paths (heap strings). */
typedef struct plist {
    char **v;
    size_t n;
} plist;

struct xg_cert_watch {
    xg_loop *loop;
    double interval, settle;
    xg_cert_watch_cb cb;
    void *arg;
    ev_timer check, settled;
    plist files;        /* loop thread */
    uint64_t reference; /* loop thread: the digest the files were last read at */
    uint64_t seen;      /* loop thread: the digest of the last check that found a change */
    pthread_mutex_t mu;
    plist pending;           /* guarded by mu: the next list (v NULL: none) */
    uint64_t pending_digest; /* guarded by mu */
    bool posted;             /* guarded by mu: on_sync is queued on the loop */
    bool freed;              /* guarded by mu: xg_cert_watch_free ran while on_sync was queued; on_sync frees */
};

static void plist_free(plist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (plist){0};
}

/* A copy of files[0..n), in order (the digest covers the list as given). */
static int plist_make(const char *const *files, size_t n, plist *out)
{
    *out = (plist){.v = calloc(n + 1, sizeof(char *))};
    if (out->v == NULL)
        return XG_ENOMEM;
    for (out->n = 0; out->n < n; out->n++)
        if ((out->v[out->n] = strdup(files[out->n])) == NULL) {
            plist_free(out);
            return XG_ENOMEM;
        }
    return 0;
}

uint64_t xg_cert_watch_digest(const char *const *files, size_t n)
{
    XXH64_state_t *h = XXH64_createState();
    if (h == NULL)
        return 0;
    XXH64_reset(h, 0);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        memset(&st, 0, sizeof(st));
        if (stat(files[i], &st) != 0)
            st.st_nlink = 0; /* gone: differs from any file that exists */
        uint64_t f[8] = {st.st_dev,
                         st.st_ino,
                         (uint64_t)st.st_size,
                         (uint64_t)st.st_mtim.tv_sec,
                         (uint64_t)st.st_mtim.tv_nsec,
                         (uint64_t)st.st_ctim.tv_sec,
                         (uint64_t)st.st_ctim.tv_nsec,
                         st.st_nlink};
        XXH64_update(h, files[i], strlen(files[i]) + 1);
        XXH64_update(h, f, sizeof(f));
    }
    uint64_t d = XXH64_digest(h);
    XXH64_freeState(h);
    return d;
}

static uint64_t now_digest(const xg_cert_watch *w)
{
    return xg_cert_watch_digest((const char *const *)w->files.v, w->files.n);
}

/* Quiet for the settle time: read again if the files still differ. The
 * reference is taken before the callback reads them. */
static void on_settled(struct ev_loop *ev, ev_timer *t, int revents)
{
    xg_cert_watch *w = t->data;
    uint64_t d = now_digest(w);
    if (d == w->reference)
        return;
    w->reference = d;
    xg_log_info("certificate files changed: rebuilding the listener TLS contexts");
    w->cb(w->arg);
}

/* Every interval: a new change (re)starts the settle timer, so a writer
 * still busy with the key after the certificate is waited for. */
static void on_check(struct ev_loop *ev, ev_timer *t, int revents)
{
    xg_cert_watch *w = t->data;
    uint64_t d = now_digest(w);
    if (d == w->reference || (d == w->seen && ev_is_active(&w->settled)))
        return;
    w->seen = d;
    ev_timer_stop(ev, &w->settled);
    ev_timer_set(&w->settled, w->settle, 0);
    ev_timer_start(ev, &w->settled);
}

static void watch_free(xg_cert_watch *w)
{
    ev_timer_stop(w->loop->ev, &w->check);
    ev_timer_stop(w->loop->ev, &w->settled);
    plist_free(&w->files);
    plist_free(&w->pending);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* Loop thread: the list last set takes effect; the check runs while there
 * is something to check. */
static void on_sync(void *arg)
{
    xg_cert_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    bool freed = w->freed;
    plist files = w->pending;
    uint64_t digest = w->pending_digest;
    w->pending = (plist){0};
    w->posted = false;
    pthread_mutex_unlock(&w->mu);
    if (freed || files.v == NULL) {
        plist_free(&files);
        if (freed)
            watch_free(w);
        return;
    }
    plist_free(&w->files);
    w->files = files;
    w->reference = digest;
    ev_timer_stop(w->loop->ev, &w->settled);
    ev_timer_stop(w->loop->ev, &w->check);
    if (w->files.n > 0) {
        ev_timer_set(&w->check, w->interval, w->interval);
        ev_timer_start(w->loop->ev, &w->check);
    }
}

int xg_cert_watch_new(xg_loop *loop, double interval, double settle, xg_cert_watch_cb cb, void *arg,
                      xg_cert_watch **out)
{
    xg_cert_watch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return XG_ENOMEM;
    w->loop = loop;
    w->interval = interval;
    w->settle = settle;
    w->cb = cb;
    w->arg = arg;
    ev_init(&w->check, on_check);
    ev_init(&w->settled, on_settled);
    w->check.data = w->settled.data = w;
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return 0;
}

int xg_cert_watch_set(xg_cert_watch *w, const char *const *files, size_t n, uint64_t digest)
{
    plist l;
    if (plist_make(files, n, &l) != 0)
        return XG_ENOMEM;
    pthread_mutex_lock(&w->mu);
    plist_free(&w->pending);
    w->pending = l;
    w->pending_digest = digest;
    bool post = !w->posted;
    w->posted = true;
    pthread_mutex_unlock(&w->mu);
    /* The loop may have finished (shutdown): then nothing is checked any more. */
    if (post && xg_loop_post(w->loop, on_sync, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->posted = false;
        pthread_mutex_unlock(&w->mu);
    }
    return 0;
}

void xg_cert_watch_free(xg_cert_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    bool queued = w->posted;
    w->freed = true;
    pthread_mutex_unlock(&w->mu);
    /* A queued on_sync still holds w: it frees it when the loop runs it. */
    if (!queued)
        watch_free(w);
}

size_t xg_cert_watch_count(const xg_cert_watch *w)
{
    return w->files.n;
}
