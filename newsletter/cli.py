"""Command line: thin wrappers over the services. Exit 0 done, 1 refused (reason on stderr), 2 usage."""

import secrets
import sys
from functools import wraps

import click
from flask import Flask
from flask.cli import AppGroup

from . import accounts, newsletters
from .errors import DomainError
from .export import export_subscribers
from .extensions import db

users = AppGroup("users", help="Publisher and admin accounts.")
newsletters_group = AppGroup("newsletters", help="Newsletters.")
subscribers = AppGroup("subscribers", help="Readers: consent-checked import and export.")


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
def users_create(email: str, admin: bool, password_stdin: bool):
    """Create a publisher (an admin with --admin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = accounts.create_user(email, password, admin=admin)
    click.echo(f"Created {'admin' if admin else 'publisher'} {user.email}.")


@newsletters_group.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The newsletter's name, as readers see it.")
@click.option("--owner", required=True, help="E-mail address of the publisher who owns it.")
@click.option("--from-email", help="Sender address (default: the owner's address).")
@click.option("--from-name", default="", help="Sender name (default: the newsletter's name).")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--cadence", type=click.Choice(["weekly", "fortnightly", "monthly", "quarterly", "irregular"]),
              default="monthly", show_default=True, help="How often readers can expect it.")
@click.option("--description", default="", help="What it is about, for the public page.")
@refusals
def newsletters_create(slug, name, owner, from_email, from_name, language, cadence, description):
    """Create a newsletter."""
    item = newsletters.create_newsletter(owner, slug=slug, name=name, from_email=from_email or owner,
                                         from_name=from_name, language=language, cadence=cadence,
                                         description=description)
    click.echo(f"Created newsletter {item.slug} ({item.name}).")


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


@click.command("demo")
@refusals
def demo():
    """Create (or reset) the demo admin, publisher and newsletters, and print the logins."""
    from .demo import create_demo

    logins = create_demo(lambda: secrets.token_urlsafe(12))
    click.echo("Demo logins (passwords are new at every start):")
    for role, email, password in logins:
        click.echo(f"  {role:<10} {email:<28} {password}")


def init_app(app: Flask) -> None:
    """Register the command groups on the app's CLI."""
    for group in (users, newsletters_group, subscribers, demo):
        app.cli.add_command(group)
