/* Client TLS contexts (UpstreamTlsContext) and the per-thread client session
 * cache: upstream connections resume sessions without any lock, because each
 * worker keeps its own small table of sessions keyed by (context, SNI). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "core/error.h"
#include "net/tls_ctx_int.h"

#define CACHE_SLOTS 64

struct xg_tls_client {
    xg__tls_common com; /* first: the SSL_CTX ex_data points here */
    SSL_CTX *ctx;
    char *sni;
    bool sessions; /* max_session_keys > 0 */
};

typedef struct slot {
    uint64_t key;
    SSL_SESSION *sess;
} slot;

typedef struct cache {
    slot slots[CACHE_SLOTS];
    unsigned next;
    bool registered;
} cache;

static __thread cache tcache;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int ssl_index = -1; /* SSL ex_data: the cache key of the connection (set once) */

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
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
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

static slot *find_slot(uint64_t key)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (tcache.slots[i].key == key)
            return &tcache.slots[i];
    return NULL;
}

/* A new session from the server (TLS 1.3: after the handshake): keep the
 * latest per key, evicting round-robin when the table is full. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    uint64_t key = (uint64_t)(uintptr_t)SSL_get_ex_data(ssl, ssl_index);
    if (key == 0)
        return 0;
    if (!tcache.registered) {
        tcache.registered = true;
        (void)pthread_setspecific(exit_key, &tcache);
    }
    slot *s = find_slot(key);
    if (s == NULL) {
        s = &tcache.slots[tcache.next];
        tcache.next = (tcache.next + 1) % CACHE_SLOTS;
    }
    SSL_SESSION_free(s->sess);
    s->key = key;
    s->sess = sess;
    return 1; /* we keep the reference */
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
    if (c->sessions) {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
    }
    if (b->tc->sni != NULL && (c->sni = strdup(b->tc->sni)) == NULL)
        return xg__tls_fail(e, XG_ENOMEM, "out of memory");
    return 0;
}

static void client_free(xg_tls_client *c)
{
    SSL_CTX_free(c->ctx);
    free(c->sni);
    xg__tls_common_dispose(&c->com);
    free(c);
}

int xg_tls_client_new(const xg_tls_build *b, xg_tls_client **out, char *err, size_t errlen)
{
    xg__tls_err e = {err, errlen};
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    ERR_clear_error(); /* reasons appended to err must be this build's */
    pthread_once(&exit_once, init_once);
    if (ssl_index < 0)
        return XG_ENOMEM;
    xg_tls_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return XG_ENOMEM;
    c->sessions = b->tc->max_session_keys > 0;
    int rc = build(c, b, &e);
    if (rc != 0) {
        client_free(c);
        return rc;
    }
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

SSL *xg__tls_client_ssl(xg_tls_client *c, const char *sni, const uint8_t *alpn, size_t alpn_len)
{
    SSL *ssl = SSL_new(c->ctx);
    if (ssl == NULL)
        return NULL;
    if (alpn == NULL) {
        alpn = c->com.alpn;
        alpn_len = c->com.alpn_len;
    }
    bool ok = (sni == NULL || SSL_set_tlsext_host_name(ssl, sni) == 1) &&
              (alpn_len == 0 || SSL_set_alpn_protos(ssl, alpn, (unsigned)alpn_len) == 0);
    if (ok && c->sessions) {
        uint64_t key = cache_key(c->com.id, sni);
        ok = SSL_set_ex_data(ssl, ssl_index, (void *)(uintptr_t)key) == 1;
        slot *s = find_slot(key);
        if (ok && s != NULL)
            SSL_set_session(ssl, s->sess); /* a stale session just means a full handshake */
    }
    if (!ok) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}
