"""How values look on pages: numbers in the page's locale, URLs in plain text as links."""

import re

from flask_babel import format_decimal
from markupsafe import Markup, escape

from ..states import REASON_LABELS

# A URL in plain text ends before whitespace, a quote or an angle bracket; trailing punctuation is the sentence's.
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]"


def number(value, digits: int = 0) -> str:
    """A figure with the locale's grouping ("180,000" / "180 000"), rounded to `digits` decimals."""
    if value is None:
        return "–"
    rounded = round(float(value), digits)
    return format_decimal(rounded if digits else int(rounded), format="#,##0" + ("." + "#" * digits if digits else ""))


def linkify(text: str | None) -> Markup:
    """Escape plain text and make each http(s) URL in it a link that opens in a new tab."""
    out, last = [], 0
    text = text or ""
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def register(app) -> None:
    """Make the filters available to every template."""
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.globals["reason_labels"] = REASON_LABELS  # why readers left, in the page's language
