"""In a real browser (Debian's chromium through Playwright): past the per-IP allowance, the subscribe form's
script solves the proof-of-work puzzle in the background and the person's submission goes through."""

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import SystemMail
from tests.conftest import create_demo_newsletter
from tests.support.browser import needs_chromium, open_tab, serve

pytestmark = [pytest.mark.browser, needs_chromium]


def subscribe_in(page, base, address) -> str:
    """Fill and send the form as a person does; the puzzle the page carried ('' when none was needed)."""
    page.goto(base + "/n/slow-mornings")
    puzzle = page.locator("input[name=puzzle]").get_attribute("value")
    page.get_by_label("Your e-mail address").fill(address)
    with page.expect_navigation(timeout=30000):
        page.get_by_role("button", name="Subscribe").click()
    assert "inbox" in page.content().lower(), page.content()
    return puzzle


def test_past_the_allowance_the_browser_solves_the_puzzle_and_the_person_is_subscribed(make_app, smtp, browser):
    app = make_app(START_SENDER=False, SUBSCRIBE_NEW_ADDRESSES_PER_IP="1/minute")
    httpd, thread, base = serve(app)
    page = open_tab(browser)
    try:
        with app.app_context():
            create_demo_newsletter()
        assert subscribe_in(page, base, "first@example.net") == ""  # within the allowance: no puzzle, no work
        assert subscribe_in(page, base, "second@example.net")  # past it: solved in the background, accepted
        assert page.csp_violations == []
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(SystemMail)) == 2
    finally:
        page.context.close()
        httpd.shutdown()
        thread.join(5)
