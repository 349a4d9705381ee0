"""The JSON error shape of the API and the webhooks (STYLE rule 9): `{"error": {"code": ..., "message": ...}}`
with a 4xx (or a 500 that says it is logged), never an HTML page or a stack trace."""

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"


def is_api_request() -> bool:
    """True on /api/ paths, whose errors are JSON (also those raised before any API view is found)."""
    return request.path.startswith(API_PREFIX)


def error_response(status: int, code: str, message: str):
    """The one error shape; a 401 of the API names its scheme (bearer tokens)."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401 and is_api_request():
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def http_error_response(error: HTTPException):
    """A Werkzeug HTTP error (404, 405, 413, 429...) in the one shape."""
    code = (error.name or "error").lower().replace(" ", "_")
    response = error_response(error.code or 500, code, error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() != "content-type":  # Allow on a 405, Retry-After on a 429
            response.headers[name] = value
    return response
