"""Structured logs: one JSON object per line on stdout, naming service and request id.

Container platforms collect stdout line by line; one JSON object per line keeps each
record whole and lets a log pipeline filter by ``service`` and ``request_id``.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from runtime import tracing
from runtime.request_id import current_api_key, current_request_id


class RequestIdFilter(logging.Filter):
    """Adds the running worker's request id to every record, the name of the API key its
    request came with, and its trace and span ids when it is traced."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        if api_key := current_api_key():
            record.api_key = api_key
        if tracing.enabled() and (ids := tracing.current_ids()):
            record.trace_id, record.span_id = ids
        return True


class ExpectedErrorFilter(logging.Filter):
    """Logs Nameko's "(expected) error" records as one INFO line, without a traceback.

    A client's bad input is an expected error: it deserves a line, not a stack trace
    at WARNING for every 400 the API answers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected) error"):
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.INFO
            record.levelname = "INFO"
        return True


def configure_logging(service: str, level: str = "INFO", stream: TextIO = sys.stdout) -> None:
    """Send every log record of this process to `stream` as a JSON line."""
    formatter = JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        static_fields={"service": service},
        timestamp="time",
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(ExpectedErrorFilter())
    # A record need not find its caller's file and line, or the thread and process:
    # none of them is logged, and together they cost more than formatting the record.
    logging._srcfile = None  # the logging HOWTO's advice for speed
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Nameko logs every worker at DEBUG and kombu every reconnect attempt at INFO;
    # our own lines say what happened once, so keep theirs for real trouble.
    logging.getLogger("nameko").setLevel(max(root.level, logging.INFO))
    logging.getLogger("kombu").setLevel(max(root.level, logging.WARNING))
