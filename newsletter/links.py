"""Absolute links for e-mails and feeds, built from BASE_URL and the app's own routes (no request needed)."""

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """The public URL of a route, e.g. external_url('public.confirm', token=t)."""
    adapter = current_app.extensions.get("newsletter.url_adapter")
    if adapter is None:
        parts = urlsplit(current_app.config["BASE_URL"])
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        current_app.extensions["newsletter.url_adapter"] = adapter
    return adapter.build(endpoint, values, force_external=True)
