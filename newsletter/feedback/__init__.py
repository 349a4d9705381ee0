"""Inbound mail and provider webhooks: what happens to a bounce, a complaint or a reply, in one folder.

- `parsers/` (pure: no database, no Flask) turns raw mail and webhook bodies into FeedbackEvents;
  `reasons.py` (pure) is the one table that says what a refusal means and what it does.
- `listener.py` (SMTP/LMTP, `flask bounces serve`), `imap.py` (`flask bounces poll`) and `webhooks.py`
  (signature checks' stores: replayed tokens, SNS certificates) receive it;
- `inbound.py` hands each inbound message to the parsers, `record.py` stores the events and applies
  their consequences to readers (a refusal about the sender also counts toward holding its domain's part of
  a send: `sending/holds.py`);
- `restore.py` lists the readers a refusal about the sender suppressed before bounces were read by reason,
  and puts back what it took when an admin decides.
"""
