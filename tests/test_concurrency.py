"""Concurrent requests for one address leave one subscriber and one subscription (threads, real database)."""

import threading

from sqlalchemy import func, select

from newsletter import consent, newsletters
from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription, SubscriptionEvent, SystemMail
from tests.support.readers import subscribe

THREADS = 8


def run_together(target, count: int = THREADS) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(index: int):
        barrier.wait()
        try:
            target(index)
        except BaseException as error:  # collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_concurrent_double_subscribe_leaves_one_subscription(make_app, smtp):
    app = make_app(START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        create_demo_newsletter()

    def subscribe_once(_index):
        with app.app_context():
            item = newsletters.newsletter_by_slug("slow-mornings")
            consent.subscribe(item, "same@example.net", "", ip=None, source="t", wording="w")
            db.session.commit()

    errors = run_together(subscribe_once)
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscriber.id))) == 1
        assert db.session.scalar(select(func.count(Subscription.id))) == 1
        assert db.session.scalar(select(func.count(SystemMail.id))) == 1
        assert db.session.scalar(
            select(func.count(SubscriptionEvent.id)).where(SubscriptionEvent.kind == "subscribed")) == 1


def test_concurrent_http_subscribes_all_get_the_same_answer(make_app, smtp):
    app = make_app(START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        create_demo_newsletter()
    statuses: list[int] = []

    def post(_index):
        statuses.append(subscribe(app.test_client(), "slow-mornings", "same@example.net").status_code)

    assert run_together(post) == []
    assert statuses == [200] * THREADS
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 1
        assert db.session.scalar(select(func.count(SystemMail.id))) == 1


def test_concurrent_confirms_send_one_welcome(make_app, smtp):
    app = make_app(START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        item = create_demo_newsletter()
        consent.subscribe(item, "same@example.net", "", ip=None, source="t", wording="w")
        db.session.commit()
        token = consent.token_for("confirm", db.session.scalar(select(Subscription)))

    def confirm_once(_index):
        with app.app_context():
            consent.confirm(token, None)
            db.session.commit()

    assert run_together(confirm_once) == []
    with app.app_context():
        kinds = db.session.scalars(select(SystemMail.kind)).all()
        assert sorted(kinds) == ["confirm", "welcome"]
