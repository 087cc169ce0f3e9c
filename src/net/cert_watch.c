/* Certificate file watches (see cert_watch.h): ev_stat watchers on the
 * loop's thread, a settle timer, and a state digest of the watched paths.
 * The path list arrives from any thread through a mutex-guarded slot and
 * one loop post. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"
#include "net/cert_watch.h"

/* Seconds between stat polls where inotify cannot be used (libev decides). */
#define POLL_INTERVAL 2.0

typedef struct wpath {
    ev_stat st;
    xg_cert_watch *w;
    char path[];
} wpath;

struct xg_cert_watch {
    xg_loop *loop;
    double settle;
    xg_cert_watch_cb cb;
    void *arg;
    ev_timer timer;
    wpath **v; /* loop thread */
    size_t n;
    uint64_t state; /* digest of what the paths pointed at when cb last ran */
    bool state_valid;
    pthread_mutex_t mu;
    char **pending; /* guarded by mu: the next list, NULL when none */
    size_t n_pending;
    bool posted; /* guarded by mu: on_sync is queued on the loop */
    bool freed;  /* guarded by mu: xg_cert_watch_free ran while on_sync was queued; on_sync frees */
};

static void watch_free(xg_cert_watch *w);

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* What the paths point at now, followed through symlinks. */
static uint64_t current_state(const xg_cert_watch *w)
{
    XXH64_state_t *h = XXH64_createState();
    if (h == NULL)
        return 0;
    XXH64_reset(h, 0);
    for (size_t i = 0; i < w->n; i++) {
        struct stat st;
        memset(&st, 0, sizeof(st));
        if (stat(w->v[i]->path, &st) != 0)
            st.st_nlink = 0; /* gone: differs from any file that exists */
        uint64_t f[8] = {st.st_dev,
                         st.st_ino,
                         (uint64_t)st.st_size,
                         (uint64_t)st.st_mtim.tv_sec,
                         (uint64_t)st.st_mtim.tv_nsec,
                         (uint64_t)st.st_ctim.tv_sec,
                         (uint64_t)st.st_ctim.tv_nsec,
                         st.st_nlink};
        XXH64_update(h, w->v[i]->path, strlen(w->v[i]->path) + 1);
        XXH64_update(h, f, sizeof(f));
    }
    uint64_t d = XXH64_digest(h);
    XXH64_freeState(h);
    return d;
}

static void on_settled(struct ev_loop *ev, ev_timer *t, int revents)
{
    xg_cert_watch *w = t->data;
    uint64_t now = current_state(w);
    if (w->state_valid && now == w->state)
        return;
    w->state = now;
    w->state_valid = true;
    xg_log_info("certificate files changed: rebuilding the listener TLS contexts");
    w->cb(w->arg);
}

static void on_stat(struct ev_loop *ev, ev_stat *st, int revents)
{
    xg_cert_watch *w = ((wpath *)st)->w;
    ev_timer_stop(ev, &w->timer);
    ev_timer_set(&w->timer, w->settle, 0);
    ev_timer_start(ev, &w->timer);
}

static wpath *path_new(xg_cert_watch *w, const char *path)
{
    size_t n = strlen(path);
    wpath *p = malloc(sizeof(*p) + n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p->path, path, n + 1);
    p->w = w;
    ev_stat_init(&p->st, on_stat, p->path, POLL_INTERVAL);
    ev_stat_start(w->loop->ev, &p->st);
    return p;
}

static void path_free(xg_cert_watch *w, wpath *p)
{
    ev_stat_stop(w->loop->ev, &p->st);
    free(p);
}

/* Loop thread: watch exactly the paths of list (keeping watches that stay). */
static void apply_list(xg_cert_watch *w, char **list, size_t n)
{
    wpath **v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL) {
        xg_log_error("certificate file watch: out of memory; the previous watches stay");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < w->n && v[k] == NULL; j++)
            if (w->v[j] != NULL && strcmp(w->v[j]->path, list[i]) == 0) {
                v[k] = w->v[j];
                w->v[j] = NULL;
            }
        if (v[k] == NULL && (v[k] = path_new(w, list[i])) == NULL)
            xg_log_error("certificate file watch: out of memory watching %s", list[i]);
        k += v[k] != NULL;
    }
    for (size_t j = 0; j < w->n; j++)
        if (w->v[j] != NULL)
            path_free(w, w->v[j]);
    free(w->v);
    w->v = v;
    w->n = k;
    w->state_valid = false; /* the next event rebuilds, whatever it finds */
}

static void on_sync(void *arg)
{
    xg_cert_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    bool freed = w->freed;
    w->posted = false;
    pthread_mutex_unlock(&w->mu);
    if (freed) {
        watch_free(w);
        return;
    }
    pthread_mutex_lock(&w->mu);
    char **list = w->pending;
    size_t n = w->n_pending;
    w->pending = NULL;
    w->n_pending = 0;
    pthread_mutex_unlock(&w->mu);
    if (list != NULL)
        apply_list(w, list, n);
    free_list(list, n);
}

int xg_cert_watch_new(xg_loop *loop, double settle, xg_cert_watch_cb cb, void *arg, xg_cert_watch **out)
{
    xg_cert_watch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return XG_ENOMEM;
    w->loop = loop;
    w->settle = settle;
    w->cb = cb;
    w->arg = arg;
    ev_init(&w->timer, on_settled);
    w->timer.data = w;
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return 0;
}

/* Adds s to v[*n] unless it is there already; takes s (freed when a duplicate). */
static void add_unique(char **v, size_t *n, char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i], s) == 0) {
            free(s);
            return;
        }
    v[(*n)++] = s;
}

static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    char *d = copy != NULL ? strdup(dirname(copy)) : NULL;
    free(copy);
    return d;
}

/* The list to watch: each path, and the directory of each file. */
static char **expand(const char *const *paths, const bool *is_dir, size_t n, size_t *out_n)
{
    char **v = calloc(2 * n + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v != NULL && i < n; i++) {
        char *p = strdup(paths[i]), *d = is_dir[i] ? NULL : dir_of(paths[i]);
        if (p == NULL || (!is_dir[i] && d == NULL)) {
            free(p);
            free(d);
            free_list(v, k);
            return NULL;
        }
        add_unique(v, &k, p);
        if (d != NULL)
            add_unique(v, &k, d);
    }
    *out_n = k;
    return v;
}

int xg_cert_watch_set(xg_cert_watch *w, const char *const *paths, const bool *is_dir, size_t n)
{
    size_t k = 0;
    char **list = expand(paths, is_dir, n, &k);
    if (list == NULL)
        return XG_ENOMEM;
    pthread_mutex_lock(&w->mu);
    free_list(w->pending, w->n_pending);
    w->pending = list;
    w->n_pending = k;
    bool post = !w->posted;
    w->posted = true;
    pthread_mutex_unlock(&w->mu);
    /* The loop may have finished (shutdown): then nothing is watched any more. */
    if (post && xg_loop_post(w->loop, on_sync, w) != 0) {
        pthread_mutex_lock(&w->mu);
        w->posted = false;
        pthread_mutex_unlock(&w->mu);
    }
    return 0;
}

static void watch_free(xg_cert_watch *w)
{
    ev_timer_stop(w->loop->ev, &w->timer);
    for (size_t i = 0; i < w->n; i++)
        path_free(w, w->v[i]);
    free(w->v);
    free_list(w->pending, w->n_pending);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void xg_cert_watch_free(xg_cert_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    bool queued = w->posted;
    w->freed = true;
    pthread_mutex_unlock(&w->mu);
    /* A queued on_sync still holds w: it frees it when the loop runs it
     * (xg_loop_run and xg_loop_dispose run every accepted closure). */
    if (!queued)
        watch_free(w);
}

size_t xg_cert_watch_count(const xg_cert_watch *w)
{
    return w->n;
}
