/* The /xds JSON document. */
#include <stdio.h>
#include <stdlib.h>

#include "admin/json_out.h"
#include "admin/xds_view.h"
#include "core/error.h"

static void ago(xg_jw *w, const char *key, int64_t then_ms, int64_t now_ms)
{
    xg_jw_key(w, key);
    if (then_ms == 0) {
        xg_jw_null(w);
        return;
    }
    long long tenths = (now_ms - then_ms) / 100;
    char num[32];
    snprintf(num, sizeof(num), "%s%lld.%lld", tenths < 0 ? "-" : "", llabs(tenths) / 10, llabs(tenths) % 10);
    xg_jw_num(w, num);
}

static void name_list(xg_jw *w, const char *key, const char *const *names, size_t n)
{
    xg_jw_key(w, key);
    xg_jw_open(w, '[');
    for (size_t i = 0; i < n; i++)
        xg_jw_str(w, names[i]);
    xg_jw_close(w, ']');
}

static void warming_list(xg_jw *w, const xg_xds_type_status *ts)
{
    xg_jw_key(w, "warming");
    xg_jw_open(w, '[');
    for (size_t i = 0; i < ts->n_warming; i++)
        xg_jw_str(w, ts->warming[i]->name);
    xg_jw_close(w, ']');
}

static void last_nack(xg_jw *w, const xg_xds_type_status *ts)
{
    xg_jw_key(w, "last_nack");
    if (ts->nack_message == NULL) {
        xg_jw_null(w);
        return;
    }
    xg_jw_open(w, '{');
    xg_jw_kstr(w, "version", ts->nack_version);
    xg_jw_key(w, "at");
    xg_jw_time(w, ts->nack_ms);
    xg_jw_kstr(w, "message", ts->nack_message);
    xg_jw_close(w, '}');
}

static void one_type(xg_jw *w, xg_xds_type t, const xg_xds_type_status *ts, int64_t now_ms)
{
    xg_jw_key(w, xg_xds_type_abbrev(t));
    xg_jw_open(w, '{');
    xg_jw_kstr(w, "type_url", xg_xds_type_url(t));
    if (ts->wildcard)
        xg_jw_kstr(w, "subscription", "wildcard");
    else
        name_list(w, "subscription", ts->subscribed, ts->n_subscribed);
    xg_jw_kint(w, "resources", (long long)ts->n_active);
    warming_list(w, ts);
    name_list(w, "missing", ts->missing, ts->n_missing);
    xg_jw_key(w, "acked_version");
    if (ts->acked_version != NULL)
        xg_jw_str(w, ts->acked_version);
    else
        xg_jw_null(w);
    xg_jw_key(w, "acked_at");
    xg_jw_time(w, ts->acked_ms);
    last_nack(w, ts);
    xg_jw_kint(w, "responses", (long long)ts->n_responses);
    xg_jw_kint(w, "acks", (long long)ts->n_acks);
    xg_jw_kint(w, "nacks", (long long)ts->n_nacks);
    xg_jw_kint(w, "unknown_field_warnings", (long long)ts->unknown_fields);
    xg_jw_key(w, "last_update");
    xg_jw_time(w, ts->last_change_ms);
    ago(w, "seconds_since_update", ts->last_change_ms, now_ms);
    xg_jw_key(w, "last_response");
    xg_jw_time(w, ts->last_response_ms);
    xg_jw_close(w, '}');
}

static void connection(xg_jw *w, const xg_xds_status *st, int64_t now_ms)
{
    xg_jw_key(w, "connection");
    xg_jw_open(w, '{');
    xg_jw_kstr(w, "state", xg_ads_conn_name(st->conn));
    xg_jw_key(w, "since");
    xg_jw_time(w, st->conn_since_ms);
    ago(w, "seconds_in_state", st->conn_since_ms, now_ms);
    xg_jw_kstr(w, "detail", st->conn_detail);
    xg_jw_close(w, '}');
}

int xg_xds_view(const xg_xds_status *st, int64_t now_ms, xg_buf *out)
{
    xg_jw w;
    xg_jw_init(&w, out);
    xg_jw_open(&w, '{');
    if (st == NULL) {
        xg_jw_key(&w, "server");
        xg_jw_null(&w);
        xg_jw_kstr(&w, "note", "no --xds-server given: xdsgate receives no configuration");
        xg_jw_close(&w, '}');
        return xg_jw_finish(&w);
    }
    xg_jw_kstr(&w, "server", st->server);
    xg_jw_kstr(&w, "mode", st->mode);
    connection(&w, st, now_ms);
    xg_jw_key(&w, "ready");
    xg_jw_bool(&w, st->ready);
    xg_jw_kint(&w, "generation", (long long)st->generation);
    xg_jw_key(&w, "generation_published");
    xg_jw_time(&w, st->generation_ms);
    xg_jw_key(&w, "ignore_unknown_fields");
    xg_jw_bool(&w, st->ignore_unknown);
    xg_jw_kint(&w, "initial_fetch_timeout_ms", st->initial_fetch_timeout_ms);
    xg_jw_key(&w, "types");
    xg_jw_open(&w, '{');
    for (int t = 0; t < XG_XDS_NTYPES; t++)
        one_type(&w, t, &st->types[t], now_ms);
    xg_jw_close(&w, '}');
    xg_jw_close(&w, '}');
    return xg_jw_finish(&w);
}
