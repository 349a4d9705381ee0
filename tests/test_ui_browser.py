"""In a real browser (Debian's chromium through Playwright): write, preview at phone width and save an issue;
reach the subscribe form with the keyboard alone. Skipped, with the reason, when chromium is not installed."""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from newsletter.extensions import db
from newsletter.models import Issue
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


@pytest.fixture
def server(make_app, smtp):
    """The app served over real HTTP from a thread, with a publisher and a newsletter."""
    app = make_app(START_SENDER=False)
    with app.app_context():
        create_demo_newsletter()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        tab.csp_violations = []
        tab.on("console", lambda m: "Content Security Policy" in m.text and tab.csp_violations.append(m.text))
        yield tab
        browser.close()


def test_write_preview_at_phone_width_and_save(server, page):
    app, base = server
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
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
    assert page.get_by_text("The draft is saved.").is_visible()
    assert page.csp_violations == []
    with app.app_context():
        issue = db.session.scalars(db.select(Issue)).one()
        assert (issue.subject, issue.status) == ("Mornings in the garden, again", "draft")


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
