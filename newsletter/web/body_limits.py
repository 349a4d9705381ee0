"""How large a request body each route takes, enforced before anything parses it.

Every route takes at most DEFAULT_MAX_BYTES; a view marked with `accepts_large_body(SETTING)` (the import
upload, images) takes that setting's bytes plus room for the multipart envelope. A declared Content-Length past
the limit is refused at once; a body without one (chunked) is read to at most the limit + 1 byte, so a
request never costs more memory than its route allows, whoever sends it (the webhooks read their body before
checking a signature: without this, 200 MB to /webhooks/ses took a worker from 100 to 500 MB).
"""

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

DEFAULT_MAX_BYTES = 1024 * 1024
MULTIPART_ROOM = 1024 * 1024  # the form's other fields and the part headers around a file


class BodyTooLarge(RequestEntityTooLarge):
    """413 with a description that says the limit of this route."""


def accepts_large_body(setting: str):
    """Mark a view that takes a body up to app.config[setting] bytes (plus the multipart envelope)."""
    def mark(view):
        view.body_limit_setting = setting
        return view
    return mark


def body_limit() -> int:
    """The most bytes the matched route takes: the large limit only for a file upload (multipart/form-data,
    which werkzeug streams to disk); any other body would be read into memory, so it gets the default."""
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(view, "body_limit_setting", None)
    if setting and request.mimetype == "multipart/form-data":
        return current_app.config[setting] + MULTIPART_ROOM
    return DEFAULT_MAX_BYTES


def limit_request_body() -> None:
    """Before any other hook (CSRF reads the form): set the route's limit and refuse what passes it."""
    limit = body_limit()
    request.max_content_length = limit
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large(limit)
        return  # werkzeug reads no more than the declared length
    if limit == DEFAULT_MAX_BYTES:
        # Chunked: read it now, up to the limit (werkzeug stops there); a body that fills it is refused, the
        # rest never read. The views and the form parser get the copy.
        try:
            if len(request.get_data(parse_form_data=False)) >= limit:
                raise too_large(limit)
        except BodyTooLarge:
            raise
        except RequestEntityTooLarge:
            raise too_large(limit) from None
    # A large route's chunked body streams to the parser, which werkzeug stops at the limit.


def too_large(limit: int) -> BodyTooLarge:
    size = f"{limit / 1048576:.3g} MB" if limit >= 1048576 else f"{limit / 1024:.3g} KB"
    return BodyTooLarge(_("This request is larger than %(size)s, the most this address accepts. Send less: "
                          "a shorter text, a smaller file.", size=size))


def init_app(app: Flask) -> None:
    """The default limit for anything outside a request hook, and the hook itself, registered first."""
    app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BYTES
    app.before_request(limit_request_body)
