/* Envoy's response flags: one bit per reason a request did not go the
 * normal way (UH no healthy upstream, UF connection failure, URX retry limit
 * exceeded...), carried with each stream for the access log and stats, and
 * printed as Envoy prints %RESPONSE_FLAGS%: short names joined by commas in
 * Envoy's order, "-" when none. Shared by the router, the upstream layer and
 * the connection manager. */
#ifndef XG_UPSTREAM_RESP_FLAGS_H
#define XG_UPSTREAM_RESP_FLAGS_H

#include <stddef.h>
#include <stdint.h>

/* Bit order = Envoy's ResponseFlag order = print order. */
enum {
    XG_RF_LH = 1u << 0,     /* FailedLocalHealthCheck */
    XG_RF_UH = 1u << 1,     /* NoHealthyUpstream */
    XG_RF_UT = 1u << 2,     /* UpstreamRequestTimeout */
    XG_RF_LR = 1u << 3,     /* LocalReset */
    XG_RF_UR = 1u << 4,     /* UpstreamRemoteReset */
    XG_RF_UF = 1u << 5,     /* UpstreamConnectionFailure */
    XG_RF_UC = 1u << 6,     /* UpstreamConnectionTermination */
    XG_RF_UO = 1u << 7,     /* UpstreamOverflow */
    XG_RF_NR = 1u << 8,     /* NoRouteFound */
    XG_RF_DI = 1u << 9,     /* DelayInjected */
    XG_RF_FI = 1u << 10,    /* FaultInjected */
    XG_RF_RL = 1u << 11,    /* RateLimited */
    XG_RF_UAEX = 1u << 12,  /* UnauthorizedExternalService */
    XG_RF_RLSE = 1u << 13,  /* RateLimitServiceError */
    XG_RF_DC = 1u << 14,    /* DownstreamConnectionTermination */
    XG_RF_URX = 1u << 15,   /* UpstreamRetryLimitExceeded */
    XG_RF_SI = 1u << 16,    /* StreamIdleTimeout */
    XG_RF_IH = 1u << 17,    /* InvalidEnvoyRequestHeaders */
    XG_RF_DPE = 1u << 18,   /* DownstreamProtocolError */
    XG_RF_UMSDR = 1u << 19, /* UpstreamMaxStreamDurationReached */
    XG_RF_RFCF = 1u << 20,  /* ResponseFromCacheFilter */
    XG_RF_NFCF = 1u << 21,  /* NoFilterConfigFound */
    XG_RF_DT = 1u << 22,    /* DurationTimeout */
    XG_RF_UPE = 1u << 23,   /* UpstreamProtocolError */
    XG_RF_NC = 1u << 24,    /* NoClusterFound */
    XG_RF_OM = 1u << 25,    /* OverloadManager */
    XG_RF_DF = 1u << 26,    /* DnsResolutionFailed */
    XG_RF_DO = 1u << 27,    /* DropOverLoad */
    XG_RF_DR = 1u << 28,    /* DownstreamRemoteReset */
    XG_RF_COUNT = 29,
};

/* The short name of one flag bit ("UF"), or NULL for a bit that is none. */
const char *xg_resp_flag_name(uint32_t bit);

/* Writes flags as Envoy's %RESPONSE_FLAGS% ("UF,URX", or "-" when 0) into
 * out (always NUL-terminated when n > 0); returns the length it needed. */
size_t xg_resp_flags_format(uint32_t flags, char *out, size_t n);

#endif
