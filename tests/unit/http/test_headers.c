/* Header blocks: add/lookup/remove, append_action semantics, pseudo-headers,
 * byte accounting, list tokens and token/value validation. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "http/headers.h"
#include "xg_test.h"

static xg_arena arena;

static xg_headers *fresh(void)
{
    xg_arena_dispose(&arena);
    xg_arena_init(&arena, 0);
    return xg_headers_new(&arena);
}

XG_TEST(add_find_case_insensitive)
{
    xg_headers *h = fresh();
    CHECK_EQ_INT(xg_headers_add_copy(h, "Content-Type", 12, "text/plain", 10), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "x-a", 3, "1", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "X-A", 3, "2", 1), 0);
    CHECK_STR(h->v[0].name, "content-type");
    CHECK_EQ_INT(h->v[0].id, XG_HDR_CONTENT_TYPE);
    CHECK(xg_headers_get(h, "CONTENT-TYPE", 12) == &h->v[0]);
    CHECK(xg_headers_get_id(h, XG_HDR_CONTENT_TYPE) == &h->v[0]);
    CHECK_EQ_INT(xg_headers_count(h, "x-a", 3), 2);
    CHECK_EQ_INT(xg_headers_find(h, "x-a", 3, 2), 2);
    CHECK(xg_headers_get(h, "x-b", 3) == NULL);
    CHECK_EQ_INT(h->bytes, 12 + 10 + 4 + 4);
    xg_arena_dispose(&arena);
}

XG_TEST(grow_past_inline_capacity)
{
    xg_headers *h = fresh();
    char name[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(name, sizeof name, "h%d", i);
        CHECK_EQ_INT(xg_headers_add_copy(h, name, (size_t)n, "v", 1), 0);
    }
    CHECK_EQ_INT(h->n, 100);
    CHECK_EQ_INT(xg_headers_find(h, "h99", 3, 0), 99);
    CHECK_STR(h->v[50].name, "h50");
    xg_arena_dispose(&arena);
}

XG_TEST(remove_keeps_order)
{
    xg_headers *h = fresh();
    xg_headers_add_ref(h, "a", 1, "1", 1);
    xg_headers_add_ref(h, "b", 1, "2", 1);
    xg_headers_add_ref(h, "a", 1, "3", 1);
    xg_headers_add_ref(h, "c", 1, "4", 1);
    CHECK_EQ_INT(xg_headers_remove(h, "A", 1), 2);
    CHECK_EQ_INT(h->n, 2);
    CHECK_STR(h->v[0].name, "b");
    CHECK_STR(h->v[1].name, "c");
    CHECK_EQ_INT(h->bytes, 4);
    CHECK_EQ_INT(xg_headers_remove(h, "zz", 2), 0);
    xg_headers_add_ref(h, "te", 2, "trailers", 8);
    CHECK_EQ_INT(xg_headers_remove_id(h, XG_HDR_TE), 1);
    xg_arena_dispose(&arena);
}

XG_TEST(append_actions)
{
    xg_headers *h = fresh();
    xg_headers_add_ref(h, "x", 1, "old1", 4);
    xg_headers_add_ref(h, "x", 1, "old2", 4);
    xg_headers_add_ref(h, "y", 1, "keep", 4);

    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_APPEND_IF_EXISTS_OR_ADD, "x", 1, "new", 3, true), 0);
    CHECK_EQ_INT(xg_headers_count(h, "x", 1), 3);
    CHECK_STR(h->v[3].value, "new");

    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_ADD_IF_ABSENT, "x", 1, "no", 2, true), 0);
    CHECK_EQ_INT(xg_headers_count(h, "x", 1), 3);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_ADD_IF_ABSENT, "z", 1, "yes", 3, true), 0);
    CHECK_STR(xg_headers_get(h, "z", 1)->value, "yes");

    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_OVERWRITE_IF_EXISTS_OR_ADD, "x", 1, "one", 3, true), 0);
    CHECK_EQ_INT(xg_headers_count(h, "x", 1), 1);
    CHECK_EQ_INT(xg_headers_find(h, "x", 1, 0), 0); /* stays in the first one's place */
    CHECK_STR(h->v[0].value, "one");

    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_OVERWRITE_IF_EXISTS, "w", 1, "no", 2, true), 0);
    CHECK(xg_headers_get(h, "w", 1) == NULL);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_OVERWRITE_IF_EXISTS, "y", 1, "changed", 7, false), 0);
    CHECK_STR(xg_headers_get(h, "y", 1)->value, "changed");
    CHECK_EQ_INT(h->bytes, 1 + 3 + 1 + 7 + 1 + 3);
    xg_arena_dispose(&arena);
}

XG_TEST(pseudo_headers)
{
    xg_headers *h = fresh();
    CHECK_EQ_INT(xg_headers_set_pseudo(h, ":method", 7, "GET", 3), 0);
    CHECK_EQ_INT(h->method_id, XG_METHOD_GET);
    CHECK_EQ_INT(xg_headers_set_pseudo(h, ":path", 5, "/a?b", 4), 0);
    CHECK_EQ_INT(xg_headers_set_pseudo(h, ":authority", 10, "example.com", 11), 0);
    CHECK_EQ_INT(xg_headers_set_pseudo(h, ":bogus", 6, "x", 1), XG_EINVAL);
    CHECK_EQ_INT(h->bytes, 7 + 3 + 5 + 4 + 10 + 11);
    CHECK_EQ_INT(xg_headers_set_field(h, &h->path, "/c", 2), 0);
    CHECK_EQ_INT(h->bytes, 7 + 3 + 5 + 2 + 10 + 11);
    CHECK_EQ_INT(xg_headers_set_pseudo(h, ":method", 7, "PURGE", 5), 0);
    CHECK_EQ_INT(h->method_id, XG_METHOD_OTHER);

    xg_headers *r = xg_headers_new(&arena);
    CHECK_EQ_INT(xg_headers_set_pseudo(r, ":status", 7, "204", 3), 0);
    CHECK_EQ_INT(r->status, 204);
    CHECK_EQ_INT(xg_headers_set_pseudo(r, ":status", 7, "20x", 3), XG_EINVAL);
    CHECK_EQ_INT(xg_headers_set_pseudo(r, ":status", 7, "099", 3), XG_EINVAL);

    xg_headers_add_copy(h, "Cookie", 6, "a=b", 3);
    xg_headers *c = xg_headers_clone(&arena, h);
    CHECK(c != NULL && c->n == 1 && c->bytes == h->bytes && c->method_id == XG_METHOD_OTHER);
    CHECK_STR(c->path.s, "/c");
    CHECK(c->v[0].value != h->v[0].value);
    xg_arena_dispose(&arena);
}

XG_TEST(methods_and_ids)
{
    CHECK_EQ_INT(xg_method_parse("CONNECT", 7), XG_METHOD_CONNECT);
    CHECK_EQ_INT(xg_method_parse("get", 3), XG_METHOD_OTHER); /* methods are case-sensitive */
    CHECK_STR(xg_method_name(XG_METHOD_PATCH), "PATCH");
    CHECK(xg_method_name(XG_METHOD_OTHER) == NULL);
    CHECK_EQ_INT(xg_hdr_id_of("transfer-encoding", 17), XG_HDR_TRANSFER_ENCODING);
    CHECK_EQ_INT(xg_hdr_id_of("x-custom", 8), XG_HDR_OTHER);
    CHECK_STR(xg_hdr_name(XG_HDR_X_REQUEST_ID), "x-request-id");
}

/* The by-length index behind xg_hdr_id_of must hold every interned name. */
XG_TEST(every_interned_name_is_found)
{
    for (int id = XG_HDR_OTHER + 1; id < XG_HDR_COUNT; id++) {
        const char *n = xg_hdr_name((xg_hdr_id)id);
        char up[32];
        size_t len = strlen(n);
        for (size_t i = 0; i <= len; i++)
            up[i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
        CHECK_EQ_INT(xg_hdr_id_of(n, len), id);
        CHECK_EQ_INT(xg_hdr_id_of(up, len), id);
        CHECK_EQ_INT(xg_hdr_id_of(n + 1, len - 1), XG_HDR_OTHER);
    }
    CHECK_EQ_INT(xg_hdr_id_of("hosu", 4), XG_HDR_OTHER);
    CHECK_EQ_INT(xg_hdr_id_of("", 0), XG_HDR_OTHER);
    CHECK_EQ_INT(xg_hdr_id_of("x-envoy-original-pathx", 22), XG_HDR_OTHER);
    CHECK_EQ_INT(xg_method_parse("GET\0", 4), XG_METHOD_OTHER);
    CHECK_EQ_INT(xg_method_parse("", 0), XG_METHOD_NONE);
    CHECK_EQ_INT(xg_method_parse("OPTIONS", 7), XG_METHOD_OPTIONS);
}

/* Lookups by a name that is not interned go through the name bits: every
 * name added is still found (also after removals and with other names
 * sharing a bit), in any case. */
XG_TEST(other_names_found_after_changes)
{
    xg_headers *h = fresh();
    char name[16];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(name, sizeof name, "x-h%d", i);
        CHECK_EQ_INT(xg_headers_add_copy(h, name, (size_t)n, "v", 1), 0);
    }
    for (int i = 0; i < 200; i++) {
        int n = snprintf(name, sizeof name, "X-H%d", i);
        CHECK_EQ_INT(xg_headers_find(h, name, (size_t)n, 0), i);
    }
    CHECK_EQ_INT(xg_headers_remove(h, "x-h7", 4), 1);
    CHECK(xg_headers_get(h, "x-h7", 4) == NULL);
    CHECK(xg_headers_get(h, "x-h8", 4) == &h->v[7]);
    CHECK(xg_headers_get(h, "x-nope", 6) == NULL);
    xg_headers_clear(h);
    CHECK(xg_headers_get(h, "x-h8", 4) == NULL);
    CHECK_EQ_INT(xg_headers_add_ref(h, "Host", 4, "a", 1), 0); /* not lowercase: still the host entry */
    CHECK(xg_headers_get_id(h, XG_HDR_HOST) == &h->v[0]);
    CHECK(xg_headers_get(h, "host", 4) == &h->v[0]);
    xg_arena_dispose(&arena);
}

XG_TEST(remove_ids_one_pass)
{
    xg_headers *h = fresh();
    CHECK_EQ_INT(xg_headers_add_ref(h, "connection", 10, "close", 5), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "x-a", 3, "1", 1), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "te", 2, "trailers", 8), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "host", 4, "h", 1), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "connection", 10, "x", 1), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "x-b", 3, "2", 1), 0);
    uint32_t bytes = h->bytes;
    CHECK_EQ_INT(
        xg_headers_remove_ids(h, XG_HDR_BIT(XG_HDR_CONNECTION) | XG_HDR_BIT(XG_HDR_TE) | XG_HDR_BIT(XG_HDR_OTHER)), 3);
    CHECK_EQ_INT(h->n, 3);
    CHECK_STR(h->v[0].name, "x-a");
    CHECK_STR(h->v[1].name, "host");
    CHECK_STR(h->v[2].name, "x-b");
    CHECK_EQ_INT(h->bytes, bytes - (10 + 5) - (2 + 8) - (10 + 1));
    CHECK_EQ_INT(xg_headers_remove_ids(h, 0), 0);
    xg_arena_dispose(&arena);
}

/* The word-at-a-time scan: a bad byte at every position of values of
 * every length up to 40 is found; tabs and high bytes are fine. */
XG_TEST(value_ok_every_position)
{
    char v[40];
    for (size_t n = 1; n <= sizeof v; n++) {
        for (size_t i = 0; i < n; i++)
            v[i] = (char)(i % 3 == 0 ? '\t' : i % 3 == 1 ? (char)0xe9 : 'a');
        CHECK(xg_hdr_value_ok(v, n));
        for (size_t bad = 0; bad < n; bad++) {
            static const char bads[] = {'\0', '\r', '\n'};
            char keep = v[bad];
            v[bad] = bads[bad % 3];
            CHECK(!xg_hdr_value_ok(v, n));
            v[bad] = keep;
        }
    }
}

/* Names are lowercased word by word: only A-Z change, at every position,
 * whatever the bytes around them (also bytes with the top bit set). */
XG_TEST(copy_lowercases_only_ascii_letters)
{
    xg_headers *h = fresh();
    const char in[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{\x80\xc1\xda\xdb"
                      "az09-_Q";
    const char want[] = "abcdefghijklmnopqrstuvwxyz@[`{\x80\xc1\xda\xdb"
                        "az09-_q";
    for (size_t off = 0; off < 8; off++) {
        CHECK_EQ_INT(xg_headers_add_copy(h, in + off, sizeof in - 1 - off, "v", 1), 0);
        CHECK_STR(h->v[h->n - 1].name, want + off);
    }
    CHECK_EQ_INT(xg_headers_add_copy(h, "X-Forwarded-PROTO", 17, "v", 1), 0);
    CHECK_EQ_INT(h->v[h->n - 1].id, XG_HDR_X_FORWARDED_PROTO);
    xg_arena_dispose(&arena);
}

XG_TEST(u64_text)
{
    char b[XG_HDR_U64_MAX];
    CHECK_EQ_INT(xg_hdr_u64(b, 0), 1);
    CHECK_STR(b, "0");
    CHECK_EQ_INT(xg_hdr_u64(b, 1500), 4);
    CHECK_STR(b, "1500");
    CHECK_EQ_INT(xg_hdr_u64(b, UINT64_MAX), 20);
    CHECK_STR(b, "18446744073709551615");
}

XG_TEST(tokens_values_lists)
{
    for (int c = 0; c < 256; c++) {
        char b[1] = {(char)c};
        bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        CHECK(xg_hdr_is_token(b, 1) == tchar);
        CHECK(xg_hdr_value_ok(b, 1) == (c != 0 && c != '\r' && c != '\n'));
    }
    CHECK(xg_hdr_is_token("X-Foo_bar", 9));
    CHECK(!xg_hdr_is_token("Bad Header", 10));
    CHECK(!xg_hdr_is_token("a:b", 3));
    CHECK(!xg_hdr_is_token("", 0));
    CHECK(xg_hdr_value_ok("a\tb c", 5));
    CHECK(!xg_hdr_value_ok("a\0b", 3));
    CHECK(!xg_hdr_value_ok("a\rb", 3));
    CHECK(xg_hdr_list_has("keep-alive, Upgrade", 19, "upgrade", 7));
    CHECK(xg_hdr_list_has(" close ", 7, "close", 5));
    CHECK(!xg_hdr_list_has("closed", 6, "close", 5));
    CHECK(!xg_hdr_list_has("", 0, "close", 5));
}

/* xg_headers_set_id: xg_headers_set by interned id (every entry of that
 * name, whatever its case on the wire, replaced by one in the first's place). */
XG_TEST(set_by_id)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    CHECK_EQ_INT(xg_headers_add_copy(h, "X-Request-Id", 12, "one", 3), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-other", 7, "o", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-request-id", 12, "two", 3), 0);
    CHECK_EQ_INT(xg_headers_set_id(h, XG_HDR_X_REQUEST_ID, "new", 3, true), 0);
    CHECK_EQ_INT(h->n, 2);
    CHECK(strcmp(h->v[0].name, "x-request-id") == 0 && strcmp(h->v[0].value, "new") == 0);
    CHECK_EQ_INT(xg_headers_set_id(h, XG_HDR_VIA, "1.1 p", 5, false), 0); /* absent: appended */
    CHECK(h->n == 3 && h->v[2].id == XG_HDR_VIA && strcmp(h->v[2].name, "via") == 0);
    CHECK_EQ_INT(xg_headers_set_id(h, XG_HDR_OTHER, "x", 1, false), XG_EINVAL);
    CHECK_EQ_INT(xg_headers_set_id(h, XG_HDR_COUNT, "x", 1, false), XG_EINVAL);
    xg_arena_dispose(&a);
}

/* Every name, interned or not, sets its bit: interned names are found by
 * name in any case, absent ones are not (whether their bit is clear or
 * shared with a present name), and sets, applies and counts agree. */
XG_TEST(name_filter_covers_interned_names)
{
    xg_headers *h = fresh();
    CHECK(xg_headers_get(h, "content-type", 12) == NULL);
    CHECK_EQ_INT(xg_headers_add_copy(h, "Content-Type", 12, "a/b", 3), 0);
    CHECK(xg_headers_get(h, "CONTENT-TYPE", 12) == &h->v[0]);
    CHECK(xg_headers_get(h, "x-forwarded-for", 15) == NULL);
    CHECK(xg_headers_get(h, "accept-range", 12) == NULL); /* same length and last byte as content-type */
    CHECK_EQ_INT(xg_headers_set(h, "X-Forwarded-For", 15, "1.2.3.4", 7, true), 0);
    CHECK(h->n == 2 && h->v[1].id == XG_HDR_X_FORWARDED_FOR);
    CHECK_EQ_INT(xg_headers_count(h, "x-forwarded-for", 15), 1);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_ADD_IF_ABSENT, "via", 3, "p", 1, false), 0);
    CHECK(h->n == 3 && h->v[2].id == XG_HDR_VIA);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_ADD_IF_ABSENT, "Via", 3, "q", 1, false), 0);
    CHECK_EQ_INT(h->n, 3);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_OVERWRITE_IF_EXISTS, "server", 6, "s", 1, false), 0);
    CHECK_EQ_INT(h->n, 3);
    CHECK_EQ_INT(xg_headers_remove(h, "VIA", 3), 1);
    CHECK(xg_headers_get(h, "via", 3) == NULL);
    xg_headers_clear(h);
    CHECK(xg_headers_get(h, "content-type", 12) == NULL);
    xg_arena_dispose(&arena);
}
