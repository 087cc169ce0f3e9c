/* Active health checking of one host on the main thread: the timer that
 * alternates between "wait for the next check" and "the check's timeout",
 * the probe, the state machine (health_sm.h), the flags and log lines a
 * result produces, and an ejected host's return on a passing check
 * (outlier_detection.successful_active_health_check_uneject_host). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "upstream/health_int.h"

static const xg_health_check *hc_of(const hm_host *h)
{
    return &h->c->cfg->health_checks[0];
}

static void arm(hm_host *h, int64_t ms)
{
    struct ev_loop *ev = h->c->m->loop->ev;
    ev_timer_stop(ev, &h->hc_timer);
    ev_timer_set(&h->hc_timer, (double)ms / 1000.0, 0);
    ev_timer_start(ev, &h->hc_timer);
}

static void log_result(const hm_host *h, const xg_health_check *hc, xg_hc_result r, const char *detail,
                       xg_hc_transition t, bool first)
{
    const char *c = h->c->name;
    if (t == XG_HC_CHANGED && h->hc.failed)
        xg_log_warn("health check: cluster %s host %s is now unhealthy (%s: %s)", c, h->addr_str, xg_hc_result_name(r),
                    detail);
    else if (t == XG_HC_CHANGED && r == XG_HC_OK)
        xg_log_info("health check: cluster %s host %s is now healthy (%s)", c, h->addr_str, detail);
    else if (r != XG_HC_OK && (first || hc->always_log_failures))
        xg_log_info("health check: cluster %s host %s failed a check (%s: %s)", c, h->addr_str, xg_hc_result_name(r),
                    detail);
    else if (r == XG_HC_OK && hc->always_log_success)
        xg_log_info("health check: cluster %s host %s passed a check (%s)", c, h->addr_str, detail);
    else
        xg_log_debug("health check: cluster %s host %s: %s (%s)", c, h->addr_str, xg_hc_result_name(r), detail);
}

/* --- the event log (event_log_path): Envoy's HealthCheckEvent as JSON lines --- */

static const char *failure_type(xg_hc_result r)
{
    return r == XG_HC_FAIL_NETWORK ? "NETWORK" : r == XG_HC_FAIL_TIMEOUT ? "NETWORK_TIMEOUT" : "ACTIVE";
}

/* The event of a result, into ev (JSON members); false when none is due. */
static bool event_of(const xg_health_check *hc, xg_hc_result r, xg_hc_transition t, bool failed, bool first, char *ev,
                     size_t n)
{
    if (t == XG_HC_CHANGED && failed)
        snprintf(ev, n, "\"eject_unhealthy_event\":{\"failure_type\":\"%s\"}", failure_type(r));
    else if (t == XG_HC_CHANGED && r == XG_HC_OK)
        snprintf(ev, n, "\"add_healthy_event\":{\"first_check\":%s}", first ? "true" : "false");
    else if (r != XG_HC_OK && (first || hc->always_log_failures))
        snprintf(ev, n, "\"health_check_failure_event\":{\"failure_type\":\"%s\",\"first_check\":%s}", failure_type(r),
                 first ? "true" : "false");
    else if (r == XG_HC_OK && hc->always_log_success)
        snprintf(ev, n, "\"successful_health_check_event\":{}");
    else
        return false;
    return true;
}

/* s as the inside of a JSON string (quotes, backslashes and control
 * characters escaped), truncated to fit out. */
static void json_str(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s != '\0' && k + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, n - k, "\\%c", c);
        else if (c < 0x20)
            k += (size_t)snprintf(out + k, n - k, "\\u%04x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = '\0';
}

/* Appends one line to event_log_path. The file is opened per event (events
 * are rare) and written at once; a failure is logged, never fatal. */
static void write_event(const hm_host *h, const xg_health_check *hc, const char *ev)
{
    static const char *const kinds[] = {[XG_HC_HTTP] = "HTTP", [XG_HC_TCP] = "TCP", [XG_HC_GRPC] = "GRPC"};
    char ip[INET6_ADDRSTRLEN] = "", ts[40], name[512], line[1024];
    json_str(h->c->name, name, sizeof name);
    const struct sockaddr *sa = (const struct sockaddr *)&h->addr;
    uint16_t port = sa->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                                              : ntohs(((const struct sockaddr_in *)sa)->sin_port);
    inet_ntop(sa->sa_family,
              sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr,
              ip, sizeof ip);
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03ldZ", now.tv_nsec / 1000000);
    int n = snprintf(line, sizeof line,
                     "{\"health_checker_type\":\"%s\",\"host\":{\"socket_address\":{\"address\":\"%s\","
                     "\"port_value\":%u}},\"cluster_name\":\"%s\",%s,\"timestamp\":\"%s\"}\n",
                     kinds[hc->kind], ip, port, name, ev, ts);
    int fd = open(hc->event_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || n <= 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n)
        xg_log_warn("health check: cluster %s: cannot write the event log %s", h->c->name, hc->event_log_path);
    if (fd >= 0)
        close(fd);
}

static void log_event(const hm_host *h, const xg_health_check *hc, xg_hc_result r, xg_hc_transition t, bool first)
{
    char ev[160];
    if (hc->event_log_path != NULL && event_of(hc, r, t, h->hc.failed, first, ev, sizeof ev))
        write_event(h, hc, ev);
}

static void result(hm_host *h, xg_hc_result r, const char *detail)
{
    const xg_health_check *hc = hc_of(h);
    bool first = h->hc.first_check;
    xg_hc_transition t = xg_hc_state_put(&h->hc, hc, r);
    log_result(h, hc, r, detail, t, first);
    log_event(h, hc, r, t, first);
    uint32_t flags = h->flags & ~(uint32_t)(XG_HOST_F_HC_FAILED | XG_HOST_F_PENDING_FIRST_HC);
    flags |= (h->hc.failed ? XG_HOST_F_HC_FAILED : 0) | (h->hc.pending ? XG_HOST_F_PENDING_FIRST_HC : 0);
    xg__hm_set_flags(h, flags);
    const xg_outlier *od = h->c->cfg->outlier;
    if (r == XG_HC_OK && !h->hc.failed && h->od.ejected && od != NULL &&
        od->successful_active_health_check_uneject_host)
        xg__od_uneject(h, xg__hm_now_ms(h->c->m), "it passed an active health check");
    arm(h, xg_hc_interval_ms(hc, r == XG_HC_OK, t, h->c->traffic, &h->c->m->rng));
}

/* The timer: either the next check is due, or the running one timed out. */
static void on_timer(struct ev_loop *ev, ev_timer *w, int revents)
{
    hm_host *h = w->data;
    if (h->checking) {
        h->checking = false;
        xg_hc_probe_abort(h->probe);
        result(h, XG_HC_FAIL_TIMEOUT, "no answer within the timeout");
        return;
    }
    h->checking = true;
    arm(h, hc_of(h)->timeout_ms);
    xg_hc_probe_run(h->probe);
}

static void on_result(void *arg, xg_hc_result r, const char *detail)
{
    hm_host *h = arg;
    if (!h->checking)
        return;
    h->checking = false;
    ev_timer_stop(h->c->m->loop->ev, &h->hc_timer);
    result(h, r, detail);
}

/* The Host / :authority of h's checks: the endpoint's
 * health_check_config.hostname, else the checker's host (HTTP) or
 * authority (gRPC), else the cluster name (Envoy's order). */
static const char *authority_of(const hm_host *h)
{
    const xg_health_check *hc = hc_of(h);
    const char *cfg = hc->kind == XG_HC_GRPC ? hc->grpc_authority : hc->http_host;
    if (h->ep->hc_hostname != NULL && h->ep->hc_hostname[0] != '\0')
        return h->ep->hc_hostname;
    return cfg != NULL && cfg[0] != '\0' ? cfg : h->c->name;
}

/* The address checked: the endpoint's, with health_check_config.port_value
 * when set. */
static void target_addr(const hm_host *h, struct sockaddr_storage *ss)
{
    memcpy(ss, &h->addr, h->addrlen);
    uint16_t port = h->ep->hc_port;
    if (port == 0)
        return;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

int xg__hc_session_start(hm_host *h, int64_t delay_ms)
{
    xg__hc_session_stop(h);
    struct sockaddr_storage ss;
    target_addr(h, &ss);
    xg_hc_target t = {.addr = (const struct sockaddr *)&ss,
                      .addrlen = h->addrlen,
                      .authority = authority_of(h),
                      .tls = h->c->tls,
                      .connect_timeout = (double)h->c->cfg->connect_timeout_ms / 1000.0};
    int rc = xg_hc_probe_new(h->c->m->loop, hc_of(h), &t, on_result, h, &h->probe);
    if (rc != 0)
        return rc;
    ev_init(&h->hc_timer, on_timer);
    h->hc_timer.data = h;
    arm(h, delay_ms);
    return 0;
}

void xg__hc_session_stop(hm_host *h)
{
    ev_timer_stop(h->c->m->loop->ev, &h->hc_timer);
    xg_hc_probe_free(h->probe);
    h->probe = NULL;
    h->checking = false;
}

void xg__hc_cluster_traffic(hm_cluster *c)
{
    if (c->traffic)
        return;
    c->traffic = true;
    for (uint32_t i = 0; c->cfg != NULL && c->cfg->n_health_checks > 0 && i < c->n_hosts; i++) {
        hm_host *h = c->hosts[i];
        if (!h->hc_on || h->checking || !ev_is_active(&h->hc_timer))
            continue;
        const xg_health_check *hc = hc_of(h);
        int64_t want = h->hc.failed ? hc->unhealthy_interval_ms : hc->interval_ms;
        if (ev_timer_remaining(c->m->loop->ev, &h->hc_timer) * 1000.0 > (double)want)
            arm(h, want);
    }
}
