"""The IVR service: menu reload and announcements (espeak-ng and sox make real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.menu_file import DEFAULT_MENU, MenuError
from ivr.ports import AnnouncementNotFound
from ivr.service import IvrService
from store.db import Database


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
