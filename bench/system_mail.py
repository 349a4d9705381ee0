"""Why issues keep the pipelined transport and system mail takes Flask-Mail: the cost of one message each way.

    flock /tmp/bench.lock .venv/bin/python bench/system_mail.py [--n 2000] [--repeats 5]

The same issue, personalised for N readers, sent to Postfix's smtp-sink on loopback over one SMTP session,
alternately --repeats times each way, medians compared:
- flask_mail: a Flask-Mail Message per reader (the issue's text and HTML with the reader's links, its MIME
  tree built and encoded per message), sent by Flask-Mail's Connection (smtplib's sendmail: one round trip
  per command);
- pipelined: the bulk path, IssueTemplate.message_for (the issue encoded once, the reader's few values
  joined in) and SmtpTransport.send (MAIL, RCPT and DATA in one write).
It also prints what one confirmation costs through Flask-Mail (templates rendered, Message built, bytes
queued), the work a subscribe request asks for. The last line is one JSON object.
"""

import argparse
import email
import json
import statistics
import sys
import tempfile
import time
from email.policy import default
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from send import SECRET, SINK_PORT, start_sink  # noqa: E402  (same sink; benchmarks never run together)


def make_app(work: Path):
    from flask_migrate import upgrade

    from newsletter import accounts, create_app, newsletters
    from newsletter.extensions import db
    from newsletter.models import Issue

    app = create_app({"NEWSLETTER_ENV": "testing", "SECRET_KEY": SECRET, "INSTANCE_PATH": str(work),
                      "DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "BASE_URL": "https://news.example.org",
                      "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(SINK_PORT),
                      "START_SENDER": False})
    with app.app_context():
        upgrade()
        accounts.create_user("maya@example.org", "bench password 1234")
        newsletters.create_newsletter("maya@example.org", slug="bench", name="Slow Mornings",
                                      from_email="maya@example.org", from_name="Maya")
        body = "A paragraph about breathing slowly, with a [link](https://example.org/a) and *emphasis*.\n\n" * 12
        db.session.add(Issue(newsletter_id=1, subject="Breathing, slowly", body_markdown=body))
        db.session.commit()
    return app


def reader(i: int):
    from newsletter.mail.issue_message import Reader
    from newsletter.models import utcnow

    return Reader(f"reader{i}@example.net", f"Reader {i}", f"u{i:069d}", f"p{i:069d}", utcnow(),
                  "https://news.example.org/n/bench", i + 1)


def send_pipelined(template, n: int) -> float:
    """Seconds for N messages: the bulk path's personalisation and pipelined transport."""
    from newsletter.mail.transport import SmtpTransport

    transport = SmtpTransport("127.0.0.1", SINK_PORT, timeout=30)
    started = time.perf_counter()
    for i in range(n):
        transport.send("maya@example.org", f"reader{i}@example.net", template.message_for(reader(i)))
    elapsed = time.perf_counter() - started
    transport.close()
    return elapsed


def send_flask_mail(template, n: int) -> float:
    """Seconds for N messages: a Flask-Mail Message per reader, sent by Flask-Mail's Connection."""
    from newsletter.extensions import mail
    from newsletter.mail.system import SystemMessage

    first = email.message_from_bytes(template.message_for(reader(0)), policy=default)
    text, html = (first.get_body((kind,)).get_content() for kind in ("plain", "html"))
    mine = (reader(0).unsubscribe_token, reader(0).preferences_token)
    with mail.connect() as connection:
        started = time.perf_counter()
        for i in range(n):
            theirs = reader(i)

            def personal(body: str) -> str:
                return body.replace(mine[0], theirs.unsubscribe_token).replace(mine[1], theirs.preferences_token)

            message = SystemMessage(subject=first["Subject"], recipients=[(theirs.name, theirs.email)],
                                    body=personal(text), html=personal(html), sender=("Maya", "maya@example.org"),
                                    extra_headers={"List-Unsubscribe": f"<{theirs.unsubscribe_token}>",
                                                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
            connection.send(message, "maya@example.org")
        elapsed = time.perf_counter() - started
    return elapsed


def one_confirmation_ms(repeats: int = 200) -> float:
    """Milliseconds to render, build and serialise one confirmation through Flask-Mail (median)."""
    from newsletter.extensions import db
    from newsletter.mail.system import system_message
    from newsletter.models import Newsletter

    newsletter = db.session.get(Newsletter, 1)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        system_message("confirm", newsletter, f"r{i}@example.net", "Zoë", confirm_url=f"https://x/c/{i}").as_bytes()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs each way, alternately")
    args = parser.parse_args()
    from sqlalchemy import select

    from newsletter.extensions import db
    from newsletter.mail.issue_message import IssueTemplate
    from newsletter.models import Issue

    sink = start_sink()
    try:
        app = make_app(Path(tempfile.mkdtemp(prefix="bench-system-mail-")))
        with app.app_context():
            template = IssueTemplate(db.session.scalar(select(Issue)))
            send_pipelined(template, 100), send_flask_mail(template, 100)  # warm up both
            pipelined, flask_mail = [], []
            for _ in range(args.repeats):
                pipelined.append(args.n / send_pipelined(template, args.n))
                flask_mail.append(args.n / send_flask_mail(template, args.n))
            confirmation_ms = one_confirmation_ms()
            size = len(template.message_for(reader(0)))
    finally:
        sink.terminate()
        sink.wait()
    fast, slow = statistics.median(pipelined), statistics.median(flask_mail)
    print(f"one issue ({size} bytes) to n={args.n} readers over one session, medians of {args.repeats}:")
    print(f"  pipelined transport {fast:,.0f} msg/s ({1000 / fast:.2f} ms per message)   {[round(r) for r in pipelined]}")
    print(f"  a Flask-Mail Message per reader {slow:,.0f} msg/s ({1000 / slow:.2f} ms per message)   "
          f"{[round(r) for r in flask_mail]}")
    print(f"  the pipelined transport is {fast / slow:.1f}x faster per message")
    print(f"one confirmation rendered and built through Flask-Mail: {confirmation_ms:.2f} ms")
    print(json.dumps({"n": args.n, "repeats": args.repeats, "message_bytes": size,
                      "pipelined_msgs_per_s": round(fast, 1), "flask_mail_msgs_per_s": round(slow, 1),
                      "ratio": round(fast / slow, 2), "confirmation_build_ms": round(confirmation_ms, 2)}))


if __name__ == "__main__":
    main()
