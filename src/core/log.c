/* stderr logging; see log.h for the line format and threading contract. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

/* Written once at start-up before threads exist, read-only afterwards. */
static xg_log_level log_threshold = XG_LOG_INFO;
static __thread char thread_name[16] = "main";

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

int xg_log_parse_level(const char *s, xg_log_level *out)
{
    for (int i = XG_LOG_TRACE; i <= XG_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (xg_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = XG_LOG_WARN;
        return 0;
    }
    return XG_EINVAL;
}

void xg_log_set_level(xg_log_level lvl)
{
    log_threshold = lvl;
}

bool xg_log_enabled(xg_log_level lvl)
{
    return lvl >= log_threshold && lvl < XG_LOG_OFF;
}

void xg_log_set_thread_name(const char *name)
{
    snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void xg_log(xg_log_level lvl, const char *fmt, ...)
{
    if (!xg_log_enabled(lvl))
        return;
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s [%s] ", ts.tv_nsec / 1000000, level_names[lvl],
                  thread_name);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (m < 0) ? n : (n + m > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failed log write */
}
