#!/usr/bin/env python3
"""Opens N connections to 127.0.0.1:PORT, makes one GET / on each (HTTP/1.1
keep-alive, or h2c with prior knowledge), then holds them all idle until its
standard input closes. Prints "ready N" when every connection has had its
response, "failed N: reason" when one could not. Used by run.py to measure a
proxy's resident memory per idle connection. Closes with RST (SO_LINGER 0) so
the runs leave no TIME_WAIT behind."""
import asyncio
import resource
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events

OPEN_AT_ONCE = 200


async def one_h1(port, conns):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    conns.append(w)
    w.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    head = await r.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("status line %r" % head[:40])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await r.readexactly(length)
    # keep the reader around: a closed or reset connection would not be idle
    return r


async def one_h2(port, conns):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    conns.append(w)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "bench")],
                   end_stream=True)
    w.write(c.data_to_send())
    done = False
    while not done:
        data = await r.read(65536)
        if not data:
            raise RuntimeError("closed before the response")
        for ev in c.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if isinstance(ev, h2.events.StreamEnded) or isinstance(ev, h2.events.StreamReset):
                done = True
        w.write(c.data_to_send())
    await w.drain()
    return r


async def main():
    port, n, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    one = one_h1 if kind == "h1" else one_h2
    conns, readers = [], []
    sem = asyncio.Semaphore(OPEN_AT_ONCE)

    async def guarded():
        async with sem:
            readers.append(await one(port, conns))

    try:
        await asyncio.gather(*(guarded() for _ in range(n)))
    except Exception as e:  # noqa: BLE001 - reported to the driver, which stops
        print("failed %d: %s" % (len(readers), e), flush=True)
        return 1
    print("ready %d" % len(readers), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for w in conns:
        sock = w.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
