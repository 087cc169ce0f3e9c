#!/usr/bin/python3
"""Proves that every message and enum in proto/ matches Envoy's official
definition field by field: same full name, field numbers, types, labels,
message/enum type names, oneof membership and map-ness; enum values by name
and number. Both sides are compiled with protoc into descriptor sets.

usage: check_descriptors.py PROTO_DIR OFFICIAL_DIR
Prints one line per mismatch and a summary line; exits 1 on any mismatch.
"""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

WKT_INCLUDE = "/usr/include"


def proto_files(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".proto"):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def official_includes(official):
    return [os.path.join(official, p) for p in ("envoy-api", "xds", "googleapis", "protoc-gen-validate")]


def compile_set(includes, files, out):
    cmd = ["protoc", "--include_imports", "--descriptor_set_out=" + out]
    cmd += ["-I" + i for i in includes] + files
    subprocess.run(cmd, check=True)
    fds = descriptor_pb2.FileDescriptorSet()
    with open(out, "rb") as fh:
        fds.ParseFromString(fh.read())
    return fds


def index(fds):
    """Maps full name -> (kind, proto) for every message and enum."""
    idx = {}

    def walk_msg(prefix, m):
        name = prefix + "." + m.name
        idx[name] = ("message", m)
        for n in m.nested_type:
            walk_msg(name, n)
        for e in m.enum_type:
            idx[name + "." + e.name] = ("enum", e)

    for f in fds.file:
        prefix = "." + f.package if f.package else ""
        for m in f.message_type:
            walk_msg(prefix, m)
        for e in f.enum_type:
            idx[prefix + "." + e.name] = ("enum", e)
    return idx


def is_map(idx, field):
    if field.type != field.TYPE_MESSAGE:
        return False
    kind, m = idx.get(field.type_name, (None, None))
    return kind == "message" and m.options.map_entry


def compare_message(name, ours, theirs, our_idx, their_idx, errors, newer):
    by_number = {f.number: f for f in theirs.field}
    for f in ours.field:
        where = "%s.%s (field %d)" % (name[1:], f.name, f.number)
        t = by_number.get(f.number)
        if "%s.%s" % (name[1:], f.name) in newer:
            if t is not None:
                errors.append("%s: listed in newer_than_pin.txt but the pinned protos have it" % where)
            continue
        if t is None:
            errors.append("%s: no field with this number in Envoy's %s" % (where, name[1:]))
            continue
        if t.name != f.name:
            errors.append("%s: Envoy names field %d '%s'" % (where, f.number, t.name))
        if t.type != f.type:
            errors.append("%s: type %s, Envoy has %s" % (
                where, descriptor_pb2.FieldDescriptorProto.Type.Name(f.type),
                descriptor_pb2.FieldDescriptorProto.Type.Name(t.type)))
        if t.label != f.label:
            errors.append("%s: label %s, Envoy has %s" % (
                where, descriptor_pb2.FieldDescriptorProto.Label.Name(f.label),
                descriptor_pb2.FieldDescriptorProto.Label.Name(t.label)))
        if t.type_name != f.type_name:
            errors.append("%s: type %s, Envoy has %s" % (where, f.type_name, t.type_name))
        if is_map(our_idx, f) != is_map(their_idx, t):
            errors.append("%s: map-ness differs from Envoy" % where)
        our_oneof = ours.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else None
        their_oneof = theirs.oneof_decl[t.oneof_index].name if t.HasField("oneof_index") else None
        if f.proto3_optional or t.proto3_optional:
            our_oneof = their_oneof = None
        if our_oneof != their_oneof:
            errors.append("%s: oneof %s, Envoy has %s" % (where, our_oneof, their_oneof))


def compare_enum(name, ours, theirs, errors):
    by_name = {v.name: v.number for v in theirs.value}
    for v in ours.value:
        if v.name not in by_name:
            errors.append("%s.%s: no such value in Envoy" % (name[1:], v.name))
        elif by_name[v.name] != v.number:
            errors.append("%s.%s = %d, Envoy has %d" % (name[1:], v.name, v.number, by_name[v.name]))


def newer_than_pin():
    """Names listed in newer_than_pin.txt (see there)."""
    names = set()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "newer_than_pin.txt")) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(line)
    return names


def main():
    proto_dir, official = sys.argv[1], sys.argv[2]
    newer = newer_than_pin()
    files = proto_files(proto_dir)
    with tempfile.TemporaryDirectory() as tmp:
        ours = compile_set([proto_dir, WKT_INCLUDE], files, os.path.join(tmp, "ours.pb"))
        theirs = compile_set(official_includes(official), files, os.path.join(tmp, "theirs.pb"))
    our_idx, their_idx = index(ours), index(theirs)
    errors = []
    checked = 0
    for name, (kind, proto) in sorted(our_idx.items()):
        if name.startswith(".google.protobuf."):
            continue
        other = their_idx.get(name)
        if name[1:] in newer:
            if other is not None:
                errors.append("%s: listed in newer_than_pin.txt but the pinned protos have it" % name[1:])
            continue
        if other is None:
            errors.append("%s: Envoy has no %s of this name" % (name[1:], kind))
            continue
        if other[0] != kind:
            errors.append("%s: is a %s in Envoy" % (name[1:], other[0]))
            continue
        checked += 1
        if kind == "message":
            compare_message(name, proto, other[1], our_idx, their_idx, errors, newer)
        else:
            compare_enum(name, proto, other[1], errors)
    for e in errors:
        print("MISMATCH " + e)
    print("descriptors: %d types checked in %d files" % (checked, len(files)))
    print("%d types matched Envoy, %d mismatches" % (checked, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
