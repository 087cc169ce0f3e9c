/* State an HTTP filter keeps for a whole downstream connection, across its
 * streams (Envoy's connection-lifespan filter state), e.g. the local rate
 * limit's per-connection token buckets. Each item is found by a tag the
 * filter owns (the address of one of its statics) and freed by its own
 * free function when the connection's last stream is gone. Worker thread
 * only. */
#ifndef XG_HTTP_CONN_STATE_H
#define XG_HTTP_CONN_STATE_H

struct xg_stream;

/* The head of a filter's per-connection item (embed it first; heap). */
typedef struct xg_conn_state {
    struct xg_conn_state *next;
    const void *tag;
    void (*free)(struct xg_conn_state *st);
} xg_conn_state;

/* The item tagged tag on s's connection, or NULL. */
xg_conn_state *xg_stream_conn_state(const struct xg_stream *s, const void *tag);
/* Hands st (tag and free set) to s's connection, which frees it at its end. */
void xg_stream_conn_state_add(struct xg_stream *s, xg_conn_state *st);
/* Frees a connection's items (http/hcm.c, when the connection is freed). */
void xg__conn_states_free(xg_conn_state *head);

#endif
