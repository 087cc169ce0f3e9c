/* The rate limit client's channel cache (rls_chans.h). A list: a process
 * holds a handful of rate limit services, each with one channel per host
 * set a worker saw in the last seconds, and sweep keeps it that short. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "ratelimit/rls_chans.h"

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool matches(const xg_rls_chan *c, const xg_rls_dest *d)
{
    return c->uri == d->uri && strcmp(c->key, d->key) == 0 && strcmp(c->target, d->target) == 0 &&
           same(c->authority, d->authority);
}

static void chan_free(xg_rls_chans *cs, xg_rls_chan *c)
{
    if (c->handle != NULL)
        cs->close(c->handle);
    free(c->key);
    free(c->target);
    free(c->authority);
    free(c);
}

void xg_rls_chans_init(xg_rls_chans *cs, void *(*make)(const xg_rls_dest *d), void (*close)(void *handle))
{
    *cs = (xg_rls_chans){.make = make, .close = close};
}

xg_rls_chan *xg_rls_chans_get(xg_rls_chans *cs, const xg_rls_dest *d, double now)
{
    xg_rls_chan *c = cs->head;
    while (c != NULL && !matches(c, d))
        c = c->next;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return NULL;
        c->uri = d->uri;
        c->key = strdup(d->key);
        c->target = strdup(d->target);
        c->authority = d->authority != NULL ? strdup(d->authority) : NULL;
        if (c->key == NULL || c->target == NULL || (d->authority != NULL && c->authority == NULL) ||
            (c->handle = cs->make(d)) == NULL) {
            chan_free(cs, c);
            return NULL;
        }
        c->next = cs->head;
        cs->head = c;
        cs->n++;
    }
    c->calls++;
    c->last_used = now;
    return c;
}

void xg_rls_chans_put(xg_rls_chan *c)
{
    XG_ASSERT(c->calls > 0);
    c->calls--;
}

/* Another channel to the same service (kind, key, authority) started a call after c's last. */
static bool superseded(const xg_rls_chans *cs, const xg_rls_chan *c)
{
    for (const xg_rls_chan *o = cs->head; o != NULL; o = o->next)
        if (o != c && o->uri == c->uri && o->last_used > c->last_used && strcmp(o->key, c->key) == 0 &&
            same(o->authority, c->authority))
            return true;
    return false;
}

xg_rls_chan *xg_rls_chans_sweep(xg_rls_chans *cs, double now)
{
    /* Decide for all first, unlink after: superseded() must see every channel. */
    for (xg_rls_chan *c = cs->head; c != NULL; c = c->next) {
        double idle = now - c->last_used;
        c->doomed =
            c->calls == 0 && (idle >= XG_RLS_CHAN_UNUSED_S || (idle >= XG_RLS_CHAN_SUPERSEDED_S && superseded(cs, c)));
    }
    xg_rls_chan *out = NULL;
    for (xg_rls_chan **pp = &cs->head; *pp != NULL;) {
        xg_rls_chan *c = *pp;
        if (!c->doomed) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        c->next = out;
        out = c;
        cs->n--;
    }
    return out;
}

void xg_rls_chans_free_list(xg_rls_chans *cs, xg_rls_chan *list)
{
    while (list != NULL) {
        xg_rls_chan *next = list->next;
        chan_free(cs, list);
        list = next;
    }
}

void xg_rls_chans_dispose(xg_rls_chans *cs)
{
    for (xg_rls_chan *c = cs->head; c != NULL; c = c->next)
        XG_ASSERT(c->calls == 0);
    xg_rls_chans_free_list(cs, cs->head);
    cs->head = NULL;
    cs->n = 0;
}
