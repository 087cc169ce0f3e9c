/* A parsed JSON or YAML document as a plain tree (libyaml reads both), the
 * input of the proto3-JSON decoder. Scalars keep their source text so that
 * 64-bit integers never pass through a double. */
#ifndef XG_XDS_JV_H
#define XG_XDS_JV_H

#include <stdbool.h>
#include <stddef.h>

typedef enum xg_jv_kind {
    XG_JV_NULL,
    XG_JV_BOOL,
    XG_JV_NUMBER,
    XG_JV_STRING,
    XG_JV_ARRAY,
    XG_JV_OBJECT,
} xg_jv_kind;

typedef struct xg_jv xg_jv;
struct xg_jv {
    xg_jv_kind kind;
    int line;     /* 1-based line in the source, for error messages */
    char *str;    /* STRING: the bytes; NUMBER: the literal; BOOL: "true"/"false" */
    size_t len;   /* length of str */
    size_t n;     /* ARRAY/OBJECT: number of items */
    xg_jv **items;
    char **keys;  /* OBJECT only: keys[i] names items[i]; keys are unique */
};

/* Parses one JSON or YAML document (an empty document is NULL kind). YAML
 * plain scalars are typed by the YAML 1.2 core schema (null, true/false,
 * numbers, else string); quoted scalars are strings. Duplicate keys, more
 * than one document, and documents over a million nodes are errors.
 * On success *out is owned by the caller (xg_jv_free); on failure err holds
 * "line N: reason" and the return is XG_EINVAL or XG_ENOMEM. */
int xg_jv_parse(const char *text, size_t len, xg_jv **out, char *err, size_t errlen);

void xg_jv_free(xg_jv *v);

/* The member named key of an OBJECT, or NULL (also when v is not an object). */
const xg_jv *xg_jv_get(const xg_jv *v, const char *key);

/* "null", "bool", "number", "string", "array" or "object". */
const char *xg_jv_kind_name(xg_jv_kind k);

#endif
