"""In a real browser (Debian's chromium through Playwright): the composer (preview at phone width, autosave,
restore after the session ended, discard and undo), the send and schedule confirmations, and the keyboard on
the subscribe form. One browser for the session, a fresh context per test. Skipped, with the reason, when
chromium is not installed."""

import re
import threading
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

from newsletter.extensions import db
from newsletter.models import Issue, Newsletter, utcnow
from tests.conftest import create_demo_newsletter
from tests.support.publishers import CLEAN_BODY, PASSWORD, make_issue
from tests.support.sending_helpers import confirmed_readers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


@pytest.fixture
def server(make_app, smtp):
    """The app served over real HTTP from a thread, with a publisher and a newsletter; BASE_URL is that server."""
    app = make_app(START_SENDER=False)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{httpd.server_port}"
    app.config["BASE_URL"] = base  # links in mails and media URLs point at this server
    with app.app_context():
        create_demo_newsletter()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, base
    httpd.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_tab(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.csp_violations = []
    tab.on("console", lambda m: "Content Security Policy" in m.text and tab.csp_violations.append(m.text))
    tab.dialogs = []
    tab.on("dialog", lambda d: (tab.dialogs.append(d.type), d.accept()))
    return tab


@pytest.fixture
def page(browser):
    tab = open_tab(browser)
    yield tab
    tab.context.close()


def log_in(page, base, next_path=""):
    page.goto(base + "/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("E-mail address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def the_newsletter() -> Newsletter:
    return db.session.scalars(db.select(Newsletter)).one()


def the_issue(app) -> Issue:
    with app.app_context():
        return db.session.scalars(db.select(Issue)).one()


def test_write_preview_at_phone_width_and_save(server, page):
    app, base = server
    log_in(page, base)
    page.get_by_role("link", name="Write an issue").first.click()
    page.get_by_label("Subject").fill("Mornings in the garden")
    page.get_by_label("Body (Markdown)").fill("A first paragraph about **light**.\n\nSee the [guide](https://example.org/g).")
    page.get_by_role("button", name="Save and preview").click()

    phone = page.locator("iframe.phone")
    phone.scroll_into_view_if_needed()
    assert round(phone.bounding_box()["width"]) == 375
    mail = page.frame_locator("iframe.phone")
    assert mail.locator("h1").inner_text() == "Mornings in the garden"
    assert mail.locator("strong").inner_text() == "light"
    assert "guide (https://example.org/g)" in page.locator("pre.mail-text").inner_text()

    with page.expect_navigation():
        page.get_by_role("link", name="Back to the issue").last.click()
    page.get_by_label("Subject").fill("Mornings in the garden, again")
    page.get_by_role("button", name="Save draft").click()
    assert page.locator("p.flash", has_text="The draft is saved.").is_visible()
    assert page.csp_violations == []
    issue = the_issue(app)
    assert (issue.subject, issue.status) == ("Mornings in the garden, again", "draft")


def test_autosave_then_restore_after_the_session_ended(server, page):
    app, base = server
    log_in(page, base, "/admin/n/slow-mornings/issues/new")
    page.get_by_label("Subject").fill("Breathing at dawn")
    page.get_by_label("Body (Markdown)").fill("First thoughts.")
    page.locator(".autosave-status", has_text=re.compile(r"Saved at")).wait_for()
    assert re.search(r"/admin/issues/\d+$", page.url)  # the new draft has its own page now
    live = page.frame_locator("iframe[name=live-preview]")
    live.locator("p", has_text="First thoughts.").wait_for()  # the live preview follows the saved text
    assert the_issue(app).body_markdown == "First thoughts."

    page.context.clear_cookies()  # the session ends (expiry, another device's logout...)
    page.get_by_label("Body (Markdown)").fill("First thoughts.\n\nAnd more, typed after the session ended.")
    page.locator(".autosave-status", has_text="your session has ended").wait_for()
    assert the_issue(app).body_markdown == "First thoughts."

    issue_path = "/admin/issues/" + page.url.rsplit("/", 1)[1]
    log_in(page, base, issue_path)  # leaving the page with unsaved text asks first
    assert "beforeunload" in page.dialogs
    assert page.url.endswith(issue_path)
    page.locator(".autosave-status", has_text=re.compile(r"Saved at")).wait_for()
    assert page.get_by_label("Body (Markdown)").input_value().endswith("typed after the session ended.")
    assert the_issue(app).body_markdown.endswith("typed after the session ended.")
    assert page.csp_violations == []


def test_discarding_asks_first_and_can_be_undone(server, page):
    app, base = server
    with app.app_context():
        issue_id = make_issue(the_newsletter()).id
    log_in(page, base, f"/admin/issues/{issue_id}")
    page.get_by_role("button", name="Discard this issue…").click()
    assert page.get_by_role("heading", name="Discard “A quiet week”?").is_visible()
    assert the_issue(app).status == "draft"  # asking changed nothing
    page.get_by_role("button", name="Yes, discard it").click()
    assert page.get_by_text("You can restore it from this list for 30 days").is_visible()
    row = page.locator("tr", has_text="A quiet week")
    assert row.locator(".status").inner_text() == "Discarded"
    row.get_by_role("button", name="Restore").click()
    assert page.get_by_text("The issue is a draft again.").is_visible()
    assert the_issue(app).status == "draft"


def test_send_now_asks_once_more_with_the_exact_count(server, page):
    app, base = server
    with app.app_context():
        newsletter = the_newsletter()
        confirmed_readers(newsletter, 3)
        issue_id = make_issue(newsletter).id
    log_in(page, base, f"/admin/issues/{issue_id}")
    page.get_by_role("button", name="Send now…").click()
    assert page.get_by_role("heading", name="Send “A quiet week” to 3 readers now?").is_visible()
    assert the_issue(app).status == "draft"
    page.get_by_role("button", name="Yes, send it to 3 readers").click()
    assert page.get_by_text("Sending has started.").is_visible()
    assert the_issue(app).status == "sending"


def test_scheduling_in_paris_is_shown_back_in_paris(server, browser):
    app, base = server
    with app.app_context():
        issue_id = make_issue(the_newsletter()).id
    page = open_tab(browser, timezone_id="Europe/Paris")  # the account has no zone yet: the browser's is taken
    try:
        log_in(page, base, f"/admin/issues/{issue_id}")
        day = (utcnow() + timedelta(days=40)).date()
        page.get_by_label("Send on (your browser's time zone, or UTC if it cannot tell)").fill(f"{day.isoformat()}T09:30")
        page.get_by_role("button", name="Schedule…").click()
        heading = page.get_by_role("heading", level=1).inner_text()
        assert "(Europe/Paris time)" in heading and "9:30" in heading
        page.get_by_role("button", name="Yes, schedule it").click()
        status = page.locator("main > p").nth(1).inner_text()
        assert "9:30" in status and "(Europe/Paris time)" in status
        expected = utcnow().replace(year=day.year, month=day.month, day=day.day, hour=9, minute=30, second=0,
                                    microsecond=0, tzinfo=ZoneInfo("Europe/Paris"))
        issue = the_issue(app)
        assert issue.status == "scheduled" and issue.scheduled_at == expected
        assert page.csp_violations == []
    finally:
        page.context.close()


def test_keyboard_alone_reaches_and_submits_the_subscribe_form(server, page):
    _, base = server
    page.goto(base + "/n/slow-mornings")
    focused = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if focused[-1] == "email":
            break
    assert focused[0] == "Skip to content"
    assert focused[-1] == "email", focused
    page.keyboard.type("reader@example.net")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "name"  # the honeypot is skipped
    page.keyboard.type("Zoë")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Subscribe"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "inbox" in page.content().lower()
    assert page.csp_violations == []
