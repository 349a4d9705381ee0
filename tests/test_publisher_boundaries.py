"""The publishing services know nothing of requests, views or templates (STYLE rules 2, 3, 17)."""

from tests.test_architecture import FORBIDDEN_NAMES, PACKAGE, imports_of

PUBLISHING_SERVICES = ["publishing.py", "checks.py", "readers.py", "sharing.py", "feed.py", "archive.py"]


def test_publishing_services_import_nothing_from_web_or_flask_request():
    offenders = [
        f"{name} imports {module} {names}"
        for name in PUBLISHING_SERVICES
        for module, _, names in imports_of(PACKAGE / name)
        if "web" in module.split(".") or (module == "flask" and FORBIDDEN_NAMES & set(names))
    ]
    assert offenders == []
