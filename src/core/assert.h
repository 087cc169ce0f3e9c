/* Invariant checks: XG_ASSERT is on in every build (tests and fuzzing rely on
 * it); a failed invariant aborts with the location, never continues. */
#ifndef XG_CORE_ASSERT_H
#define XG_CORE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define XG_ASSERT(cond)                                                                   \
    do {                                                                                  \
        if (__builtin_expect(!(cond), 0)) {                                               \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#endif
