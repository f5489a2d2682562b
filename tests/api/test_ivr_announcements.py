"""PUT /ivr/announcements with the real IVR service (espeak-ng and sox make real files)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ivr.menu_file import DEFAULT_MENU
from ivr.service import IvrService
from tests.api.support import Api
from tests.ivr.test_prompts import broken_espeak


@pytest.fixture
async def ivr(api: Api, tmp_path: Path) -> IvrService:
    menu = tmp_path / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu)
    svc = IvrService(
        db=api.db, menu_path=menu, prompt_cache=tmp_path / "cache", asterisk_prompts=None
    )
    await svc.start()
    api.app.state.services = dataclasses.replace(api.app.state.services, ivr=svc)
    return svc


async def test_a_text_that_looks_like_options_is_spoken_and_saved(
    api: Api, ivr: IvrService, tmp_path: Path
) -> None:
    resp = await api.client.put(
        "/ivr/announcements/info_cases", json={"text": "-h"}, headers=api.auth("supervisor")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["text"] == "-h"
    assert ivr.prompt_seconds("info_cases") > 0.2  # spoken as a word
    resp = await api.client.post("/ivr/reload", headers=api.auth("supervisor"))
    assert resp.status_code == 200, resp.text  # and the service still reloads


async def test_an_announcement_that_cannot_be_spoken_is_refused_and_nothing_changes(
    api: Api, ivr: IvrService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = tmp_path / "cache" / "info_cases.wav"
    before = wav.read_bytes()
    broken_espeak(tmp_path, monkeypatch, "echo 'espeak-ng: crashed' >&2; exit 1")
    resp = await api.client.put(
        "/ivr/announcements/info_cases",
        json={"text": "Thông báo mới."},
        headers=api.auth("supervisor"),
    )
    assert resp.status_code == 503, resp.text
    assert "nothing was saved" in resp.json()["detail"]
    listed = await api.client.get("/ivr/announcements", headers=api.auth("supervisor"))
    cases = next(a for a in listed.json() if a["name"] == "info_cases")
    assert cases["source"] == "menu file" and cases["text"] != "Thông báo mới."
    assert wav.read_bytes() == before
    resp = await api.client.post("/ivr/reload", headers=api.auth("supervisor"))
    assert resp.status_code == 200, resp.text


async def test_a_draft_is_heard_before_it_goes_live_and_a_revert_brings_back_the_old(
    api: Api, ivr: IvrService, tmp_path: Path
) -> None:
    sup = api.auth("supervisor")
    live = tmp_path / "cache" / "info_cases.wav"
    before, menu_text = live.read_bytes(), ivr.menu.prompts["info_cases"]

    made = await api.client.post(
        "/ivr/announcements/info_cases/draft", json={"text": "Bản nháp mới."}, headers=sup
    )
    assert made.status_code == 200, made.text
    draft = made.json()["draft"]
    assert draft["text"] == "Bản nháp mới." and draft["duration_s"] > 0.3
    assert made.json()["text"] == menu_text and live.read_bytes() == before  # not live yet
    audio = await api.client.get("/ivr/announcements/info_cases/draft.wav", headers=sup)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF" and audio.content != before

    stale = await api.client.post(
        "/ivr/announcements/info_cases/draft/publish", json={"draft_id": "khác"}, headers=sup
    )
    assert stale.status_code == 409
    published = await api.client.post(
        "/ivr/announcements/info_cases/draft/publish",
        json={"draft_id": draft["id"]},
        headers=sup,
    )
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["text"] == "Bản nháp mới." and body["draft"] is None
    assert body["previous_text"] == menu_text
    assert live.read_bytes() == audio.content  # callers hear what was listened to
    gone = await api.client.get("/ivr/announcements/info_cases/draft.wav", headers=sup)
    assert gone.status_code == 404

    reverted = await api.client.post("/ivr/announcements/info_cases/revert", headers=sup)
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["text"] == menu_text
    assert reverted.json()["previous_text"] == "Bản nháp mới."
    assert live.read_bytes() == before


async def test_a_draft_can_be_discarded_and_nothing_to_revert_is_a_conflict(
    api: Api, ivr: IvrService
) -> None:
    sup = api.auth("supervisor")
    assert (
        await api.client.post("/ivr/announcements/info_cases/revert", headers=sup)
    ).status_code == 409
    await api.client.post(
        "/ivr/announcements/info_cases/draft", json={"text": "Bỏ đi."}, headers=sup
    )
    assert (
        await api.client.delete("/ivr/announcements/info_cases/draft", headers=sup)
    ).status_code == 204
    assert (
        await api.client.delete("/ivr/announcements/info_cases/draft", headers=sup)
    ).status_code == 404
    listed = await api.client.get("/ivr/announcements", headers=sup)
    assert all(a["draft"] is None for a in listed.json())
    unknown = await api.client.post(
        "/ivr/announcements/khong_co/draft", json={"text": "x"}, headers=sup
    )
    assert unknown.status_code == 404
    empty = await api.client.post(
        "/ivr/announcements/info_cases/draft", json={"text": ""}, headers=sup
    )
    assert empty.status_code == 422
