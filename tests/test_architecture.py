"""Boundaries: services know nothing of requests, views or templates (STYLE rules 2, 3, 17)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
SERVICE_MODULES = ["consent.py", "privacy.py", "suppression.py", "accounts.py", "newsletters.py", "export.py",
                   "tokens.py", "addresses.py", "states.py", "publishing.py", "checks.py",
                   "archive.py", "content.py", "readers.py", "sharing.py", "feed.py", "api_tokens.py",
                   "reader_requests.py", "branding.py", "media.py", "media_store.py", "images.py", "timezones.py",
                   "sending_domains.py", "senders.py"]
SERVICE_PACKAGES = ["importer", "sending", "feedback", "feedback/parsers", "stats", "domains"]
FORBIDDEN_NAMES = {"request", "session", "render_template", "redirect", "url_for", "flash"}
# mail/ is where messages are built: rendering the e-mail templates is its job, nothing of a request is.
MAIL_FORBIDDEN_NAMES = FORBIDDEN_NAMES - {"render_template"}


def service_files() -> list[Path]:
    files = [PACKAGE / name for name in SERVICE_MODULES if (PACKAGE / name).exists()]
    for package in SERVICE_PACKAGES:
        files.extend(sorted((PACKAGE / package).glob("*.py")))
    return files


def imports_of(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0, []


def offending_imports(paths, forbidden: set[str]) -> list[str]:
    offenders = []
    for path in paths:
        for module, level, names in imports_of(path):
            if "web" in module.split(".") or (module == "flask" and forbidden & set(names)):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module} {names}")
    return offenders


def test_services_import_nothing_from_web_or_flask_request():
    assert offending_imports(service_files(), FORBIDDEN_NAMES) == []


def test_mail_builders_render_templates_but_know_no_request():
    assert offending_imports(sorted((PACKAGE / "mail").glob("*.py")), MAIL_FORBIDDEN_NAMES) == []


def test_there_is_no_catch_all_module():
    names = {p.stem for p in PACKAGE.rglob("*.py")}
    assert not names & {"utils", "helpers", "manager", "misc", "common"}


def test_schema_comes_from_migrations_not_create_all():
    for path in PACKAGE.rglob("*.py"):
        assert "create_all(" not in path.read_text(), path


def test_feedback_parsers_and_reason_table_are_pure():
    """What a bounce means is decided without a database or an app, so it is tested on the corpus alone."""
    pure = sorted((PACKAGE / "feedback" / "parsers").glob("*.py")) + [PACKAGE / "feedback" / "reasons.py"]
    offenders = []
    for path in pure:
        for module, _level, _names in imports_of(path):
            top = module.split(".")[0]
            if top in {"flask", "sqlalchemy", "flask_sqlalchemy"} or module.split(".")[-1] in {"models", "extensions"}:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []
