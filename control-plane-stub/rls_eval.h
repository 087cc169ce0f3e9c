/* One ShouldRateLimit call's decision: the request bytes in, the response
 * bytes (or a gRPC error) out, counters updated, and the call described on
 * an event line. Kept apart from the call plumbing (rls.c) so that the
 * decision is plain code over plain inputs. */
#ifndef XG_STUB_RLS_EVAL_H
#define XG_STUB_RLS_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "jlog.h"
#include "rls_config.h"
#include "rls_counters.h"

typedef struct xg_stub_rls_answer {
    grpc_status_code status; /* GRPC_STATUS_OK: reply holds the response */
    char message[256];       /* status details when not OK */
    grpc_byte_buffer *reply; /* owned by the caller once returned; NULL unless OK */
    uint32_t delay_ms;       /* the domain's test_delay_ms */
} xg_stub_rls_answer;

/* Decides the call whose request message is data/len against cfg (may be
 * NULL: every domain unknown) at unix time now_s, adding the hits to
 * counters, and appends the call's fields to e. Never fails: a bad request
 * or an allocation failure becomes a gRPC error in out. */
void xg_stub_rls_eval(xg_stub_rls_counters *counters, const xg_stub_rls_config *cfg, const uint8_t *data, size_t len,
                      uint64_t now_s, xg_jev *e, xg_stub_rls_answer *out);

#endif
