"""A real browser for the tests that need one: Debian's chromium driven by Playwright (no browser download),
the app served over real HTTP from a thread, one browser for the whole session and a fresh context per test."""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support.publishers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def serve(app):
    """Serve the app on a free loopback port; BASE_URL becomes that server, so mail links and media load."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{httpd.server_port}"
    app.config["BASE_URL"] = base
    app.extensions.pop("newsletter.url_adapter", None)  # links are built from BASE_URL
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread, base


def open_tab(browser, **options):
    """A new context and page; CSP violations and dialogs are recorded (dialogs accepted)."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.csp_violations = []
    tab.on("console", lambda m: "Content Security Policy" in m.text and tab.csp_violations.append(m.text))
    tab.dialogs = []
    tab.on("dialog", lambda d: (tab.dialogs.append(d.type), d.accept()))
    return tab


def log_in(page, base, next_path="", email="maya@example.org", password=PASSWORD):
    page.goto(base + "/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
