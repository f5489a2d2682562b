"""The domain's refusals and their statuses (``api.errors.DOMAIN_STATUS``): every refusal a
family exports answers a status of its own (the 400 fallback is for none of them), and a
route that lets one rise answers ``{"detail": <its Vietnamese sentence>}``."""

from __future__ import annotations

import inspect
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from api.errors import DOMAIN_FAMILIES, DOMAIN_STATUS, domain_status, install_error_handlers
from coaching import errors as coaching_errors
from conference import errors as conference_errors
from recordings import errors as recording_errors


@pytest.mark.parametrize("module", [conference_errors, recording_errors, coaching_errors])
def test_every_refusal_has_its_own_status(module: ModuleType) -> None:
    named = {kind for kind, _ in DOMAIN_STATUS}
    [family] = [f for f in DOMAIN_FAMILIES if f.__module__ == module.__name__]
    refusals = [
        obj
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name))
        and issubclass(obj, family)
        and obj is not family
    ]
    assert refusals
    assert [r.__name__ for r in refusals if r not in named] == []


def test_the_status_of_each_kind() -> None:
    assert domain_status(recording_errors.RecordingPurged()) == 410
    assert domain_status(coaching_errors.NotOnCall()) == 409
    assert domain_status(conference_errors.NotAllowed("x")) == 403
    assert domain_status(recording_errors.RecordingError()) == 400  # the family itself


async def test_a_refusal_that_rises_from_a_route_is_answered_with_its_sentence() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/gone")
    async def gone() -> None:
        raise recording_errors.RecordingPurged()

    @app.get("/conference")
    async def conference() -> None:
        raise conference_errors.ConferenceConflict("Hội nghị đã kết thúc.")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.get("/gone")
        assert resp.status_code == 410
        assert resp.json() == {"detail": "Bản ghi âm đã bị xoá theo thời hạn lưu trữ."}
        resp = await client.get("/conference")
        assert (resp.status_code, resp.json()) == (409, {"detail": "Hội nghị đã kết thúc."})
