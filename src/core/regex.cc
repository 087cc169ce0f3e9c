/* The extern "C" shim over RE2 behind core/regex.h. No C++ exception crosses
 * into C: RE2 reports errors through ok()/error(), and allocation failures are
 * caught here and returned as XG_ENOMEM. */
extern "C" {
#include "core/buf.h"
#include "core/error.h"
}
#include "core/regex.h"

#include <new>
#include <re2/re2.h>
#include <stdio.h>
#include <string>

struct xg_regex {
    re2::RE2 re;
    explicit xg_regex(const char *pattern) : re(pattern, re2::RE2::Quiet)
    {
    }
};

static void set_err(char *err, size_t errlen, const std::string &msg)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s", msg.c_str());
}

static xg_regex *compile(const char *pattern)
{
    try {
        return new xg_regex(pattern);
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
}

extern "C" int xg_regex_compile(const char *pattern, int max_program_size, xg_regex **out, char *err, size_t errlen)
{
    int rc = XG_EINVAL;
    xg_regex *re = compile(pattern);
    if (re == nullptr)
        return XG_ENOMEM;
    int limit = max_program_size > 0 ? max_program_size : XG_REGEX_MAX_PROGRAM_SIZE;
    if (!re->re.ok()) {
        set_err(err, errlen, re->re.error());
        goto fail;
    }
    if (re->re.ProgramSize() > limit) {
        set_err(err, errlen,
                "RE2 program size of " + std::to_string(re->re.ProgramSize()) + " > max program size of " +
                    std::to_string(limit));
        goto fail;
    }
    *out = re;
    return 0;
fail:
    delete re;
    return rc;
}

extern "C" void xg_regex_free(xg_regex *re)
{
    delete re;
}

extern "C" void xg_regex_free_cb(void *re)
{
    delete static_cast<xg_regex *>(re);
}

extern "C" const char *xg_regex_pattern(const xg_regex *re)
{
    return re->re.pattern().c_str();
}

extern "C" int xg_regex_groups(const xg_regex *re)
{
    return re->re.NumberOfCapturingGroups();
}

extern "C" bool xg_regex_full_match(const xg_regex *re, const char *s, size_t len)
{
    return re2::RE2::FullMatch(re2::StringPiece(s, len), re->re);
}

extern "C" bool xg_regex_partial_match(const xg_regex *re, const char *s, size_t len)
{
    return re2::RE2::PartialMatch(re2::StringPiece(s, len), re->re);
}

extern "C" int xg_regex_check_rewrite(const xg_regex *re, const char *rewrite, char *err, size_t errlen)
{
    std::string why;
    if (re->re.CheckRewriteString(rewrite, &why))
        return 0;
    set_err(err, errlen, why);
    return XG_EINVAL;
}

extern "C" int xg_regex_replace(const xg_regex *re, const char *s, size_t len, const char *rewrite, xg_buf *out,
                                int *n_replaced)
{
    try {
        std::string str(s, len);
        int n = re2::RE2::GlobalReplace(&str, re->re, rewrite);
        if (n_replaced != nullptr)
            *n_replaced = n;
        return xg_buf_append(out, str.data(), str.size());
    } catch (const std::bad_alloc &) {
        return XG_ENOMEM;
    }
}
