"""The archive: a public page per published issue, the newsletter page lists them, and a valid Atom feed."""

import feedparser

from newsletter import publishing
from newsletter.extensions import db
from tests.support.publishers import make_issue, publish


def test_feed_parses_and_lists_published_issues_only(client, newsletter):
    first = publish(newsletter, "Première lettre : l'été")
    second = publish(newsletter, "Second <issue> & more")
    make_issue(newsletter, "draft", subject="A draft nobody may see")
    make_issue(newsletter, "scheduled", subject="A scheduled one")
    answer = client.get(f"/n/{newsletter.slug}/feed.xml")
    assert answer.status_code == 200 and answer.mimetype == "application/atom+xml"
    feed = feedparser.parse(answer.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title == "Slow Mornings"
    assert [entry.title for entry in feed.entries] == [second.subject, first.subject]
    assert feed.entries[1].link == f"https://news.example.test/n/{newsletter.slug}/issues/{first.id}"
    assert "I tried waking up" in feed.entries[0].content[0].value
    assert "draft nobody" not in answer.text and "scheduled one" not in answer.text


def test_feed_of_a_newsletter_without_issues_is_valid(client, newsletter):
    feed = feedparser.parse(client.get(f"/n/{newsletter.slug}/feed.xml").data)
    assert not feed.bozo and feed.entries == []


def test_feed_of_an_unknown_newsletter_is_404(client, newsletter):
    assert client.get("/n/nope/feed.xml").status_code == 404


def test_newsletter_page_lists_past_issues_and_links_the_feed(client, newsletter):
    issue = publish(newsletter, "What the breath knows")
    make_issue(newsletter, "draft", subject="Unfinished thoughts")
    page = client.get(f"/n/{newsletter.slug}").text
    assert "What the breath knows" in page and f"/n/{newsletter.slug}/issues/{issue.id}" in page
    assert "Unfinished thoughts" not in page
    assert f'type="application/atom+xml"' in page and f"/n/{newsletter.slug}/feed.xml" in page


def test_published_issue_has_a_public_page(client, newsletter):
    issue = publish(newsletter, "What the breath knows")
    page = client.get(f"/n/{newsletter.slug}/issues/{issue.id}")
    assert page.status_code == 200 and "What the breath knows" in page.text
    assert '<a href="https://example.org/guide">short guide</a>' in page.text


def test_drafts_scheduled_and_other_newsletters_issues_are_not_public(client, newsletter, app):
    from tests.conftest import create_demo_newsletter

    other = create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    draft = make_issue(newsletter, "draft")
    scheduled = make_issue(newsletter, "scheduled")
    foreign = publish(other, "Someone else's")
    for issue_id in (draft.id, scheduled.id, foreign.id, 999999):
        assert client.get(f"/n/{newsletter.slug}/issues/{issue_id}").status_code == 404


def test_cancelled_draft_never_reaches_the_archive(client, newsletter):
    issue = make_issue(newsletter, "draft")
    publishing.cancel(issue)
    db.session.commit()
    assert client.get(f"/n/{newsletter.slug}/issues/{issue.id}").status_code == 404


def test_forward_to_a_friend_shares_only_the_subscribe_link(client, newsletter):
    issue = publish(newsletter, "Worth passing on")
    page = client.get(f"/n/{newsletter.slug}/issues/{issue.id}").text
    forward = page.split('class="forward"><a href="', 1)[1].split('"', 1)[0]
    assert forward.startswith("mailto:?subject=")  # no recipient: the reader's own mail program asks
    assert "slow-mornings" in forward and "/issues/" not in forward.split("body=", 1)[1]
