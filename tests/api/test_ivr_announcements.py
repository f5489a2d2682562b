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
