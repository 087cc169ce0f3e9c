"""A real gRPC client for envoy.service.ratelimit.v3.RateLimitService
(python3-grpcio), with message classes built at run time from our proto/
tree: protoc writes a descriptor set, google.protobuf's message factory turns
it into classes. Used by the stub's RLS tests and usable by any test that
wants to ask an RLS directly."""
import os
import subprocess
import tempfile

import harness

RLS_PROTO = "envoy/service/ratelimit/v3/rls.proto"
METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"

_classes = None


def messages():
    """(RateLimitRequest, RateLimitResponse) classes, built once per process."""
    global _classes
    if _classes is None:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "rls.pb")
            subprocess.run(["protoc", "-I" + os.path.join(harness.ROOT, "proto"), "-I/usr/include",
                            "--include_imports", "--descriptor_set_out=" + out, RLS_PROTO], check=True)
            with open(out, "rb") as f:
                fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            pool.Add(fd)

        def cls(name):
            desc = pool.FindMessageTypeByName(name)
            if hasattr(message_factory, "GetMessageClass"):
                return message_factory.GetMessageClass(desc)
            return message_factory.MessageFactory(pool).GetPrototype(desc)
        _classes = (cls("envoy.service.ratelimit.v3.RateLimitRequest"),
                    cls("envoy.service.ratelimit.v3.RateLimitResponse"))
    return _classes


def request(domain, descriptors, hits_addend=0):
    """descriptors: a list of lists of (key, value) pairs, or dicts
    {"entries": [...], "limit": (requests_per_unit, unit)} for an override."""
    req_cls, _ = messages()
    req = req_cls(domain=domain, hits_addend=hits_addend)
    for d in descriptors:
        entries, limit = (d["entries"], d.get("limit")) if isinstance(d, dict) else (d, None)
        pd = req.descriptors.add()
        for k, v in entries:
            e = pd.entries.add()
            e.key, e.value = k, v
        if limit is not None:
            pd.limit.requests_per_unit, pd.limit.unit = limit
    return req


class Client:
    """One channel to an RLS at 127.0.0.1:port."""

    def __init__(self, port):
        import grpc
        self.grpc = grpc
        _, resp_cls = messages()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.call = self.channel.unary_unary(METHOD, request_serializer=lambda m: m.SerializeToString(),
                                             response_deserializer=resp_cls.FromString)

    def check(self, domain, descriptors, hits_addend=0, timeout=5.0):
        """The RateLimitResponse; raises grpc.RpcError on a gRPC error."""
        return self.call(request(domain, descriptors, hits_addend), timeout=timeout)

    def raw(self, payload, timeout=5.0):
        """Sends payload bytes as the request message (malformed-input tests)."""
        call = self.channel.unary_unary(METHOD, request_serializer=lambda b: b,
                                        response_deserializer=messages()[1].FromString)
        return call(payload, timeout=timeout)

    def close(self):
        self.channel.close()


OK, OVER_LIMIT = 1, 2
SECOND, MINUTE, HOUR, DAY = 1, 2, 3, 4
