"""Callers' numbers are masked in the logs: a call flow's records, as any handler sees them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hotline1022.logmask import MaskNumbers, install_number_masking, mask_numbers
from ivr.ports import CallbackRequest
from pbx.events import parse_event
from queues.callbacks import CallbackService
from store.db import Database
from tests.queues.fakes import FakePbx

NUMBER = "0903000002"


class Waits:
    def estimated_wait_s(self, queue: str) -> float | None:
        return 600.0


@pytest.fixture
def masking() -> Iterator[MaskNumbers | None]:
    mask = install_number_masking()
    yield mask
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.removeFilter(mask)


async def test_a_callback_flow_logs_the_callers_number_masked(
    db: Database, caplog: pytest.LogCaptureFixture, masking: MaskNumbers | None
) -> None:
    caplog.set_level(logging.INFO)
    service = CallbackService(db, FakePbx(), Waits())
    await service.start()
    request = CallbackRequest("1.1", NUMBER, "violation", "violation", 0, None, datetime.now(UTC))
    assert await service.request(request)
    await service.step()
    [callback_id] = list(service._active)
    channel = f"Local/cb{callback_id}@hotline-callback-00000000;2"
    service.on_event(
        parse_event(
            {
                "Event": "AgentConnect",
                "Channel": channel,
                "Uniqueid": "1733400000.42",
                "Linkedid": "1733400000.42",
                "CallerIDNum": NUMBER,
                "Queue": "violation",
                "MemberName": "agent01",
                "Interface": "PJSIP/agent01",
            },
            0.0,
        )
    )
    await service.step()

    assert "*******002" in caplog.text
    assert NUMBER not in caplog.text
    assert all(NUMBER not in r.getMessage() for r in caplog.records)
    assert any("calling *******002" in r.getMessage() for r in caplog.records)


def test_numbers_keep_their_last_3_digits_and_uniqueids_ids_ports_stay() -> None:
    assert mask_numbers("PJSIP/+84903000002@pstn-out") == "PJSIP/*********002@pstn-out"
    assert mask_numbers("02743822111 and 19001234") == "********111 and *****234"
    kept = "call 1733400000.42 on port 5038, callback 12345, at 2026-12-05"
    assert mask_numbers(kept) == kept


def test_a_traceback_is_masked_too() -> None:
    try:
        raise ValueError(f"cannot dial {NUMBER}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    MaskNumbers().filter(record)
    assert record.exc_text is not None and NUMBER not in record.exc_text


def test_switched_off_it_installs_nothing() -> None:
    assert install_number_masking(False) is None


def test_a_channels_sequence_suffix_is_not_a_number() -> None:
    line = "could not hang up Local/cb3@hotline-callback-00000000;2 for 0903000002"
    assert mask_numbers(line) == (
        "could not hang up Local/cb3@hotline-callback-00000000;2 for *******002"
    )
