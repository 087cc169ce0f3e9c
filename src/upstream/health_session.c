/* Active health checking of one host on the main thread: the timer that
 * alternates between "wait for the next check" and "the check's timeout",
 * the probe, the state machine (health_sm.h), the flags and log lines a
 * result produces, and an ejected host's return on a passing check
 * (outlier_detection.successful_active_health_check_uneject_host). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

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

static void result(hm_host *h, xg_hc_result r, const char *detail)
{
    const xg_health_check *hc = hc_of(h);
    bool first = h->hc.first_check;
    xg_hc_transition t = xg_hc_state_put(&h->hc, hc, r);
    log_result(h, hc, r, detail, t, first);
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
