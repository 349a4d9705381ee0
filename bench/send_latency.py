"""`bench/send.py --rtt-ms 10`: the send path through a relay that is a round trip away, against Postfix's own
load generator through the same delay.

A delay proxy (asyncio, on loopback, below) sits between the sender and smtp-sink and holds every chunk of
bytes for half the round trip in each direction (the TCP handshake itself is not delayed). Then, alternately,
--repeats times: our embedded send path with one connection (SEND_CONNECTIONS=1), with the default pool, one
and two Celery workers on PostgreSQL (each with the default pool), and `smtp-source -d -s K` (K sessions, each
reusing its connection; K = the pool size) sending the same number of messages of the same size, and K threads
streaming prebuilt messages with our SMTP transport alone (no database, no building: what the proxy and
smtp-sink on this machine let a pipelining sender reach, the rig's ceiling). Medians are compared. smtp-source waits for every reply (about four round trips a message); a pipelining connection
needs one (the wait for 354), so K of them can reach K / RTT messages a second: the `limit` in the output.
"""

import asyncio
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_POOL = 8  # SEND_CONNECTIONS' default


class _Side(asyncio.Protocol):
    """One end of a proxied connection: what it receives is written to the other end `delay` seconds later.

    Writes are scheduled on the event loop's clock (call_at) rather than by a task per direction: the proxy
    must not be what limits the senders it measures. Due times only grow, so the bytes keep their order.
    """

    def __init__(self, delay: float):
        self.delay, self.peer, self.transport, self.last_due = delay, None, None, 0.0
        self.early: list[bytes] = []  # what the client sent before the server side was connected

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _later(self, action, *args) -> None:
        loop = asyncio.get_running_loop()
        self.last_due = max(loop.time() + self.delay, self.last_due + 1e-7)
        loop.call_at(self.last_due, action, *args)

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        else:
            self._later(self.peer.write, data)

    def eof_received(self):
        if self.peer is not None:
            self._later(self.peer.close)
        return False

    def connection_lost(self, _exc) -> None:
        if self.peer is not None:
            self._later(self.peer.close)


async def _serve(listen: int, target: int, delay: float) -> None:
    loop = asyncio.get_running_loop()

    def client_side() -> _Side:
        side = _Side(delay)

        async def connect_server() -> None:
            try:
                server_transport, server_side = await loop.create_connection(lambda: _Side(delay), "127.0.0.1",
                                                                             target)
            except OSError:
                side.transport.close()
                return
            server_side.peer, side.peer = side.transport, server_transport
            for one in (side, server_side):  # anything either end said before both were connected
                for data in one.early:
                    one._later(one.peer.write, data)

        loop.create_task(connect_server())
        return side

    server = await loop.create_server(client_side, "127.0.0.1", listen, backlog=256)
    async with server:
        await server.serve_forever()


def run_proxy(argv: list[str]) -> None:
    """`send.py --proxy LISTEN TARGET RTT_MS`: the delay proxy, in the foreground."""
    listen, target, rtt_ms = int(argv[0]), int(argv[1]), float(argv[2])
    asyncio.run(_serve(listen, target, rtt_ms / 2000))


def start_proxy(listen: int, target: int, rtt_ms: float) -> subprocess.Popen:
    proxy = subprocess.Popen([sys.executable, str(Path(__file__).with_name("send.py")), "--proxy", str(listen),
                              str(target), str(rtt_ms)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", listen), timeout=1).close()
            return proxy
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the delay proxy did not start")


def smtp_source(n: int, sessions: int, port: int, size: int) -> float:
    """Messages per second for Postfix's smtp-source: `sessions` parallel sessions, each reusing its connection."""
    started = time.perf_counter()
    subprocess.run(["smtp-source", "-d", "-s", str(sessions), "-m", str(n), "-l", str(size),
                    "-f", "maya@example.org", "-t", "reader@example.net", f"127.0.0.1:{port}"],
                   check=True, stdout=subprocess.DEVNULL)
    return n / (time.perf_counter() - started)


def bare_pipelined(n: int, connections: int, port: int, size: int) -> float:
    """Messages per second for `connections` threads streaming prebuilt messages through the proxy with our
    SMTP transport alone (no database, no building, no signing): what this rig lets a pipelining sender reach,
    the ceiling the send path is measured against."""
    import threading

    from newsletter.mail.transport import SmtpTransport

    raw = b"Subject: bench\r\nFrom: maya@example.org\r\n\r\n" + b"y" * max(0, size - 60)

    def stream(count: int) -> None:
        transport = SmtpTransport("127.0.0.1", port, timeout=30)
        transport.pipelines()
        transport.write_envelope("maya@example.org", "reader@example.net")
        for left in range(count - 1, -1, -1):
            transport.read_envelope_replies()
            if left:
                transport.write_envelope("maya@example.org", "reader@example.net", content=raw)
            else:
                transport.write_content(raw)
            transport.read_content_reply()
        transport.close()

    threads = [threading.Thread(target=stream, args=(n // connections,)) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return n // connections * connections / (time.perf_counter() - started)


def compare(args, app_env, run_child, celery_run, proxy_port: int) -> dict:
    """The five senders through the proxy, alternately, --repeats times; medians and ratios."""
    n = int(args.sizes.split(",")[0])
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    seeded, database = work / "seeded.db", work / "bench.db"
    env = app_env(f"sqlite:///{database}", str(work))
    run_child(env, "seed", n)
    shutil.copyfile(database, seeded)
    size = run_child(env, "size", 1)["message_bytes"]
    runs: dict[str, list[float]] = {"one": [], "pool": [], "celery_1w": [], "celery_2w": [], "source": [],
                                    "bare": []}
    pool = int(env.get("SEND_CONNECTIONS", DEFAULT_POOL))
    for _ in range(args.repeats):
        for name, extra in (("one", {"SEND_CONNECTIONS": "1"}), ("pool", {})):
            for leftover in work.glob("bench.db*"):
                leftover.unlink()
            shutil.copyfile(seeded, database)
            runs[name].append(run_child(dict(env, **extra), "ours", n)["msgs_per_s"])
        if not args.no_celery:
            runs["celery_1w"].append(celery_run(n, 1, args.pg, args.broker)[0])
            runs["celery_2w"].append(celery_run(n, 2, args.pg, args.broker)[0])
        runs["source"].append(smtp_source(n, pool, proxy_port, size))
        runs["bare"].append(bare_pipelined(n, pool, proxy_port, size))
        print(f"  one connection {runs['one'][-1]:.0f} msg/s, pool of {pool} {runs['pool'][-1]:.0f}, "
              + (f"Celery 1 worker {runs['celery_1w'][-1]:.0f}, 2 workers {runs['celery_2w'][-1]:.0f}, "
                 if not args.no_celery else "")
              + f"smtp-source -s {pool} {runs['source'][-1]:.0f}, bare pipelined x{pool} {runs['bare'][-1]:.0f}",
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(rates) if rates else float("nan") for name, rates in runs.items()}
    limit = pool * 1000 / args.rtt_ms
    result = dict(
        rtt_ms=args.rtt_ms, n=n, connections=pool, message_bytes=size, repeats=args.repeats,
        latency_msgs_per_s=round(median["pool"], 1), latency_ref_msgs_per_s=round(median["source"], 1),
        latency_ratio=round(median["pool"] / median["source"], 3),
        latency_one_connection_msgs_per_s=round(median["one"], 1),
        latency_limit_msgs_per_s=round(limit), latency_share_of_limit=round(median["pool"] / limit, 3),
        latency_rig_msgs_per_s=round(median["bare"], 1),
        latency_share_of_rig=round(median["pool"] / median["bare"], 3),
        all=dict((name, [round(rate) for rate in rates]) for name, rates in runs.items()),
    )
    if not args.no_celery:
        result.update(latency_msgs_per_s_1w=round(median["celery_1w"], 1),
                      latency_msgs_per_s_2w=round(median["celery_2w"], 1),
                      latency_scaling_2w=round(median["celery_2w"] / median["celery_1w"], 3))
    print(f"RTT {args.rtt_ms} ms, n={n}: one connection {median['one']:.0f} msg/s, pool of {pool} "
          f"{median['pool']:.0f} msg/s ({median['pool'] / limit:.0%} of {pool} x 1/RTT = {limit:.0f}), "
          f"smtp-source -d -s {pool} {median['source']:.0f} msg/s, ratio {result['latency_ratio']:.2f} "
          f"(target >= 2.0)")
    print(f"  the rig's ceiling: {pool} bare pipelined connections (our transport alone, prebuilt messages) "
          f"{median['bare']:.0f} msg/s; the pool reached {result['latency_share_of_rig']:.0%} of it")
    if not args.no_celery:
        print(f"  Celery on PostgreSQL: 1 worker {median['celery_1w']:.0f} msg/s, 2 workers "
              f"{median['celery_2w']:.0f} msg/s, scaling {result['latency_scaling_2w']:.2f}x (target >= 1.6x)")
    return result


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()

