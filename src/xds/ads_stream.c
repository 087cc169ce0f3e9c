/* One ADS stream attempt on the gRPC C core: a fresh channel and call, the
 * initial batches (metadata, status, one RECV_MESSAGE kept outstanding), a
 * queue of requests with at most one SEND_MESSAGE in flight, and on the end
 * of the call a reconnect after an exponential backoff with full jitter.
 * xds thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#ifdef XG_TLS_OPENSSL
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "version.h"
#include "xds/ads_int.h"

#define ADS_SERVICE "/envoy.service.discovery.v3.AggregatedDiscoveryService/"
#define KEEPALIVE_TIME_MS 60000 /* >= the 30 s minimum go-control-plane's examples enforce */
#define KEEPALIVE_TIMEOUT_MS 20000
#define MAX_RECV_BYTES (64 << 20) /* a config with 10,000 routes is several MiB */
#define MAX_FILE_BYTES (1 << 20)  /* PEM files for TLS to the control plane */

static const char *status_name(grpc_status_code c)
{
    static const char *const names[] = {
        "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "UNKNOWN";
}

#ifdef XG_TLS_OPENSSL
/* Reads a whole (small) file as a NUL-terminated string; NULL with the reason
 * in err on failure. */
static char *read_file(const char *path, xg_buf *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(MAX_FILE_BYTES + 1) : NULL;
    size_t n = buf ? fread(buf, 1, MAX_FILE_BYTES + 1, f) : 0;
    const char *why = f == NULL ? strerror(errno) : buf == NULL ? "out of memory" : NULL;
    if (why == NULL && (ferror(f) || n > MAX_FILE_BYTES))
        why = ferror(f) ? "read error" : "larger than 1 MiB";
    if (f != NULL)
        fclose(f);
    if (why != NULL) {
        (void)xg_buf_printf(err, "cannot read the TLS file %s: %s", path, why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The first certificate in pem, or NULL. */
static X509 *first_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

/* gRPC answers an unusable PEM only with "empty address list" (its reason
 * goes to stderr); checking here puts the reason into /xds instead. */
static bool pem_usable(const xg_ads *a, const char *ca, const char *cert, const char *key, xg_buf *err)
{
    X509 *x = first_cert(ca);
    bool ok = x != NULL;
    X509_free(x);
    if (!ok)
        (void)xg_buf_printf(err, "the TLS file %s holds no PEM certificate", a->o.ca_file);
    if (ok && cert != NULL) {
        BIO *b = BIO_new_mem_buf(key, -1);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        x = first_cert(cert);
        ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;
        if (!ok)
            (void)xg_buf_printf(err, "%s and %s are not a PEM certificate and its private key", a->o.cert_file,
                                a->o.key_file);
        X509_free(x);
        EVP_PKEY_free(k);
        BIO_free(b);
    }
    ERR_clear_error(); /* leave no stale errors on the xds thread for gRPC's own OpenSSL calls */
    return ok;
}

/* TLS (and mTLS with cert_file/key_file) to the control plane; the files are
 * read on every attempt so that rotated certificates are picked up. */
static grpc_channel_credentials *tls_creds(const xg_ads *a, xg_buf *err)
{
    char *ca = read_file(a->o.ca_file, err);
    char *cert = ca && a->o.cert_file ? read_file(a->o.cert_file, err) : NULL;
    char *key = cert ? read_file(a->o.key_file, err) : NULL;
    grpc_channel_credentials *c = NULL;
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    if (ca != NULL && (a->o.cert_file == NULL || key != NULL) && pem_usable(a, ca, cert, key, err))
        c = grpc_ssl_credentials_create(ca, key ? &pair : NULL, NULL, NULL);
    free(ca);
    free(cert);
    free(key);
    return c;
}
#endif

static grpc_channel_credentials *make_creds(const xg_ads *a, xg_buf *err)
{
#ifdef XG_TLS_OPENSSL
    if (a->o.ca_file != NULL)
        return tls_creds(a, err);
#endif
    return grpc_insecure_credentials_create();
}

/* Every attempt gets its own channel with a local subchannel pool: gRPC's own
 * reconnect backoff never delays ours. Retries are off (ADS is one stream).
 * With TLS, gRPC checks the server certificate against the host of the
 * target (an IP SAN for an address) unless server_name overrides it; the
 * override is also the SNI. */
static grpc_channel *make_channel(const xg_ads *a, grpc_channel_credentials *creds)
{
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = KEEPALIVE_TIME_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = KEEPALIVE_TIMEOUT_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_RECV_BYTES}},
        {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}},
        {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
        {GRPC_ARG_STRING, GRPC_ARG_PRIMARY_USER_AGENT_STRING, {.string = "xdsgate/" XG_VERSION}},
        {GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, {.string = (char *)a->o.server_name}},
    };
    size_t n = sizeof(args) / sizeof(args[0]);
    if (a->o.ca_file == NULL || a->o.server_name == NULL)
        n--; /* the override is last: left out */
    grpc_channel_args ca = {n, args};
    return grpc_channel_create(a->o.server, creds, &ca);
}

static void stream_free(xg__ads_stream *s)
{
    while (s->out != NULL) {
        xg__ads_out *o = s->out;
        s->out = o->next;
        grpc_byte_buffer_destroy(o->bb);
        free(o);
    }
    if (s->send_buf != NULL)
        grpc_byte_buffer_destroy(s->send_buf);
    if (s->recv_buf != NULL)
        grpc_byte_buffer_destroy(s->recv_buf);
    grpc_metadata_array_destroy(&s->md_initial);
    grpc_metadata_array_destroy(&s->md_trailing);
    grpc_slice_unref(s->details);
    if (s->call != NULL)
        grpc_call_unref(s->call);
    if (s->ch != NULL)
        grpc_channel_destroy(s->ch);
    s->a->n_streams--;
    free(s);
}

static xg__ads_stream *stream_new(xg_ads *a)
{
    xg__ads_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->a = a;
    s->out_tail = &s->out;
    grpc_metadata_array_init(&s->md_initial);
    grpc_metadata_array_init(&s->md_trailing);
    s->details = grpc_empty_slice();
    s->t_meta = (xg__ads_tag){XG__ADS_TAG_META, s};
    s->t_recv = (xg__ads_tag){XG__ADS_TAG_RECV, s};
    s->t_send = (xg__ads_tag){XG__ADS_TAG_SEND, s};
    s->t_status = (xg__ads_tag){XG__ADS_TAG_STATUS, s};
    a->n_streams++;
    return s;
}

/* Starts one batch; a failure to start is a bug in how we drive gRPC, so the
 * call is cancelled and the stream ends through the usual path. */
static bool batch(xg__ads_stream *s, const grpc_op *ops, size_t n, xg__ads_tag *tag)
{
    grpc_call_error e = grpc_call_start_batch(s->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        xg_log_error("ads: cannot start a gRPC batch (error %d); ending the stream", (int)e);
        grpc_call_cancel(s->call, NULL);
        return false;
    }
    s->pending++;
    return true;
}

static void start_recv(xg__ads_stream *s)
{
    grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
    op.data.recv_message.recv_message = &s->recv_buf;
    (void)batch(s, &op, 1, &s->t_recv);
}

static void pump(xg__ads_stream *s)
{
    if (s->sending || s->out == NULL || s->ended || s->a->stopping)
        return;
    xg__ads_out *o = s->out;
    if ((s->out = o->next) == NULL)
        s->out_tail = &s->out;
    s->send_buf = o->bb;
    free(o);
    grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
    op.data.send_message.send_message = s->send_buf;
    s->sending = batch(s, &op, 1, &s->t_send);
}

int xg__ads_stream_send_msg(xg__ads_stream *s, const ProtobufCMessage *m)
{
    if (s->ended)
        return 0; /* the next stream re-sends whatever is still wanted */
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *data = malloc(len ? len : 1);
    xg__ads_out *o = malloc(sizeof(*o));
    if (data == NULL || o == NULL) {
        free(data);
        free(o);
        return XG_ENOMEM;
    }
    protobuf_c_message_pack(m, data);
    grpc_slice sl = grpc_slice_new(data, len, free); /* the slice owns data */
    o->bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    o->next = NULL;
    *s->out_tail = o;
    s->out_tail = &o->next;
    pump(s);
    return 0;
}

static void report_connected(xg__ads_stream *s, const char *how)
{
    if (s->connected)
        return;
    s->connected = true;
    xg_log_info("ads: connected to %s (%s)", s->a->o.server, how);
    s->a->h.on_conn(s->a->h.ctx, XG_ADS_CONNECTED, how);
}

static void reconnect(void *arg)
{
    xg__ads_stream_connect(arg);
}

/* Full jitter: the delay is uniform in [0, cap]; cap doubles per failure up
 * to the maximum and drops back to the initial value once a stream has
 * received a response. */
static uint64_t next_delay_ms(xg_ads *a, bool had_response)
{
    uint64_t initial = (uint64_t)(a->o.backoff_initial_s * 1000), max = (uint64_t)(a->o.backoff_max_s * 1000);
    if (had_response || a->backoff_ms == 0)
        a->backoff_ms = initial;
    uint64_t cap = a->backoff_ms;
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 7;
    a->rng ^= a->rng << 17;
    a->backoff_ms = cap * 2 < max ? cap * 2 : max;
    return cap ? a->rng % (cap + 1) : 0;
}

/* The call is over (status received, or it never started): report, and
 * schedule the next attempt unless stopping. */
static void on_end(xg__ads_stream *s, grpc_status_code code, const char *msg)
{
    xg_ads *a = s->a;
    s->ended = true;
    if (a->st == s)
        a->st = NULL;
    if (a->stopping)
        return;
    uint64_t delay = next_delay_ms(a, s->got_response);
    char detail[512];
    snprintf(detail, sizeof(detail), "%s: %s; retrying in %.2f s", status_name(code), msg, (double)delay / 1000);
    xg_log_warn("ads: stream to %s ended: %s", a->o.server, detail);
    a->h.on_conn(a->h.ctx, XG_ADS_BACKOFF, detail);
    if (xg__ads_timer_add(a, delay, reconnect, a) != 0)
        xg_log_error("ads: cannot schedule the reconnect: out of memory; the control plane stays disconnected");
}

static void on_status(xg__ads_stream *s)
{
    char *msg = grpc_slice_to_c_string(s->details);
    on_end(s, s->status, msg[0] ? msg : "stream closed");
    gpr_free(msg);
}

/* A whole message, copied into one slice for protobuf-c. */
static void deliver(xg__ads_stream *s, grpc_byte_buffer *bb)
{
    xg_ads *a = s->a;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        xg__ads_stream_abort(s, GRPC_STATUS_INTERNAL, "unreadable response message");
        return;
    }
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    s->got_response = true;
    report_connected(s, "first response received");
    if (a->o.delta)
        xg__ads_delta_on_message(a, s, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
    else
        xg__ads_sotw_on_message(a, s, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
    grpc_slice_unref(sl);
}

static void on_recv(xg__ads_stream *s)
{
    grpc_byte_buffer *bb = s->recv_buf;
    s->recv_buf = NULL;
    if (bb == NULL)
        return; /* the server closed its side; the status follows */
    if (!s->ended && !s->a->stopping)
        deliver(s, bb);
    grpc_byte_buffer_destroy(bb);
    if (!s->ended && !s->a->stopping)
        start_recv(s);
}

void xg__ads_stream_on_event(xg__ads_tag *t, bool ok)
{
    xg__ads_stream *s = t->s;
    s->pending--;
    switch (t->kind) {
    case XG__ADS_TAG_META:
        if (ok && !s->ended && !s->a->stopping)
            report_connected(s, "stream open");
        break;
    case XG__ADS_TAG_RECV:
        on_recv(s);
        break;
    case XG__ADS_TAG_SEND:
        grpc_byte_buffer_destroy(s->send_buf);
        s->send_buf = NULL;
        s->sending = false;
        if (ok)
            pump(s);
        break;
    case XG__ADS_TAG_STATUS:
        on_status(s);
        break;
    default:
        break;
    }
    if (s->ended && s->pending == 0)
        stream_free(s);
}

/* The batches every stream starts with: metadata both ways, the status (our
 * only sign that the stream ended) and the first RECV_MESSAGE. */
static bool start_call(xg__ads_stream *s)
{
    grpc_op meta[2] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_INITIAL_METADATA}};
    meta[1].data.recv_initial_metadata.recv_initial_metadata = &s->md_initial;
    grpc_op st = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
    st.data.recv_status_on_client.trailing_metadata = &s->md_trailing;
    st.data.recv_status_on_client.status = &s->status;
    st.data.recv_status_on_client.status_details = &s->details;
    if (!batch(s, &st, 1, &s->t_status))
        return false;
    (void)batch(s, meta, 2, &s->t_meta);
    start_recv(s);
    return true;
}

static grpc_call *make_call(xg_ads *a, grpc_channel *ch)
{
    grpc_slice method = grpc_slice_from_static_string(a->o.delta ? ADS_SERVICE "DeltaAggregatedResources"
                                                                 : ADS_SERVICE "StreamAggregatedResources");
    return grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, a->cq, method, NULL,
                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

void xg__ads_stream_connect(xg_ads *a)
{
    xg_buf err;
    xg_buf_init(&err);
    if (a->stopping)
        return;
    xg__ads_stream *s = stream_new(a);
    if (s == NULL) {
        xg_log_error("ads: out of memory for a stream; retrying in 1 s");
        if (xg__ads_timer_add(a, 1000, reconnect, a) != 0)
            xg_log_error("ads: cannot schedule the reconnect: out of memory; the control plane stays disconnected");
        goto done;
    }
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        xg__ads_sub_reset_stream(&a->subs[t]);
    xg_log_info("ads: connecting to %s (%s)", a->o.server, a->o.delta ? "delta" : "state of the world");
    a->h.on_conn(a->h.ctx, XG_ADS_CONNECTING, a->o.server);
    grpc_channel_credentials *creds = make_creds(a, &err);
    if (creds != NULL) {
        s->ch = make_channel(a, creds);
        grpc_channel_credentials_release(creds);
        s->call = make_call(a, s->ch);
    }
    if (s->call == NULL || !start_call(s)) {
        on_end(s, GRPC_STATUS_INTERNAL, err.len ? err.data : "cannot create the call");
        stream_free(s);
        goto done;
    }
    a->st = s;
    xg__ads_flush(a); /* the first request of each subscribed type */
done:
    xg_buf_dispose(&err);
}

void xg__ads_stream_abort(xg__ads_stream *s, grpc_status_code code, const char *why)
{
    if (!s->ended)
        grpc_call_cancel_with_status(s->call, code, why, NULL);
}

void xg__ads_stream_cancel(xg_ads *a)
{
    if (a->st != NULL)
        grpc_call_cancel(a->st->call, NULL);
}
