"""Abuse limits of subscribing that fit real use: counted per IP, per address and per newsletter.

A workshop of 40 people on one Wi-Fi must be able to subscribe in a minute, while a script must not send
confirmation mail to thousands of strangers. So an IP has two allowances: a small one for attempts that bring
nothing new (repeats, typos, bots' honeypot fills) and a larger one for valid addresses it has not sent before.
Past any allowance (the IP's, the address's, the newsletter's) a submission is not refused outright: it must
carry a solved proof-of-work puzzle, which the page's script solves in the background (invisible to a person,
a fraction of a second of CPU) and which costs a script that CPU for every extra submission.

Counters live in Flask-Limiter's storage (Redis when configured), so every web process shares them.
"""

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from limits import parse, parse_many

from . import tokens
from .addresses import normalise_address
from .errors import InvalidInput
from .extensions import limiter
from .suppression import hmac_of

PUZZLE_BITS = 16  # about 65,000 SHA-256 hashes on average: a second or so of a browser's background work
PUZZLE_MAX_AGE = 3600
SEEN_WINDOW = parse("1/day")  # an address already sent from this IP today is a repeat, not a new address


@dataclass(frozen=True)
class Assessment:
    """What one submission is, before any work: a new address for this IP or not, and whether it needs a proof."""

    ip: str
    address_key: str | None  # a keyed hash of the normalised address; None when the address is not valid
    newsletter_id: int
    new_address: bool
    needs_proof: bool


def address_key(raw: str | None) -> str | None:
    """The counters' name for an address as typed: a keyed hash of it normalised; None if it is not valid."""
    try:
        return hmac_of(normalise_address(raw or ""))
    except InvalidInput:
        return None


def assess(ip: str | None, address_key: str | None, newsletter_id: int) -> Assessment:
    """Look at the counters without counting."""
    ip = ip or "unknown"
    strategy = limiter.limiter
    new_address = address_key is not None and strategy.test(SEEN_WINDOW, "subscribe-seen", ip, address_key)
    ip_limits = _limits("SUBSCRIBE_NEW_ADDRESSES_PER_IP" if new_address else "SUBSCRIBE_RATE_LIMIT")
    over = not all(strategy.test(item, "subscribe-ip", _kind(new_address), ip) for item in ip_limits)
    over = over or not all(strategy.test(item, "subscribe-newsletter", str(newsletter_id))
                           for item in _limits("SUBSCRIBE_ATTEMPTS_PER_NEWSLETTER"))
    if address_key is not None:
        over = over or not all(strategy.test(item, "subscribe-address", address_key)
                               for item in _limits("SUBSCRIBE_ATTEMPTS_PER_ADDRESS"))
    return Assessment(ip, address_key, newsletter_id, new_address, over and limiter.enabled)


def puzzle_needed(ip: str | None, newsletter_id: int) -> bool:
    """Whether a form shown now should carry a puzzle: this IP or this newsletter is past an allowance."""
    ip, strategy = ip or "unknown", limiter.limiter
    checks = [(setting, ("subscribe-ip", _kind(new), ip)) for setting, new in
              (("SUBSCRIBE_NEW_ADDRESSES_PER_IP", True), ("SUBSCRIBE_RATE_LIMIT", False))]
    checks.append(("SUBSCRIBE_ATTEMPTS_PER_NEWSLETTER", ("subscribe-newsletter", str(newsletter_id))))
    over = any(not strategy.test(item, *keys) for setting, keys in checks for item in _limits(setting))
    return over and limiter.enabled


def count(assessment: Assessment, refused: bool = False) -> None:
    """Count one submission on every counter it concerns (the same hits whatever the address's state).

    A submission refused for want of a proof counts as an attempt that brought nothing new: the same address
    sent again with its proof is still a new address for this IP.
    """
    strategy, ip = limiter.limiter, assessment.ip
    new_address = assessment.new_address and not refused
    for item in _limits("SUBSCRIBE_NEW_ADDRESSES_PER_IP" if new_address else "SUBSCRIBE_RATE_LIMIT"):
        strategy.hit(item, "subscribe-ip", _kind(new_address), ip)
    for item in _limits("SUBSCRIBE_ATTEMPTS_PER_NEWSLETTER"):
        strategy.hit(item, "subscribe-newsletter", str(assessment.newsletter_id))
    if assessment.address_key is not None:
        if not refused:
            strategy.hit(SEEN_WINDOW, "subscribe-seen", ip, assessment.address_key)
        for item in _limits("SUBSCRIBE_ATTEMPTS_PER_ADDRESS"):
            strategy.hit(item, "subscribe-address", assessment.address_key)


def new_puzzle() -> str:
    """A signed puzzle for a subscribe form (valid an hour, usable once)."""
    return tokens.make_token(current_app.config["SECRET_KEY"], tokens.CHALLENGE, 0, secrets.token_hex(8))


def proof_accepted(puzzle: str | None, solution: str | None) -> bool:
    """A genuine, fresh, unused puzzle whose solution makes SHA-256(puzzle ":" solution) start with
    PUZZLE_BITS zero bits. Using it spends it."""
    if not puzzle or not solution or len(solution) > 20 or not solution.isdigit():
        return False
    try:
        claim = tokens.read_token(current_app.config["SECRET_KEY"], tokens.CHALLENGE, puzzle, PUZZLE_MAX_AGE)
    except (tokens.TokenInvalid, tokens.TokenExpired):
        return False
    if leading_zero_bits(hashlib.sha256(f"{puzzle}:{solution}".encode()).digest()) < PUZZLE_BITS:
        return False
    return limiter.limiter.hit(parse("1/day"), "subscribe-puzzle", claim.nonce)  # False the second time


def solve(puzzle: str) -> str:
    """The solution a browser's script finds (used by tests and by clients of the form without a browser)."""
    counter = 0
    while leading_zero_bits(hashlib.sha256(f"{puzzle}:{counter}".encode()).digest()) < PUZZLE_BITS:
        counter += 1
    return str(counter)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def _kind(new_address: bool) -> str:
    return "new" if new_address else "other"


def _limits(setting: str):
    return parse_many(current_app.config[setting])
