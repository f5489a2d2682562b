"""The order's Vietnamese text, its parts, and its sound files (with a fake voice, and once
with the real espeak-ng)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import wave
from pathlib import Path

import pytest

from dispatch.reading import (
    CATEGORY_WORDS,
    FIXED_PROMPTS,
    KEYS_TEXT,
    MAX_PART_CHARS,
    URGENCY_WORDS,
    OrderAudio,
    OrderFacts,
    order_text,
    spell_number,
    split_reading,
)

FACTS = OrderFacts(
    incident_id=12,
    category="medical",
    urgency="critical",
    places=("Phường Hiệp Thành", "Thành phố Thủ Dầu Một"),
    address="15 đường Yersin",
    caller_number="0912345678",
)


def test_the_order_reads_like_the_example() -> None:
    assert order_text(FACTS) == (
        "Lệnh điều động từ tổng đài một không hai hai."
        " Sự cố số 12: cấp cứu y tế, mức độ nguy kịch."
        " Địa chỉ: 15 đường Yersin, Phường Hiệp Thành, Thành phố Thủ Dầu Một."
        " Số điện thoại người báo: không chín một hai ba bốn năm sáu bảy tám."
        " Bấm phím 1 để nhận lệnh. Bấm phím 2 để nghe lại. Bấm phím 9 để từ chối."
    )


@pytest.mark.parametrize(
    ("category", "urgency", "words"),
    [
        ("medical", "urgent", "cấp cứu y tế, mức độ khẩn cấp"),
        ("food", "normal", "hỗ trợ lương thực, nhu yếu phẩm, mức độ bình thường"),
        ("violation", "normal", "phản ánh vi phạm quy định phòng chống dịch, mức độ bình thường"),
        ("general", "critical", "yêu cầu hỗ trợ chung, mức độ nguy kịch"),
        ("unheard-of", "unheard-of", "yêu cầu hỗ trợ chung, mức độ bình thường"),
    ],
)
def test_every_category_and_urgency_has_words(category: str, urgency: str, words: str) -> None:
    text = order_text(OrderFacts(3, category, urgency, ("Xã An Sơn",)))
    assert f"Sự cố số 3: {words}." in text


def test_categories_of_the_store_all_have_words() -> None:
    from store.categories import Category
    from store.models import Urgency

    assert {c.value for c in Category} <= CATEGORY_WORDS.keys()
    assert {u.value for u in Urgency} <= URGENCY_WORDS.keys()


def test_a_place_typed_into_the_address_is_said_once_and_blanks_go() -> None:
    facts = OrderFacts(
        7,
        "food",
        "normal",
        places=("Phường Hiệp Thành", "", "Thành phố Thủ Dầu Một"),
        address="  15 Yersin,\n phường hiệp thành. ",
    )
    assert "Địa chỉ: 15 Yersin, phường hiệp thành, Thành phố Thủ Dầu Một." in order_text(facts)


def test_no_address_and_no_number_are_said_so() -> None:
    text = order_text(OrderFacts(5, "medical", "urgent"))
    assert "Địa chỉ: chưa rõ." in text
    assert "Số điện thoại người báo: không rõ." in text


def test_numbers_are_read_digit_by_digit() -> None:
    assert spell_number("0912") == "không chín một hai"
    assert spell_number("+84 274-38") == "cộng tám bốn hai bảy bốn ba tám"
    assert spell_number("anonymous") == "không rõ"
    assert spell_number("") == "không rõ"


def test_an_order_is_cut_into_sentences_and_the_keys_are_their_own_part() -> None:
    parts = split_reading(order_text(FACTS))
    assert parts[-1] == KEYS_TEXT
    assert all(len(p) <= MAX_PART_CHARS for p in parts)
    assert " ".join(parts) == order_text(FACTS)


def test_a_long_address_is_cut_at_commas_then_spaces() -> None:
    address = ", ".join(f"ngõ {i} đường số {i}" for i in range(40))
    text = order_text(OrderFacts(9, "medical", "critical", ("Xã An Sơn",), address=address))
    parts = split_reading(text, limit=80)
    assert all(len(p) <= 80 for p in parts)
    assert " ".join(parts) == text
    assert len(address) > 200 and "ngõ 39" not in text  # an address is capped


def _stems(directory: Path) -> set[str]:
    return {f.stem for f in directory.glob("*.wav")}


class FakeVoice:
    """Writes the text into the file instead of speaking it."""

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def __call__(self, text: str, dest: Path) -> None:
        self.spoken.append(text)
        dest.write_text(text)


async def test_parts_are_spoken_once_and_played_by_their_asterisk_path(tmp_path: Path) -> None:
    voice = FakeVoice()
    audio = OrderAudio(tmp_path / "host", "/var/lib/x/prompts/dispatch/", speak=voice)
    text = order_text(FACTS)
    async with audio.hold(text) as paths:
        assert len(paths) == len(split_reading(text))
        assert all(p.startswith("/var/lib/x/prompts/dispatch/") for p in paths)
        for path, part in zip(paths, split_reading(text), strict=True):
            name = path.rsplit("/", 1)[1]
            assert (tmp_path / "host" / f"{name}.wav").read_text() == part
    # Again, and at the same time: nothing spoken twice.
    await asyncio.gather(audio.warm(text), audio.warm(text))
    assert sorted(voice.spoken) == sorted(split_reading(text))
    other = order_text(OrderFacts(13, "food", "normal", ("Xã An Sơn",)))
    await audio.warm(other)
    assert voice.spoken.count(KEYS_TEXT) == 1  # the keys' part is shared


async def test_fixed_prompts_are_made_once(tmp_path: Path) -> None:
    voice = FakeVoice()
    audio = OrderAudio(tmp_path, "/ast", speak=voice)
    await audio.prepare()
    invalid = await audio.fixed("invalid")
    assert sorted(voice.spoken) == sorted(FIXED_PROMPTS.values())
    again = OrderAudio(tmp_path, "/ast", speak=voice)
    assert await again.fixed("invalid") == invalid  # prepared lazily; files were there
    assert len(voice.spoken) == len(FIXED_PROMPTS)
    assert "không hợp lệ" in (tmp_path / f"{invalid.rsplit('/', 1)[1]}.wav").read_text()


async def test_old_files_go_but_not_fixed_ones_nor_those_playing(tmp_path: Path) -> None:
    voice = FakeVoice()
    audio = OrderAudio(tmp_path, "/ast", keep=2, speak=voice)
    await audio.prepare()
    async with audio.hold("Một. Hai.") as playing:
        for i in range(5):
            await audio.warm(f"Lệnh số {i}.")
            await asyncio.sleep(0.01)  # distinct modification times
        names = _stems(tmp_path)
        assert {p.rsplit("/", 1)[1] for p in playing} <= names
    fixed = {(await audio.fixed(n)).rsplit("/", 1)[1] for n in FIXED_PROMPTS}
    assert fixed <= names
    orders = names - fixed - {p.rsplit("/", 1)[1] for p in playing}
    # The last one made (in use while it was made) and the two before it; the first two went.
    assert len(orders) == 3


async def test_a_voice_that_fails_raises_to_the_caller(tmp_path: Path) -> None:
    def broken(text: str, dest: Path) -> None:
        raise OSError("espeak-ng crashed")

    audio = OrderAudio(tmp_path, "/ast", speak=broken)
    with pytest.raises(OSError, match="crashed"):
        async with audio.hold("Một."):
            pass
    assert not audio._held  # released


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
async def test_the_real_voice_makes_8khz_files_of_well_under_30_s(tmp_path: Path) -> None:
    audio = OrderAudio(tmp_path, "/ast")
    address = "Số 15 đường Yersin, khu phố 3, gần chợ Thủ Dầu Một, đối diện trường tiểu học"
    text = order_text(dataclasses.replace(FACTS, address=address))
    async with audio.hold(text) as paths:
        for path in paths:
            wav = tmp_path / f"{path.rsplit('/', 1)[1]}.wav"
            with wave.open(str(wav)) as w:
                assert w.getframerate() == 8000 and w.getnchannels() == 1
                assert w.getnframes() / 8000 < 20  # one AGI command may take 30 s
            assert os.stat(wav).st_mode & 0o044 == 0o044  # Asterisk may read it


async def test_files_are_readable_by_asterisk_whatever_the_umask(tmp_path: Path) -> None:
    audio = OrderAudio(tmp_path / "made" / "dispatch", "/ast", speak=FakeVoice())
    old = os.umask(0o077)
    try:
        path = await audio.fixed("accepted")
    finally:
        os.umask(old)
    wav = tmp_path / "made" / "dispatch" / f"{path.rsplit('/', 1)[1]}.wav"
    assert wav.stat().st_mode & 0o777 == 0o644
    assert wav.parent.stat().st_mode & 0o777 == 0o755
