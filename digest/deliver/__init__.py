"""Delivery stage: subscribers' messages by substitution, then the outbox or the SMTP relay.

Public API: `deliver_issue` (the send loop with its send log), `send_test`
(one test message of a draft), `load_issue` / `issue_content` (what is sent),
`SendReport`. See `sender` for the exactly-once (at most once) rules.
"""

from __future__ import annotations

from .message import IssueContent, MessageTemplate, OutgoingMessage, issue_content, load_issue
from .sender import SendReport, deliver_issue
from .testsend import send_test

__all__ = ["IssueContent", "MessageTemplate", "OutgoingMessage", "SendReport", "deliver_issue", "issue_content",
           "load_issue", "send_test"]
