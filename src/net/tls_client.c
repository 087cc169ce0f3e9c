/* Client TLS contexts (UpstreamTlsContext), the named clients that auto_sni
 * and auto_san_validation derive from them, and the per-thread client
 * session cache: upstream connections resume sessions without any lock,
 * because each worker keeps its own small table of sessions keyed by
 * (context, SNI), up to max_session_keys per key. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <xxhash.h>

#include "core/error.h"
#include "net/tls_ctx_int.h"

#define CACHE_SLOTS 64
#define MAX_KEYS_PER_NAME 16 /* max_session_keys above this keeps this many */
#define NAMES_MAX 256        /* named clients cached per cluster per worker */

struct xg_tls_client {
    xg__tls_common com; /* first: the SSL_CTX ex_data points here (a named client's holds only refs and id) */
    SSL_CTX *ctx;
    char *sni;
    uint32_t max_sessions; /* max_session_keys: sessions kept per (context, SNI) per worker; 0 disables */
    xg_tls_client *base;   /* a named client: the context it derives from (referenced), else NULL */
    char *expect;          /* named: a DNS SAN must cover this name, instead of the SAN matchers; or NULL */
    bool enforce_rsa;      /* enforce_rsa_key_usage (BoringSSL) */
};

typedef struct slot {
    uint64_t key;
    uint64_t seq; /* larger: newer */
    SSL_SESSION *sess;
} slot;

typedef struct cache {
    slot slots[CACHE_SLOTS];
    unsigned next;
    uint64_t seq;
    bool registered;
} cache;

static __thread cache tcache;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int key_index = -1;  /* SSL ex_data: the cache key of the connection (set once) */
static int name_index = -1; /* SSL ex_data: the named client whose name the peer must cover, or NULL */

static void clear_cache(cache *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        SSL_SESSION_free(c->slots[i].sess);
        c->slots[i] = (slot){0};
    }
}

static void on_thread_exit(void *arg)
{
    clear_cache(arg);
}

static void init_once(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
    key_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    name_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void xg_tls_thread_cleanup(void)
{
    clear_cache(&tcache);
}

/* FNV-1a over the context id and the SNI: a collision only costs a failed
 * resumption (the server cannot decrypt a foreign ticket). Never 0. */
static uint64_t cache_key(uint64_t id, const char *sni)
{
    uint64_t h = 1469598103934665603ULL ^ id;
    for (const char *p = sni ? sni : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h ? h : 1;
}

/* The newest session kept for key, or NULL; *count: how many are kept. */
static slot *newest(uint64_t key, uint32_t *count, slot **oldest)
{
    slot *best = NULL;
    *count = 0;
    *oldest = NULL;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &tcache.slots[i];
        if (s->key != key)
            continue;
        (*count)++;
        if (best == NULL || s->seq > best->seq)
            best = s;
        if (*oldest == NULL || s->seq < (*oldest)->seq)
            *oldest = s;
    }
    return best;
}

/* A TLS 1.3 session is used once (RFC 8446 C.4), as BoringSSL and Envoy do. */
static bool single_use(const SSL_SESSION *sess)
{
    return SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION;
}

/* A new session from the server (TLS 1.3: after the handshake): kept, up to
 * the context's max_session_keys per key (the oldest goes first), in a
 * table evicted round-robin when full. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    uint64_t key = (uint64_t)(uintptr_t)SSL_get_ex_data(ssl, key_index);
    const xg__tls_common *com = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), xg__tls_ex_index());
    const xg_tls_client *c = (const xg_tls_client *)com;
    if (key == 0 || c == NULL || c->max_sessions == 0)
        return 0;
    if (!tcache.registered) {
        tcache.registered = true;
        (void)pthread_setspecific(exit_key, &tcache);
    }
    uint32_t count;
    slot *old;
    newest(key, &count, &old);
    uint32_t max = c->max_sessions < MAX_KEYS_PER_NAME ? c->max_sessions : MAX_KEYS_PER_NAME;
    slot *s = count >= max ? old : NULL;
    for (size_t i = 0; s == NULL && i < CACHE_SLOTS; i++)
        if (tcache.slots[i].key == 0)
            s = &tcache.slots[i];
    if (s == NULL) {
        s = &tcache.slots[tcache.next];
        tcache.next = (tcache.next + 1) % CACHE_SLOTS;
    }
    SSL_SESSION_free(s->sess);
    *s = (slot){.key = key, .seq = ++tcache.seq, .sess = sess};
    return 1; /* we keep the reference */
}

/* The handshake's alerts, for the failure reason (xg_tls_client_failure). */
static void on_info(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_HANDSHAKE_START) != 0)
        xg__tls_note(ssl, NULL);
    else if ((where & SSL_CB_ALERT) != 0 && (where & SSL_CB_READ) != 0)
        xg__tls_note(ssl, "alert from the upstream: %s", SSL_alert_desc_string_long(ret & 0xff));
}

static int build(xg_tls_client *c, const xg_tls_build *b, xg__tls_err *e)
{
    int rc = xg__tls_common_init(&c->com, b, e);
    if (rc == 0)
        rc = xg__tls_ctx_new(&c->com, &c->ctx, e);
    if (rc != 0)
        return rc;
    rc = xg__tls_apply_params(c->ctx, &b->tc->params, false, e);
    if (rc == 0 && c->com.n_certs > 0)
        rc = xg__tls_load_cert(c->ctx, &c->com, 0, e);
    if (rc == 0)
        rc = xg__tls_setup_verify(c->ctx, &c->com, c->com.verify.enabled ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, e);
    if (rc != 0)
        return rc;
    if (c->max_sessions > 0) {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
    }
    SSL_CTX_set_info_callback(c->ctx, on_info);
    if (b->tc->sni != NULL && (c->sni = strdup(b->tc->sni)) == NULL)
        return xg__tls_fail(e, XG_ENOMEM, "out of memory");
    return 0;
}

static void client_free(xg_tls_client *c)
{
    if (c->base != NULL) {
        xg_tls_client_unref(c->base);
    } else {
        SSL_CTX_free(c->ctx);
        xg__tls_common_dispose(&c->com);
    }
    free(c->sni);
    free(c->expect);
    free(c);
}

int xg_tls_client_new(const xg_tls_build *b, xg_tls_client **out, char *err, size_t errlen)
{
    xg__tls_err e = {err, errlen};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    ERR_clear_error(); /* reasons appended to err must be this build's */
    pthread_once(&exit_once, init_once);
    if (key_index < 0 || name_index < 0)
        return XG_ENOMEM;
    xg_tls_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    c->max_sessions = b->tc->max_session_keys;
    c->enforce_rsa = b->tc->enforce_rsa_key_usage;
    int rc = build(c, b, &e);
    if (rc != 0) {
        client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static char *dup_or_null(const char *s, bool *failed)
{
    char *d = s != NULL ? strdup(s) : NULL;
    *failed = *failed || (s != NULL && d == NULL);
    return d;
}

int xg_tls_client_named(xg_tls_client *base, const char *sni, const char *expect, xg_tls_client **out)
{
    while (base->base != NULL)
        base = base->base;
    xg_tls_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    bool failed = false;
    c->sni = dup_or_null(sni != NULL ? sni : base->sni, &failed);
    c->expect = dup_or_null(expect, &failed);
    if (failed) {
        free(c->sni);
        free(c->expect);
        free(c);
        return XG_ENOMEM;
    }
    atomic_init(&c->com.refs, 1);
    c->com.id = base->com.id; /* sessions are kept per (context, SNI): the name tells them apart */
    c->ctx = base->ctx;
    c->max_sessions = base->max_sessions;
    c->base = base;
    xg_tls_client_ref(base);
    *out = c;
    return 0;
}

void xg_tls_client_ref(xg_tls_client *c)
{
    atomic_fetch_add_explicit(&c->com.refs, 1, memory_order_relaxed);
}

void xg_tls_client_unref(xg_tls_client *c)
{
    if (c != NULL && atomic_fetch_sub_explicit(&c->com.refs, 1, memory_order_acq_rel) == 1)
        client_free(c);
}

const char *xg_tls_client_sni(const xg_tls_client *c)
{
    return c->sni;
}

const char *xg__tls_expected_name(const SSL *ssl)
{
    const xg_tls_client *c = name_index >= 0 ? SSL_get_ex_data(ssl, name_index) : NULL;
    return c != NULL ? c->expect : NULL;
}

/* Offers this worker's newest session for key; a single-use one leaves the
 * cache (the SSL holds its own reference). A stale session just means a
 * full handshake. */
static void offer_session(SSL *ssl, uint64_t key)
{
    uint32_t count;
    slot *old, *s = newest(key, &count, &old);
    if (s == NULL)
        return;
    SSL_set_session(ssl, s->sess);
    if (single_use(s->sess)) {
        SSL_SESSION_free(s->sess);
        *s = (slot){0};
    }
}

SSL *xg__tls_client_ssl(xg_tls_client *c, const char *sni, const uint8_t *alpn, size_t alpn_len)
{
    xg_tls_client *base = c->base != NULL ? c->base : c;
    SSL *ssl = SSL_new(base->ctx);
    if (ssl == NULL)
        return NULL;
#ifndef XG_TLS_OPENSSL
    SSL_set_enforce_rsa_key_usage(ssl, base->enforce_rsa); /* Envoy's default: off */
#endif
    if (alpn == NULL) {
        alpn = base->com.alpn;
        alpn_len = base->com.alpn_len;
    }
    bool ok = (sni == NULL || SSL_set_tlsext_host_name(ssl, sni) == 1) &&
              (alpn_len == 0 || SSL_set_alpn_protos(ssl, alpn, (unsigned)alpn_len) == 0);
    if (ok && c->expect != NULL)
        ok = SSL_set_ex_data(ssl, name_index, c) == 1; /* c outlives ssl: the connection holds a reference */
    if (ok && c->max_sessions > 0) {
        uint64_t key = cache_key(c->com.id, sni);
        ok = SSL_set_ex_data(ssl, key_index, (void *)(uintptr_t)key) == 1;
        if (ok)
            offer_session(ssl, key);
    }
    if (!ok) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

/* --- named clients per cluster (auto_sni, auto_san_validation) --- */

typedef struct named {
    char *sni;        /* or NULL: the base's */
    char *expect;     /* or NULL: the base's SAN matchers */
    xg_tls_client *c; /* referenced */
} named;

struct xg_tls_names {
    xg_tls_client *base; /* the context the entries derive from (they reference it) */
    named v[NAMES_MAX];
    uint64_t hash[NAMES_MAX];
    uint16_t index[2 * NAMES_MAX]; /* open addressing over v by hash: entry + 1, 0 empty; rebuilt on change */
    unsigned n, next;
};

/* The key of a named client: sni and expect, NULL apart from "". */
static uint64_t name_hash(const char *sni, const char *expect)
{
    uint64_t h = XXH3_64bits_withSeed(sni != NULL ? sni : "", sni != NULL ? strlen(sni) + 1 : 0, 1);
    return XXH3_64bits_withSeed(expect != NULL ? expect : "", expect != NULL ? strlen(expect) + 1 : 0, h);
}

static void reindex(xg_tls_names *t)
{
    memset(t->index, 0, sizeof t->index);
    for (unsigned i = 0; i < t->n; i++) {
        size_t k = t->hash[i] & (2 * NAMES_MAX - 1);
        while (t->index[k] != 0)
            k = (k + 1) & (2 * NAMES_MAX - 1);
        t->index[k] = (uint16_t)(i + 1);
    }
}

static bool same(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static void named_dispose(named *e)
{
    free(e->sni);
    free(e->expect);
    xg_tls_client_unref(e->c);
    *e = (named){0};
}

int xg_tls_names_get(xg_tls_names **cache, xg_tls_client *base, const char *sni, const char *expect,
                     xg_tls_client **out)
{
    xg_tls_names *t = *cache;
    if (t != NULL && t->base != base) {
        xg_tls_names_free(t); /* the cluster's context changed: the names start over */
        t = *cache = NULL;
    }
    if (t == NULL && (t = *cache = calloc(1, sizeof *t)) == NULL)
        return XG_ENOMEM;
    t->base = base;
    uint64_t h = name_hash(sni, expect);
    for (size_t k = h & (2 * NAMES_MAX - 1); t->index[k] != 0; k = (k + 1) & (2 * NAMES_MAX - 1)) {
        named *e = &t->v[t->index[k] - 1];
        if (t->hash[t->index[k] - 1] == h && same(e->sni, sni) && same(e->expect, expect)) {
            *out = e->c;
            return 0;
        }
    }
    bool failed = false;
    named e = {.sni = dup_or_null(sni, &failed), .expect = dup_or_null(expect, &failed)};
    if (failed || xg_tls_client_named(base, sni, expect, &e.c) != 0) {
        named_dispose(&e);
        return XG_ENOMEM;
    }
    named *slot;
    if (t->n < NAMES_MAX) {
        slot = &t->v[t->n++];
    } else { /* full: the oldest goes (pools using it keep their reference) */
        slot = &t->v[t->next];
        t->next = (t->next + 1) % NAMES_MAX;
        named_dispose(slot);
    }
    *slot = e;
    t->hash[slot - t->v] = h;
    reindex(t);
    *out = e.c;
    return 0;
}

void xg_tls_names_free(xg_tls_names *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->n; i++)
        named_dispose(&t->v[i]);
    free(t);
}
