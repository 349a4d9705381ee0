"""Mail HTML shown inside the admin pages, each in a sandboxed frame of its own.

A srcdoc frame would inherit this site's Content-Security-Policy, which forbids the inline styles every
mail needs. These responses carry their own policy: styles and images in, scripts and everything else out.
"""

from flask import Response

MAIL_FRAME_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
                               "frame-ancestors 'self'; sandbox",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}


def mail_html_response(html: str) -> Response:
    """An HTML part as a page for a sandboxed frame."""
    return Response(html, mimetype="text/html", headers=MAIL_FRAME_HEADERS)
