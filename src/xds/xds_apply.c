/* Applying one response to the store: the duplicate listener address check
 * (across listeners), installing accepted versions (listeners and clusters
 * warm first), deletions (SotW LDS/CDS absence, delta removed_resources),
 * and the NACK text naming every rejected resource. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "xds/xds_state_int.h"

#define NACK_MAX 4096

xg__xds_entry *xg__xds_entry_get(xg_xds_state *st, xg_xds_type t, const char *name)
{
    xg__xds_entry *e = xg__xds_map_get(&st->types[t].map, name);
    if (e != NULL)
        return e;
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->name = strdup(name)) == NULL)
        goto fail;
    e->active.fetch_timeout_ms = e->warming.fetch_timeout_ms = -1;
    e->warm_deadline = INT64_MAX;
    if (xg__xds_map_put(&st->types[t].map, e->name, e) != 0)
        goto fail;
    return e;
fail:
    if (e != NULL)
        free(e->name);
    free(e);
    return NULL;
}

/* A held version is findable by the hash of its bytes; out of memory only
 * costs the shortcut (the re-send is then decoded and compared by name). */
void xg__xds_entry_set(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e, xg__xds_ver *slot, xg__xds_ver *ver)
{
    xg__xds_entry_clear(st, t, e, slot);
    *slot = *ver;
    memset(ver, 0, sizeof(*ver));
    ver->fetch_timeout_ms = -1;
    if (slot->res != NULL && xg__xds_map_put_hash(&st->types[t].by_hash, slot->res->hash, e) != 0)
        xg_log_debug("xds: out of memory indexing %s \"%s\" by hash", xg_res_type_name(t), e->name);
}

void xg__xds_entry_clear(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e, xg__xds_ver *slot)
{
    if (slot->res != NULL)
        xg__xds_map_del_hash(&st->types[t].by_hash, slot->res->hash, e);
    xg__xds_ver_dispose(slot);
}

void xg__xds_entry_delete(xg_xds_state *st, xg_xds_type t, xg__xds_entry *e)
{
    xg__xds_map_del(&st->types[t].map, e->name);
    if (e->active.res != NULL)
        xg__xds_mark_changed(st, t, e->name);
    if (xg_xds_type_is_wildcard(t))
        st->refs_dirty = true;
    xg__xds_entry_clear(st, t, e, &e->active);
    xg__xds_entry_clear(st, t, e, &e->warming);
    free(e->name);
    free(e);
}

static bool is_removed(const xg__xds_batch *b, const char *name)
{
    for (size_t i = 0; i < b->r->n_removed; i++)
        if (strcmp(b->r->removed[i], name) == 0)
            return true;
    return false;
}

/* Whether this response deletes a held entry: absent from a SotW LDS/CDS
 * response (unless some resource could not be named: then nothing is
 * deleted, since it might have been that one), or listed as removed (delta). */
static bool deleted_by(const xg__xds_batch *b, const char *name)
{
    if (b->r->delta)
        return is_removed(b, name);
    return xg_xds_type_is_wildcard(b->r->type) && !b->unnamed && xg__xds_map_get(&b->names, name) == NULL;
}

static int occupy_held(xg_xds_state *st, const xg__xds_batch *b, xg__xds_map *occupied)
{
    void **vals;
    size_t n;
    int rc = xg__xds_map_values(&st->types[XG_XDS_LDS].map, &vals, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const xg__xds_entry *e = vals[i];
        if (deleted_by(b, e->name))
            continue;
        for (size_t k = 0; rc == 0 && k < e->active.n_addrs; k++)
            rc = xg__xds_map_put(occupied, e->active.addrs[k], e->name);
        for (size_t k = 0; rc == 0 && k < e->warming.n_addrs; k++)
            rc = xg__xds_map_put(occupied, e->warming.addrs[k], e->name);
    }
    free(vals);
    return rc;
}

/* An address may be bound by one listener only: a new or changed listener
 * whose address another listener (held, or accepted earlier in this
 * response) already uses is rejected, naming both. Conservative: a listener
 * being moved away in the same response still holds its old address. */
static int check_listener_addrs(xg_xds_state *st, xg__xds_batch *b)
{
    xg__xds_map occupied;
    xg__xds_map_init(&occupied);
    int rc = occupy_held(st, b, &occupied);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        xg__xds_item *it = &b->items[i];
        if (it->state != XG_ITEM_NEW)
            continue;
        for (size_t k = 0; k < it->ver.n_addrs; k++) {
            const char *owner = xg__xds_map_get(&occupied, it->ver.addrs[k]);
            if (owner != NULL && strcmp(owner, it->name) != 0) {
                xg__xds_reject(b, it, "address: %s is already used by listener \"%s\"", it->ver.addrs[k], owner);
                break;
            }
        }
        for (size_t k = 0; rc == 0 && it->state == XG_ITEM_NEW && k < it->ver.n_addrs; k++)
            rc = xg__xds_map_put(&occupied, it->ver.addrs[k], (void *)it->name);
    }
    xg__xds_map_dispose(&occupied);
    return rc;
}

/* Moves an accepted version into the store. Listeners and clusters go through
 * warming (promoted at once when nothing is missing); the others are active now. */
static int install(xg_xds_state *st, xg_xds_type t, xg__xds_item *it)
{
    xg__xds_entry *e = xg__xds_entry_get(st, t, it->name);
    if (e == NULL)
        return XG_ENOMEM;
    bool update = e->active.res != NULL;
    xg__xds_ver *slot = xg_xds_type_is_wildcard(t) ? &e->warming : &e->active;
    xg__xds_entry_set(st, t, e, slot, &it->ver);
    e->absent = false;
    if (xg_xds_type_is_wildcard(t)) {
        st->refs_dirty = true;
        xg__xds_warm_start(st, e);
    } else {
        xg__xds_mark_changed(st, t, e->name);
    }
    xg_log_debug("xds: %s \"%s\" %s (version %s)", xg_res_type_name(t), e->name, update ? "updated" : "added",
                 slot->res->version);
    return 0;
}

/* An identical re-send. If it equals the active version while a newer one
 * warms, the control plane went back: the warming version is dropped. */
static void keep_same(xg_xds_state *st, xg_xds_type t, const xg__xds_item *it)
{
    xg__xds_entry *e = xg__xds_map_get(&st->types[t].map, it->name);
    if (e == NULL || e->warming.res == NULL || !it->same_active)
        return;
    xg_log_info("xds: %s \"%s\": back to the active version; the warming one is dropped", xg_res_type_name(t), e->name);
    xg__xds_entry_clear(st, t, e, &e->warming);
    e->warm_deadline = INT64_MAX;
    st->refs_dirty = true;
}

/* Returns whether something held went away. */
static bool remove_delta(xg_xds_state *st, xg_xds_type t, const char *name)
{
    xg__xds_entry *e = xg__xds_map_get(&st->types[t].map, name);
    if (xg_xds_type_is_wildcard(t) || !xg__xds_is_subscribed(st, t, name)) {
        if (e != NULL)
            xg__xds_entry_delete(st, t, e);
        return e != NULL;
    }
    /* Still referenced: remember that it does not exist, so that whatever
     * warms waiting for it stops waiting (the xDS "does not exist" signal). */
    e = e ? e : xg__xds_entry_get(st, t, name);
    if (e == NULL)
        return false;
    bool held = e->active.res != NULL;
    if (held)
        xg__xds_mark_changed(st, t, e->name);
    xg__xds_entry_clear(st, t, e, &e->active);
    e->absent = true;
    return held;
}

static int delete_absent(xg_xds_state *st, xg__xds_batch *b)
{
    xg_xds_type t = b->r->type;
    if (!b->r->delta && xg_xds_type_is_wildcard(t) && b->unnamed)
        xg_log_warn("xds: %s response has a resource without a usable name: nothing is deleted this time",
                    xg_xds_type_abbrev(t));
    if (b->r->delta) {
        for (size_t i = 0; i < b->r->n_removed; i++)
            b->n_deleted += remove_delta(st, t, b->r->removed[i]);
        return 0;
    }
    void **vals;
    size_t n;
    int rc = xg__xds_map_values(&st->types[t].map, &vals, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (deleted_by(b, ((xg__xds_entry *)vals[i])->name)) {
            xg__xds_entry_delete(st, t, vals[i]);
            b->n_deleted++;
        }
    }
    free(vals);
    return rc;
}

int xg__xds_apply(xg_xds_state *st, xg__xds_batch *b)
{
    xg_xds_type t = b->r->type;
    int rc = t == XG_XDS_LDS ? check_listener_addrs(st, b) : 0;
    if (rc == 0)
        rc = delete_absent(st, b);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        if (b->items[i].state == XG_ITEM_NEW)
            rc = install(st, t, &b->items[i]);
        else if (b->items[i].state == XG_ITEM_SAME)
            keep_same(st, t, &b->items[i]);
    }
    return rc;
}

static int nack_line(const xg__xds_batch *b, const xg__xds_item *it, xg_buf *line)
{
    const char *type = xg_res_type_name(b->r->type);
    if (it->name != NULL)
        return xg_buf_printf(line, "%s \"%s\": %s", type, it->name, it->error ? it->error : "rejected");
    return xg_buf_printf(line, "%s resources[%zu]: %s", type, it->index, it->error ? it->error : "rejected");
}

void xg__xds_nack_text(const xg__xds_batch *b, xg_buf *out)
{
    xg_buf line;
    xg_buf_init(&line);
    size_t start = out->len, left = b->n_rejected;
    for (size_t i = 0; i < b->n && left > 0; i++) {
        const xg__xds_item *it = &b->items[i];
        if (it->state != XG_ITEM_REJECTED)
            continue;
        xg_buf_reset(&line);
        if (nack_line(b, it, &line) != 0)
            break;
        /* Keep room for the tail that says how many were left out. */
        if (out->len - start + line.len + 2 > NACK_MAX - 32)
            break;
        if ((out->len > start && xg_buf_puts(out, "; ") != 0) || xg_buf_append(out, line.data, line.len) != 0)
            break;
        left--;
    }
    if (left > 0)
        xg_buf_printf(out, "%s... and %zu more", out->len > start ? "; " : "", left);
    xg_buf_dispose(&line);
}
