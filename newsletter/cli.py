"""Command line: thin wrappers over the services. Exit 0 done, 1 refused (reason on stderr), 2 usage.

A command that changes state writes an audit-log line (cli_auditing.py): @recorded, or record_run where the
command commits on its own.
"""

import os
import secrets
import sys
from functools import wraps
from pathlib import Path

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate.cli import db as database

from . import accounts, backup, newsletters, publishing, send_progress, sending_domains, two_factor
from .cli_auditing import on_issue, on_user, record_run, recorded
from .errors import DomainError, Refused
from .export import export_subscribers
from .extensions import db
from .importer import writer
from .importer.report import describe
from .links import external_url

users = AppGroup("users", help="Publisher and admin accounts.")
newsletters_group = AppGroup("newsletters", help="Newsletters.")
subscribers = AppGroup("subscribers", help="Readers: consent-checked import and export.")
issues = AppGroup("issues", help="Issues: write drafts from Markdown, send them.")
domains = AppGroup("domains", help="Sending domains: DKIM keys, the DNS records to publish, their check.")


def refusals(command):
    """Turn a domain error into one line on stderr and exit 1, with nothing committed."""

    @wraps(command)
    def wrapped(*args, **kwargs):
        try:
            result = command(*args, **kwargs)
            db.session.commit()
            return result
        except DomainError as error:
            db.session.rollback()
            click.echo(f"Error: {error.message}", err=True)
            sys.exit(1)

    return wrapped


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@refusals
@recorded(on_user)
def users_create(email: str, admin: bool, password_stdin: bool):
    """Create a publisher (an admin with --admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = accounts.create_user(email, password, admin=admin)
    click.echo(f"Created {'admin' if admin else 'publisher'} {user.email}.")
    return user


@users.command("reset-2fa")
@click.argument("email")
@refusals
@recorded(on_user)
def users_reset_two_factor(email: str):
    """Turn off EMAIL's two-factor login (a lost phone, or SECRET_KEY changed); they log in with the password
    alone and set it up again. Exit 1 if it is not on."""
    user = two_factor.reset(email)
    click.echo(f"Two-factor login of {user.email} is off: they log in with their password and set it up again.")
    return user


@newsletters_group.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The newsletter's name, as readers see it.")
@click.option("--owner", required=True, help="E-mail address of the publisher who owns it.")
@click.option("--from-email", help="Sender address (default: SLUG@SENDING_DOMAIN, else the owner's address).")
@click.option("--from-name", default="", help="Sender name (default: the newsletter's name).")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--cadence", type=click.Choice(["weekly", "fortnightly", "monthly", "quarterly", "irregular"]),
              default="monthly", show_default=True, help="How often readers can expect it.")
@click.option("--description", default="", help="What it is about, for the public page.")
@refusals
@recorded(lambda item, **_params: f"slug={item.slug}")
def newsletters_create(slug, name, owner, from_email, from_name, language, cadence, description):
    """Create a newsletter."""
    item = newsletters.create_newsletter(owner, slug=slug, name=name, from_email=from_email or "",
                                         from_name=from_name, language=language, cadence=cadence,
                                         description=description)
    click.echo(f"Created newsletter {item.slug} ({item.name}).")
    return item


@subscribers.command("export")
@click.argument("slug")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file, not stdout.")
@refusals
def subscribers_export(slug: str, output: str | None):
    """Confirmed readers as CSV in the import format, with consent evidence."""
    item = newsletters.newsletter_by_slug(slug)
    if output is None:
        count = export_subscribers(item, sys.stdout)
    else:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            count = export_subscribers(item, handle)
    click.echo(f"Exported {count} confirmed reader(s) of {item.slug}.", err=True)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--newsletter", "slug", help="Slug of the newsletter to import into (with --suppress: to suppress for).")
@click.option("--dry-run", is_flag=True, help="Check the file and report what would happen; store nothing.")
@click.option("--strict", is_flag=True, help="Refuse the whole file if any row is refused.")
@click.option("--suppress", is_flag=True,
              help="The file is a suppression list: addresses that must never get mail (instance-wide without "
                   "--newsletter).")
@refusals
@recorded(lambda _report, slug, suppress, **_params: ", ".join(
    filter(None, (f"slug={slug}" if slug else "", "suppression list" if suppress else ""))))
def subscribers_import(file: str, slug: str | None, dry_run: bool, strict: bool, suppress: bool):
    """Consent-checked import of readers (or, with --suppress, of addresses that must never get mail)."""
    if slug is None and not suppress:
        raise click.UsageError("Missing option '--newsletter': readers are imported into one newsletter.")
    item = newsletters.newsletter_by_slug(slug) if slug else None
    options = dict(file_name=os.path.basename(file), commit=db.session.commit, strict=strict, dry_run=dry_run)
    if suppress:
        report = writer.import_suppressions(file, item.id if item else None, **options)
    else:
        report = writer.import_subscribers(file, item, share_url=external_url("admin.share", slug=item.slug),
                                           **options)
    click.echo("\n".join(describe(report)))


@issues.command("create")
@click.argument("slug")
@click.option("--subject", required=True, help="The subject line.")
@click.option("--body-file", required=True, type=click.File("rb"), help="The body, a UTF-8 Markdown file ('-': stdin).")
@click.option("--preheader", default="", help="The inbox preview text (default: the first paragraph).")
@refusals
@recorded(lambda issue, slug, **_params: f"issue={issue.id}, slug={slug}")
def issues_create(slug: str, subject: str, body_file, preheader: str):
    """Create a draft issue from Markdown; print its id. The pre-send check runs: a refusal exits 1."""
    item = newsletters.newsletter_by_slug(slug)
    issue = publishing.create_issue(item, None, subject, read_markdown(body_file), preheader)
    for warning in publishing.refuse_unless_sendable(issue).warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(issue.id)
    return issue


def read_markdown(handle) -> str:
    """The file's text; Refused if it is not UTF-8 or larger than any issue may be."""
    data = handle.read(publishing.MAX_BODY_LENGTH * 4 + 1)
    if len(data) > publishing.MAX_BODY_LENGTH * 4:
        raise Refused(f"The body file is too large: an issue has at most {publishing.MAX_BODY_LENGTH} characters.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused("The body file is not UTF-8 text: save it as UTF-8 and try again.") from None


@issues.command("send")
@click.argument("issue_id", type=int)
@click.option("--wait", is_flag=True, help="Show a progress bar until the send ends (and send from here when "
                                           "no other sender is running and no Celery workers are configured).")
@refusals
def issues_send(issue_id: int, wait: bool):
    """Start sending an issue now (the pre-send check runs: a refusal exits 1). An issue already sending is
    followed (--wait) or described, exit 0."""
    issue = publishing.find_issue(issue_id)
    running = send_progress.running(current_app._get_current_object(), issue)
    if running is not None:
        describe_running_send(issue.id, running, wait)
        if wait:
            follow_send(issue.id)
        return
    result = publishing.refuse_unless_sendable(issue)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    publishing.start_sending(issue)
    record_run(f"issue={issue.id}")  # here, not @recorded: the send has started even if --wait ends in a refusal
    db.session.commit()
    click.echo(f"Issue {issue.id} is sending to {issue.planned} reader(s).", err=True)
    if wait:
        follow_send(issue.id)
    elif not current_app.config["CELERY_BROKER_URL"]:
        click.echo("The web process (or 'flask worker') sends it.", err=True)


SEND_CONTROLS = {
    "pause": (publishing.pause, "Hold a send where it is: nothing more goes out until it is resumed.", "is paused"),
    "resume": (publishing.resume, "Carry on a paused send.", "is sending again"),
    "cancel": (publishing.cancel, "Stop a send (or discard a draft) for good; what was not sent will not be.",
               "is cancelled"),
}


def _control_command(name: str, action, help_text: str, outcome: str) -> None:
    @issues.command(name, help=help_text)
    @click.argument("issue_id", type=int)
    @refusals
    @recorded(on_issue)
    def command(issue_id: int):
        action(publishing.find_issue(issue_id))
        click.echo(f"Issue {issue_id} {outcome}.")


for _name, (_action, _help, _outcome) in SEND_CONTROLS.items():
    _control_command(_name, _action, _help, _outcome)


def describe_running_send(issue_id: int, running: send_progress.Situation, wait: bool) -> None:
    """An issue already sending: its progress, and who carries it on or how to resume it."""
    progress = running.progress
    click.echo(f"Issue {issue_id} is already sending: {progress['done']} of {progress['planned']} done.", err=True)
    if running.senders:
        click.echo(f"Nothing to do: {', '.join(running.senders)} carries it on.", err=True)
    elif running.celery:
        click.echo("Nothing to do: the Celery workers carry it on (is 'celery -A newsletter.tasks worker' "
                   "running?).", err=True)
    elif wait:
        click.echo("No sender is running: sending from here.", err=True)
    else:
        click.echo(f"No sender is running: start 'flask --app app worker' or the web process, or run "
                   f"'flask --app app issues send {issue_id} --wait' to send from here.", err=True)


def follow_send(issue_id: int) -> None:
    """Progress bar with rate and ETA; exit 1 if the send stops without finishing."""
    app = current_app._get_current_object()
    with click.progressbar(length=1, label="Sending", show_eta=True, show_percent=True,
                           item_show_func=lambda text: text) as bar:
        def update(progress, rate):
            bar.length = max(progress["planned"], progress["recipients"], 1)
            bar.update(progress["done"] - bar.pos, f"{progress['done']}/{bar.length} at {rate:.0f} msg/s")

        final = send_progress.follow(app, issue_id, update)
    if final["status"] != "sent":
        raise Refused(f"The send stopped ({final['status']}): {final['stop_reason'] or 'see the issue page'}")
    counts = final["counts"]
    click.echo(f"Sent: {counts['sent']} handed to the relay, {counts['failed']} refused, "
               f"{counts['skipped']} skipped, {counts['unknown']} unknown.")


bounces = AppGroup("bounces", help="Inbound mail: bounces, complaints, replies, mailto: unsubscribes.")


@bounces.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
@click.option("--lmtp", is_flag=True, help="Speak LMTP (for a local MTA's transport) instead of SMTP.")
def bounces_serve(host: str, port: int, lmtp: bool):
    """Receive inbound mail for BOUNCE_ADDRESS (VERP), the reply address and unsubscribe@ until Ctrl-C."""
    import signal
    import threading

    from .feedback.listener import make_listener

    listener = make_listener(current_app._get_current_object(), host, port, lmtp)
    try:
        listener.start()
    except (OSError, RuntimeError) as error:
        click.echo(f"Error: cannot listen on {host}:{port}: {error}", err=True)
        sys.exit(1)
    click.echo(f"Receiving {'LMTP' if lmtp else 'SMTP'} on {host}:{port}; Ctrl-C to stop.", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()


@bounces.command("poll")
@click.option("--imap-url", help="imaps://user:password@host/MAILBOX (default: IMAP_URL).")
@click.option("--every", default=60.0, show_default=True, type=click.FloatRange(1), help="Seconds between polls.")
@click.option("--once", is_flag=True, help="Read the mailbox once and exit.")
@click.option("--delete", is_flag=True, help="Delete messages once read (default: mark them seen).")
def bounces_poll(imap_url: str | None, every: float, once: bool, delete: bool):
    """Read bounces and replies from an IMAP mailbox."""
    import imaplib

    from .feedback.imap import poll_forever, poll_imap

    url = imap_url or current_app.config["IMAP_URL"]
    if not url.startswith(("imap://", "imaps://")):
        raise click.UsageError("Give --imap-url imaps://user:password@host/MAILBOX or set IMAP_URL.")
    app = current_app._get_current_object()
    if not once:
        poll_forever(app, url, every, delete)
    try:
        count = poll_imap(app, url, delete)
    except (imaplib.IMAP4.error, OSError) as error:
        click.echo(f"Error: cannot read {url.split('@')[-1]}: {error}", err=True)
        sys.exit(1)
    click.echo(f"Read {count} message(s).")


# `flask db` is Flask-Migrate's group (Migrate.init_app adds it to the app); backup and restore join it there,
# since a group of our own with the same name would be hidden behind it.
@database.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@refusals
def database_backup(file: Path):
    """Copy the SQLite database into a new FILE while the app runs (PostgreSQL: use pg_dump)."""
    found = backup.back_up(file)
    click.echo(f"Backed up {describe_contents(found)} to {file}.")
    click.echo("Keep SECRET_KEY with it: the links in sent mails and the suppression list depend on it.", err=True)


@database.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@refusals
@recorded(lambda _result, file, **_params: f"file={file.name}")
def database_restore(file: Path):
    """Load a backup made by 'flask db backup' into this instance, which must be empty, then migrate it."""
    found = backup.restore(file)
    if found.revision != backup.head_revision():
        flask_migrate.upgrade()
        click.echo(f"Migrated the restored database from schema {found.revision}.", err=True)
        found = backup.contents()
    click.echo(f"Restored {describe_contents(found)} from {file}.")


def describe_contents(found: backup.Contents) -> str:
    return (f"{found.newsletters} newsletter(s), {found.readers} reader(s) ({found.confirmed} confirmed "
            f"subscription(s)), schema {found.revision}")


@click.command("demo")
@with_appcontext
@refusals
@recorded()
def demo():
    """Create (or reset) the demo admin, publisher and newsletters, and print the logins."""
    from .demo import create_demo

    logins = create_demo(lambda: secrets.token_urlsafe(12))
    click.echo("Demo logins (passwords are new at every start):")
    for role, email, password in logins:
        click.echo(f"  {role:<10} {email:<28} {password}")


@click.command("worker")
@with_appcontext
def worker():
    """Run the embedded sender in the foreground (when not using Celery). Stops cleanly on SIGTERM/Ctrl-C."""
    from .sending.runner import run_in_foreground

    if current_app.config["CELERY_BROKER_URL"]:
        click.echo("Error: CELERY_BROKER_URL is set, so Celery workers send: run "
                   "'celery -A newsletter.tasks worker -B' instead.", err=True)
        sys.exit(1)
    click.echo("Sending in the foreground; Ctrl-C to stop.", err=True)
    run_in_foreground(current_app._get_current_object())


@domains.command("add")
@click.argument("domain")
@click.option("--owner", required=True, help="E-mail address of the publisher whose newsletters send from it.")
@click.option("--selector", default="", help="DKIM selector (default: nlYYYYMM).")
@click.option("--key-file", default="", type=click.Path(dir_okay=False),
              help="Keep the private key in this PEM file (read if it exists, else created) instead of the database.")
@click.option("--ed25519", is_flag=True, help="Also sign with an Ed25519 key (RFC 8463), beside RSA-2048.")
@refusals
@recorded(lambda item, **_params: f"domain={item.name}")
def domains_add(domain: str, owner: str, selector: str, key_file: str, ed25519: bool):
    """Add a sending domain and print the DNS records to publish (zone-file lines)."""
    user = accounts.user_by_email(owner)
    item = sending_domains.add_domain(domain, user, selector=selector, key_file=key_file, ed25519=ed25519)
    click.echo(f"; Publish these TXT records for {item.name}, then run: flask --app app domains check {item.name}")
    for record in sending_domains.records_for(item):
        click.echo(record.zone_line())
    return item


@domains.command("check")
@click.argument("domain")
@refusals
def domains_check(domain: str):
    """Look the domain's records up (DNS_RESOLVER); exit 1 with each failing record and its fix."""
    item = sending_domains.domain_named(domain)
    findings = sending_domains.check_domain(item)
    record_run(f"domain={item.name}")  # here, not @recorded: a failing check exits 1, its outcome kept
    db.session.commit()  # the outcome is kept, pass or fail
    for finding in findings:
        click.echo(f"{finding.status.upper():<8} {finding.check}: {finding.said}", err=finding.status == "error")
        if finding.status != "ok" and finding.fix:
            click.echo(f"         Fix: {finding.fix}", err=finding.status == "error")
            if finding.record is not None:
                click.echo(f"         {finding.record.zone_line()}", err=finding.status == "error")
    if not item.check_passed:
        sys.exit(1)
    click.echo(f"{item.name} passes: mail From it is signed with d={item.name}.")


@domains.command("list")
@refusals
def domains_list():
    """Every sending domain, its owner and its last check."""
    for item in sending_domains.all_domains():
        state = "never checked" if item.checked_at is None else ("passes" if item.check_passed else "FAILS")
        click.echo(f"{item.name:<40} {item.owner.email:<32} {state}")


def init_app(app: Flask) -> None:
    """Register the command groups on the app's CLI."""
    for group in (users, newsletters_group, subscribers, issues, domains, bounces, demo, worker):
        app.cli.add_command(group)
