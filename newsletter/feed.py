"""The Atom feed (RFC 4287) of a newsletter's published issues, for feed readers.

Built with ElementTree, which escapes every value; entry content is the same sanitised HTML as the archive.
"""

from datetime import datetime, timezone
# Reviewed for bandit: ElementTree builds the feed here and parses nothing.
from xml.etree import ElementTree as ET  # nosec B405

from .archive import published_issues
from .content import render_markdown
from .links import external_url
from .models import Issue, Newsletter

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 30

ET.register_namespace("", ATOM)


def atom_feed(newsletter: Newsletter) -> bytes:
    """The feed document: the newest published issues (never drafts or scheduled ones)."""
    issues = published_issues(newsletter, FEED_SIZE)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": newsletter.language})
    page_url = external_url("public.newsletter", slug=newsletter.slug)
    _text(feed, "id", page_url)
    _text(feed, "title", newsletter.name)
    if newsletter.description:
        _text(feed, "subtitle", newsletter.description)
    _text(feed, "updated", _rfc3339(issues[0].started_at if issues else newsletter.created_at))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=page_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml",
                  href=external_url("public.feed", slug=newsletter.slug))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", newsletter.from_name or newsletter.name)
    for issue in issues:
        feed.append(_entry(newsletter, issue))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(newsletter: Newsletter, issue: Issue) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    url = external_url("public.issue", slug=newsletter.slug, issue_id=issue.id)
    _text(entry, "id", url)
    _text(entry, "title", issue.subject)
    _text(entry, "published", _rfc3339(issue.started_at))
    _text(entry, "updated", _rfc3339(issue.started_at))
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=url)
    content = _text(entry, "content", render_markdown(issue.body_markdown).html)
    content.set("type", "html")
    return entry


def _text(parent: ET.Element, name: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = value
    return element


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
