"""A TCP relay that adds a fixed delay each way: PostgreSQL "over a network" for the benchmarks
(``--pg-latency`` of bench/api.py and bench/writes.py), on a machine where ``tc``'s netem is not
available.

Each direction of each connection has a reader thread and a sender thread: what the reader gets
is stamped and queued, and the sender sends it once the delay has passed since it arrived, in
order. Python's ``time.sleep`` is precise to some tens of microseconds here, so delays below a
millisecond are kept (asyncio's timers round up to whole milliseconds). The relay runs in a
process of its own, so its own work (a few system calls per message) competes for the machine's
cores but not for the server's interpreter lock.

Run by hand:  .venv/bin/python bench/latency.py --listen 15432 --to 127.0.0.1:5432 --delay-ms 0.25
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import socket
import threading
import time


def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
    queue: collections.deque[tuple[float, bytes]] = collections.deque()
    ready = threading.Condition()
    done = [False]

    def send() -> None:
        while True:
            with ready:
                while not queue and not done[0]:
                    ready.wait()
                if not queue:
                    break
                due, data = queue.popleft()
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                target.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    while True:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        with ready:
            if data:
                queue.append((time.perf_counter() + delay, data))
            else:
                done[0] = True
            ready.notify()
        if not data:
            break
    sender.join()


def _relay(client: socket.socket, upstream: tuple[str, int], delay: float) -> None:
    server = socket.create_connection(upstream)
    for end in (client, server):
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(server, client, delay), daemon=True)
    back.start()
    _pump(client, server, delay)
    back.join()
    client.close()
    server.close()


def serve(listen: int, upstream: tuple[str, int], delay: float) -> None:
    listener = socket.create_server(("127.0.0.1", listen), backlog=256)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, upstream, delay), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--to", required=True, metavar="HOST:PORT")
    parser.add_argument("--delay-ms", type=float, required=True, help="added each way")
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    serve(args.listen, (host, int(port)), args.delay_ms / 1000)


if __name__ == "__main__":
    main()
