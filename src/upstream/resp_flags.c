/* Names and formatting of the response flags. */
#include <stdio.h>
#include <string.h>

#include "upstream/resp_flags.h"

static const char *const names[XG_RF_COUNT] = {
    "LH",  "UH", "UT", "LR",  "UR",    "UF",   "UC",   "UO", "NR",  "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO",   "DR",
};

const char *xg_resp_flag_name(uint32_t bit)
{
    for (int i = 0; i < XG_RF_COUNT; i++)
        if (bit == 1u << i)
            return names[i];
    return NULL;
}

size_t xg_resp_flags_format(uint32_t flags, char *out, size_t n)
{
    size_t len = 0;
    for (int i = 0; i < XG_RF_COUNT; i++) {
        if (!(flags & (1u << i)))
            continue;
        int w = snprintf(n > len ? out + len : NULL, n > len ? n - len : 0, "%s%s", len > 0 ? "," : "", names[i]);
        len += (size_t)w;
    }
    if (len == 0)
        len = (size_t)snprintf(out, n, "-");
    return len;
}
