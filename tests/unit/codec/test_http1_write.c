/* The HTTP/1 writer: a header block goes out in one piece, fields the codec
 * received are not checked twice but anything the proxy set or replaced is,
 * a refused head writes nothing (not even its status line), status lines without snprintf, chunk size
 * lines in hex. */
#include <stdlib.h>

#include "codec/codec.h"
#include "core/error.h"
#include "towner.h"
#include "xg_test.h"

static towner O;

static void start_with_request(const char *req)
{
    xg_codec_opts d;
    xg_codec_opts_init(&d);
    towner_init(&O);
    CHECK_EQ_INT(xg_http1_server_new(&O.c, &d, &t_cbs, &O), 0);
    size_t used = 0;
    CHECK_EQ_INT(xg_codec_feed(O.c, req, strlen(req), &used), 0);
    CHECK_EQ_INT(used, strlen(req));
    reset_logs(&O);
}

XG_TEST(received_fields_marked_valid_and_interned)
{
    start_with_request(
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nX-Other: 1\r\nCONNECTION: keep-alive\r\n\r\n");
    const xg_headers *in = O.last_headers;
    CHECK(in != NULL);
    /* Capitalised names are lowercased and keep their interned ids. */
    const xg_header *ct = xg_headers_get_id(in, XG_HDR_CONTENT_TYPE);
    CHECK(ct != NULL && strcmp(ct->name, "content-type") == 0);
    CHECK(ct != NULL && (ct->flags & XG_HDR_F_VALID));
    const xg_header *x = xg_headers_get(in, "x-other", 7);
    CHECK(x != NULL && x->id == XG_HDR_OTHER && (x->flags & XG_HDR_F_VALID));
    towner_dispose(&O);
}

XG_TEST(replaced_value_loses_the_mark)
{
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    CHECK_EQ_INT(xg_headers_add_valid(h, "X-A", 3, "1", 1), 0);
    CHECK_EQ_INT(xg_headers_add_copy(h, "x-b", 3, "2", 1), 0);
    CHECK(h->v[0].flags & XG_HDR_F_VALID);
    CHECK(!(h->v[1].flags & XG_HDR_F_VALID));
    CHECK_EQ_INT(xg_headers_set(h, "x-a", 3, "bad\r\nvalue", 10, true), 0);
    CHECK(!(h->v[0].flags & XG_HDR_F_VALID));
    CHECK_EQ_INT(xg_headers_add_valid(h, "x-c", 3, "3", 1), 0);
    CHECK_EQ_INT(xg_headers_apply(h, XG_HDR_OVERWRITE_IF_EXISTS, "x-c", 3, "4", 1, false), 0);
    CHECK(!(h->v[1].flags & XG_HDR_F_VALID));
    /* A clone keeps what it copies verbatim. */
    xg_headers *c = xg_headers_clone(&a, h);
    CHECK(c != NULL && c->n == 3 && !(c->v[0].flags & XG_HDR_F_VALID));
    xg_arena_dispose(&a);
}

XG_TEST(received_field_replaced_with_crlf_is_refused_and_nothing_written)
{
    start_with_request("GET / HTTP/1.1\r\nHost: h\r\nX-A: fine\r\n\r\n");
    xg_headers *in = O.last_headers;
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    /* The request's checked field, copied as a response field, then replaced
     * with a value that would split the response. */
    const xg_header *e = xg_headers_get(in, "x-a", 3);
    CHECK(e != NULL && (e->flags & XG_HDR_F_VALID));
    CHECK_EQ_INT(xg_headers_add_valid(h, e->name, e->name_len, e->value, e->value_len), 0);
    CHECK_EQ_INT(xg_headers_add_ref(h, "x-ok", 4, "1", 1), 0);
    CHECK_EQ_INT(xg_headers_set(h, "x-a", 3, "a\r\nset-cookie: evil", 19, false), 0);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), XG_EINVAL);
    drain(&O);
    CHECK_STR(WIRE(&O), ""); /* not even the status line */
    /* A bad name set by the proxy is refused too. */
    xg_headers_clear(h);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_headers_add_ref(h, "bad name", 8, "1", 1), 0);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), XG_EINVAL);
    drain(&O);
    CHECK_STR(WIRE(&O), "");
    /* What was queued before the refused head stays. */
    xg_headers *info = xg_headers_new(&a);
    xg_headers_set_pseudo(info, ":status", 7, "103", 3);
    xg_headers_add_ref(info, "link", 4, "</a>", 4);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, info, false), 0);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), XG_EINVAL);
    drain(&O);
    CHECK_STR(WIRE(&O), "HTTP/1.1 103 \r\nlink: </a>\r\n\r\n");
    reset_logs(&O);
    /* An interned name skips the name check, never the value check. */
    xg_headers_clear(h);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_headers_add_ref(h, "content-type", 12, "a\nb", 3), 0);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), XG_EINVAL);
    drain(&O);
    CHECK_STR(WIRE(&O), "");
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(one_block_in_order)
{
    start_with_request("GET / HTTP/1.1\r\nHost: h\r\nX-In: v v\r\n\r\n");
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    const xg_header *e = xg_headers_get(O.last_headers, "x-in", 4);
    CHECK(e != NULL);
    xg_headers_add_valid(h, e->name, e->name_len, e->value, e->value_len);
    xg_headers_add_ref(h, "x-empty", 7, "", 0);
    xg_headers_add_ref(h, "keep-alive", 10, "timeout=5", 9); /* the codec's own: never copied */
    xg_headers_add_ref(h, "content-length", 14, "0", 1);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), 0);
    drain(&O);
    CHECK_STR(WIRE(&O), "HTTP/1.1 200 OK\r\nx-in: v v\r\nx-empty: \r\ncontent-length: 0\r\n\r\n");
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

static void status_line(const char *status, const char *want)
{
    start_with_request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, status, 3);
    xg_headers_add_ref(h, "content-length", 14, "0", 1);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, true), 0);
    drain(&O);
    if (!CHECK(strncmp(WIRE(&O), want, strlen(want)) == 0))
        fprintf(stderr, "  got: %s\n", WIRE(&O));
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(status_lines)
{
    status_line("200", "HTTP/1.1 200 OK\r\n");
    status_line("404", "HTTP/1.1 404 Not Found\r\n");
    status_line("431", "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    status_line("299", "HTTP/1.1 299 \r\n");
    status_line("999", "HTTP/1.1 999 \r\n");
    status_line("100", "HTTP/1.1 100 Continue\r\n");
}

static void chunk(size_t n, const char *want_line)
{
    start_with_request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    xg_arena a;
    xg_arena_init(&a, 0);
    xg_headers *h = xg_headers_new(&a);
    xg_headers_set_pseudo(h, ":status", 7, "200", 3);
    CHECK_EQ_INT(xg_codec_send_headers(O.c, 1, h, false), 0);
    char *body = calloc(1, n + 1);
    memset(body, 'b', n);
    CHECK_EQ_INT(xg_codec_send_data(O.c, 1, body, n, true), 0);
    drain(&O);
    const char *w = strstr(WIRE(&O), "\r\n\r\n");
    CHECK(w != NULL && strncmp(w + 4, want_line, strlen(want_line)) == 0);
    CHECK(w != NULL && strcmp(w + 4 + strlen(want_line) + n, "\r\n0\r\n\r\n") == 0);
    free(body);
    xg_arena_dispose(&a);
    towner_dispose(&O);
}

XG_TEST(chunk_size_lines_in_hex)
{
    chunk(1, "1\r\n");
    chunk(15, "f\r\n");
    chunk(16, "10\r\n");
    chunk(255, "ff\r\n");
    chunk(4096, "1000\r\n");
    chunk(70000, "11170\r\n");
}

XG_TEST(arena_bytes)
{
    xg_arena a;
    xg_arena_init(&a, 64);
    char *p = xg_arena_bytes(&a, 3);
    char *q = xg_arena_bytes(&a, 5);
    CHECK(p != NULL && q != NULL && (q + 5 <= p || p + 3 <= q));
    memcpy(p, "abc", 3);
    memcpy(q, "defgh", 5);
    char *big = xg_arena_bytes(&a, 1000); /* past the chunk size: a chunk of its own */
    CHECK(big != NULL);
    memset(big, 'x', 1000);
    void *al = xg_arena_alloc(&a, 8); /* the aligned front is unaffected */
    CHECK(al != NULL && ((uintptr_t)al & 15) == 0);
    CHECK(memcmp(p, "abc", 3) == 0 && memcmp(q, "defgh", 5) == 0);
    xg_arena_dispose(&a);
}

/* Connection options: every field they name goes (before or after the
 * Connection field, any case, over several Connection fields, interned names
 * too); upgrade and te are the codec's to decide; a field named like an
 * option ("close") goes as well. (The per-field scan this replaced read the
 * option list's length from an entry shifted by an earlier removal, and let
 * "via" and "close" through here.) */
XG_TEST(connection_options_strip_named_fields)
{
    start_with_request("GET / HTTP/1.1\r\nHost: h\r\nX-Before: 1\r\nVia: p\r\nClose: c\r\n"
                       "Connection: x-before , VIA,close\r\nX-Keep: 2\r\nConnection: X-After, te, upgrade\r\n"
                       "TE: trailers\r\nX-After: 3\r\nX-After: 4\r\nUpgrade: foo\r\nX-End: 5\r\n\r\n");
    const xg_headers *in = O.last_headers;
    CHECK(in != NULL);
    CHECK(xg_headers_get(in, "x-before", 8) == NULL);
    CHECK(xg_headers_get_id(in, XG_HDR_VIA) == NULL);
    CHECK(xg_headers_get(in, "close", 5) == NULL);
    CHECK(xg_headers_get(in, "x-after", 7) == NULL);
    CHECK(xg_headers_get_id(in, XG_HDR_CONNECTION) == NULL);
    CHECK(xg_headers_get_id(in, XG_HDR_UPGRADE) != NULL); /* an upgrade request: the codec keeps it */
    const xg_header *te = xg_headers_get_id(in, XG_HDR_TE);
    CHECK(te != NULL && strcmp(te->value, "trailers") == 0);
    CHECK(xg_headers_get(in, "x-keep", 6) != NULL && xg_headers_get(in, "x-end", 5) != NULL);
    if (!CHECK_EQ_INT(in->n, 4))
        for (uint32_t i = 0; i < in->n; i++)
            fprintf(stderr, "  left: %s: %s id %d\n", in->v[i].name, in->v[i].value, in->v[i].id);
    towner_dispose(&O);
}

/* Names and values borrowed from the slice being parsed are copied before
 * the slice goes: the request split at every byte into two slices, each fed
 * from a scratch buffer that is scribbled over after its feed, parses the
 * same. */
XG_TEST(fields_split_across_slices_survive_the_slice)
{
    const char *req = "GET /p HTTP/1.1\r\nHost: h\r\nX-Long-Name: some value\r\nAccept: */*\r\nX-E:\r\n\r\n";
    size_t n = strlen(req);
    for (size_t cut = 1; cut < n; cut++) {
        xg_codec_opts d;
        xg_codec_opts_init(&d);
        towner_init(&O);
        CHECK_EQ_INT(xg_http1_server_new(&O.c, &d, &t_cbs, &O), 0);
        char scratch[128];
        size_t used = 0;
        memcpy(scratch, req, cut);
        CHECK_EQ_INT(xg_codec_feed(O.c, scratch, cut, &used), 0);
        CHECK_EQ_INT(used, cut);
        memset(scratch, 'Z', sizeof scratch);
        memcpy(scratch, req + cut, n - cut);
        CHECK_EQ_INT(xg_codec_feed(O.c, scratch, n - cut, &used), 0);
        memset(scratch, 'Z', sizeof scratch);
        if (!CHECK_STR(LOG(&O), "begin 1;headers 1 GET auth=h path=/p x-long-name=some value accept=*/* x-e= END;"))
            fprintf(stderr, "  cut at %zu\n", cut);
        towner_dispose(&O);
    }
}
