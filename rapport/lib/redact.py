"""Keep secrets that travel in URLs (invitation tokens, calendar feed tokens) out of access logs."""

from __future__ import annotations

import logging
import re

# /invite/<token>/, /calendar/<token>.ics and allauth's key-bearing links (email confirmation,
# password reset).
SECRET_PATHS = re.compile(
    r"(/invite/|/calendar/|/accounts/confirm-email/|/accounts/password/reset/key/)[^/?\s\"]+"
)


def redact(text: str) -> str:
    return SECRET_PATHS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites log record arguments so URL secrets never reach a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
