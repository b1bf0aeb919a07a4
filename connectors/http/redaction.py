"""Log redaction: a net under the rule of never logging a secret.

Credentials register their values here as they are read or obtained; the filter
that scrubs them from log records is attached to the loggers that may format
request data only when the process starts (`install_log_redaction`, called by the
app factory and the CLI), so importing the HTTP layer changes no global state.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

#: Loggers that may format request data: ours, httpx, httpcore, stamina. A logger's
#: filters only see records logged to that exact logger, so each is named.
REDACTED_LOGGERS = (
    "heatshield", "heatshield.connectors.http", "httpx", "httpcore", "httpcore.connection",
    "httpcore.http11", "httpcore.http2", "httpcore.proxy", "stamina",
)


class SecretScrubber(logging.Filter):
    """Replaces every registered secret value in a record's message with `***`."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: Counter[str] = Counter()

    def add(self, values: Iterable[str]) -> None:
        self._secrets.update(v for v in values if v)

    def discard(self, values: Iterable[str]) -> None:
        self._secrets.subtract(v for v in values if v)
        self._secrets = +self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        scrubbed = self.scrub(message)
        if scrubbed is not message:
            record.msg, record.args = scrubbed, None
        return True

    def scrub(self, text: str) -> str:
        """`text` with every registered secret replaced (the same object when none is in
        it), for what a formatter adds to a line, such as a traceback."""
        if not any(s in text for s in self._secrets):
            return text
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


#: The process's one scrubber: secrets are registered with it whether or not it is installed.
SCRUBBER = SecretScrubber()


def install_log_redaction() -> None:
    """Attach the scrubber to every logger that may format request data (idempotent)."""
    for name in REDACTED_LOGGERS:
        logging.getLogger(name).addFilter(SCRUBBER)  # addFilter ignores a second add


def log_redaction_installed() -> bool:
    """Whether every logger that may format request data carries the scrubber."""
    return all(SCRUBBER in logging.getLogger(name).filters for name in REDACTED_LOGGERS)


def register_secret(*values: str) -> None:
    """Have log redaction scrub these values (for tokens obtained at runtime)."""
    SCRUBBER.add(values)


def forget_secret(*values: str) -> None:
    """Undo `register_secret` once a credential is dropped."""
    SCRUBBER.discard(values)
