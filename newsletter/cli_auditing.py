"""The audit-log lines of the command line: who ran a command that changed state ("cli:" and the OS account),
which command, on what (ids and names, never an address or a secret). Read-only commands write none.

The web's hook (web/auditing.py) cannot see commands; these helpers are its counterpart, and
tests/test_audit_log.py holds every command on one side (logged, or read-only) so a new one is decided on.
"""

import os
import pwd
from functools import wraps

import click

from . import audit


def recorded(describe=None):
    """A command that changes state: once it succeeded, its audit-log line, on what `describe(result, **params)`
    says. Goes under @refusals, so the line is part of the command's commit; a --dry-run writes none."""

    def decorate(command):
        @wraps(command)
        def wrapped(**params):
            result = command(**params)
            if not params.get("dry_run"):
                record_run(describe(result, **params) if describe else "")
            return result

        return wrapped

    return decorate


def record_run(target: str = "") -> None:
    """The audit-log line of the command being run, named as typed ('users create' is 'users.create')."""
    context, names = click.get_current_context(), []
    while context.parent is not None:
        names.append(context.info_name)
        context = context.parent
    audit.record_command(os_user(), ".".join(reversed(names)), target)


def os_user() -> str:
    """Who runs the command: the account of the process's user id (not $USER, which anyone can set)."""
    try:
        name = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a container's user id with no passwd entry
        name = f"uid {os.geteuid()}"
    sudo_user = os.environ.get("SUDO_USER") if os.geteuid() == 0 else None
    return f"{name} (sudo by {sudo_user})" if sudo_user else name


def on_user(user, **_params) -> str:
    """The target of a command that returns the account it acted on."""
    return f"user={user.id}"


def on_issue(_result, issue_id: int, **_params) -> str:
    """The target of a command given an issue's id."""
    return f"issue={issue_id}"
