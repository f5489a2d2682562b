"""The IVR service: menu reload and announcements (espeak-ng and sox make real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.menu_file import DEFAULT_MENU, MenuError
from ivr.ports import AnnouncementNotFound
from ivr.prompts import PromptError
from ivr.service import IvrService
from store.db import Database
from tests.ivr.test_prompts import LONG_TEXT, broken_espeak


@pytest.fixture
async def service(db: Database, tmp_path: Path) -> IvrService:
    menu = tmp_path / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu)
    svc = IvrService(
        db=db,
        menu_path=menu,
        prompt_cache=tmp_path / "cache",
        asterisk_prompts=tmp_path / "asterisk",
    )
    await svc.start()
    return svc


async def test_start_makes_every_prompt_for_asterisk(service: IvrService, tmp_path: Path) -> None:
    made = {p.stem for p in (tmp_path / "asterisk").glob("*.wav")}
    assert service.menu.prompt_names() | {"fallback"} <= made


async def test_invalid_reload_keeps_the_menu_in_force(service: IvrService) -> None:
    before = service.menu
    service.menu_path.write_text(
        service.menu_path.read_text().replace("start: welcome", "start: nowhere")
    )
    with pytest.raises(MenuError) as err:
        await service.reload()
    assert "nowhere" in str(err.value)
    assert service.menu is before


async def test_valid_reload_takes_new_text_and_speaks_only_it(
    service: IvrService, tmp_path: Path
) -> None:
    text = service.menu_path.read_text().replace(
        "goodbye: Cảm ơn quý vị đã gọi tổng đài 1022.", "goodbye: Xin chào và hẹn gặp lại."
    )
    service.menu_path.write_text(text)
    result = await service.reload()
    assert result["prompts_made"] == 1
    assert service.menu.prompts["goodbye"] == "Xin chào và hẹn gặp lại."


async def test_announcement_override_survives_a_reload(service: IvrService, tmp_path: Path) -> None:
    wav = tmp_path / "asterisk" / "info_cases.wav"
    before = wav.read_bytes()
    out = await service.set_announcement("info_cases", "Hôm nay có 12 ca mắc mới.", "boss")
    assert out["source"] == "supervisor" and out["updated_by"] == "boss"
    assert wav.read_bytes() != before
    await service.reload()
    texts = {a["name"]: a["text"] for a in await service.announcements()}
    assert texts["info_cases"] == "Hôm nay có 12 ca mắc mới."
    with pytest.raises(AnnouncementNotFound):
        await service.set_announcement("welcome", "x", "boss")


async def test_an_announcement_that_cannot_be_spoken_is_not_saved(
    service: IvrService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = tmp_path / "asterisk" / "info_cases.wav"
    before = wav.read_bytes()
    text_before = {a["name"]: a["text"] for a in await service.announcements()}["info_cases"]
    broken_espeak(tmp_path, monkeypatch, "exec sleep 60")
    service.speak_timeout_s = 0.5
    with pytest.raises(PromptError):
        await service.set_announcement("info_cases", "Thông báo mới.", "boss")
    texts = {a["name"]: a for a in await service.announcements()}
    assert texts["info_cases"]["text"] == text_before  # the text in force stays
    assert texts["info_cases"]["source"] == "menu file"
    assert wav.read_bytes() == before  # and so does its audio
    result = await service.reload()  # still reloads, the synthesiser still broken
    assert result["prompts_failed"] == []
    assert wav.read_bytes() == before


async def test_start_with_a_prompt_that_cannot_be_spoken_still_starts(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    menu = tmp_path / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu)
    svc = IvrService(
        db=db, menu_path=menu, prompt_cache=tmp_path / "cache", asterisk_prompts=tmp_path / "ast"
    )
    await svc.start()
    goodbye = (tmp_path / "ast" / "goodbye.wav").read_bytes()
    menu.write_text(
        menu.read_text().replace(
            "goodbye: Cảm ơn quý vị đã gọi tổng đài 1022.", "goodbye: Xin chào và hẹn gặp lại."
        )
    )
    broken_espeak(tmp_path, monkeypatch, "exit 1")
    fresh = IvrService(
        db=db, menu_path=menu, prompt_cache=tmp_path / "cache", asterisk_prompts=tmp_path / "ast"
    )
    await fresh.start()  # the goodbye cannot be spoken: logged, and the old one plays
    assert "prompt goodbye not spoken" in caplog.text
    assert (tmp_path / "ast" / "goodbye.wav").read_bytes() == goodbye
    # A cache never spoken: every prompt plays a second of silence, the menu still runs.
    empty = IvrService(
        db=db, menu_path=menu, prompt_cache=tmp_path / "cache2", asterisk_prompts=tmp_path / "ast2"
    )
    await empty.start()
    assert empty.prompt_seconds("welcome") == pytest.approx(1.0)
    assert (tmp_path / "ast2" / "welcome.wav").exists()
    monkeypatch.undo()
    result = await fresh.reload()  # the synthesiser is back: the goodbye is spoken now
    assert result["prompts_made"] == 1 and result["prompts_failed"] == []
    assert (tmp_path / "ast" / "goodbye.wav").read_bytes() != goodbye


async def test_prompt_seconds_follow_the_audio(service: IvrService) -> None:
    assert service.prompt_seconds("welcome") > 3
    await service.set_announcement("info_cases", LONG_TEXT, "boss")
    assert service.prompt_seconds("info_cases") > 60  # longer than one AGI command's 30 s
