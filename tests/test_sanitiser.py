"""Hostile Markdown is neutralised in the e-mail's HTML part and on the archive page: no script, no event
attribute, no javascript: URL, no style a publisher's text could inject."""

from html.parser import HTMLParser

import pytest

from newsletter import publishing
from newsletter.content import render_markdown, sanitise_html
from tests.support.publishers import publish

HOSTILE = {
    "script tag": "Hello <script>alert('x')</script> world",
    "onerror attribute": "Look: <img src=x onerror=\"alert('x')\">",
    "event handler on svg": "<svg onload=alert(1)><circle r=1 /></svg>",
    "javascript link": "[click me](javascript:alert(1))",
    "mixed-case javascript link": "[click me](JaVaScRiPt:alert(1))",
    "entity-encoded javascript link": "[click me](&#106;avascript:alert(1))",
    "javascript image": "![pic](javascript:alert(1))",
    "data URL link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "style tag": "<style>body { color: #badbad; display: none }</style>",
    "style attribute": "<p style=\"color: #badbad; position: fixed\">text</p>",
    "iframe": "<iframe src=\"https://evil.example/\"></iframe>",
    "title breaking out": "[a](https://example.org \"t\\\" onmouseover=\\\"alert(1)\")",
    "autolink javascript": "<javascript:alert(1)>",
}


class Tags(HTMLParser):
    """Collects every element and attribute of a document, as a browser would parse them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def assert_harmless(html: str, allow_style_attributes: bool = False) -> None:
    for tag, attrs in Tags(html).elements:
        assert tag not in ("script", "style", "iframe", "object", "embed", "svg"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), f"{tag} has event attribute {name}"
            squeezed = "".join(value.split()).lower()
            assert not squeezed.startswith(("javascript:", "data:", "vbscript:")), f"{tag} {name}={value}"
            assert "badbad" not in value, f"injected style in {tag} {name}"
            if name == "style":
                assert allow_style_attributes, f"{tag} carries a style attribute"


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_rendered_html_is_harmless(case):
    assert_harmless(render_markdown(HOSTILE[case]).html)


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_email_html_part_is_harmless(newsletter, case):
    issue = publishing.create_issue(newsletter, newsletter.owner, "Subject", HOSTILE[case])
    preview = publishing.preview(issue, newsletter.owner)
    # The mail's own CSS is inlined as style attributes; none may come from the publisher's text.
    assert_harmless(preview.html, allow_style_attributes=True)


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_archive_page_is_harmless(client, newsletter, case):
    issue = publish(newsletter, "Hostile", HOSTILE[case] + "\n\nAnd some words so that it can be sent.")
    page = client.get(f"/n/{newsletter.slug}/issues/{issue.id}")
    assert page.status_code == 200
    assert_harmless(page.text)


def test_sanitiser_cleans_raw_html_too():
    cleaned = sanitise_html('<a href="javascript:x" onclick="y" style="color:red">t</a><script>s()</script>'
                            '<img src="https://example.org/a.png" onerror="z"><p style="x">p</p>')
    assert_harmless(cleaned)
    assert "<script" not in cleaned and ">t</a>" in cleaned and 'src="https://example.org/a.png"' in cleaned


def test_hostile_text_stays_readable_as_text():
    text = render_markdown(HOSTILE["script tag"]).text
    assert "Hello" in text and "world" in text


def test_safe_links_and_images_survive():
    html = render_markdown("[site](https://example.org/a?b=1&c=2) ![a cat](https://example.org/cat.jpg) "
                           "[mail](mailto:maya@example.org)").html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert 'src="https://example.org/cat.jpg"' in html and 'alt="a cat"' in html
    assert 'href="mailto:maya@example.org"' in html
