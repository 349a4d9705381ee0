"""An issue's Markdown made into sanitised HTML and into real plain text (not stripped tags).

markdown-it-py parses; raw HTML in the Markdown is not rendered, and nh3 cleans the result again, so no
script, event attribute or `javascript:` URL can reach a mail or the archive. The text part is written
from the same token stream: links keep their URLs, lists their bullets, quotes their `>`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# A line break typed in the composer stays a line break (a two-line signature, an address), as in mail.
_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
MAIL_IMAGE_WIDTH = 600  # the mail column: wider images are shown at this width


@dataclass(frozen=True)
class RenderedContent:
    html: str  # a sanitised HTML fragment (no <html> or <body>)
    text: str  # plain text for the text/plain part and for readers without HTML
    images: tuple[str, ...] = ()  # the src of every image, in order

    @property
    def image_origins(self) -> list[str]:
        """The https origins its images come from (for a page's Content-Security-Policy)."""
        origins = (urlsplit(src) for src in self.images)
        return sorted({f"https://{parts.netloc}" for parts in origins if parts.scheme == "https" and parts.netloc})


def sanitise_html(html: str) -> str:
    """Keep only harmless tags, attributes and URL schemes."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel=None, strip_comments=True)


def parse_markdown(markdown: str) -> list[Token]:
    """The markdown-it block tokens of a source, as rendering sees them (the pre-send check reads them too)."""
    return _markdown.parse(markdown or "")


def render_markdown(markdown: str, image_sizes: Mapping[str, tuple[int, int]] | None = None) -> RenderedContent:
    """HTML and plain text from one Markdown source; images of known size get width and height."""
    tokens = parse_markdown(markdown)
    images = size_images(tokens, image_sizes or {})
    html = sanitise_html(_markdown.renderer.render(tokens, _markdown.options, {}))
    return RenderedContent(html=html, text=TextWriter().write(tokens), images=tuple(images))


def size_images(tokens: list[Token], sizes: Mapping[str, tuple[int, int]]) -> list[str]:
    """Give images of known size their width and height (mail clients lay out before loading); list every src."""
    sources = []
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            sources.append(src)
            if src in sizes:
                width, height = display_size(*sizes[src])
                child.attrSet("width", str(width))
                child.attrSet("height", str(height))
    return sources


def display_size(width: int, height: int, max_width: int = MAIL_IMAGE_WIDTH) -> tuple[int, int]:
    """The size an image is shown at in the mail column, keeping its proportions."""
    if width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


class TextWriter:
    """Walks markdown-it block tokens and writes readable plain text."""

    def __init__(self):
        self.blocks: list[str] = []
        self.prefixes: list[str] = []  # "> " for quotes, indentation for list items
        self.lists: list[list] = []  # per open list: [ordered, next number]
        self.pending_bullet: str | None = None
        self.table: list[list[str]] | None = None
        self.tight = False  # paragraph of a tight list: items on consecutive lines
        self.list_starts = False

    def write(self, tokens: list[Token]) -> str:
        for token in tokens:
            handler = getattr(self, "on_" + token.type, None)
            if handler is not None:
                handler(token)
        return "\n\n".join(block for block in self.blocks if block.strip()).strip() + "\n"

    def emit(self, text: str) -> None:
        bullet, self.pending_bullet = self.pending_bullet, None
        first_prefix = "".join(self.prefixes[:-1]) + (bullet or "") if bullet else "".join(self.prefixes)
        rest_prefix = "".join(self.prefixes)
        lines = text.split("\n")
        written = "\n".join([first_prefix + lines[0]] +
                            [rest_prefix + line if line else rest_prefix.rstrip() for line in lines[1:]])
        if self.lists and self.tight and not self.list_starts and self.blocks:
            self.blocks[-1] += "\n" + written
        else:
            self.blocks.append(written)
        self.list_starts = False

    def on_paragraph_open(self, token: Token) -> None:
        self.tight = token.hidden

    def on_heading_open(self, token: Token) -> None:
        self.heading_level = int(token.tag[1])
        self.tight = False

    def on_inline(self, token: Token) -> None:
        text = inline_text(token.children or [])
        if self.table is not None:
            self.table[-1].append(text)
            return
        level = getattr(self, "heading_level", 0)
        if level:
            underline = {1: "=", 2: "-"}.get(level)
            text = f"{text}\n{underline * min(len(text), 72)}" if underline else f"{'#' * level} {text}"
            self.heading_level = 0
        self.emit(text)

    def on_bullet_list_open(self, token: Token) -> None:
        self.lists.append([False, 0])
        self.list_starts = True

    def on_ordered_list_open(self, token: Token) -> None:
        self.lists.append([True, int(token.attrGet("start") or 1)])
        self.list_starts = True

    def on_bullet_list_close(self, token: Token) -> None:
        self.lists.pop()

    on_ordered_list_close = on_bullet_list_close

    def on_list_item_open(self, token: Token) -> None:
        ordered, number = self.lists[-1]
        bullet = f"{number}. " if ordered else "- "
        self.lists[-1][1] = number + 1
        self.pending_bullet = bullet
        self.prefixes.append(" " * len(bullet))

    def on_list_item_close(self, token: Token) -> None:
        self.prefixes.pop()

    def on_blockquote_open(self, token: Token) -> None:
        self.prefixes.append("> ")

    def on_blockquote_close(self, token: Token) -> None:
        self.prefixes.pop()

    def on_fence(self, token: Token) -> None:
        self.emit("\n".join("    " + line for line in token.content.rstrip("\n").split("\n")))

    on_code_block = on_fence

    def on_hr(self, token: Token) -> None:
        self.emit("-" * 24)

    def on_table_open(self, token: Token) -> None:
        self.table = []

    def on_tr_open(self, token: Token) -> None:
        self.table.append([])

    def on_table_close(self, token: Token) -> None:
        rows, self.table = self.table, None
        self.emit("\n".join(" | ".join(cells) for cells in rows))


def preheader_text(markdown: str, limit: int = 150) -> str:
    """The first paragraph as plain words (no link addresses, no markup), cut at a word within `limit`: what
    an inbox shows beside the subject."""
    in_paragraph = False
    for token in parse_markdown(markdown):
        if token.type == "paragraph_open":
            in_paragraph = True
        elif token.type == "inline" and in_paragraph:
            pieces = (" " if child.type == "softbreak" else child.content for child in token.children or []
                      if child.type in ("text", "code_inline", "softbreak"))
            words = " ".join("".join(pieces).split())
            if words:
                return words if len(words) <= limit else words[:limit].rsplit(" ", 1)[0] + "…"
        elif token.type == "paragraph_close":
            in_paragraph = False
    return ""


def inline_text(children: list[Token]) -> str:
    """Inline tokens as text: links as 'text (url)', images as their alt text, code in backticks."""
    parts: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind == "text":
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append("\n")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "code_inline":
            parts.append(f"`{child.content}`")
        elif kind in ("em_open", "em_close"):
            parts.append("_")
        elif kind in ("strong_open", "strong_close"):
            parts.append("*")
        elif kind == "image":
            alt = child.content or (child.attrGet("alt") or "")
            parts.append(f"[{alt or 'image'}]")
        elif kind == "link_open":
            link_stack.append((str(child.attrGet("href") or ""), len(parts)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(parts[start:])
            if href and href not in (label, "mailto:" + label):
                parts.append(f" ({href})")
    return "".join(parts)
