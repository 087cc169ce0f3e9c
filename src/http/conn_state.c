/* Per-connection filter state (conn_state.h): a short list on the hconn. */
#include <stddef.h>

#include "http/conn_state.h"
#include "http/hcm_int.h"

xg_conn_state *xg_stream_conn_state(const xg_stream *s, const void *tag)
{
    xg_conn_state *st = s->hc->fstate;
    while (st != NULL && st->tag != tag)
        st = st->next;
    return st;
}

void xg_stream_conn_state_add(xg_stream *s, xg_conn_state *st)
{
    st->next = s->hc->fstate;
    s->hc->fstate = st;
}

void xg__conn_states_free(xg_conn_state *head)
{
    while (head != NULL) {
        xg_conn_state *next = head->next;
        head->free(head);
        head = next;
    }
}
