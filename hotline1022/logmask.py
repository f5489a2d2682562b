"""Callers' numbers in the logs show only their last 3 digits.

    install_number_masking()   # after logging (and uvicorn's) is configured

A log line names callers' numbers (callbacks, repeat callers, channels such as
``PJSIP/0903000002@pstn-out``); a log file is read by more people than the call records
and kept elsewhere. ``MaskNumbers`` rewrites each record's message (and its traceback)
before any handler writes it: every run of 6 to 15 digits, with an optional ``+``, keeps
its last 3 digits (``0903000002`` → ``*******002``). Not masked: an Asterisk uniqueid
(``1733400000.42``, digits around a dot), a channel's sequence suffix (the 8 hex digits
after the last ``-`` of ``Local/cb3@hotline-callback-00000000;2``, which may all be digits)
and shorter numbers (ids, ports, counts, years).

It is a filter on the handlers (the root logger's and uvicorn's), since a logger's own
filter does not see its children's records; installed once, on every handler present.
``HOTLINE_LOG_MASK_NUMBERS=false`` leaves the numbers whole (for debugging a test bench).
"""

from __future__ import annotations

import logging
import re

__all__ = ["MaskNumbers", "install_number_masking", "mask_numbers"]

_NUMBER = re.compile(r"(?<![\d.])(\+?)(\d{3,12})(\d{3})(?![\d.])")
# Asterisk names a channel ``tech/resource-XXXXXXXX`` (8 hex digits): an all-digit suffix
# after a ``-`` is a sequence number, not a caller's (Vietnam's numbers have 10 or 11 digits).
_CHANNEL_SUFFIX_LEN = 8
# Whose handlers get the filter: the root logger's (every module's records end there) and
# uvicorn's, which do not propagate (the access log has query strings).
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def mask_numbers(text: str) -> str:
    """``text`` with every phone-number-like run of digits masked but its last 3."""

    def mask(m: re.Match[str]) -> str:
        if len(m[0]) == _CHANNEL_SUFFIX_LEN and text[m.start() - 1 : m.start()] == "-":
            return m[0]
        return "*" * (len(m[1]) + len(m[2])) + m[3]

    return _NUMBER.sub(mask, text)


class MaskNumbers(logging.Filter):
    """Masks the numbers of a record's message and traceback in place (so every handler
    after this one, and ``caplog``, sees them masked); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers(record.exc_text)
        return True


def install_number_masking(enabled: bool = True) -> MaskNumbers | None:
    """Add ``MaskNumbers`` to the handlers of ``LOGGERS`` that lack one; returns the filter
    (None when ``enabled`` is False). Call it after logging is configured."""
    if not enabled:
        return None
    mask = MaskNumbers()
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskNumbers) for f in handler.filters):
                handler.addFilter(mask)
    return mask
