/* JSON/YAML text -> xg_jv tree, through libyaml's event parser. JSON is read
 * as YAML flow style; plain YAML scalars are typed by the YAML 1.2 core schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/error.h"
#include "xds/jv.h"

#define JV_MAX_NODES 1000000
#define JV_MAX_DEPTH 200

typedef struct anchor {
    char *name;
    xg_jv *node; /* owned by the tree; copied on each alias */
    struct anchor *next;
} anchor;

typedef struct jv_parser {
    yaml_parser_t yp;
    size_t nodes;
    anchor *anchors;
    char *err;
    size_t errlen;
} jv_parser;

static int fail(jv_parser *p, int line, const char *msg)
{
    snprintf(p->err, p->errlen, "line %d: %s", line, msg);
    return XG_EINVAL;
}

static xg_jv *node_new(jv_parser *p, xg_jv_kind kind, int line)
{
    if (++p->nodes > JV_MAX_NODES)
        return NULL;
    xg_jv *v = calloc(1, sizeof(*v));
    if (v != NULL) {
        v->kind = kind;
        v->line = line;
    }
    return v;
}

static bool all_digits(const char *s, const char *digits)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (strchr(digits, *s) == NULL)
            return false;
    return true;
}

/* YAML 1.2 core schema numbers: [-+]?[0-9]+, 0o.., 0x.., and floats. */
static bool is_number(const char *s)
{
    const char *t = (*s == '-' || *s == '+') ? s + 1 : s;
    if (all_digits(t, "0123456789"))
        return true;
    if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0)
        return false; /* hex/octal would need conversion; keep as strings */
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF") || !strcmp(s, ".nan") || !strcmp(s, ".NaN") ||
        !strcmp(s, ".NAN"))
        return true;
    const char *q = t;
    int digits = 0;
    while (*q >= '0' && *q <= '9')
        q++, digits++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9')
            q++, digits++;
    }
    if (digits == 0)
        return false;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return false;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    return *q == '\0';
}

static xg_jv_kind plain_kind(const char *s)
{
    if (*s == '\0' || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return XG_JV_NULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
        !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return XG_JV_BOOL;
    return is_number(s) ? XG_JV_NUMBER : XG_JV_STRING;
}

static int scalar_node(jv_parser *p, const yaml_event_t *ev, xg_jv **out)
{
    int line = (int)ev->start_mark.line + 1;
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    xg_jv_kind kind = plain ? plain_kind(text) : XG_JV_STRING;
    xg_jv *v = node_new(p, kind, line);
    if (v == NULL)
        return fail(p, line, "document too large or out of memory");
    if (kind == XG_JV_BOOL) {
        text = (text[0] == 't' || text[0] == 'T') ? "true" : "false";
        len = strlen(text);
    }
    v->str = malloc(len + 1);
    if (v->str == NULL) {
        free(v);
        return XG_ENOMEM;
    }
    memcpy(v->str, text, len);
    v->str[len] = '\0';
    v->len = len;
    *out = v;
    return 0;
}

static int push_item(xg_jv *c, char *key, xg_jv *item)
{
    if ((c->n & (c->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = c->n ? c->n * 2 : 4;
        xg_jv **items = realloc(c->items, cap * sizeof(*items));
        if (items == NULL)
            return XG_ENOMEM;
        c->items = items;
        if (c->kind == XG_JV_OBJECT) {
            char **keys = realloc(c->keys, cap * sizeof(*keys));
            if (keys == NULL)
                return XG_ENOMEM;
            c->keys = keys;
        }
    }
    if (c->kind == XG_JV_OBJECT)
        c->keys[c->n] = key;
    c->items[c->n++] = item;
    return 0;
}

static xg_jv *copy_tree(jv_parser *p, const xg_jv *v)
{
    xg_jv *c = node_new(p, v->kind, v->line);
    if (c == NULL)
        return NULL;
    if (v->str != NULL && (c->str = strndup(v->str, v->len)) == NULL)
        goto fail;
    c->len = v->len;
    for (size_t i = 0; i < v->n; i++) {
        char *key = (v->kind == XG_JV_OBJECT) ? strdup(v->keys[i]) : NULL;
        xg_jv *item = copy_tree(p, v->items[i]);
        if (item == NULL || (v->kind == XG_JV_OBJECT && key == NULL) || push_item(c, key, item) != 0) {
            free(key);
            xg_jv_free(item);
            goto fail;
        }
    }
    return c;
fail:
    xg_jv_free(c);
    return NULL;
}

static int alias_node(jv_parser *p, const yaml_event_t *ev, xg_jv **out)
{
    int line = (int)ev->start_mark.line + 1;
    for (anchor *a = p->anchors; a != NULL; a = a->next) {
        if (strcmp(a->name, (const char *)ev->data.alias.anchor) == 0) {
            *out = copy_tree(p, a->node);
            return *out ? 0 : fail(p, line, "document too large or out of memory");
        }
    }
    return fail(p, line, "alias to an unknown anchor");
}

static int remember_anchor(jv_parser *p, const yaml_char_t *name, xg_jv *node)
{
    if (name == NULL)
        return 0;
    anchor *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->name = strdup((const char *)name)) == NULL) {
        free(a);
        return XG_ENOMEM;
    }
    a->node = node;
    a->next = p->anchors;
    p->anchors = a;
    return 0;
}

static int parse_node(jv_parser *p, yaml_event_t *ev, int depth, xg_jv **out);

static int next_event(jv_parser *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(&p->yp, ev))
        return 0;
    snprintf(p->err, p->errlen, "line %d: %s", (int)p->yp.problem_mark.line + 1,
             p->yp.problem ? p->yp.problem : "syntax error");
    return XG_EINVAL;
}

static bool has_key(const xg_jv *obj, const char *key)
{
    return xg_jv_get(obj, key) != NULL;
}

/* Reads the events of a sequence or mapping up to its end into c. */
static int parse_children(jv_parser *p, xg_jv *c, int depth)
{
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(p, &ev);
        if (rc != 0)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        char *key = NULL;
        if (c->kind == XG_JV_OBJECT) {
            int line = (int)ev.start_mark.line + 1;
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return fail(p, line, "mapping keys must be scalars");
            }
            key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            yaml_event_delete(&ev);
            if (key == NULL)
                return XG_ENOMEM;
            if (has_key(c, key)) {
                free(key);
                return fail(p, line, "duplicate key");
            }
            if ((rc = next_event(p, &ev)) != 0) {
                free(key);
                return rc;
            }
        }
        xg_jv *item = NULL;
        rc = parse_node(p, &ev, depth + 1, &item);
        yaml_event_delete(&ev);
        if (rc == 0 && (rc = push_item(c, key, item)) == 0)
            continue;
        free(key);
        xg_jv_free(item);
        return rc;
    }
}

/* Builds the node that starts with ev (already read; the caller deletes it). */
static int parse_node(jv_parser *p, yaml_event_t *ev, int depth, xg_jv **out)
{
    int line = (int)ev->start_mark.line + 1;
    if (depth > JV_MAX_DEPTH)
        return fail(p, line, "nesting too deep");
    if (ev->type == YAML_SCALAR_EVENT) {
        int rc = scalar_node(p, ev, out);
        return rc ? rc : remember_anchor(p, ev->data.scalar.anchor, *out);
    }
    if (ev->type == YAML_ALIAS_EVENT)
        return alias_node(p, ev, out);
    bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
    if (!seq && ev->type != YAML_MAPPING_START_EVENT)
        return fail(p, line, "unexpected YAML event");
    xg_jv *c = node_new(p, seq ? XG_JV_ARRAY : XG_JV_OBJECT, line);
    if (c == NULL)
        return fail(p, line, "document too large or out of memory");
    int rc = parse_children(p, c, depth);
    if (rc == 0)
        rc = remember_anchor(p, seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor, c);
    if (rc != 0) {
        xg_jv_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Expects STREAM_START, DOCUMENT_START?, node, DOCUMENT_END, STREAM_END. */
static int parse_stream(jv_parser *p, xg_jv **out)
{
    yaml_event_t ev;
    int rc;
    *out = NULL;
    while ((rc = next_event(p, &ev)) == 0) {
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            int line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (*out != NULL)
                return fail(p, line, "more than one document");
            continue;
        }
        rc = parse_node(p, &ev, 0, out);
        yaml_event_delete(&ev);
        if (rc != 0)
            return rc;
    }
    return rc;
}

int xg_jv_parse(const char *text, size_t len, xg_jv **out, char *err, size_t errlen)
{
    jv_parser p = {.err = err, .errlen = errlen};
    if (!yaml_parser_initialize(&p.yp))
        return XG_ENOMEM;
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
    xg_jv *root = NULL;
    int rc = parse_stream(&p, &root);
    while (p.anchors != NULL) {
        anchor *a = p.anchors;
        p.anchors = a->next;
        free(a->name);
        free(a);
    }
    yaml_parser_delete(&p.yp);
    if (rc == 0 && root == NULL)
        root = node_new(&p, XG_JV_NULL, 1);
    if (rc != 0 || root == NULL) {
        xg_jv_free(root);
        return rc ? rc : XG_ENOMEM;
    }
    *out = root;
    return 0;
}

void xg_jv_free(xg_jv *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys != NULL)
            free(v->keys[i]);
        xg_jv_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
    free(v);
}

const xg_jv *xg_jv_get(const xg_jv *v, const char *key)
{
    if (v == NULL || v->kind != XG_JV_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

const char *xg_jv_kind_name(xg_jv_kind k)
{
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return names[k];
}
