"""Boundaries: arrows point down (the layers of docs/architecture.md), and services know nothing of requests,
views or templates (STYLE rules 2, 3, 17)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
SERVICE_MODULES = ["consent.py", "privacy.py", "suppression.py", "accounts.py", "newsletters.py", "export.py",
                   "tokens.py", "addresses.py", "states.py", "publishing.py", "checks.py",
                   "archive.py", "content.py", "readers.py", "sharing.py", "feed.py", "api_tokens.py",
                   "reader_requests.py", "branding.py", "media.py", "media_store.py", "images.py", "timezones.py",
                   "sending_domains.py", "senders.py", "send_progress.py", "health.py"]
SERVICE_PACKAGES = ["importer", "admin_jobs", "sending", "feedback", "feedback/parsers", "stats", "domains"]
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


# --- layers: arrows point down (docs/architecture.md) ------------------------------------------------------

# Top to bottom; a module imports from its own layer and the layers below it, never above. Every module of the
# package is in exactly one layer (a new module is placed here, and on the diagram in docs/architecture.md).
LAYERS = {
    "entry points": ["newsletter", "newsletter.web", "newsletter.cli", "newsletter.cli_auditing", "newsletter.tasks"],
    "services": ["newsletter.consent", "newsletter.publishing", "newsletter.accounts", "newsletter.newsletters",
                 "newsletter.privacy", "newsletter.readers", "newsletter.reader_requests", "newsletter.sharing",
                 "newsletter.checks", "newsletter.sending_domains", "newsletter.senders",
                 "newsletter.archive", "newsletter.feed", "newsletter.api_tokens", "newsletter.backup",
                 "newsletter.demo", "newsletter.timezones", "newsletter.login_backoff",
                 "newsletter.subscribe_limits", "newsletter.send_progress", "newsletter.health",
                 "newsletter.reader_links", "newsletter.two_factor", "newsletter.audit"],
    "engines": ["newsletter.importer", "newsletter.admin_jobs", "newsletter.export", "newsletter.sending",
                "newsletter.stats", "newsletter.feedback", "newsletter.mail", "newsletter.domains",
                "newsletter.branding", "newsletter.media", "newsletter.media_store", "newsletter.images"],
    "ledger": ["newsletter.models", "newsletter.states", "newsletter.transitions", "newsletter.tokens",
               "newsletter.suppression"],
    "plumbing": ["newsletter.extensions", "newsletter.database", "newsletter.config", "newsletter.errors",
                 "newsletter.links", "newsletter.content", "newsletter.logs", "newsletter.addresses",
                 "newsletter.redis_client", "newsletter.spreadsheet_cells", "newsletter.sealing"],
}
# Arrows that climb on purpose, each with its reason. Keep this list short: fix an arrow rather than add it.
CLIMBING_ALLOWED = {
    # extensions.py holds the unbound extension objects; the mail extension is mail/connection.py's Flask-Mail
    # subclass (timeout, TLS, outbox), so its class has to be imported to be instantiated there.
    ("newsletter.extensions", "newsletter.mail.connection"),
    # The embedded runner hands the tick to Celery when CELERY_BROKER_URL is set (STYLE rule 15: which runner
    # runs is one configuration value); tasks.py is where the Celery app lives, imported only then.
    ("newsletter.sending.runner", "newsletter.tasks"),
    # An opt-out report, a mailto: unsubscribe and the restore of a reader wrongly suppressed are the reader's
    # lifecycle: feedback calls consent, its one home, rather than write subscriptions itself.
    ("newsletter.feedback.record", "newsletter.consent"),
    ("newsletter.feedback.inbound", "newsletter.consent"),
    ("newsletter.feedback.restore", "newsletter.consent"),
    # Which key signs a newsletter's mail is sending_domains' rule (with its domain check); the send path asks
    # it once per issue and process rather than keep a second copy of the rule.
    ("newsletter.sending.work", "newsletter.sending_domains"),
}


def layer_of(module: str) -> int:
    """The layer's rank (0 = top) of a module of the package, by its longest listed prefix."""
    ranks = [(len(prefix), rank) for rank, prefixes in enumerate(LAYERS.values()) for prefix in prefixes
             if module == prefix or (prefix != "newsletter" and module.startswith(prefix + "."))]
    assert ranks, f"{module} is in no layer: place it in LAYERS (and on docs/architecture.md's diagram)"
    return max(ranks)[1]


def package_imports(module: str, is_package: bool, source: str) -> list[tuple[int, str]]:
    """(line, module) for every import of the package in `source`, at any depth (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "newsletter"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "newsletter":
                continue
            for alias in node.names:  # `from . import consent` imports the module newsletter.consent
                named = f"{target}.{alias.name}"
                found.append((node.lineno, named if _is_module(named) else target))
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def climbing_imports(sources: dict[str, tuple[bool, str]], allowed=frozenset()) -> list[str]:
    """Imports of a module from a layer above its own; `sources` maps module -> (is_package, source)."""
    climbing = []
    for module, (is_package, source) in sorted(sources.items()):
        for line, target in package_imports(module, is_package, source):
            if layer_of(target) < layer_of(module) and (module, target) not in allowed:
                climbing.append(f"{module}:{line} imports {target}")
    return climbing


def package_sources() -> dict[str, tuple[bool, str]]:
    sources = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        sources[".".join(parts[:-1] if is_package else parts)] = (is_package, path.read_text())
    return sources


def test_no_import_climbs_a_layer_even_inside_a_function():
    assert climbing_imports(package_sources(), CLIMBING_ALLOWED) == []


def test_the_layer_check_fails_on_a_climbing_import():
    sources = {
        "newsletter.stats.leaving": (False, "def reasons():\n    from ..consent import UNSUBSCRIBE_REASONS\n"),
        "newsletter.sending.follow": (False, "import newsletter.web.api\nfrom .. import publishing\n"),
        "newsletter.importer": (True, "from ..web.admin import share\nfrom ..models import Issue\n"),
        "newsletter.mail.fine": (False, "from ..states import IssueStatus\nfrom . import headers\nimport os\n"),
    }
    assert climbing_imports(sources) == [
        "newsletter.importer:1 imports newsletter.web.admin.share",
        "newsletter.sending.follow:1 imports newsletter.web.api",
        "newsletter.sending.follow:2 imports newsletter.publishing",
        "newsletter.stats.leaving:2 imports newsletter.consent",
    ]



def test_every_allowed_climbing_import_is_still_there_and_still_climbs():
    """An entry of CLIMBING_ALLOWED whose import was removed or now points down is stale: remove it, so the
    list stays the short record of the arrows that still climb."""
    sources = package_sources()
    stale = [f"{module} -> {target}" for module, target in sorted(CLIMBING_ALLOWED)
             if module not in sources
             or target not in {named for _line, named in package_imports(module, *sources[module])}
             or layer_of(target) >= layer_of(module)]
    assert stale == []
