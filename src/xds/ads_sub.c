/* ADS subscriptions: what each type wants (sorted name sets), what the current
 * stream was told, the delta version map, and the pieces of response handling
 * shared by state of the world and delta (handler verdict, NACK text, node).
 * xds thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "version.h"
#include "xds/ads_int.h"

/* Clusters before listeners: a control plane can warm clusters first. */
const xg_xds_type xg__ads_type_order[XG_XDS_NTYPES] = {XG_XDS_CDS, XG_XDS_EDS, XG_XDS_LDS, XG_XDS_RDS, XG_XDS_SDS};

/* A NACK message longer than this is cut: servers commonly cap requests at 4 MiB. */
#define NACK_MAX 65536

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int xg__ads_set_str(char **dst, const char *src)
{
    char *copy = strdup(src);
    if (copy == NULL)
        return XG_ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

void xg__ads_names_dispose(xg__ads_names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Replaces s with a sorted, de-duplicated copy of names; s is unchanged on failure. */
int xg__ads_names_set(xg__ads_names *s, const char *const *names, size_t n)
{
    xg__ads_names next = {calloc(n + 1, sizeof(char *)), 0};
    if (next.v == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((next.v[next.n] = strdup(names[i])) == NULL)
            goto fail;
        next.n++;
    }
    qsort(next.v, next.n, sizeof(char *), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < next.n; i++) {
        if (w > 0 && strcmp(next.v[w - 1], next.v[i]) == 0)
            free(next.v[i]);
        else
            next.v[w++] = next.v[i];
    }
    next.n = w;
    xg__ads_names_dispose(s);
    *s = next;
    return 0;
fail:
    xg__ads_names_dispose(&next);
    return XG_ENOMEM;
}

int xg__ads_names_copy(xg__ads_names *dst, const xg__ads_names *src)
{
    return xg__ads_names_set(dst, (const char *const *)src->v, src->n);
}

bool xg__ads_names_equal(const xg__ads_names *a, const xg__ads_names *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    }
    return true;
}

bool xg__ads_names_has(const xg__ads_names *s, const char *name)
{
    return s->n > 0 && bsearch(&name, s->v, s->n, sizeof(char *), cmp_str) != NULL;
}

int xg__ads_names_minus(const xg__ads_names *a, const xg__ads_names *b, char ***out, size_t *n)
{
    *n = 0;
    if ((*out = calloc(a->n + 1, sizeof(char *))) == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        if (!xg__ads_names_has(b, a->v[i]))
            (*out)[(*n)++] = a->v[i];
    }
    return 0;
}

/* FNV-1a: names are short and the map is private, so no seed is needed. */
static size_t vmap_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static xg__ads_ventry *vmap_slot(const xg__ads_vmap *m, const char *name)
{
    size_t mask = m->cap - 1;
    for (size_t i = vmap_hash(name) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].name == NULL || strcmp(m->slots[i].name, name) == 0)
            return &m->slots[i];
    }
}

static int vmap_grow(xg__ads_vmap *m)
{
    xg__ads_vmap next = {calloc(m->cap ? m->cap * 2 : 16, sizeof(xg__ads_ventry)), 0, m->cap ? m->cap * 2 : 16};
    if (next.slots == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].name != NULL)
            *vmap_slot(&next, m->slots[i].name) = m->slots[i];
    }
    next.n = m->n;
    free(m->slots);
    *m = next;
    return 0;
}

int xg__ads_vmap_put(xg__ads_vmap *m, const char *name, const char *version)
{
    if ((m->n + 1) * 4 > m->cap * 3 && vmap_grow(m) != 0)
        return XG_ENOMEM;
    xg__ads_ventry *e = vmap_slot(m, name);
    if (e->name != NULL)
        return xg__ads_set_str(&e->version, version);
    char *n = strdup(name), *v = strdup(version);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return XG_ENOMEM;
    }
    e->name = n;
    e->version = v;
    m->n++;
    return 0;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
void xg__ads_vmap_del(xg__ads_vmap *m, const char *name)
{
    if (m->cap == 0)
        return;
    xg__ads_ventry *e = vmap_slot(m, name);
    if (e->name == NULL)
        return;
    free(e->name);
    free(e->version);
    m->n--;
    size_t mask = m->cap - 1, hole = (size_t)(e - m->slots);
    for (size_t i = (hole + 1) & mask; m->slots[i].name != NULL; i = (i + 1) & mask) {
        size_t home = vmap_hash(m->slots[i].name) & mask;
        /* the entry may move into the hole only if its home is not in (hole, i] */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
    }
    m->slots[hole].name = NULL;
    m->slots[hole].version = NULL;
}

void xg__ads_vmap_dispose(xg__ads_vmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].name);
        free(m->slots[i].version);
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

int xg__ads_sub_init(xg__ads_sub *s)
{
    memset(s, 0, sizeof(*s));
    s->version = strdup("");
    s->nonce = strdup("");
    return s->version && s->nonce ? 0 : XG_ENOMEM;
}

void xg__ads_sub_dispose(xg__ads_sub *s)
{
    xg__ads_names_dispose(&s->want);
    xg__ads_names_dispose(&s->told_names);
    xg__ads_vmap_dispose(&s->have);
    free(s->version);
    free(s->nonce);
}

void xg__ads_sub_reset_stream(xg__ads_sub *s)
{
    s->told = s->told_wildcard = s->told_explicit = false;
    xg__ads_names_dispose(&s->told_names);
    s->nonce[0] = '\0'; /* nonces are per stream */
}

bool xg__ads_sub_want_wildcard(const xg__ads_sub *s, xg_xds_type t)
{
    return xg_xds_type_is_wildcard(t) && s->want.n == 0;
}

bool xg__ads_sub_dirty(const xg__ads_sub *s, xg_xds_type t)
{
    bool wc = xg__ads_sub_want_wildcard(s, t);
    if (!s->told)
        return wc || s->want.n > 0;
    return wc != s->told_wildcard || !xg__ads_names_equal(&s->want, &s->told_names);
}

int xg__ads_sub_mark_told(xg__ads_sub *s, xg_xds_type t)
{
    int rc = xg__ads_names_copy(&s->told_names, &s->want);
    if (rc != 0)
        return rc;
    s->told = true;
    s->told_wildcard = xg__ads_sub_want_wildcard(s, t);
    s->told_explicit |= !s->told_wildcard && s->want.n > 0;
    return 0;
}

/* Delta: the client holds nothing outside its subscription (Envoy drops a
 * resource when it unsubscribes from it), so initial_resource_versions on a
 * reconnect never names something no longer wanted. */
static int prune_have(xg__ads_sub *s, xg_xds_type t)
{
    if (xg__ads_sub_want_wildcard(s, t) || s->have.n == 0)
        return 0;
    xg__ads_vmap kept = {0};
    for (size_t i = 0; i < s->have.cap; i++) {
        const xg__ads_ventry *e = &s->have.slots[i];
        if (e->name != NULL && xg__ads_names_has(&s->want, e->name) && xg__ads_vmap_put(&kept, e->name, e->version))
            goto fail;
    }
    xg__ads_vmap_dispose(&s->have);
    s->have = kept;
    return 0;
fail:
    xg__ads_vmap_dispose(&kept);
    return XG_ENOMEM;
}

int xg_ads_subscribe(xg_ads *a, xg_xds_type t, const char *const *names, size_t n)
{
    if ((unsigned)t >= XG_XDS_NTYPES || (n > 0 && names == NULL))
        return XG_EINVAL;
    xg__ads_sub *s = &a->subs[t];
    int rc = xg__ads_names_set(&s->want, names, n);
    if (rc == 0)
        rc = prune_have(s, t);
    if (rc == 0 && a->in_response == 0)
        xg__ads_flush(a);
    return rc;
}

void xg__ads_flush(xg_ads *a)
{
    xg__ads_stream *s = a->st;
    for (int i = 0; i < XG_XDS_NTYPES && s != NULL && !s->ended && !a->stopping; i++) {
        xg_xds_type t = xg__ads_type_order[i];
        if (!xg__ads_sub_dirty(&a->subs[t], t))
            continue;
        int rc = a->o.delta ? xg__ads_delta_request(a, s, t) : xg__ads_sotw_request(a, s, t);
        if (rc != 0)
            xg_log_error("ads: cannot send the %s subscription request: %s", xg_xds_type_abbrev(t), xg_strerror(rc));
    }
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t need = c < 0x80 ? 0 : c < 0xc2 ? 9 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : c < 0xf5 ? 3 : 9;
    if (need == 9 || need >= avail)
        return 0;
    lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : lo;
    hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : hi;
    if (need > 0 && (p[1] < lo || p[1] > hi))
        return 0;
    for (size_t k = 2; k <= need; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    }
    return need + 1;
}

/* Replaces every byte that does not start a valid UTF-8 sequence with '?':
 * proto3 strings must be UTF-8, and a server drops a request that is not. */
void xg__ads_fix_utf8(xg_buf *b)
{
    unsigned char *p = (unsigned char *)b->data;
    for (size_t i = 0; i < b->len;) {
        size_t n = utf8_len(p + i, b->len - i);
        if (n == 0)
            p[i++] = '?';
        else
            i += n;
    }
}

void xg__ads_cap_message(xg_buf *msg)
{
    if (msg->len > NACK_MAX) {
        size_t cut = NACK_MAX, dropped;
        while (cut > 0 && ((unsigned char)msg->data[cut] & 0xc0) == 0x80)
            cut--; /* never split a UTF-8 sequence */
        dropped = msg->len - cut;
        msg->len = cut;
        msg->data[cut] = '\0';
        (void)xg_buf_printf(msg, " ... (%zu more bytes cut)", dropped); /* the cut text stands alone if this fails */
    }
    xg__ads_fix_utf8(msg);
}

int xg__ads_call_handler(xg_ads *a, const xg_xds_response *r, xg_buf *nack)
{
    int rc = a->h.on_response(a->h.ctx, r, nack);
    if (rc == 0) {
        xg_buf_reset(nack);
        return 0;
    }
    if (nack->len == 0 && xg_buf_printf(nack, "rejected by xdsgate: %s", xg_strerror(rc)) != 0)
        return XG_ENOMEM;
    xg__ads_cap_message(nack);
    return 0;
}

int xg__ads_response_type(const char *url, xg_xds_type *t, xg_buf *nack)
{
    if (xg_xds_type_from_url(url, t) == 0)
        return 0;
    if (xg_buf_printf(nack,
                      "unknown type_url \"%s\": xdsgate subscribes only to Listener, RouteConfiguration, Cluster, "
                      "ClusterLoadAssignment and Secret (envoy v3)",
                      url) != 0)
        return XG_ENOMEM;
    xg__ads_cap_message(nack);
    return XG_ENOENT;
}

void xg__ads_log_verdict(xg_xds_type t, const char *url, const char *version, const char *nonce, const xg_buf *nack)
{
    const char *what = (unsigned)t < XG_XDS_NTYPES ? xg_xds_type_abbrev(t) : url;
    if (nack->len > 0)
        xg_log_debug("ads: NACK %s version \"%s\" nonce \"%s\": %s", what, version, nonce, nack->data);
    else
        xg_log_debug("ads: ACK %s version \"%s\" nonce \"%s\"", what, version, nonce);
}

void xg__ads_node_fill(const xg_ads *a, Envoy__Config__Core__V3__Node *n, char **features)
{
    envoy__config__core__v3__node__init(n);
    n->id = (char *)a->o.node_id; /* protobuf-c strings are not const; pack only reads them */
    n->cluster = (char *)a->o.node_cluster;
    n->user_agent_name = "xdsgate";
    n->user_agent_version_type_case = ENVOY__CONFIG__CORE__V3__NODE__USER_AGENT_VERSION_TYPE_USER_AGENT_VERSION;
    n->user_agent_version = XG_VERSION;
    /* Only what xdsgate honours: the Resource wrapper in SotW responses is unwrapped. */
    features[0] = "xds.config.resource-in-sotw";
    n->client_features = features;
    n->n_client_features = 1;
}
