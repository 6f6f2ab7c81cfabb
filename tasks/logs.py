"""Prefect's logs without credentials: every record is redacted before a handler sees it.

Run logs go to the Prefect API (kept, shown in the UI) and to the console. releasegate
redacts what it logs itself, but messages it does not write reach the same handlers: an
exception Prefect logs with its traceback, an error from a library. So a filter on each
handler masks URLs' credentials and remembered secrets in the message and the traceback.
"""

from __future__ import annotations

import logging
import traceback

from releasegate.redaction import redact_text

LOGGERS = ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra")


class Redact(logging.Filter):
    """Rewrites a record's message (and formatted traceback) with credentials masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def redact_logs() -> None:
    """Install the filter on every handler of the loggers run logs pass through (once)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, Redact) for f in handler.filters):
                handler.addFilter(Redact())
