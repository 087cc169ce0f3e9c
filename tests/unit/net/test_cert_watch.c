/* The certificate file watch on a real loop and real files in a temp dir:
 * a file replaced by rename, a Kubernetes-style "..data" symlink swap in
 * the same second as the previous change, other files coming and going (no
 * callback), a digest taken before a change (the change is not absorbed), a
 * new list replacing the old one, and freeing while a list is queued. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "net/cert_watch.h"
#include "net/net_test.h"
#include "xg_test.h"

static char tmp[64];
static int calls;

static void on_change(void *arg)
{
    calls++;
}

static const char *at(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmp, name);
    return p;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(at(name), "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* Replaces name by rename, as Kubernetes and cert-manager do. */
static void replace_file(const char *name, const char *text)
{
    char t[64], from[256];
    snprintf(t, sizeof(t), "%s.new", name);
    write_file(t, text);
    snprintf(from, sizeof(from), "%s", at(t));
    CHECK(rename(from, at(name)) == 0);
}

/* Runs the loop until the callback count reaches want (or secs pass). */
static bool calls_reach(xg_loop *l, int want, double secs)
{
    double end = ev_time() + secs;
    while (calls < want && ev_time() < end)
        nt_run_for(l, 0.02);
    return calls >= want;
}

static bool setup(xg_loop *l, xg_cert_watch **w)
{
    snprintf(tmp, sizeof(tmp), "/tmp/xg_cert_watch_XXXXXX");
    calls = 0;
    return mkdtemp(tmp) != NULL && xg_loop_init(l, 0) == 0 && xg_cert_watch_new(l, 0.05, 0.05, on_change, NULL, w) == 0;
}

/* Watch files[0..n) as they are now. */
static void watch(xg_cert_watch *w, const char *const *files, size_t n)
{
    CHECK_EQ_INT(xg_cert_watch_set(w, files, n, xg_cert_watch_digest(files, n)), 0);
}

static void teardown(xg_loop *l, xg_cert_watch *w)
{
    xg_cert_watch_free(w);
    xg_loop_dispose(l);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
}

XG_TEST(file_replaced_by_rename)
{
    xg_loop l;
    xg_cert_watch *w;
    if (!CHECK(setup(&l, &w)))
        return;
    write_file("cert.pem", "v1");
    const char *files[] = {at("cert.pem"), at("cert.pem")};
    watch(w, files, 2);
    nt_run_for(&l, 0.2);
    CHECK_EQ_INT(xg_cert_watch_count(w), 2);
    CHECK_EQ_INT(calls, 0); /* nothing changed */
    replace_file("cert.pem", "v2");
    CHECK(calls_reach(&l, 1, 5));
    nt_run_for(&l, 0.3);
    CHECK_EQ_INT(calls, 1); /* one change, one callback */
    /* Other files in the directory: nothing. */
    write_file("unrelated.txt", "x");
    replace_file("unrelated.txt", "y");
    nt_run_for(&l, 0.3);
    CHECK_EQ_INT(calls, 1);
    replace_file("cert.pem", "v3");
    CHECK(calls_reach(&l, 2, 5));
    teardown(&l, w);
}

XG_TEST(kubernetes_symlink_swap)
{
    xg_loop l;
    xg_cert_watch *w;
    if (!CHECK(setup(&l, &w)))
        return;
    CHECK(mkdir(at("..v1"), 0700) == 0 && mkdir(at("..v2"), 0700) == 0);
    write_file("..v1/tls.crt", "v1");
    write_file("..v2/tls.crt", "v2");
    CHECK(symlink("..v1", at("..data")) == 0);
    CHECK(symlink("..data/tls.crt", at("tls.crt")) == 0);
    const char *files[] = {at("tls.crt")};
    watch(w, files, 1);
    nt_run_for(&l, 0.1);
    /* The swap, within the same second as the set-up: "tls.crt" itself never changes. */
    CHECK(symlink("..v2", at("..data_tmp")) == 0);
    char from[256];
    snprintf(from, sizeof(from), "%s", at("..data_tmp"));
    CHECK(rename(from, at("..data")) == 0);
    CHECK(calls_reach(&l, 1, 5));
    teardown(&l, w);
}

/* The caller's digest is from before it read the files: a change between
 * that and the list arriving still triggers. */
XG_TEST(change_after_the_digest_is_not_absorbed)
{
    xg_loop l;
    xg_cert_watch *w;
    if (!CHECK(setup(&l, &w)))
        return;
    write_file("k.pem", "1");
    const char *files[] = {at("k.pem")};
    uint64_t before = xg_cert_watch_digest(files, 1);
    replace_file("k.pem", "2");
    CHECK(before != xg_cert_watch_digest(files, 1));
    CHECK_EQ_INT(xg_cert_watch_set(w, files, 1, before), 0);
    CHECK(calls_reach(&l, 1, 5));
    teardown(&l, w);
}

XG_TEST(new_list_replaces_the_old)
{
    xg_loop l;
    xg_cert_watch *w;
    if (!CHECK(setup(&l, &w)))
        return;
    write_file("a.pem", "a");
    write_file("b.pem", "b");
    const char *fa[] = {at("a.pem")}, *fb[] = {at("b.pem")};
    watch(w, fa, 1);
    watch(w, fb, 1); /* before the loop ran: only the last list counts */
    nt_run_for(&l, 0.05);
    CHECK_EQ_INT(xg_cert_watch_count(w), 1);
    replace_file("a.pem", "a2"); /* no longer watched */
    nt_run_for(&l, 0.3);
    CHECK_EQ_INT(calls, 0);
    replace_file("b.pem", "b2");
    CHECK(calls_reach(&l, 1, 5));
    watch(w, NULL, 0); /* nothing left to check */
    nt_run_for(&l, 0.05);
    CHECK_EQ_INT(xg_cert_watch_count(w), 0);
    replace_file("b.pem", "b3");
    nt_run_for(&l, 0.3);
    CHECK_EQ_INT(calls, 1);
    teardown(&l, w);
}

XG_TEST(free_with_a_list_still_queued)
{
    xg_loop l;
    xg_cert_watch *w;
    if (!CHECK(setup(&l, &w)))
        return;
    write_file("c.pem", "c");
    const char *files[] = {at("c.pem")};
    watch(w, files, 1);
    teardown(&l, w); /* the queued closure frees the watch when the loop is disposed (ASan checks) */
    CHECK_EQ_INT(calls, 0);
}
