"""Mail HTML shown inside the admin pages, each in a sandboxed frame of its own.

A srcdoc frame would inherit this site's Content-Security-Policy, which forbids the inline styles every
mail needs. These responses carry their own policy: styles and images in, scripts and everything else out.
A link in the mail opens in a new tab (a `<base target>` and the sandbox's allow-popups): followed inside the
frame, it would meet our own pages' `X-Frame-Options: DENY` and show a broken frame.
"""

import re

from flask import Response

# The iframe's sandbox attribute and the response's own sandbox say the same: no script, links open outside.
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
MAIL_FRAME_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
                               f"frame-ancestors 'self'; sandbox {FRAME_SANDBOX}",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
_BASE = '<base target="_blank">'


def mail_html_response(html: str) -> Response:
    """An HTML part as a page for a sandboxed frame, its links opening in a new tab."""
    return Response(open_links_outside(html), mimetype="text/html", headers=MAIL_FRAME_HEADERS)


def open_links_outside(html: str) -> str:
    """The mail's HTML with a `<base target="_blank">`, inside its head if it has one."""
    match = _HEAD.search(html)
    if match is None:
        return _BASE + html
    return html[:match.end()] + _BASE + html[match.end():]
