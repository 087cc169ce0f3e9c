/* A Cluster's endpoint protection: active health checks (HTTP, TCP, gRPC),
 * circuit breakers per routing priority, and outlier detection, each with
 * Envoy's defaults and range checks. Checker features xdsgate does not run
 * (custom checkers, HTTP send/receive bodies, service name matching, HTTP/3)
 * are a NACK when set. */
#include <ctype.h>
#include <string.h>

#include "core/error.h"
#include "xds/xlate_ces.h"

typedef Envoy__Config__Core__V3__HealthCheck pb_hc;
typedef Envoy__Config__Core__V3__HealthCheck__HttpHealthCheck pb_http_hc;
typedef Envoy__Config__Core__V3__HealthCheck__Payload pb_payload;
typedef Envoy__Config__Core__V3__HeaderValueOption pb_header;
typedef Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds pb_thresholds;
typedef Envoy__Config__Cluster__V3__OutlierDetection pb_outlier;
#define HC(c) ENVOY__CONFIG__CORE__V3__HEALTH_CHECK__##c

/* --- payloads and headers --- */

static int hexval(char c)
{
    if (!isxdigit((unsigned char)c))
        return -1;
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* Payload.text is hex ("000000FF"), Payload.binary raw bytes. */
static int payload(xg_xlate *x, const pb_payload *pb, xg_hc_payload *out)
{
    if (pb->payload_case == HC(PAYLOAD__PAYLOAD_BINARY)) {
        out->len = pb->binary.len;
        out->data = xg_arena_memdup(&x->res->arena, pb->binary.data ? pb->binary.data : (const uint8_t *)"", out->len);
        return out->data ? 0 : XG_ENOMEM;
    }
    if (pb->payload_case != HC(PAYLOAD__PAYLOAD_TEXT))
        return xg_xlate_fail(x, "one of text or binary is required");
    size_t n = strlen(pb->text);
    if (n == 0)
        return xg__ces_fail_at(x, "text", "must not be empty");
    uint8_t *d = xg_xlate_alloc(x, n / 2 + 1);
    if (d == NULL)
        return XG_ENOMEM;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(pb->text[i]), lo = i + 1 < n ? hexval(pb->text[i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return xg__ces_fail_at(x, "text", "\"%s\" is not an even-length hex string", pb->text);
        d[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    out->data = d;
    out->len = n / 2;
    return 0;
}

static int payloads(xg_xlate *x, const char *field, pb_payload **in, size_t n, xg_hc_payload **out)
{
    *out = n ? xg_arena_calloc(&x->res->arena, n, sizeof(**out)) : NULL;
    if (n && *out == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = payload(x, in[i], &(*out)[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    return rc;
}

static bool valid_header_name(const char *s)
{
    if (*s == '\0' || *s == ':')
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *s))
            return false;
    return true;
}

static bool valid_header_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
            return false;
    return true;
}

static int header(xg_xlate *x, const pb_header *pb, xg_hc_header *out)
{
    const Envoy__Config__Core__V3__HeaderValue *h = pb->header;
    if (h == NULL)
        return xg__ces_fail_at(x, "header", "required");
    if (!valid_header_name(h->key))
        return xg__ces_fail_at(x, "header.key", "\"%s\" is not a valid header name (pseudo-headers are not allowed)",
                               h->key);
    bool raw = h->raw_value.len > 0;
    const char *v = raw ? (const char *)h->raw_value.data : h->value;
    size_t vlen = raw ? h->raw_value.len : strlen(h->value);
    if (!valid_header_value(v, vlen))
        return xg__ces_fail_at(x, raw ? "header.raw_value" : "header.value", "contains NUL, CR or LF");
    if (pb->append != NULL && pb->append_action != 0)
        return xg__ces_fail_at(x, "append", "append and append_action cannot both be set");
    if ((unsigned)pb->append_action > XG_HC_OVERWRITE_IF_EXISTS)
        return xg__ces_fail_at(x, "append_action", "unknown value %d", (int)pb->append_action);
    out->append =
        (pb->append != NULL && !pb->append->value) ? XG_HC_OVERWRITE_IF_EXISTS_OR_ADD : (xg_hc_append)pb->append_action;
    out->keep_empty_value = pb->keep_empty_value;
    char *k = xg_xlate_strdup(x, h->key);
    out->value = xg_arena_strndup(&x->res->arena, v, vlen);
    if (k == NULL || out->value == NULL)
        return XG_ENOMEM;
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    out->key = k;
    return 0;
}

static int headers(xg_xlate *x, const char *field, pb_header **in, size_t n, xg_hc_header **out, size_t *nout)
{
    *out = n ? xg_arena_calloc(&x->res->arena, n, sizeof(**out)) : NULL;
    if (n && *out == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = header(x, in[i], &(*out)[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    *nout = n;
    return rc;
}

/* --- HTTP / TCP / gRPC checkers --- */

static int status_ranges(xg_xlate *x, const char *field, Envoy__Type__V3__Int64Range **in, size_t n,
                         xg_status_range **out, size_t *nout)
{
    *out = n ? xg_arena_calloc(&x->res->arena, n, sizeof(**out)) : NULL;
    if (n && *out == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, field);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t s = in[i]->start, e = in[i]->end;
        size_t m = xg_xlate_push_index(x, i);
        if (s < 100 || e > 600 || s >= e)
            rc = xg_xlate_fail(x, "invalid status range [%lld, %lld): need 100 <= start < end <= 600", (long long)s,
                               (long long)e);
        xg_xlate_pop(x, m);
        (*out)[i] = (xg_status_range){s, e};
    }
    xg_xlate_pop(x, mark);
    *nout = n;
    return rc;
}

static int default_statuses(xg_xlate *x, xg_health_check *hc)
{
    if ((hc->expected_statuses = xg_xlate_alloc(x, sizeof(*hc->expected_statuses))) == NULL)
        return XG_ENOMEM;
    hc->expected_statuses[0] = (xg_status_range){200, 201};
    hc->n_expected_statuses = 1;
    return 0;
}

static const char *const methods[] = {"GET",    "GET",     "HEAD",    "POST",  "PUT",
                                      "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static int http_unsupported(xg_xlate *x, const pb_http_hc *pb)
{
    if (pb->path[0] == '\0')
        return xg__ces_fail_at(x, "path", "required");
    if (pb->send != NULL || pb->n_receive > 0 || pb->response_buffer_size != NULL)
        return xg__ces_fail_at(x,
                               pb->send        ? "send"
                               : pb->n_receive ? "receive"
                                               : "response_buffer_size",
                               "not supported for HTTP health checks");
    if (pb->service_name_matcher != NULL)
        return xg__ces_fail_at(x, "service_name_matcher", "not supported");
    if (pb->codec_client_type != ENVOY__TYPE__V3__CODEC_CLIENT_TYPE__HTTP1 &&
        pb->codec_client_type != ENVOY__TYPE__V3__CODEC_CLIENT_TYPE__HTTP2)
        return xg__ces_fail_at(x, "codec_client_type", "only HTTP1 and HTTP2 are supported");
    if ((unsigned)pb->method >= sizeof(methods) / sizeof(methods[0]) ||
        pb->method == ENVOY__CONFIG__CORE__V3__REQUEST_METHOD__CONNECT)
        return xg__ces_fail_at(x, "method", "CONNECT and unknown methods are not allowed");
    return 0;
}

static int http_check(xg_xlate *x, const pb_http_hc *pb, xg_health_check *hc)
{
    size_t mark = xg_xlate_push(x, "http_health_check");
    int rc = http_unsupported(x, pb);
    hc->kind = XG_HC_HTTP;
    hc->http_method = methods[rc == 0 ? pb->method : 0];
    hc->http_codec =
        pb->codec_client_type == ENVOY__TYPE__V3__CODEC_CLIENT_TYPE__HTTP2 ? XG_HC_CODEC_HTTP2 : XG_HC_CODEC_HTTP1;
    if (rc == 0 && (hc->http_path = xg_xlate_strdup(x, pb->path)) == NULL)
        rc = XG_ENOMEM;
    if (rc == 0 && pb->host[0] != '\0' && (hc->http_host = xg_xlate_strdup(x, pb->host)) == NULL)
        rc = XG_ENOMEM;
    if (rc == 0)
        rc = status_ranges(x, "expected_statuses", pb->expected_statuses, pb->n_expected_statuses,
                           &hc->expected_statuses, &hc->n_expected_statuses);
    if (rc == 0 && hc->n_expected_statuses == 0)
        rc = default_statuses(x, hc);
    if (rc == 0)
        rc = status_ranges(x, "retriable_statuses", pb->retriable_statuses, pb->n_retriable_statuses,
                           &hc->retriable_statuses, &hc->n_retriable_statuses);
    if (rc == 0)
        rc = headers(x, "request_headers_to_add", pb->request_headers_to_add, pb->n_request_headers_to_add,
                     &hc->request_headers_to_add, &hc->n_request_headers_to_add);
    if (rc == 0)
        rc = xg__ces_strv(x, pb->request_headers_to_remove, pb->n_request_headers_to_remove,
                          &hc->request_headers_to_remove);
    hc->n_request_headers_to_remove = pb->n_request_headers_to_remove;
    xg_xlate_pop(x, mark);
    return rc;
}

static int tcp_check(xg_xlate *x, const Envoy__Config__Core__V3__HealthCheck__TcpHealthCheck *pb, xg_health_check *hc)
{
    hc->kind = XG_HC_TCP;
    size_t mark = xg_xlate_push(x, "tcp_health_check");
    int rc = 0;
    if (pb->send != NULL) {
        size_t m = xg_xlate_push(x, "send");
        rc = payload(x, pb->send, &hc->tcp_send);
        xg_xlate_pop(x, m);
    }
    if (rc == 0)
        rc = payloads(x, "receive", pb->receive, pb->n_receive, &hc->tcp_receive);
    hc->n_tcp_receive = pb->n_receive;
    xg_xlate_pop(x, mark);
    return rc;
}

static int grpc_check(xg_xlate *x, const Envoy__Config__Core__V3__HealthCheck__GrpcHealthCheck *pb, xg_health_check *hc)
{
    hc->kind = XG_HC_GRPC;
    size_t mark = xg_xlate_push(x, "grpc_health_check");
    int rc = (hc->grpc_service_name = xg_xlate_strdup(x, pb->service_name)) ? 0 : XG_ENOMEM;
    if (rc == 0 && pb->authority[0] != '\0' && (hc->grpc_authority = xg_xlate_strdup(x, pb->authority)) == NULL)
        rc = XG_ENOMEM;
    if (rc == 0)
        rc = headers(x, "initial_metadata", pb->initial_metadata, pb->n_initial_metadata, &hc->grpc_initial_metadata,
                     &hc->n_grpc_initial_metadata);
    xg_xlate_pop(x, mark);
    return rc;
}

/* --- one HealthCheck --- */

static int hc_intervals(xg_xlate *x, const pb_hc *pb, xg_health_check *hc)
{
    int rc = xg__ces_duration(x, "no_traffic_interval", pb->no_traffic_interval, 60000, XG__DUR_POSITIVE,
                              &hc->no_traffic_interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "no_traffic_healthy_interval", pb->no_traffic_healthy_interval,
                              hc->no_traffic_interval_ms, XG__DUR_POSITIVE, &hc->no_traffic_healthy_interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "unhealthy_interval", pb->unhealthy_interval, hc->interval_ms, XG__DUR_POSITIVE,
                              &hc->unhealthy_interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "unhealthy_edge_interval", pb->unhealthy_edge_interval, hc->unhealthy_interval_ms,
                              XG__DUR_POSITIVE, &hc->unhealthy_edge_interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "healthy_edge_interval", pb->healthy_edge_interval, hc->interval_ms, XG__DUR_POSITIVE,
                              &hc->healthy_edge_interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "initial_jitter", pb->initial_jitter, 0, XG__DUR_NONNEG, &hc->initial_jitter_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "interval_jitter", pb->interval_jitter, 0, XG__DUR_NONNEG, &hc->interval_jitter_ms);
    return rc;
}

static int hc_common(xg_xlate *x, const pb_hc *pb, xg_health_check *hc)
{
    if (pb->timeout == NULL)
        return xg__ces_fail_at(x, "timeout", "required");
    if (pb->interval == NULL)
        return xg__ces_fail_at(x, "interval", "required");
    if (pb->unhealthy_threshold == NULL)
        return xg__ces_fail_at(x, "unhealthy_threshold", "required");
    if (pb->healthy_threshold == NULL)
        return xg__ces_fail_at(x, "healthy_threshold", "required");
    if (pb->alt_port != NULL && pb->alt_port->value > 65535)
        return xg__ces_fail_at(x, "alt_port", "must be 0..65535, got %u", pb->alt_port->value);
    if (pb->transport_socket_match_criteria != NULL)
        return xg__ces_fail_at(x, "transport_socket_match_criteria", "not supported");
    int rc = xg__ces_duration(x, "timeout", pb->timeout, 0, XG__DUR_POSITIVE, &hc->timeout_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "interval", pb->interval, 0, XG__DUR_POSITIVE, &hc->interval_ms);
    if (rc == 0)
        rc = hc_intervals(x, pb, hc);
    hc->interval_jitter_percent = pb->interval_jitter_percent;
    hc->unhealthy_threshold = pb->unhealthy_threshold->value;
    hc->healthy_threshold = pb->healthy_threshold->value;
    hc->alt_port = (uint16_t)xg__ces_u32(pb->alt_port, 0);
    hc->reuse_connection = xg__ces_bool(pb->reuse_connection, true);
    hc->always_log_failures = pb->always_log_health_check_failures;
    hc->always_log_success = pb->always_log_health_check_success;
    if (rc == 0 && pb->event_log_path[0] != '\0' && (hc->event_log_path = xg_xlate_strdup(x, pb->event_log_path)) == NULL)
        rc = XG_ENOMEM;
    if (rc == 0 && pb->tls_options != NULL) {
        hc->n_tls_alpn = pb->tls_options->n_alpn_protocols;
        rc = xg__ces_strv(x, pb->tls_options->alpn_protocols, hc->n_tls_alpn, &hc->tls_alpn);
    }
    return rc;
}

static int health_check(xg_xlate *x, const pb_hc *pb, xg_health_check *hc)
{
    int rc = hc_common(x, pb, hc);
    if (rc != 0)
        return rc;
    switch (pb->health_checker_case) {
    case HC(HEALTH_CHECKER_HTTP_HEALTH_CHECK):
        return http_check(x, pb->http_health_check, hc);
    case HC(HEALTH_CHECKER_TCP_HEALTH_CHECK):
        return tcp_check(x, pb->tcp_health_check, hc);
    case HC(HEALTH_CHECKER_GRPC_HEALTH_CHECK):
        return grpc_check(x, pb->grpc_health_check, hc);
    case HC(HEALTH_CHECKER_CUSTOM_HEALTH_CHECK):
        return xg__ces_fail_at(x, "custom_health_check",
                               "not supported (http_health_check, tcp_health_check, grpc_health_check are)");
    default:
        return xg_xlate_fail(x, "one of http_health_check, tcp_health_check or grpc_health_check is required");
    }
}

int xg__xlate_health_checks(xg_xlate *x, const Envoy__Config__Cluster__V3__Cluster *pb, xg_cluster *c)
{
    size_t n = pb->n_health_checks;
    if (n == 0)
        return 0;
    /* Envoy: "Multiple health checks not supported". */
    if (n > 1)
        return xg__ces_fail_at(x, "health_checks", "multiple health checks are not supported (Envoy runs one per "
                                                   "cluster), got %zu",
                               n);
    if ((c->health_checks = xg_arena_calloc(&x->res->arena, n, sizeof(*c->health_checks))) == NULL)
        return XG_ENOMEM;
    int rc = 0;
    size_t mark = xg_xlate_push(x, "health_checks");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t m = xg_xlate_push_index(x, i);
        rc = health_check(x, pb->health_checks[i], &c->health_checks[i]);
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    c->n_health_checks = n;
    return rc;
}

/* --- circuit breakers --- */

static void default_thresholds(xg_cb_thresholds *t)
{
    *t = (xg_cb_thresholds){.max_connections = 1024,
                            .max_pending_requests = 1024,
                            .max_requests = 1024,
                            .max_retries = 3,
                            .retry_budget_percent = 20.0,
                            .retry_budget_min_concurrency = 3};
}

static int thresholds(xg_xlate *x, const pb_thresholds *pb, xg_cb_thresholds *t)
{
    if (pb->max_connection_pools != NULL)
        return xg__ces_fail_at(x, "max_connection_pools", "not supported");
    t->max_connections = xg__ces_u32(pb->max_connections, 1024);
    t->max_pending_requests = xg__ces_u32(pb->max_pending_requests, 1024);
    t->max_requests = xg__ces_u32(pb->max_requests, 1024);
    t->max_retries = xg__ces_u32(pb->max_retries, 3);
    t->track_remaining = pb->track_remaining;
    if (pb->retry_budget == NULL)
        return 0;
    /* As Envoy: an empty retry_budget {} sets neither value, so max_retries
     * stays in force; either field turns the budget on (the other defaults). */
    t->has_retry_budget = pb->retry_budget->budget_percent != NULL || pb->retry_budget->min_retry_concurrency != NULL;
    t->retry_budget_min_concurrency = xg__ces_u32(pb->retry_budget->min_retry_concurrency, 3);
    return xg__ces_percent(x, "retry_budget.budget_percent", pb->retry_budget->budget_percent, 20.0,
                           &t->retry_budget_percent);
}

int xg__xlate_circuit_breakers(xg_xlate *x, const Envoy__Config__Cluster__V3__CircuitBreakers *pb, xg_cluster *c)
{
    bool seen[XG_N_PRIORITIES] = {false, false};
    for (int p = 0; p < XG_N_PRIORITIES; p++)
        default_thresholds(&c->thresholds[p]);
    if (pb == NULL)
        return 0;
    size_t mark = xg_xlate_push(x, "circuit_breakers");
    int rc = 0;
    if (pb->n_per_host_thresholds > 0)
        rc = xg__ces_fail_at(x, "per_host_thresholds", "not supported");
    xg_xlate_push(x, "thresholds");
    for (size_t i = 0; rc == 0 && i < pb->n_thresholds; i++) {
        const pb_thresholds *t = pb->thresholds[i];
        size_t m = xg_xlate_push_index(x, i);
        if ((unsigned)t->priority >= XG_N_PRIORITIES)
            rc = xg__ces_fail_at(x, "priority", "must be DEFAULT or HIGH");
        /* As in Envoy, the first thresholds given for a priority apply. */
        else if (!seen[t->priority])
            rc = thresholds(x, t, &c->thresholds[t->priority]);
        if (rc == 0)
            seen[t->priority] = true;
        xg_xlate_pop(x, m);
    }
    xg_xlate_pop(x, mark);
    return rc;
}

/* --- outlier detection --- */

/* Each percentage field of OutlierDetection with its Envoy default. */
#define OUTLIER_PERCENTS(X)                                                                                            \
    X(max_ejection_percent, 10)                                                                                        \
    X(enforcing_consecutive_5xx, 100)                                                                                  \
    X(enforcing_success_rate, 100)                                                                                     \
    X(enforcing_consecutive_gateway_failure, 0)                                                                        \
    X(enforcing_consecutive_local_origin_failure, 100)                                                                 \
    X(enforcing_local_origin_success_rate, 100)                                                                        \
    X(failure_percentage_threshold, 85)                                                                                \
    X(enforcing_failure_percentage, 0)                                                                                 \
    X(enforcing_failure_percentage_local_origin, 0)

#define OUTLIER_COUNTS(X)                                                                                              \
    X(consecutive_5xx, 5)                                                                                              \
    X(success_rate_minimum_hosts, 5)                                                                                   \
    X(success_rate_request_volume, 100)                                                                                \
    X(success_rate_stdev_factor, 1900)                                                                                 \
    X(consecutive_gateway_failure, 5)                                                                                  \
    X(consecutive_local_origin_failure, 5)                                                                             \
    X(failure_percentage_minimum_hosts, 5)                                                                             \
    X(failure_percentage_request_volume, 50)

static int outlier_values(xg_xlate *x, const pb_outlier *pb, xg_outlier *o)
{
#define PERCENT(f, d)                                                                                                  \
    o->f = xg__ces_u32(pb->f, d);                                                                                      \
    if (o->f > 100)                                                                                                    \
        return xg__ces_fail_at(x, #f, "must be a percentage 0..100, got %u", o->f);
#define COUNT(f, d) o->f = xg__ces_u32(pb->f, d);
    OUTLIER_PERCENTS(PERCENT)
    OUTLIER_COUNTS(COUNT)
#undef PERCENT
#undef COUNT
    o->split_external_local_origin_errors = pb->split_external_local_origin_errors;
    o->successful_active_health_check_uneject_host =
        xg__ces_bool(pb->successful_active_health_check_uneject_host, true);
    o->always_eject_one_host = xg__ces_bool(pb->always_eject_one_host, false);
    return 0;
}

static int outlier_times(xg_xlate *x, const pb_outlier *pb, xg_outlier *o)
{
    int rc = xg__ces_duration(x, "interval", pb->interval, 10000, XG__DUR_POSITIVE, &o->interval_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "base_ejection_time", pb->base_ejection_time, 30000, XG__DUR_POSITIVE,
                              &o->base_ejection_time_ms);
    /* Unset: 300 s, or base_ejection_time when that is longer (Envoy). */
    int64_t max_default = o->base_ejection_time_ms > 300000 ? o->base_ejection_time_ms : 300000;
    if (rc == 0)
        rc = xg__ces_duration(x, "max_ejection_time", pb->max_ejection_time, max_default, XG__DUR_POSITIVE,
                              &o->max_ejection_time_ms);
    if (rc == 0)
        rc = xg__ces_duration(x, "max_ejection_time_jitter", pb->max_ejection_time_jitter, 0, XG__DUR_NONNEG,
                              &o->max_ejection_time_jitter_ms);
    if (rc == 0 && o->max_ejection_time_ms < o->base_ejection_time_ms)
        rc = xg__ces_fail_at(x, "max_ejection_time", "cannot be smaller than base_ejection_time");
    return rc;
}

int xg__xlate_outlier(xg_xlate *x, const pb_outlier *pb, xg_cluster *c)
{
    if (pb == NULL)
        return 0;
    xg_outlier *o = xg_xlate_alloc(x, sizeof(*o));
    if (o == NULL)
        return XG_ENOMEM;
    size_t mark = xg_xlate_push(x, "outlier_detection");
    int rc = outlier_values(x, pb, o);
    if (rc == 0)
        rc = outlier_times(x, pb, o);
    xg_xlate_pop(x, mark);
    c->outlier = o;
    return rc;
}
