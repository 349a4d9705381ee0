"""In a real browser (Debian's chromium through Playwright): the composer (preview at phone width, autosave,
restore after the session ended, discard and undo, an uploaded image on the web version), the send and schedule
confirmations, finding and erasing a reader, a branded welcome mail previewed, and the keyboard on the
subscribe form. One browser for the session, a fresh context per test. Skipped, with the reason, when chromium
is not installed."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from newsletter import consent, publishing, tokens
from newsletter.extensions import db
from newsletter.models import Issue, Newsletter, Subscription, utcnow
from tests.support.browser import log_in, needs_chromium, open_tab
from tests.support.publishers import make_issue
from tests.support.sending_helpers import confirmed_readers

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def page(browser):
    tab = open_tab(browser)
    yield tab
    tab.context.close()


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
    expect(page.locator("p.flash", has_text="The draft is saved.")).to_be_visible()
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
    expect(page.get_by_role("heading", name="Discard “A quiet week”?")).to_be_visible()
    assert the_issue(app).status == "draft"  # asking changed nothing
    page.get_by_role("button", name="Yes, discard it").click()
    expect(page.get_by_text("You can restore it from this list for 30 days")).to_be_visible()
    row = page.locator("tr", has_text="A quiet week")
    expect(row.locator(".status")).to_have_text("Discarded")
    row.get_by_role("button", name="Restore").click()
    expect(page.get_by_text("The issue is a draft again.")).to_be_visible()
    assert the_issue(app).status == "draft"


def test_send_now_asks_once_more_with_the_exact_count(server, page):
    app, base = server
    with app.app_context():
        newsletter = the_newsletter()
        confirmed_readers(newsletter, 3)
        issue_id = make_issue(newsletter).id
    log_in(page, base, f"/admin/issues/{issue_id}")
    page.get_by_role("button", name="Send now…").click()
    expect(page.get_by_role("heading", name="Send “A quiet week” to 3 readers now?")).to_be_visible()
    assert the_issue(app).status == "draft"
    page.get_by_role("button", name="Yes, send it to 3 readers").click()
    expect(page.get_by_text("Sending has started.")).to_be_visible()
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


def test_an_uploaded_image_shows_on_the_web_version(server, page, tmp_path):
    app, base = server
    picture = tmp_path / "studio.png"
    Image.new("RGB", (1200, 600), (200, 120, 40)).save(picture)
    log_in(page, base, "/admin/n/slow-mornings/issues/new")
    page.get_by_label("Subject").fill("The new studio")
    page.get_by_label("Body (Markdown)").fill("We moved.")
    page.get_by_label("Add an image").set_input_files(str(picture))  # the file button; dropping does the same
    page.locator(".upload-status", has_text="uploaded").wait_for()
    page.keyboard.type("Our new studio")  # the cursor waits where the description goes
    page.locator(".autosave-status", has_text=re.compile(r"Saved at")).wait_for()
    issue = the_issue(app)
    assert f"![Our new studio]({base}/media/" in issue.body_markdown
    with app.app_context():
        publishing.start_sending(db.session.get(Issue, issue.id))
        db.session.commit()
    page.goto(f"{base}/n/slow-mornings/issues/{issue.id}")
    image = page.get_by_role("img", name="Our new studio")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => [img.naturalWidth, img.getAttribute('width')]") == [1200, "600"]
    assert page.csp_violations == []


def test_find_a_reader_and_erase_them_on_request(server, page):
    app, base = server
    with app.app_context():
        confirmed_readers(the_newsletter(), 3)
    log_in(page, base, "/admin/n/slow-mornings/subscribers")
    page.get_by_label("Find a reader").fill("READER1")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link", name="reader1@example.net").click()
    expect(page.get_by_role("heading", name="reader1@example.net")).to_be_visible()
    expect(page.get_by_text("Confirmed by e-mail on")).to_be_visible()
    erase = page.locator("form", has=page.get_by_role("button", name="Erase this reader"))
    erase.get_by_label("Why (kept in the reader's history)").fill("asked by e-mail on 3 May")
    erase.get_by_role("button", name="Erase this reader").click()
    expect(page.get_by_text("Everything this newsletter held about the reader is erased.")).to_be_visible()
    assert page.get_by_text("reader1@example.net").count() == 0
    expect(page.get_by_text("reader0@example.net")).to_be_visible()


def test_a_branded_welcome_mail_is_previewed_before_saving(server, page, tmp_path):
    app, base = server
    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 100), (20, 60, 90)).save(logo)
    log_in(page, base, "/admin/n/slow-mornings/branding")
    page.get_by_label("Your words in the welcome mail (Markdown)").fill("Each issue comes with a **breathing** exercise.")
    page.get_by_label("Logo (JPEG, PNG, GIF or WebP)").set_input_files(str(logo))
    page.get_by_label("Accent colour (links and buttons)").fill("#7a1f5c")
    page.get_by_label("Postal address (in the footer of every mail)").fill("Studio Maya\n12 rue des Lilas\n69001 Lyon")
    page.get_by_role("button", name="Preview the welcome mail").click()
    mail = page.frame_locator("iframe[name=branding-preview]")
    mail.locator("strong", has_text="breathing").wait_for()
    expect(mail.get_by_text("Thank you: you are subscribed to Slow Mornings.")).to_be_visible()
    expect(mail.get_by_role("link", name="Unsubscribe in one click")).to_be_visible()  # always added by the app
    assert "12 rue des Lilas" in mail.locator("body").inner_text()
    logo_image = mail.get_by_role("img", name="Slow Mornings")
    assert logo_image.evaluate("img => img.complete && img.naturalWidth") == 400
    assert "rgb(122, 31, 92)" in mail.get_by_role("link", name="Read past issues").evaluate(
        "a => getComputedStyle(a).color")
    with app.app_context():
        assert the_newsletter().welcome_text == ""  # previewing saved nothing
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your words and look are saved.")).to_be_visible()
    with app.app_context():
        newsletter = the_newsletter()
        assert (newsletter.accent_color, newsletter.postal_address.splitlines()[0]) == ("#7a1f5c", "Studio Maya")


def test_layouts_fit_a_phone_and_a_1280_pixel_screen(server, browser):
    app, base = server
    long_name = "Maximiliane" * 12  # one unbroken word, 132 characters
    with app.app_context():
        newsletter = the_newsletter()
        confirmed_readers(newsletter, 1)
        subscription = db.session.scalars(db.select(Subscription)).one()
        subscription.subscriber.name = long_name
        issue = make_issue(newsletter, subject="A subject long enough to wrap over several words in a table",
                           body=f"Hello {long_name}.\n\nSecond paragraph.")
        publishing.start_sending(issue)
        db.session.commit()
        preferences = consent.token_for(tokens.PREFERENCES, subscription.subscriber)
        issue_id = issue.id
    phone = open_tab(browser, viewport={"width": 375, "height": 800})
    try:
        phone.goto(f"{base}/preferences/{preferences}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        phone.context.close()
    page = open_tab(browser)
    try:
        log_in(page, base, "/admin/n/slow-mornings/subscribers")
        overflowing = "[...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1).length"
        assert page.evaluate(overflowing) == 0
        for path in ("/admin/stats", "/admin/n/slow-mornings/stats"):
            page.goto(base + path)
            assert page.evaluate(overflowing) == 0, path
        page.goto(f"{base}/admin/issues/{issue_id}/preview")
        mail = page.frame_locator("iframe.phone").locator("html")
        assert mail.evaluate("html => html.scrollWidth") <= 375
    finally:
        page.context.close()
