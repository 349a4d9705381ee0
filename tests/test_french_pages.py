"""No English on a French page: every reader page of a French newsletter, and every publisher page for a browser
that asks for French, is walked, and no English message of the catalogue may show through untranslated."""

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.models import Subscription
from tests.conftest import create_demo_newsletter, csrf_token
from tests.support.publishers import login, make_issue, publish
from tests.support.sending_helpers import confirmed_readers

ROOT = Path(__file__).resolve().parent.parent
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
ENGLISH_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}  # a reader's browser in English, a French newsletter
# WTForms' own messages, which come from its catalogue rather than ours.
WTFORMS_ENGLISH = ["This field is required.", "Field must be", "Not a valid", "Invalid input."]


def english_fragments() -> list[str]:
    """Runs of at least three words of each message whose French differs: what would show if untranslated."""
    catalog = read_po((ROOT / "translations/fr/LC_MESSAGES/messages.po").open("rb"))
    fragments = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, msgstr in zip(ids, strings):
            if msgid == msgstr:
                continue
            for piece in re.split(r"%\(\w+\)[sdr]|%%|\*\*|[“”«»]", msgid):
                piece = piece.strip(" .,:;()!?·-–")
                if len(piece.split()) >= 3:
                    fragments.add(piece)
    return sorted(fragments, key=len, reverse=True)


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return " ".join(text.split())


@pytest.fixture
def world(make_app, smtp):
    """A French newsletter with a reader, a sent issue and a draft. Requests run without a lasting app context,
    as in production, so each one chooses its language afresh."""
    app = make_app(START_SENDER=False)
    with app.app_context():
        newsletter = create_demo_newsletter(slug="carnet", language="fr")
        confirmed_readers(newsletter, 1)
        consent.subscribe(newsletter, "attente@example.net", "", ip=None, source="https://x.test", wording="w")
        db.session.commit()
        issue, draft = publish(newsletter, "Le temps des cerises"), make_issue(newsletter, subject="Brouillon")
        confirmed, pending = (db.session.scalars(db.select(Subscription).where(Subscription.status == status)).first()
                              for status in ("confirmed", "pending"))
        reader_paths = [
            "/n/carnet", f"/n/carnet/issues/{issue.id}", "/n/carnet/issues/999999",
            f"/unsubscribe/{consent.token_for(tokens.UNSUBSCRIBE, confirmed)}",
            f"/preferences/{consent.token_for(tokens.PREFERENCES, confirmed.subscriber)}",
            f"/confirm/{consent.token_for(tokens.CONFIRM, pending)}",
        ]
        ids = {"issue": issue.id, "draft": draft.id, "reader": confirmed.id}
    return app.test_client(), reader_paths, ids


def test_reader_pages_of_a_french_newsletter_show_no_english(world):
    client, reader_paths, _ = world
    fragments = english_fragments()
    for path in reader_paths:
        page = client.get(path, headers=ENGLISH_BROWSER)
        assert page.status_code in (200, 404), path
        assert "Aller au contenu" in visible_text(page.text), path
        leaks = [f for f in fragments if f in visible_text(page.text)]
        assert leaks == [], f"{path} shows English: {leaks}"


def test_form_errors_on_french_pages_are_french(world):
    client, _, _ = world
    token = csrf_token(client, "/n/carnet")
    page = client.post("/n/carnet/subscribe", data={"csrf_token": token, "email": "", "name": "x" * 300},
                       headers=ENGLISH_BROWSER)
    text = visible_text(page.text)
    assert page.status_code == 400 and "Saisissez" in text
    assert not [m for m in WTFORMS_ENGLISH if m in text]


def test_the_length_error_of_the_name_on_french_preferences_is_french(world):
    client, reader_paths, _ = world
    path = next(p for p in reader_paths if p.startswith("/preferences/"))
    page = client.post(path + "/name", data={"csrf_token": csrf_token(client, path), "name": "x" * 300},
                       headers=ENGLISH_BROWSER)
    text = visible_text(page.text)
    assert page.status_code == 400 and "200" in text
    assert not [m for m in WTFORMS_ENGLISH + ["cannot be longer"] if m in text]


def test_publisher_pages_in_french_show_no_english(world):
    client, _, ids = world
    login(client, "maya@example.org")
    fragments = english_fragments()
    n = "/admin/n/carnet"
    paths = ["/admin/", n, f"{n}/issues/new", f"/admin/issues/{ids['draft']}", f"/admin/issues/{ids['issue']}",
             f"/admin/issues/{ids['draft']}/preview", f"{n}/subscribers", f"{n}/subscribers/{ids['reader']}",
             f"{n}/settings", f"{n}/share", f"{n}/import", f"{n}/stats", f"/admin/issues/{ids['issue']}/stats",
             "/admin/stats", "/admin/tokens", "/admin/password", "/admin/time-zone", f"{n}/invite", f"{n}/branding"]
    for path in paths:
        page = client.get(path, headers=FRENCH)
        assert page.status_code == 200, path
        text = visible_text(page.text)
        assert "Aller au contenu" in text, path  # the page is in French at all
        leaks = [f for f in fragments if f in text]
        assert leaks == [], f"{path} shows English: {leaks}"


def test_dates_on_french_pages_are_written_the_french_way(world):
    client, _, _ = world
    page = visible_text(client.get("/n/carnet", headers=ENGLISH_BROWSER).text)
    assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", page)
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{2}\b", page)


def test_every_string_of_the_code_and_templates_has_its_french_translation():
    from babel.messages.extract import extract_from_dir

    method_map = [("newsletter/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = {message[2] if isinstance(message[2], str) else message[2][0]
             for message in extract_from_dir(str(ROOT), method_map, keywords=keywords)}
    catalog = read_po((ROOT / "translations/fr/LC_MESSAGES/messages.po").open("rb"))
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
                  if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    assert sorted(found - translated) == []
