/* GET /clusters in Envoy's text format, from the main thread's health
 * manager (upstream/health_mgr.h): the config's view of each cluster and
 * host, plus the health and outlier state decided on the main thread. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin/clusters.h"
#include "cluster/host.h"
#include "core/error.h"

void xg_clusters_health_flags(const xg_health_view_host *h, char *out, size_t n)
{
    /* Envoy's HealthFlag order; the eds ones from the endpoint's health_status. */
    xg_health_status e = h->eds_health;
    const struct {
        bool on;
        const char *name;
    } flags[] = {
        {h->flags & XG_HOST_F_HC_FAILED, "/failed_active_hc"},
        {h->flags & XG_HOST_F_OUTLIER_EJECTED, "/failed_outlier_check"},
        {e == XG_HEALTH_UNHEALTHY || e == XG_HEALTH_DRAINING || e == XG_HEALTH_TIMEOUT, "/failed_eds_health"},
        {e == XG_HEALTH_DEGRADED, "/degraded_eds_health"},
        {h->flags & XG_HOST_F_PENDING_FIRST_HC, "/pending_active_hc"},
        {h->hc_timeout && (h->flags & XG_HOST_F_HC_FAILED), "/active_hc_timeout"},
        {e == XG_HEALTH_DRAINING, "/eds_status_draining"},
    };
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        size_t l = strlen(flags[i].name);
        if (flags[i].on && len + l < n) {
            memcpy(out + len, flags[i].name, l + 1);
            len += l;
        }
    }
    if (len == 0)
        snprintf(out, n, "healthy");
}

static int thresholds(xg_buf *b, const char *c, const char *prio, const xg_cb_thresholds *t)
{
    return xg_buf_printf(b,
                         "%s::%s::max_connections::%u\n%s::%s::max_pending_requests::%u\n"
                         "%s::%s::max_requests::%u\n%s::%s::max_retries::%u\n",
                         c, prio, t->max_connections, c, prio, t->max_pending_requests, c, prio, t->max_requests, c,
                         prio, t->max_retries);
}

static int cluster_lines(const xg_health_view_cluster *v, xg_buf *b)
{
    const char *c = v->name;
    const xg_cluster *cfg = v->cfg;
    int rc = xg_buf_printf(b, "%s::observability_name::%s\n", c, cfg->alt_stat_name ? cfg->alt_stat_name : c);
    if (rc == 0 && cfg->outlier != NULL)
        rc = xg_buf_printf(b,
                           "%s::outlier::success_rate_average::%g\n%s::outlier::success_rate_ejection_threshold::%g\n"
                           "%s::outlier::local_origin_success_rate_average::%g\n"
                           "%s::outlier::local_origin_success_rate_ejection_threshold::%g\n",
                           c, v->success_rate_average, c, v->success_rate_ejection_threshold, c,
                           v->local_origin_success_rate_average, c, v->local_origin_success_rate_ejection_threshold);
    if (rc == 0)
        rc = thresholds(b, c, "default_priority", &cfg->thresholds[XG_PRIORITY_DEFAULT]);
    if (rc == 0)
        rc = thresholds(b, c, "high_priority", &cfg->thresholds[XG_PRIORITY_HIGH]);
    if (rc == 0)
        rc = xg_buf_printf(b, "%s::added_via_api::true\n", c);
    if (rc == 0 && cfg->type == XG_CLUSTER_EDS)
        rc = xg_buf_printf(b, "%s::eds_service_name::%s\n", c, cfg->eds_service_name ? cfg->eds_service_name : c);
    return rc;
}

/* One "cluster::host::name::value" line. */
static int line(xg_buf *b, const char *c, const char *a, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int line(xg_buf *b, const char *c, const char *a, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = xg_buf_printf(b, "%s::%s::%s::", c, a, name);
    if (rc == 0)
        rc = xg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc == 0 ? xg_buf_putc(b, '\n') : rc;
}

static int host_lines(const char *c, const xg_health_view_host *h, xg_buf *b)
{
    char flags[256];
    xg_clusters_health_flags(h, flags, sizeof flags);
    const char *a = h->addr;
    int rc = line(b, c, a, "rq_error", "%llu", (unsigned long long)h->rq_error);
    rc = rc ? rc : line(b, c, a, "rq_success", "%llu", (unsigned long long)h->rq_success);
    rc = rc ? rc : line(b, c, a, "rq_total", "%llu", (unsigned long long)h->rq_total);
    rc = rc ? rc : line(b, c, a, "hostname", "%s", h->hostname);
    rc = rc ? rc : line(b, c, a, "health_flags", "%s", flags);
    rc = rc ? rc : line(b, c, a, "weight", "%u", h->weight);
    rc = rc ? rc : line(b, c, a, "region", "%s", h->region);
    rc = rc ? rc : line(b, c, a, "zone", "%s", h->zone);
    rc = rc ? rc : line(b, c, a, "sub_zone", "%s", h->sub_zone);
    rc = rc ? rc : line(b, c, a, "canary", "false");
    rc = rc ? rc : line(b, c, a, "priority", "%u", h->priority);
    rc = rc ? rc : line(b, c, a, "success_rate", "%g", h->success_rate);
    rc = rc ? rc : line(b, c, a, "local_origin_success_rate", "%g", h->local_origin_success_rate);
    if (h->hc_checked) {
        rc = rc ? rc : line(b, c, a, "hc_success", "%llu", (unsigned long long)h->hc_successes);
        rc = rc ? rc : line(b, c, a, "hc_failure", "%llu", (unsigned long long)h->hc_failures);
    }
    if (h->od)
        rc = rc ? rc : line(b, c, a, "outlier_ejections", "%u", h->num_ejections);
    return rc;
}

int xg_clusters_text(const xg_health_view_cluster *v, xg_buf *out)
{
    int rc = cluster_lines(v, out);
    for (size_t i = 0; rc == 0 && i < v->n_hosts; i++)
        rc = host_lines(v->name, &v->hosts[i], out);
    return rc;
}

typedef struct render {
    xg_buf *out;
    int rc;
} render;

static void on_cluster(void *arg, const xg_health_view_cluster *c)
{
    render *r = arg;
    if (r->rc == 0)
        r->rc = xg_clusters_text(c, r->out);
}

static void on_clusters(const xg_admin_request *req, xg_admin_response *resp, void *data)
{
    render r = {&resp->body, 0};
    int rc = xg_health_mgr_view(data, on_cluster, &r);
    if (rc != 0 || r.rc != 0) {
        resp->status = 500;
        xg_buf_reset(&resp->body);
        xg_buf_puts(&resp->body, "out of memory\n");
    }
}

int xg_clusters_admin_register(xg_admin *a, xg_health_mgr *m)
{
    return xg_admin_route(a, "GET", "/clusters", on_clusters, m);
}
