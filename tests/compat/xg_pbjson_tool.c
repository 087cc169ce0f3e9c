/* xg-pbjson: binary protobuf <-> proto3 JSON through xdsgate's own codec and
 * proto/ subset, so that tests/compat can hold them against Envoy's official
 * protos. Strict both ways: an unknown field, a truncated message or a bad
 * value exits 1 with "path: reason" on stderr.
 *
 *   xg-pbjson decode TYPE [--proto-names]   binary on stdin  -> JSON on stdout
 *   xg-pbjson encode TYPE                   JSON/YAML on stdin -> binary on stdout
 *   xg-pbjson types                         every registered message type */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "xds/pb_registry.h"
#include "xds/pbjson.h"

#define ERRLEN 1024

/* Reads all of f into b (NUL-terminated). 0, XG_EIO or XG_ENOMEM. */
static int read_all(FILE *f, xg_buf *b)
{
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (xg_buf_append(b, chunk, n) != 0)
            return XG_ENOMEM;
    }
    if (ferror(f))
        return XG_EIO;
    return xg_buf_reserve(b, 1); /* so that data is non-NULL even when stdin is empty */
}

static int write_all(const void *p, size_t n)
{
    if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) {
        fprintf(stderr, "xg-pbjson: write error\n");
        return 1;
    }
    return 0;
}

static const ProtobufCMessageDescriptor *find_type(const char *name)
{
    const ProtobufCMessageDescriptor *d = xg_pb_find_type(name);

    if (d == NULL)
        fprintf(stderr, "xg-pbjson: unknown message type '%s' (see: xg-pbjson types)\n", name);
    return d;
}

static int cmd_decode(const char *type, unsigned flags)
{
    const ProtobufCMessageDescriptor *d = find_type(type);
    char err[ERRLEN] = "";
    ProtobufCMessage *m = NULL;
    xg_buf in, out;
    int rc = 1;

    xg_buf_init(&in);
    xg_buf_init(&out);
    if (d == NULL)
        goto done;
    if (read_all(stdin, &in) != 0) {
        fprintf(stderr, "xg-pbjson: cannot read stdin\n");
        goto done;
    }
    m = protobuf_c_message_unpack(d, NULL, in.len, (const uint8_t *)in.data);
    if (m == NULL) {
        fprintf(stderr, "%s: invalid or truncated protobuf (%zu bytes)\n", d->name, in.len);
        goto done;
    }
    if (xg_pbjson_write(m, flags, &out, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (xg_buf_putc(&out, '\n') != 0 || write_all(out.data, out.len) != 0)
        goto done;
    rc = 0;
done:
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    xg_buf_dispose(&in);
    xg_buf_dispose(&out);
    return rc;
}

static int cmd_encode(const char *type)
{
    const ProtobufCMessageDescriptor *d = find_type(type);
    char err[ERRLEN] = "";
    ProtobufCMessage *m = NULL;
    uint8_t *packed = NULL;
    size_t n;
    xg_buf in;
    int rc = 1;

    xg_buf_init(&in);
    if (d == NULL)
        goto done;
    if (read_all(stdin, &in) != 0) {
        fprintf(stderr, "xg-pbjson: cannot read stdin\n");
        goto done;
    }
    if (xg_pbjson_parse(d, in.data, in.len, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    n = protobuf_c_message_get_packed_size(m);
    packed = malloc(n ? n : 1);
    if (packed == NULL) {
        fprintf(stderr, "xg-pbjson: out of memory\n");
        goto done;
    }
    if (protobuf_c_message_pack(m, packed) != n) {
        fprintf(stderr, "%s: packed size mismatch\n", d->name);
        goto done;
    }
    rc = write_all(packed, n);
done:
    free(packed);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    xg_buf_dispose(&in);
    return rc;
}

static int cmd_types(void)
{
    size_t n, i;
    const struct xg__pb_entry *all = xg__pb_registry_table(&n);

    for (i = 0; i < n; i++)
        printf("%s\n", all[i].name);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: xg-pbjson decode TYPE [--proto-names]  (binary protobuf on stdin, JSON on stdout)\n"
                    "       xg-pbjson encode TYPE                  (JSON or YAML on stdin, binary on stdout)\n"
                    "       xg-pbjson types\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "types") == 0)
        return cmd_types();
    if (argc == 3 && strcmp(argv[1], "encode") == 0)
        return cmd_encode(argv[2]);
    if (argc == 3 && strcmp(argv[1], "decode") == 0)
        return cmd_decode(argv[2], 0);
    if (argc == 4 && strcmp(argv[1], "decode") == 0 && strcmp(argv[3], "--proto-names") == 0)
        return cmd_decode(argv[2], XG_PBJSON_PROTO_NAMES);
    return usage();
}
