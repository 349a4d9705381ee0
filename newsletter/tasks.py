"""Celery: `celery -A newsletter.tasks worker` (add `-B`, or run `celery -A newsletter.tasks beat`, for the
periodic tick that starts scheduled issues). Tasks are thin: they call the same send path as the embedded
runner. Any number of workers on any number of machines share the database and the broker; batches are
claimed with leases, so two workers never send the same delivery.
"""

import logging
import sys
import time

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_process_shutdown, worker_ready
from dotenv import find_dotenv, load_dotenv

from .admin_jobs import dispatch as admin_jobs
from .admin_jobs import exports
from .config import ConfigError, read_settings
from .importer import jobs as import_jobs
from .logs import configure_logging
from .redis_client import redis_client

TICK_SECONDS = 5.0
BATCH_TASK_BUDGET = 10.0

load_dotenv(find_dotenv(usecwd=True))
try:
    _settings = read_settings()
except ConfigError as error:
    print(f"Configuration error: {error}", file=sys.stderr)
    sys.exit(1)
celery = Celery("newsletter", broker=_settings["CELERY_BROKER_URL"] or "redis://127.0.0.1:6379/0")
celery.conf.update(
    # Acknowledge after the run, one task in hand per worker: with early acks one worker would take every
    # queued batch task and leave the others idle. A task redelivered after a crash is harmless (leases).
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    beat_schedule={"tick": {"task": "newsletter.tasks.tick", "schedule": TICK_SECONDS}},
)
_process = {}


def _app_and_state():
    """This worker process's app, send state and SMTP transport (one connection reused across tasks)."""
    if "app" not in _process:
        from . import create_app
        from .mail.transport import make_transport
        from .sending.work import SendState

        app = create_app({"START_SENDER": False})
        _process.update(app=app, state=SendState(app, "celery"),
                        transport=make_transport(app.config, app.instance_path))
    return _process["app"], _process["state"], _process["transport"]


@celery.task(name="newsletter.tasks.tick")
def tick() -> None:
    """Send due system mails, start scheduled issues, and hand each sending issue to parallel batch tasks."""
    from .sending.system_mail import send_due_system_mails
    from .sending.work import sending_issue_ids, settle_cancelled, start_due_issues
    from .models import utcnow

    app, _state, _transport = _app_and_state()
    with app.app_context():
        send_due_system_mails()
        start_due_issues(utcnow())
        settle_cancelled()
        if import_jobs.due_jobs():  # queued while no worker listened, or its worker died
            run_imports.delay()
        if admin_jobs.due_jobs():
            run_admin_jobs.delay()
        else:  # expired export files go even when no job runs (run_admin_jobs sweeps them too)
            exports.sweep(exports.exports_folder(app.instance_path))
        for issue_id in sending_issue_ids():
            if _claim_dispatch(app, issue_id):
                for _ in range(app.config["SEND_PARALLEL_TASKS"]):
                    send_batches.delay(issue_id)


@celery.task(name="newsletter.tasks.send_batches")
def send_batches(issue_id: int) -> int:
    """Deliver batches of one issue for a while; queue a follow-up while work remains."""
    from .sending.work import finish_if_done, run_issue_work

    app, state, transport = _app_and_state()
    with app.app_context():
        handed = run_issue_work(state, transport, budget=BATCH_TASK_BUDGET, only_issue=issue_id)
        if not finish_if_done(issue_id) and handed:
            send_batches.delay(issue_id)
    return handed


@celery.task(name="newsletter.tasks.run_imports")
def run_imports() -> int:
    """Run the queued import jobs (the import page's checks and imports), one after the other."""
    app, _state, _transport = _app_and_state()
    with app.app_context():
        return import_jobs.run_due_jobs(app, _job_owner())


@celery.task(name="newsletter.tasks.run_admin_jobs")
def run_admin_jobs() -> int:
    """Run the queued admin jobs (readers exports), one after the other."""
    app, _state, _transport = _app_and_state()
    with app.app_context():
        return admin_jobs.run_due_jobs(app, _job_owner())


def _job_owner() -> str:
    """This worker process's name in the leases of the jobs it runs."""
    if "job_owner" not in _process:
        _process["job_owner"] = import_jobs.new_owner()
    return _process["job_owner"]


def _claim_dispatch(app, issue_id: int) -> bool:
    """At most one dispatch per issue per few seconds across all tick runners (a Redis key with a TTL)."""
    client = redis_client(app.config["REDIS_URL"] or app.config["CELERY_BROKER_URL"])
    return bool(client.set(f"newsletter:dispatch:{issue_id}", str(time.time()), nx=True, ex=int(TICK_SECONDS * 2)))


@setup_logging.connect
def _logging(loglevel=None, **_kwargs) -> None:
    """Celery's own lines and ours go out in one format, LOG_FORMAT (Celery then leaves logging alone)."""
    configure_logging(_settings["LOG_FORMAT"])
    logging.getLogger("celery").setLevel(loglevel or logging.INFO)


@worker_process_init.connect
@worker_ready.connect
def _prepare(**_kwargs) -> None:
    """Build the app when a worker process starts (each prefork child; the process itself with --pool=solo),
    so that 'ready' means ready to send and the first task does not pay for it."""
    _app_and_state()


@worker_process_shutdown.connect
def _close_transport(**_kwargs) -> None:
    transport = _process.get("transport")
    if transport is not None:
        transport.close()
        _process["state"].heartbeat.close()
