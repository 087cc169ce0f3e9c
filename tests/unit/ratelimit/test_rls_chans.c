/* Unit tests for ratelimit/rls_chans.c, the rate limit client's channel
 * cache, with fake channels: destinations that differ in kind, target or
 * :authority each keep their own channel (none closes another's, so calls
 * in flight survive and nobody starts cold), and only idle channels are
 * retired: superseded ones after XG_RLS_CHAN_SUPERSEDED_S, any after
 * XG_RLS_CHAN_UNUSED_S, never one with a call in flight. */
#include <stdlib.h>
#include <string.h>

#include "ratelimit/rls_chans.h"
#include "xg_test.h"

static int made, closed;

static void *fake_make(const xg_rls_dest *d)
{
    (void)d;
    made++;
    return malloc(1);
}

static void fake_close(void *h)
{
    closed++;
    free(h);
}

static void reset(xg_rls_chans *cs)
{
    made = closed = 0;
    xg_rls_chans_init(cs, fake_make, fake_close);
}

XG_TEST(distinct_destinations_keep_their_own_channels)
{
    xg_rls_chans cs;
    reset(&cs);
    xg_rls_dest plain = {.key = "rls", .target = "ipv4:127.0.0.1:81"};
    xg_rls_dest with_auth = {.key = "rls", .target = "ipv4:127.0.0.1:81", .authority = "rls.example"};
    xg_rls_dest uri = {.uri = true, .key = "rls", .target = "ipv4:127.0.0.1:81"};
    xg_rls_dest moved = {.key = "rls", .target = "ipv4:127.0.0.1:82"};
    xg_rls_chan *a = xg_rls_chans_get(&cs, &plain, 1);
    xg_rls_chan *b = xg_rls_chans_get(&cs, &with_auth, 1);
    xg_rls_chan *c = xg_rls_chans_get(&cs, &uri, 1);
    xg_rls_chan *d = xg_rls_chans_get(&cs, &moved, 1);
    CHECK(a != NULL && b != NULL && c != NULL && d != NULL);
    CHECK(a != b && a != c && a != d && b != c && b != d && c != d);
    CHECK_EQ_INT(made, 4);
    CHECK_EQ_INT(closed, 0); /* before: each switch closed the previous channel and its calls */
    /* Alternating between them reuses the warm channels. */
    for (int i = 0; i < 10; i++) {
        CHECK(xg_rls_chans_get(&cs, i % 2 ? &plain : &with_auth, 2) == (i % 2 ? a : b));
        CHECK(xg_rls_chans_get(&cs, i % 2 ? &moved : &uri, 2) == (i % 2 ? d : c));
    }
    CHECK_EQ_INT(made, 4);
    CHECK_EQ_INT(closed, 0);
    CHECK_EQ_INT(a->calls, 6);
    for (xg_rls_chan *x = cs.head; x != NULL; x = x->next)
        while (x->calls > 0)
            xg_rls_chans_put(x);
    xg_rls_chans_dispose(&cs);
    CHECK_EQ_INT(closed, 4);
}

XG_TEST(superseded_channels_retire_when_idle_never_with_calls_in_flight)
{
    xg_rls_chans cs;
    reset(&cs);
    xg_rls_dest old = {.key = "rls", .target = "ipv4:10.0.0.1:81"};
    xg_rls_dest cur = {.key = "rls", .target = "ipv4:10.0.0.2:81"};
    xg_rls_chan *o = xg_rls_chans_get(&cs, &old, 100);
    xg_rls_chan *c = xg_rls_chans_get(&cs, &cur, 101);
    xg_rls_chans_put(c);
    /* o still has its call: it stays however long */
    CHECK(xg_rls_chans_sweep(&cs, 100 + XG_RLS_CHAN_SUPERSEDED_S + 50) == NULL);
    xg_rls_chans_put(o);
    /* idle, but not yet long enough */
    CHECK(xg_rls_chans_sweep(&cs, 100 + XG_RLS_CHAN_SUPERSEDED_S - 1) == NULL);
    xg_rls_chan *gone = xg_rls_chans_sweep(&cs, 100 + XG_RLS_CHAN_SUPERSEDED_S);
    CHECK(gone == o);
    CHECK(gone != NULL && gone->next == NULL);
    CHECK_EQ_INT(cs.n, 1);
    xg_rls_chans_free_list(&cs, gone);
    CHECK_EQ_INT(closed, 1);
    /* the newest of its service is kept until it has been unused for long */
    CHECK(xg_rls_chans_sweep(&cs, 101 + XG_RLS_CHAN_UNUSED_S - 1) == NULL);
    gone = xg_rls_chans_sweep(&cs, 101 + XG_RLS_CHAN_UNUSED_S);
    CHECK(gone == c);
    xg_rls_chans_free_list(&cs, gone);
    CHECK_EQ_INT(cs.n, 0);
    CHECK(cs.head == NULL);
    /* and comes back (cold) when asked for again */
    CHECK(xg_rls_chans_get(&cs, &cur, 1000) != NULL);
    CHECK_EQ_INT(made, 3);
    xg_rls_chans_put(cs.head);
    xg_rls_chans_dispose(&cs);
    CHECK_EQ_INT(closed, 3);
}

XG_TEST(another_service_does_not_supersede)
{
    xg_rls_chans cs;
    reset(&cs);
    xg_rls_dest a = {.key = "a", .target = "ipv4:10.0.0.1:81"};
    xg_rls_dest b = {.key = "b", .target = "ipv4:10.0.0.2:81"};
    xg_rls_dest a_auth = {.key = "a", .target = "ipv4:10.0.0.3:81", .authority = "x"};
    xg_rls_chans_put(xg_rls_chans_get(&cs, &a, 0));
    xg_rls_chans_put(xg_rls_chans_get(&cs, &b, 5));
    xg_rls_chans_put(xg_rls_chans_get(&cs, &a_auth, 5)); /* another :authority: another service */
    CHECK(xg_rls_chans_sweep(&cs, XG_RLS_CHAN_SUPERSEDED_S + 100) == NULL);
    CHECK_EQ_INT(cs.n, 3);
    xg_rls_chans_dispose(&cs);
    CHECK_EQ_INT(closed, 3);
}

static void *fail_make(const xg_rls_dest *d)
{
    (void)d;
    return NULL;
}

XG_TEST(a_channel_that_cannot_be_made)
{
    xg_rls_chans cs;
    xg_rls_chans_init(&cs, fail_make, fake_close);
    xg_rls_dest a = {.key = "a", .target = "nonsense"};
    CHECK(xg_rls_chans_get(&cs, &a, 0) == NULL);
    CHECK_EQ_INT(cs.n, 0);
    xg_rls_chans_dispose(&cs);
}
