"""`GET /healthz` for load balancers and service managers: 200 when the instance can work, 503 otherwise."""

from flask import Blueprint, current_app, jsonify

from .. import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The checks as JSON (newsletter/health.py), never cached."""
    report = health.check(current_app)
    response = jsonify(report)
    response.status_code = 200 if report["ok"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response
