"""axe-core in a real browser on every publisher and reader page: no serious or critical violation.

axe-core comes bundled in the axe-playwright-python package (installed from PyPI with the dev extras), so the
test loads it from disk: nothing is fetched from the network while it runs.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from newsletter import accounts, consent, tokens
from newsletter.extensions import db
from newsletter.importer import jobs
from newsletter.mail.outbox import outbox_folder
from newsletter.mail.transport import OutboxTransport
from newsletter.models import Newsletter, Subscription
from tests.support.browser import log_in, needs_chromium, open_tab
from tests.support.publishers import make_issue, publish
from tests.support.sending_helpers import confirmed_readers

pytestmark = [pytest.mark.browser, needs_chromium]
AXE = Axe()
SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in found
            if v["impact"] in SERIOUS]


def build_world(app) -> dict:
    """A newsletter with readers, a sent issue, a draft and a discarded one, an admin, an outbox message."""
    with app.app_context():
        newsletter = db.session.scalars(select(Newsletter)).one()
        confirmed_readers(newsletter, 3)
        consent.subscribe(newsletter, "waiting@example.net", "Wanda", ip="192.0.2.7",
                          source="https://example.test/n", wording="w")
        sent = publish(newsletter, "Morning light")
        draft = make_issue(newsletter, subject="Next week")
        make_issue(newsletter, "discarded", subject="Put aside")
        accounts.create_user("admin@example.org", "an admin password", admin=True)
        subscription = db.session.scalars(select(Subscription).where(Subscription.status == "confirmed")).first()
        pending = db.session.scalars(select(Subscription).where(Subscription.status == "pending")).first()
        db.session.commit()
        raw = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: Hello\r\nContent-Type: text/plain\r\n\r\n"
               b"Hello https://example.org\r\n")
        OutboxTransport(outbox_folder(app.instance_path)).send("a@example.org", "b@example.net", raw)
        return {
            "slug": newsletter.slug, "sent": sent.id, "draft": draft.id, "reader": subscription.id,
            "unsubscribe": consent.token_for(tokens.UNSUBSCRIBE, subscription),
            "preferences": consent.token_for(tokens.PREFERENCES, subscription.subscriber),
            "confirm": consent.token_for(tokens.CONFIRM, pending),
        }


def admin_paths(w: dict) -> list[str]:
    n = f"/admin/n/{w['slug']}"
    return ["/admin/", n, f"{n}/issues/new", f"/admin/issues/{w['draft']}", f"/admin/issues/{w['sent']}",
            f"/admin/issues/{w['draft']}/preview", f"{n}/subscribers", f"{n}/subscribers/{w['reader']}",
            f"{n}/invite", f"{n}/settings", f"{n}/branding", f"{n}/share", f"{n}/import", f"{n}/stats",
            f"/admin/issues/{w['sent']}/stats", "/admin/stats", "/admin/tokens", "/admin/users", "/admin/outbox",
            "/admin/password", "/admin/time-zone", "/admin/newsletters/new"]


def public_paths(w: dict) -> list[str]:
    return ["/", "/login", f"/n/{w['slug']}", f"/n/{w['slug']}/issues/{w['sent']}", f"/confirm/{w['confirm']}",
            f"/unsubscribe/{w['unsubscribe']}", f"/preferences/{w['preferences']}", "/no/such/page"]


CSV = ("email,name,consent_at,confirmed_at,consent_source\r\n"
       "ann@example.net,Ann,2026-01-02T10:00:00,2026-01-02T10:05:00,https://example.test/form\r\n"
       "bad-address,Bob,2026-01-02T10:00:00,2026-01-02T10:05:00,https://example.test/form\r\n")


def test_axe_finds_no_serious_violation_on_any_page(server, browser, tmp_path):
    app, base = server
    world = build_world(app)
    page = open_tab(browser)
    problems = {}
    try:
        for path in public_paths(world):
            page.goto(base + path)
            problems[path] = serious_violations(page)
        page.goto(base + f"/n/{world['slug']}")
        page.get_by_label("Your e-mail address").fill("new@example.net")
        page.get_by_role("button", name="Subscribe").last.click()
        problems["check inbox"] = serious_violations(page)
        page.goto(base + f"/confirm/{world['confirm']}")
        page.get_by_role("button", name="Yes, subscribe me").click()
        problems["confirmed"] = serious_violations(page)
        page.goto(base + f"/unsubscribe/{world['unsubscribe']}")
        page.get_by_role("button", name="Unsubscribe").click()
        problems["unsubscribed"] = serious_violations(page)
        log_in(page, base, email="admin@example.org", password="an admin password")
        for path in admin_paths(world):
            page.goto(base + path)
            problems[path] = serious_violations(page)
        page.goto(base + "/admin/outbox")
        page.locator("td a").first.click()
        problems["outbox message"] = serious_violations(page)
        upload = tmp_path / "readers.csv"
        upload.write_text(CSV)
        page.goto(base + f"/admin/n/{world['slug']}/import")
        page.get_by_label("The file (CSV)").set_input_files(str(upload))
        page.get_by_role("button", name="Check the file").click()
        page.get_by_role("heading", name="Checking the file").wait_for()  # after the redirect to the job's page
        problems["import progress"] = serious_violations(page)
        with app.app_context():
            jobs.run_due_jobs(app, "axe")  # what the runner's thread does (this server has none)
        page.reload()
        page.get_by_text("Check before importing").wait_for()
        problems["import report"] = serious_violations(page)
        for button in ("Send now…", "Discard this issue…"):  # the pages that ask once more
            page.goto(base + f"/admin/issues/{world['draft']}")
            page.get_by_role("button", name=button).click()
            problems[button] = serious_violations(page)
        page.goto(base + f"/preferences/{world['preferences']}")
        page.get_by_label("Yes, erase everything about me").check()
        page.get_by_role("button", name="Erase me").click()
        problems["erasure asked (a link by mail)"] = serious_violations(page)
    finally:
        page.context.close()
    assert {path: found for path, found in problems.items() if found} == {}
