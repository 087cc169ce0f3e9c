/* Logging to stderr, one line per event: "<RFC3339 time> <level> [<thread>] message".
 * The level is set once at start-up, before any thread starts, and only read
 * afterwards. Safe from any thread (one write(2) per line). */
#ifndef XG_CORE_LOG_H
#define XG_CORE_LOG_H

#include <stdbool.h>

typedef enum xg_log_level {
    XG_LOG_TRACE,
    XG_LOG_DEBUG,
    XG_LOG_INFO,
    XG_LOG_WARN,
    XG_LOG_ERROR,
    XG_LOG_OFF,
} xg_log_level;

/* Parses "trace|debug|info|warn|warning|error|off"; XG_EINVAL for anything else. */
int xg_log_parse_level(const char *s, xg_log_level *out);
/* Start-up only: sets the process-wide threshold (default info). */
void xg_log_set_level(xg_log_level lvl);
bool xg_log_enabled(xg_log_level lvl);
/* Names the calling thread in its log lines (e.g. "main", "xds", "worker-3"). */
void xg_log_set_thread_name(const char *name);
void xg_log(xg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define xg_log_error(...) xg_log(XG_LOG_ERROR, __VA_ARGS__)
#define xg_log_warn(...) xg_log(XG_LOG_WARN, __VA_ARGS__)
#define xg_log_info(...) xg_log(XG_LOG_INFO, __VA_ARGS__)
#define xg_log_debug(...) xg_log(XG_LOG_DEBUG, __VA_ARGS__)

#endif
