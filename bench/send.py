"""Send-path throughput against Postfix's smtp-sink, side by side with raw smtplib over one connection.

    .venv/bin/python bench/send.py [--sizes 10000,100000] [--repeats 3] [--celery-size 20000] [--pg URL]
                                   [--no-celery] [--max-steal 0.1] [--set SEND_WINDOW=1 ...]
    .venv/bin/python bench/send.py --dkim [--sizes 10000] [--repeats 3]     (signed against unsigned: bench/send_dkim.py)
    .venv/bin/python bench/send.py --rtt-ms 10 [--sizes 5000] [--repeats 3]  (a relay 10 ms away: bench/send_latency.py)

For each size N: N synthetic confirmed readers in a fresh SQLite database, one issue, sent by the embedded
send path (one worker) to smtp-sink; then the same number of prebuilt messages of the same size sent with raw
smtplib over one reused connection to the same sink; both alternately, --repeats times, medians compared.
Each measurement runs in its own process, so peak RSS is the send path's own. Then, on PostgreSQL, the same
issue sent by 1 and by 2 Celery workers (Redis broker), alternately, --repeats times each, with how many of
the machine's cores were busy while they sent (everything on the machine shares them: workers, PostgreSQL,
smtp-sink), and how much of a core the host took from this virtual machine meanwhile (steal). A pair of runs
with more steal than --max-steal measured another guest, not the send path: it is printed, set aside and run
again. The last line is one JSON object.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import send_dkim  # noqa: E402  (bench/send_dkim.py, beside this script)
import send_latency  # noqa: E402
SINK_PORT = 2526
PROXY_PORT = 2527
RELAY = {"port": SINK_PORT}  # where the send path under test sends: the sink, or the delay proxy before it
SECRET = "bench-secret-key-0123456789abcdef0123456789"


def start_sink() -> subprocess.Popen:
    """smtp-sink on loopback (installs Debian's postfix if it is missing)."""
    if shutil.which("smtp-sink") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "postfix"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen(["smtp-sink", *user, f"127.0.0.1:{SINK_PORT}", "1000"])
    for _ in range(50):
        try:
            smtplib.SMTP("127.0.0.1", SINK_PORT, timeout=1).quit()
            return sink
        except OSError:
            time.sleep(0.1)
    raise SystemExit("smtp-sink did not start")


SETTINGS: dict[str, str] = {}  # --set NAME=VALUE: settings of the send path under test (SEND_WINDOW=1...)


def app_env(database_url: str, instance: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "SEND_", "CELERY", "DATABASE"))}
    env.update(NEWSLETTER_ENV="testing", SECRET_KEY=SECRET, DATABASE_URL=database_url, INSTANCE_PATH=instance,
               BASE_URL="https://news.example.org", MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1",
               MAIL_PORT=str(RELAY["port"]), **SETTINGS, **extra)
    return env


def child(argv: list[str]) -> None:
    """Run one measurement in this process and print one JSON line."""
    mode, n = argv[0], int(argv[1])
    from newsletter import create_app

    app = create_app({"START_SENDER": False})
    with app.app_context():
        if mode == "seed":
            seed(app, n)
            print(json.dumps({"seeded": n}))
        elif mode == "ours":
            print(json.dumps(send_ours(app)))
        elif mode == "raw":
            print(json.dumps(send_raw(app, n)))
        elif mode == "size":
            print(json.dumps({"message_bytes": len(prebuilt(1)[0])}))


def seed(app, n: int) -> None:
    """Migrate, then N confirmed readers and one draft issue, written in bulk (not through the services)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from newsletter import accounts, newsletters
    from newsletter.extensions import db
    from newsletter.models import Issue, Subscriber, Subscription, utcnow

    upgrade()
    accounts.create_user("maya@example.org", "bench password 1234")
    item = newsletters.create_newsletter("maya@example.org", slug="bench", name="Slow Mornings",
                                         from_email="maya@example.org", from_name="Maya")
    db.session.flush()
    now = utcnow()
    for start in range(0, n, 5000):
        people = [dict(id=i + 1, email=f"reader{i}@example.net", email_hmac=f"{i:064x}", name=f"Reader {i}",
                       token_nonce=f"n{i}", created_at=now) for i in range(start, min(n, start + 5000))]
        db.session.execute(insert(Subscriber), people)
        db.session.execute(insert(Subscription), [
            dict(subscriber_id=p["id"], newsletter_id=item.id, status="confirmed", token_nonce=f"s{p['id']}",
                 consent_at=now, consent_source="https://news.example.org/n/bench", confirmed_at=now,
                 created_at=now, updated_at=now) for p in people])
    body = ("A paragraph about breathing slowly, with a [link](https://example.org/a) and some *emphasis*.\n\n"
            * 12)
    db.session.add(Issue(newsletter=item, subject="Breathing, slowly", body_markdown=body))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Statistics as autovacuum keeps them on a database in use (the readers were written a second ago).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")


def send_ours(app) -> dict:
    """Start the issue and run the embedded send path until it is sent."""
    from sqlalchemy import select

    from newsletter.extensions import db
    from newsletter.mail.transport import make_transport
    from newsletter.models import Issue, utcnow
    from newsletter.sending.work import SendState, run_issue_work

    issue = db.session.scalar(select(Issue))
    issue.status, issue.started_at = "sending", utcnow()
    db.session.commit()
    state, transport = SendState(app), make_transport(app.config, app.instance_path)
    signatures = send_dkim.SignatureClock() if app.config["DKIM_PRIVATE_KEY_FILE"] else None
    started, cpu_started = time.perf_counter(), time.process_time()
    while True:
        run_issue_work(state, transport, budget=30)
        db.session.expire_all()
        if db.session.get(Issue, issue.id).status != "sending":
            break
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    transport.close()
    sent = db.session.get(Issue, issue.id).recipients
    result = {"sent": sent, "seconds": elapsed, "msgs_per_s": sent / elapsed, "peak_rss_mb": peak_rss_mb(),
              "cpu_us_per_msg": cpu / sent * 1e6}  # this process's CPU time: robust to waiting for a core
    if signatures is not None:
        result.update(signatures.figures())
    return result


def send_raw(app, n: int) -> dict:
    """The reference: prebuilt messages of the same size over one reused smtplib connection."""
    pool = prebuilt(500)
    connection = smtplib.SMTP("127.0.0.1", SINK_PORT)
    started = time.perf_counter()
    for i in range(n):
        connection.sendmail("maya@example.org", [f"reader{i}@example.net"], pool[i % len(pool)])
    elapsed = time.perf_counter() - started
    connection.quit()
    return {"sent": n, "seconds": elapsed, "msgs_per_s": n / elapsed, "message_bytes": len(pool[0])}


def prebuilt(count: int) -> list[bytes]:
    """`count` messages of the seeded issue, as the send path builds them."""
    from sqlalchemy import select

    from newsletter.extensions import db
    from newsletter.mail.issue_message import IssueTemplate, Reader
    from newsletter.models import Issue, utcnow

    template = IssueTemplate(db.session.scalar(select(Issue)))
    return [template.message_for(Reader(f"reader{i}@example.net", f"Reader {i}", "u" * 70, "p" * 70, utcnow(),
                                        "https://news.example.org/n/bench", i + 1)) for i in range(count)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(env: dict, *args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def embedded(n: int, repeats: int) -> dict:
    """Our send path (embedded runner, SQLite) and the raw reference, for N readers, `repeats` times each.

    The runs alternate (ours, raw, ours, raw...) on a copy of the same seeded database, and the medians are
    compared: on a shared machine the load changes from one second to the next, and alternating exposes both
    sides to it alike.
    """
    work = Path(tempfile.mkdtemp(prefix="bench-send-"))
    seeded, database = work / "seeded.db", work / "bench.db"
    env = app_env(f"sqlite:///{database}", str(work))
    run_child(env, "seed", n)
    shutil.copyfile(database, seeded)
    ours, raw = [], []
    for _ in range(repeats):
        for leftover in work.glob("bench.db*"):
            leftover.unlink()
        shutil.copyfile(seeded, database)
        ours.append(run_child(env, "ours", n))
        raw.append(run_child(env, "raw", n))
    shutil.rmtree(work, ignore_errors=True)
    ours_rate = statistics.median(run["msgs_per_s"] for run in ours)
    raw_rate = statistics.median(run["msgs_per_s"] for run in raw)
    return {"n": n, "msgs_per_s": round(ours_rate, 1), "raw_msgs_per_s": round(raw_rate, 1),
            "ratio": round(ours_rate / raw_rate, 3), "peak_rss_mb": round(max(run["peak_rss_mb"] for run in ours), 1),
            "message_bytes": raw[0]["message_bytes"], "repeats": repeats,
            "all_msgs_per_s": [round(run["msgs_per_s"]) for run in ours],
            "all_raw_msgs_per_s": [round(run["msgs_per_s"]) for run in raw]}


def celery_run(n: int, workers: int, pg_url: str, broker: str) -> tuple[float, float, float]:
    """Messages per second for `workers` Celery workers on PostgreSQL (from the issue's own timestamps), how
    many cores the machine kept busy meanwhile, and how many the host took away (steal)."""
    import psycopg
    import redis

    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    redis.Redis.from_url(broker).flushdb()
    work = tempfile.mkdtemp(prefix="bench-celery-")
    env = app_env(pg_url, work, CELERY_BROKER_URL=broker, SEND_PARALLEL_TASKS=str(workers * 2))
    run_child(env, "seed", n)
    command = [sys.executable, "-m", "celery", "-A", "newsletter.tasks", "worker", "--pool=solo",
               "--loglevel=WARNING", "--without-mingle", "--without-gossip"]
    procs = [subprocess.Popen(command + ["-n", f"w{i}@%h"] + (["-B", "--schedule", f"{work}/beat"] if i == 0 else []),
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(workers)]
    try:
        time.sleep(4)  # let the workers connect before the issue starts
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute("UPDATE issues SET status='sending', started_at=now() at time zone 'utc'")
            first = None  # the machine's CPU counters once the first message is out
            while True:
                status, some_sent = connection.execute(
                    "SELECT status, EXISTS (SELECT 1 FROM deliveries WHERE issue_id = issues.id AND status = 'sent') "
                    "FROM issues").fetchone()
                if first is None and some_sent:
                    first = cpu_ticks()
                if status != "sending":
                    break
                time.sleep(0.1)
            busy, steal = busy_cores(first, cpu_ticks())
            # From the first message handed over to the last: the workers' own pace, not the tick's delay.
            seconds = connection.execute("SELECT extract(epoch FROM max(sent_at) - min(sent_at)), count(*) "
                                         "FROM deliveries WHERE status = 'sent'").fetchone()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return float(seconds[1]) / float(seconds[0]), busy, steal


def cpu_ticks() -> tuple[float, float, float]:
    """(busy, steal, all) CPU time of the whole machine so far, from /proc/stat (clock ticks, every core)."""
    fields = [float(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle, steal = fields[3] + fields[4], fields[7]  # idle and iowait; time the host gave another guest
    return sum(fields) - idle - steal, steal, sum(fields)


def busy_cores(first: tuple[float, float, float] | None, last: tuple[float, float, float]) -> tuple[float, float]:
    """How many of the machine's cores were busy on average between two readings (workers, PostgreSQL, the
    sink and everything else on the machine), and how many the host took away."""
    if first is None or last[2] == first[2]:
        return float("nan"), float("nan")
    cores = (os.cpu_count() or 1) / (last[2] - first[2])
    return (last[0] - first[0]) * cores, (last[1] - first[1]) * cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of ours and raw per size")
    parser.add_argument("--celery-size", type=int, default=20000)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL",
                                                       "postgresql+psycopg://postgres@127.0.0.1:5432/newsletter_bench"))
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-celery", action="store_true")
    parser.add_argument("--max-steal", type=float, default=0.1,
                        help="cores the host may take (steal) during a pair of Celery runs before it is run again")
    parser.add_argument("--dkim", action="store_true",
                        help="send the issue DKIM-signed and unsigned, alternately, and compare (bench/send_dkim.py)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the send path under test, e.g. --set SEND_WINDOW=1 (repeatable)")
    parser.add_argument("--rtt-ms", type=float, default=0,
                        help="put a delay proxy of this round trip before the sink and compare with smtp-source")
    args = parser.parse_args()
    for setting in args.set:
        name, equals, value = setting.partition("=")
        if not equals or not name.startswith("SEND_"):
            parser.error(f"--set takes NAME=VALUE with a SEND_ setting, not {setting!r}")
        SETTINGS[name] = value
    sink = start_sink()
    if args.rtt_ms:
        proxy = send_latency.start_proxy(PROXY_PORT, SINK_PORT, args.rtt_ms)
        RELAY["port"] = PROXY_PORT
        try:
            if not args.no_celery:
                ensure_database(args.pg)
            result = send_latency.compare(args, app_env, run_child, celery_run, PROXY_PORT)
        finally:
            send_latency.stop(proxy)
            sink.terminate()
        print(json.dumps(result))
        return
    if args.dkim:
        try:
            result = send_dkim.compare(int(args.sizes.split(",")[0]), args.repeats, app_env, run_child)
        finally:
            sink.terminate()
        print(json.dumps(result))
        return
    try:
        runs = [embedded(int(n), args.repeats) for n in args.sizes.split(",")]
        for run in runs:
            print(f"n={run['n']:>7}  ours {run['msgs_per_s']:>7.1f} msg/s   raw smtplib {run['raw_msgs_per_s']:>7.1f} msg/s"
                  f"   ratio {run['ratio']:.2f} (target >= 0.8)   peak RSS {run['peak_rss_mb']:.1f} MB"
                  f"   (medians of {run['repeats']}: ours {run['all_msgs_per_s']}, raw {run['all_raw_msgs_per_s']})")
        result = dict(runs[-1])
        result["runs"] = runs
        if len(runs) > 1:
            result["rss_growth"] = round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3)
            print(f"peak RSS {runs[-1]['n']} / {runs[0]['n']}: {result['rss_growth']:.2f}x (target <= 1.2x)")
        if not args.no_celery:
            result.update(celery_scaling(args))
    finally:
        sink.terminate()
    print(json.dumps(result))


def celery_scaling(args) -> dict:
    """1 and 2 Celery workers, alternately, --repeats pairs of runs, medians compared. A pair during which the
    host took more than --max-steal of a core from this virtual machine measured the other guest: it is set
    aside, printed, and run again (at most --repeats times more)."""
    ensure_database(args.pg)
    kept, aside = [], []
    while len(kept) < args.repeats and len(kept) + len(aside) < 2 * args.repeats:
        pair = (celery_run(args.celery_size, 1, args.pg, args.broker),
                celery_run(args.celery_size, 2, args.pg, args.broker))
        (kept if max(pair[0][2], pair[1][2]) <= args.max_steal else aside).append(pair)
    used = kept or aside  # no quiet pair at all: use every run, and say so
    one, two = [run for run, _ in used], [run for _, run in used]
    one_rate, two_rate = (statistics.median(rate for rate, _, _ in runs) for runs in (one, two))
    one_busy, two_busy = (statistics.median(busy for _, busy, _ in runs) for runs in (one, two))
    one_steal, two_steal = (statistics.median(steal for _, _, steal in runs) for runs in (one, two))
    result = dict(celery_n=args.celery_size, msgs_per_s_1w=round(one_rate, 1), msgs_per_s_2w=round(two_rate, 1),
                  scaling_2w=round(two_rate / one_rate, 3), busy_cores_1w=round(one_busy, 2),
                  busy_cores_2w=round(two_busy, 2), steal_cores_1w=round(one_steal, 2),
                  steal_cores_2w=round(two_steal, 2), all_msgs_per_s_1w=[round(rate) for rate, _, _ in one],
                  all_msgs_per_s_2w=[round(rate) for rate, _, _ in two], max_steal=args.max_steal,
                  set_aside_for_steal=[dict(msgs_per_s_1w=round(a[0]), steal_1w=round(a[2], 2),
                                            msgs_per_s_2w=round(b[0]), steal_2w=round(b[2], 2)) for a, b in aside])
    print(f"Celery on PostgreSQL, n={args.celery_size}: 1 worker {one_rate:.1f} msg/s, 2 workers "
          f"{two_rate:.1f} msg/s, scaling {two_rate / one_rate:.2f}x (target >= 1.6x)   (medians of "
          f"{len(used)}: 1 worker {result['all_msgs_per_s_1w']}, 2 workers {result['all_msgs_per_s_2w']})")
    print(f"  cores busy while sending (workers, PostgreSQL, smtp-sink, the rest of the machine): "
          f"{one_busy:.2f} of {os.cpu_count()} with 1 worker, {two_busy:.2f} with 2; taken by the host (steal) "
          f"{one_steal:.2f} and {two_steal:.2f}")
    for entry in result["set_aside_for_steal"]:
        print(f"  set aside, the host took more than {args.max_steal} of a core: 1 worker "
              f"{entry['msgs_per_s_1w']} msg/s (steal {entry['steal_1w']}), 2 workers {entry['msgs_per_s_2w']} "
              f"msg/s (steal {entry['steal_2w']})")
    if not kept:
        print(f"  no pair of runs had the host take at most {args.max_steal} of a core: the figures above are "
              f"all of them, and measure the host as much as the send path")
    return result


def ensure_database(url: str) -> None:
    import psycopg

    base, _, name = url.replace("postgresql+psycopg://", "postgresql://").partition("?")[0].rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--proxy":
        send_latency.run_proxy(sys.argv[2:])
    else:
        main()
