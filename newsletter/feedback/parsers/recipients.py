"""Who failed, in a notice that is neither a DSN nor a qmail bounce: GNU Mailman's detectors (flufl.bounce),
then, for the layouts they do not know, the first address of the notice that is not ours.

flufl.bounce knows the layouts of some twenty MTAs and providers (Exchange, GroupWise, Yahoo, Netscape,
SMTP32, Sina, "simple" notices...) and tells a warning from a failure; the scan alone takes the first
address it meets. bench/bounces.py measures each alone, and both together, on tests/corpus/bounces/.
"""

import logging
import re
from email.message import Message

from flufl.bounce import all_failures

from .model import MAX_EVENTS, recipient_or_none

log = logging.getLogger("newsletter.feedback")
DAEMON_LOCALS = {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon"}
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")


def failed_recipients(msg: Message, notice: str, *, ignored: set[str], verp_local: str) -> list[str]:
    """The failed recipients of a notice, ours and the reporter's own addresses left out; [] for a warning."""
    temporary, permanent = detected_failures(msg)
    found = [r for r in permanent if r not in ignored and not _ours(r, verp_local)]
    if found or temporary:
        return found[:MAX_EVENTS]
    scanned = scanned_recipient(notice, ignored, verp_local)
    return [scanned] if scanned else []


def detected_failures(msg: Message) -> tuple[list[str], list[str]]:
    """flufl.bounce's (temporary, permanent) failed recipients, normalised; nothing if a detector trips."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception as exc:  # noqa: BLE001 - a detector tripping on a hostile message must not stop the rest
        log.info("flufl.bounce could not read a notice (%s)", type(exc).__name__)
        return [], []
    return _normalised(temporary), _normalised(permanent)


def _normalised(found) -> list[str]:
    """flufl.bounce's byte strings as normalised addresses, sorted, junk left out."""
    addresses = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw) for raw in found)
    return sorted({r for r in map(recipient_or_none, addresses) if r})


def scanned_recipient(notice: str, ignored: set[str], verp_local: str) -> str | None:
    """The first address in the notice that is not ours, the reporter's or a postmaster's."""
    for candidate in _ADDRESS.findall(notice):
        recipient = recipient_or_none(candidate)
        if recipient is not None and recipient not in ignored and not _ours(recipient, verp_local):
            return recipient
    return None


def _ours(address: str, verp_local: str) -> bool:
    """Our return path or a reporter's mailbox: never the reader."""
    local = address.partition("@")[0]
    return local in DAEMON_LOCALS or local.startswith(f"{verp_local.lower()}+")
