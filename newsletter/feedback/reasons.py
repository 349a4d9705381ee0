"""What a refusal means, and what it does: the one reason table of the instance (pure: no app, no database).

Every bounce, from a DSN, a plain-text notice, a provider webhook or the SMTP server's answer during a send,
gets a reason from, in that order of trust: the RFC 3463 enhanced status code (subject and detail), the
server's words (the DSN's diagnostic, else the notice's text) and, last, the basic SMTP reply code. The
reason decides the consequence, never the first digit alone:

- about the address (unknown user or domain, moved): the reader is suppressed at once;
- about the reader's mailbox, for a while (full, over quota, suspended, expired, their server failing):
  soft, counted once per delivery, suppressing after SOFT_BOUNCE_LIMIT deliveries in the window;
- about the sender (authentication, blocklists, reputation, spam or content filters, policy, rate, relaying):
  never counted against the reader; recorded per issue and receiving domain for the publisher to fix.
"""

import re
from enum import StrEnum



# RFC 3463 2: class "." subject "." detail, subject and detail of 1-3 digits. The look-arounds keep
# IP addresses (192.0.2.5) and dates (1.2.2024) from passing for codes.
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A basic RFC 5321 reply code where servers put one: at the start, or after "said:" / "]:" / ";".
_BASIC = re.compile(r"(?:^|said:|\]:|;)\s*([45][0-5]\d)(?:[ -]|$)", re.IGNORECASE)


def find_enhanced_status(text: str | None) -> str | None:
    """The first RFC 3463 enhanced status code in `text` ("5.1.1"), or None."""
    if not text:
        return None
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else None


def find_reply_code(text: str | None) -> str | None:
    """The first basic SMTP reply code where servers put one ("550"), or None."""
    if not text:
        return None
    found = _BASIC.search(text)
    return found.group(1) if found else None


class Reason(StrEnum):
    USER_UNKNOWN = "user_unknown"
    HOST_UNKNOWN = "host_unknown"
    HAS_MOVED = "has_moved"
    MAILBOX_FULL = "mailbox_full"
    QUOTA = "quota"  # the mailbox receives too many messages, or too fast
    EXPIRED = "expired"  # the reporting server gave up retrying
    SUSPENDED = "suspended"  # the mailbox exists but is disabled
    NETWORK_ERROR = "network_error"
    SYSTEM_ERROR = "system_error"
    BLOCKED = "blocked"  # blocklists, the sending IP's or domain's reputation
    AUTH_FAILURE = "auth_failure"  # SPF, DKIM, DMARC, reverse DNS
    POLICY = "policy"
    SPAM_DETECTED = "spam_detected"
    RATE_LIMITED = "rate_limited"
    CONTENT_REJECTED = "content_rejected"  # size, attachments, viruses, malformed message
    RELAYING_DENIED = "relaying_denied"
    UNDETERMINED = "undetermined"


class Group(StrEnum):
    ADDRESS = "address"  # suppress now
    READER = "reader"  # reader-side, temporary: soft
    SENDER = "sender"  # the publisher's to fix: never against the reader
    UNCLEAR = "unclear"  # nothing to go on: soft, like a temporary failure


R, G = Reason, Group
GROUPS: dict[Reason, Group] = {
    R.USER_UNKNOWN: G.ADDRESS, R.HOST_UNKNOWN: G.ADDRESS, R.HAS_MOVED: G.ADDRESS,
    R.MAILBOX_FULL: G.READER, R.QUOTA: G.READER, R.EXPIRED: G.READER, R.SUSPENDED: G.READER,
    R.NETWORK_ERROR: G.READER, R.SYSTEM_ERROR: G.READER,
    R.BLOCKED: G.SENDER, R.AUTH_FAILURE: G.SENDER, R.POLICY: G.SENDER, R.SPAM_DETECTED: G.SENDER,
    R.RATE_LIMITED: G.SENDER, R.CONTENT_REJECTED: G.SENDER, R.RELAYING_DENIED: G.SENDER,
    R.UNDETERMINED: G.UNCLEAR,
}

# RFC 3463 (and RFC 3886, 4954, 7293, 7372, 7505) subject.detail -> reason. A code marked ambiguous below
# is used only when the server's words say nothing more precise.
BY_STATUS: dict[str, Reason] = {
    "1.1": R.USER_UNKNOWN, "1.2": R.HOST_UNKNOWN, "1.3": R.USER_UNKNOWN, "1.6": R.HAS_MOVED,
    "1.10": R.HOST_UNKNOWN, "1.7": R.POLICY, "1.8": R.POLICY,
    "2.1": R.SUSPENDED, "2.2": R.MAILBOX_FULL, "2.3": R.CONTENT_REJECTED, "2.4": R.SYSTEM_ERROR,
    "3.1": R.SYSTEM_ERROR, "3.2": R.SYSTEM_ERROR, "3.3": R.SYSTEM_ERROR, "3.4": R.CONTENT_REJECTED,
    "3.5": R.SYSTEM_ERROR,
    "4.1": R.NETWORK_ERROR, "4.2": R.NETWORK_ERROR, "4.3": R.SYSTEM_ERROR, "4.4": R.NETWORK_ERROR,
    "4.5": R.SYSTEM_ERROR, "4.6": R.SYSTEM_ERROR, "4.7": R.EXPIRED,
    "5.3": R.RATE_LIMITED,
    "7.1": R.POLICY, "7.2": R.POLICY, "7.3": R.POLICY, "7.4": R.POLICY, "7.5": R.POLICY, "7.6": R.POLICY,
    "7.7": R.AUTH_FAILURE, "7.8": R.AUTH_FAILURE, "7.9": R.AUTH_FAILURE, "7.10": R.POLICY,
    "7.11": R.POLICY, "7.12": R.AUTH_FAILURE, "7.13": R.AUTH_FAILURE, "7.14": R.POLICY,
    "7.17": R.HAS_MOVED, "7.18": R.HOST_UNKNOWN,
    "7.20": R.AUTH_FAILURE, "7.21": R.AUTH_FAILURE, "7.22": R.AUTH_FAILURE, "7.23": R.AUTH_FAILURE,
    "7.24": R.AUTH_FAILURE, "7.25": R.AUTH_FAILURE, "7.26": R.AUTH_FAILURE, "7.27": R.POLICY,
    "7.28": R.SPAM_DETECTED, "7.29": R.AUTH_FAILURE, "7.30": R.POLICY,
}
# Codes that many servers use for several things (X.7.1 for blocklists and for unknown users, X.2.1 for a
# disabled mailbox or an unknown one, X.2.3 for a full maildir as well as a message too large): the words
# decide when they are clear.
AMBIGUOUS = {"1.0", "2.0", "2.1", "2.3", "3.0", "4.0", "4.4", "5.0", "7.0", "7.1"}
# When a status subject is known but the words say nothing: the subject's general meaning (RFC 3463 3).
BY_SUBJECT: dict[str, Reason] = {
    "1": R.UNDETERMINED, "2": R.UNDETERMINED, "3": R.SYSTEM_ERROR, "4": R.NETWORK_ERROR,
    "5": R.SYSTEM_ERROR, "6": R.CONTENT_REJECTED, "7": R.POLICY,
}
# The weakest signal: the basic reply code (RFC 5321 4.2.3), when nothing else says anything.
BY_REPLY_CODE: dict[str, Reason] = {"551": R.HAS_MOVED, "552": R.MAILBOX_FULL, "421": R.SYSTEM_ERROR,
                                    "452": R.SYSTEM_ERROR}
# A reason the words give may override an ambiguous code only within what the code can mean: an X.7.x is
# about the sender or the message unless the words clearly name the address.
SENDER_SUBJECT = "7"

rx = re.compile
# The servers' words, most specific first. Bounded repeats keep them linear on hostile text.
WORDINGS: list[tuple[Reason, re.Pattern]] = [
    (R.AUTH_FAILURE, rx(r"\bdmarc\b|\bdkim\b|\bspf\b|sender policy framework|unauthenticated (?:e-?mail|mail|sender)"
                       r"|authentication (?:failed|failure|required|checks?)|not authenticated|failed authentication"
                       r"|reverse (?:dns|lookup)|\bptr\b|\brdns\b|no (?:dns )?reverse|resolve your address"
                       r"|sender (?:address )?verif", re.I)),
    (R.BLOCKED, rx(r"block ?list|black ?list|blocklisted|blacklisted|spamhaus|spamcop|\bsorbs\b|\bdnsbl\b|\brbl\b"
                  r"|\breputation\b|refused to talk to me|listed (?:at|on|in|by)\b|\bip (?:address )?(?:is )?blocked"
                  r"|(?:host|address|ip|sender|domain|connection|client|message|mail) (?:has been |was |is )?blocked"
                  r"|blocked (?:by|because|due|using|for)|has been blocked|\bblocked\b(?! by the recipient)"
                  r"|poor sending|suspicious due", re.I)),
    (R.RATE_LIMITED, rx(r"rate.?limit|too many (?:connections|messages|recipients|concurrent|sessions|mails)"
                       r"|throttl|slow down|sending rate|\brate of\b|temporarily deferred|too fast|exceeded .{0,30}rate"
                       r"|mail flood|unexpected volume|sending (?:quota|limit)", re.I)),
    (R.RELAYING_DENIED, rx(r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed))|not permitted to relay"
                          r"|unable to relay|we do not relay|relay not permitted|no relaying", re.I)),
    (R.SPAM_DETECTED, rx(r"\bspam\b|junk ?mail|unsolicited|bulk (?:e-?mail|mail)|spam-?like", re.I)),
    (R.CONTENT_REJECTED, rx(r"\bvirus|malware|infected|attachments? (?:type |are )?(?:not allowed|rejected|blocked)"
                           r"|message (?:size|is too (?:big|large))|(?:message|mail) too (?:big|large)"
                           r"|exceed(?:s|ed)? (?:the )?(?:maximum )?(?:inbound )?(?:message |allowed )?size"
                           r"|size limit|content (?:rejected|filter)|not (?:rfc|rfc ?5322|rfc ?2822) compliant"
                           r"|line too long|message content", re.I)),
    (R.MAILBOX_FULL, rx(r"over ?quota|quota (?:exceeded|full)|(?:exceeded|exceeds) (?:the |its |his |her )?"
                       r"(?:storage|quota|mailbox)|mail ?box (?:is )?full|full mail ?box|mailbox size limit"
                       r"|insufficient (?:system )?storage|out of (?:storage|disk)|disk quota|storage allocation"
                       r"|is full\b|mailfolder is full|not (?:have )?enough (?:storage |disk )?space|disk ?space quota"
                       r"|overdrawn", re.I)),
    (R.QUOTA, rx(r"exceeding (?:their|its|the) quota|quota violation|receiving mail (?:at|too)|too many (?:messages|mails) (?:for|to) (?:this|the) (?:user|recipient)"
                r"|receiving too much", re.I)),
    (R.SUSPENDED, rx(r"(?:account|mailbox|address|user) (?:has been |is )?(?:disabled|suspended|inactive|deactivated"
                    r"|locked|frozen|not active|blocked by the recipient)|\bdisabled (?:account|mailbox|user)"
                    r"|inactive (?:account|mailbox|user)|mailbox (?:unavailable|not available) due", re.I)),
    (R.HAS_MOVED, rx(r"has moved|no longer (?:valid|in use|used|with|at|works? (?:at|for|here))|moved to"
                    r"|changed (?:his|her|their) (?:e-?mail )?address|left the company", re.I)),
    (R.HOST_UNKNOWN, rx(r"host (?:or domain name )?(?:unknown|not found)(?!,? try again)|unknown host|domain (?:name )?"
                       r"(?:not found|does not exist|unknown)|no such (?:domain|host)|name or service not known"
                       r"|unrouteable (?:mail )?(?:domain|address)|nxdomain|domain .{0,40}has no (?:mx|valid)"
                       r"|null mx|does not accept mail", re.I)),
    (R.USER_UNKNOWN, rx(r"user(?:name)? (?:unknown|not found|does not exist|doesn't exist|not (?:listed|known))"
                       r"|unknown (?:user|recipient|local part|mailbox|address|e-?mail address)"
                       r"|no such (?:user|mailbox|recipient|address|account|person)|recipient (?:unknown|not found"
                       r"|address rejected: (?:user unknown|undeliverable))|invalid (?:recipient|mailbox|address|user"
                       r"|final delivery userid)|(?:mailbox|account|address|recipient) (?:does not|doesn't) exist"
                       r"|(?:mailbox|account|recipient|addressee) (?:not found|unknown|unavailable)|not a known user"
                       r"|name is not recognized|not (?:a )?valid (?:mailbox|recipient|user)|no mailbox here"
                       r"|bad (?:destination )?(?:mailbox|address)|(?:does not|doesn't) have an? (?:account|mailbox)"
                       r"|addressee unknown|no account by that name|not listed in (?:public )?name (?:&|and) address"
                       r"|disabled or discontinued|account that you tried to reach does not exist"
                       r"|ディレクトリのリストにありません|no such local user|unknown or illegal alias"
                       r"|user (?:is )?not local|not our customer|no longer exists|address not present"
                       r"|(?:doesn't|does not) have an? [\w.-]{1,80} account|n'existe pas|existiert nicht"
                       r"|no existe|non esiste|unknown address|no such address|did not (?:exactly )?match"
                       r"|no matches to nameserver query|address unknown|non-?existent (?:user|mailbox|recipient|address)"
                       , re.I)),
    (R.EXPIRED, rx(r"not been collected|failed \d{1,4} attempts|retry (?:time|timeout)(?: not reached)?.{0,40}(?:exceeded|long)|(?:message|delivery) (?:has )?expired"
                  r"|delivery time expired|could not be delivered within|too long in (?:the )?queue|in the queue too long"
                  r"|message timed out|(?:i've|have) given up|giving up|retry limit|maximum time", re.I)),
    (R.NETWORK_ERROR, rx(r"not found,? try again|connection (?:was )?(?:timed out|refused|reset|lost|closed|dropped)"
                        r"|timed? ?out|no route to host"
                        r"|network (?:is )?unreachable|could not connect|couldn't connect|unable to connect"
                        r"|temporary failure in name resolution|dns (?:error|failure|lookup)|lost connection"
                        r"|host (?:is )?(?:down|unreachable)|mx lookup", re.I)),
    (R.SYSTEM_ERROR, rx(r"system error|internal (?:server )?error|server error|local error|configuration error"
                       r"|mail loop|loops? back|routing loop|too many hops|service (?:not available|unavailable)"
                       r"|server (?:is )?(?:busy|unavailable)|try again later|i/o error", re.I)),
    (R.POLICY, rx(r"\bpolic(?:y|ies)\b|not (?:authori[sz]ed|allowed|permitted)|not accepting mail from|prohibited|access denied"
                 r"|administrative prohibition|denied by|rejected by (?:the )?(?:recipient|filter)|filtered", re.I)),
]
MAX_TEXT = 4000  # characters of each text read: the reason is always near the start


def reason_from_words(*texts: str | None) -> Reason | None:
    """The first reason whose wording appears in the texts, tried in order (the diagnostic before the notice)."""
    for text in texts:
        if not text:
            continue
        head = " ".join(text[:MAX_TEXT].split())  # servers fold their lines anywhere
        for reason, wording in WORDINGS:
            if wording.search(head):
                return reason
    return None


def classify(status: str | None, *texts: str | None) -> Reason:
    """The reason of one failure from its status code and the server's words (most trusted text first)."""
    code = find_enhanced_status(status) or find_enhanced_status(" ".join(t[:MAX_TEXT] for t in texts if t))
    detail = code.split(".", 1)[1] if code else None
    if detail is not None and detail in BY_STATUS and detail not in AMBIGUOUS:
        return BY_STATUS[detail]
    worded = reason_from_words(*texts)
    if worded is not None and detail is not None and detail.startswith(SENDER_SUBJECT):
        # An X.7.x refusal is about the sender unless the words name the address itself.
        return worded if GROUPS[worded] in (G.SENDER, G.ADDRESS) else BY_STATUS.get(detail, R.POLICY)
    if worded is not None:
        return worded
    if detail is not None:
        return BY_STATUS.get(detail) or BY_SUBJECT.get(detail.split(".")[0], R.UNDETERMINED)
    reply_code = find_reply_code(" ".join(t[:MAX_TEXT] for t in texts if t))
    return BY_REPLY_CODE.get(reply_code or "", R.UNDETERMINED)


def group_of(reason: str) -> Group:
    """The group of a reason code ("unclear" for a code this table does not know)."""
    try:
        return GROUPS[Reason(reason)]
    except ValueError:
        return G.UNCLEAR


def is_sender_side(reason: str) -> bool:
    """True for a refusal about the sender: it never counts against the reader."""
    return group_of(reason) is G.SENDER
