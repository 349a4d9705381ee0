"""Bounce, complaint and reply messages as remote servers write them, about a message we really sent."""


def dsn(original, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A Postfix-style multipart/report delivery status notification for a received message."""
    recipient = original.recipients[0]
    headers = original.raw.split(b"\r\n\r\n", 1)[0].decode()
    return f"""Return-Path: <>
Delivered-To: {original.envelope_from}
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {original.envelope_from}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"

--B0UND
Content-Type: text/plain

<{recipient}>: host mx.example.net said: 550 {status} User unknown

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--B0UND
Content-Type: text/rfc822-headers

{headers}

--B0UND--
""".replace("\n", "\r\n").encode()


def arf(original, feedback_type: str = "abuse") -> bytes:
    """An RFC 5965 abuse report (a reader pressed 'this is spam')."""
    recipient = original.recipients[0]
    headers = original.raw.split(b"\r\n\r\n", 1)[0].decode()
    return f"""From: feedback@fbl.example.net
To: {original.envelope_from}
Subject: FW: abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"

--ARF
Content-Type: text/plain

This is an email abuse report.

--ARF
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: {recipient}

--ARF
Content-Type: text/rfc822-headers

{headers}

--ARF--
""".replace("\n", "\r\n").encode()


def reply(original, text: str = "Thank you, this helped.") -> bytes:
    """A reader's reply to an issue."""
    return f"""From: {original.recipients[0]}
To: maya@example.org
Subject: Re: {original.message['Subject']}
In-Reply-To: {original.message['Message-ID']}
References: {original.message['Message-ID']}
Content-Type: text/plain; charset=utf-8

{text}
""".replace("\n", "\r\n").encode()
