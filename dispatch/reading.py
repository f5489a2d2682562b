"""What a team hears when the hotline calls it with an order: the text, and its sound files.

``order_text(facts)`` is the order in Vietnamese, from the incident's facts, ending with the
keys to press::

    >>> order_text(OrderFacts(12, "medical", "critical", ("Phường Hiệp Thành",),
    ...                       address="15 đường Yersin", caller_number="0912"))[:66]
    'Lệnh điều động từ tổng đài một không hai hai. Sự cố số 12: cấp cứu'

``OrderAudio`` speaks texts with ``espeak-ng`` (``ivr.prompts.speak``) into a directory
Asterisk plays from. A reading is cut into parts of a few sentences, each its own file named
by a digest of its text: a FastAGI command must be answered within 30 s, a whole order with
a long address is longer than that, and parts that recur (the opening, the keys) are spoken
once for every order. Files are made off the event loop. Besides the fixed prompts and the
files calls are playing, the ``keep`` most recently used stay; older ones are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr import prompts

__all__ = [
    "ACCEPT_KEY",
    "CATEGORY_WORDS",
    "FIXED_PROMPTS",
    "KEYS_TEXT",
    "REFUSE_KEY",
    "REPEAT_KEY",
    "URGENCY_WORDS",
    "OrderAudio",
    "OrderFacts",
    "order_text",
    "spell_number",
    "split_reading",
]

log = logging.getLogger(__name__)

ACCEPT_KEY = "1"
REPEAT_KEY = "2"
REFUSE_KEY = "9"
KEYS_TEXT = (
    f"Bấm phím {ACCEPT_KEY} để nhận lệnh. Bấm phím {REPEAT_KEY} để nghe lại."
    f" Bấm phím {REFUSE_KEY} để từ chối."
)

CATEGORY_WORDS: dict[str, str] = {
    "medical": "cấp cứu y tế",
    "food": "hỗ trợ lương thực, nhu yếu phẩm",
    "violation": "phản ánh vi phạm quy định phòng chống dịch",
    "general": "yêu cầu hỗ trợ chung",
}
URGENCY_WORDS: dict[str, str] = {
    "critical": "nguy kịch",
    "urgent": "khẩn cấp",
    "normal": "bình thường",
}
_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Said outside any order: the phone module plays them by name.
FIXED_PROMPTS: dict[str, str] = {
    "invalid": "Phím không hợp lệ.",
    "accepted": "Đã nhận lệnh. Xin cảm ơn.",
    "refused": "Đã từ chối lệnh. Tổng đài sẽ điều động đội khác.",
    "no_key": "Không nhận được phím bấm. Tổng đài sẽ gọi lại sau.",
    "not_needed": "Lệnh điều động này không còn cần thiết nữa. Xin cảm ơn.",
    "unavailable": "Xin lỗi, tổng đài chưa đọc được lệnh. Tổng đài sẽ gọi lại sau.",
}

# An address is what an agent typed: enough for a team to find the place, not a letter.
MAX_ADDRESS_CHARS = 200
# About 12 s of speech at espeak-ng's 165 words a minute: well inside the 30 s an AGI
# command may take, and a key pressed during a part cuts it short anyway.
MAX_PART_CHARS = 180


@dataclass(frozen=True)
class OrderFacts:
    """What an order says of an incident. ``places``: the names of its place from the
    smallest unit up (commune, district...; any depth), as far up as a team needs."""

    incident_id: int
    category: str
    urgency: str
    places: Sequence[str] = ()
    address: str = ""
    caller_number: str = ""


def spell_number(number: str) -> str:
    """A phone number read digit by digit: "0912" → "không chín một hai" ("+" is "cộng");
    "không rõ" (unknown) when it has no digit."""
    words = [_DIGITS[int(c)] if c.isdigit() else "cộng" for c in number if c.isdigit() or c == "+"]
    return " ".join(words) if any(c.isdigit() for c in number) else "không rõ"


def _clean(text: str) -> str:
    """One line, no trailing punctuation (the sentence adds its own)."""
    return " ".join(text.split()).strip(" .,;:")


def order_text(facts: OrderFacts) -> str:
    """The order read to a team, in Vietnamese (see the module docstring)."""
    category = CATEGORY_WORDS.get(facts.category, CATEGORY_WORDS["general"])
    urgency = URGENCY_WORDS.get(facts.urgency, URGENCY_WORDS["normal"])
    address = _clean(facts.address)[:MAX_ADDRESS_CHARS]
    where = [address] if address else []
    for name in facts.places:
        name = _clean(name)
        # An agent often types the commune into the address: say it once.
        if name and name.casefold() not in address.casefold():
            where.append(name)
    sentences = [
        "Lệnh điều động từ tổng đài một không hai hai.",
        f"Sự cố số {facts.incident_id}: {category}, mức độ {urgency}.",
        f"Địa chỉ: {', '.join(where)}." if where else "Địa chỉ: chưa rõ.",
        f"Số điện thoại người báo: {spell_number(facts.caller_number)}.",
        KEYS_TEXT,
    ]
    return " ".join(sentences)


def _pieces(sentence: str, limit: int) -> list[str]:
    """A sentence longer than ``limit`` cut at commas, then at spaces."""
    if len(sentence) <= limit:
        return [sentence]
    out: list[str] = []
    current = ""
    for word in re.split(r"(?<=,) ", sentence):
        for piece in [word] if len(word) <= limit else _words(word, limit):
            if current and len(current) + 1 + len(piece) > limit:
                out.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        out.append(current)
    return out


def _words(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > limit:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*out, current] if current else out


def split_reading(text: str, limit: int = MAX_PART_CHARS) -> list[str]:
    """``text`` cut into parts of whole sentences of at most ``limit`` characters (a longer
    sentence is cut at commas, then spaces). The keys' sentences are always a part of their
    own, so their file is shared by every order."""
    body = " ".join(text.split())
    keys = ""
    if body.endswith(KEYS_TEXT):
        body, keys = body.removesuffix(KEYS_TEXT).rstrip(), KEYS_TEXT
    sentences = [s for s in re.split(r"(?<=[.!?]) ", body) if s]
    parts: list[str] = []
    current = ""
    for sentence in sentences:
        for piece in _pieces(sentence, limit):
            if current and len(current) + 1 + len(piece) > limit:
                parts.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        parts.append(current)
    return [*parts, keys] if keys else parts


def _digest(text: str) -> str:
    return hashlib.sha256(f"{prompts.VOICE}\0{text}".encode()).hexdigest()[:20]


class OrderAudio:
    """Sound files of orders and of the fixed prompts, where Asterisk plays them.

    ``host_dir`` is where this process writes; ``asterisk_dir`` is the same directory as
    Asterisk sees it (they differ when Asterisk runs in a chroot). Paths handed out are
    Asterisk's, without extension, ready for ``STREAM FILE``.
    """

    def __init__(
        self,
        host_dir: Path,
        asterisk_dir: str,
        *,
        keep: int = 200,
        speak: Callable[[str, Path], None] = prompts.speak,
    ) -> None:
        self.host_dir = host_dir
        self.asterisk_dir = asterisk_dir.rstrip("/")
        self.keep = keep
        self._speak = speak
        self._fixed: dict[str, str] = {}  # name -> digest
        self._held: Counter[str] = Counter()  # digest -> calls playing it now
        self._making: dict[str, asyncio.Task[None]] = {}

    def _path(self, digest: str) -> str:
        return f"{self.asterisk_dir}/{digest}"

    async def prepare(self) -> None:
        """Make the fixed prompts' files that are missing (once; again after a text change)."""
        for name, text in FIXED_PROMPTS.items():
            digest = _digest(text)
            await self._make(digest, text)
            self._fixed[name] = digest

    async def fixed(self, name: str) -> str:
        """The path of fixed prompt ``name`` (made now if ``prepare`` has not run)."""
        if name not in self._fixed:
            await self.prepare()
        return self._path(self._fixed[name])

    @contextlib.asynccontextmanager
    async def hold(self, text: str) -> AsyncIterator[list[str]]:
        """The paths of ``text``'s parts, in order, made if missing; not removed while held.

        Raises ``ivr.prompts.PromptError`` (or ``OSError``) when a part cannot be made.
        """
        digests = [(_digest(part), part) for part in split_reading(text)]
        self._held.update(d for d, _ in digests)
        try:
            for digest, part in digests:
                await self._make(digest, part)
            yield [self._path(d) for d, _ in digests]
        finally:
            self._held.subtract(d for d, _ in digests)
            self._held += Counter()  # drop the zeros

    async def warm(self, text: str) -> None:
        """Make ``text``'s files ahead of the call (while the phone rings)."""
        async with self.hold(text):
            pass

    async def _make(self, digest: str, text: str) -> None:
        """The file of ``text``, made once even when several calls ask at the same time."""
        task = self._making.get(digest)
        if task is None:
            # Decided here, on the loop: the worker thread must not read what calls change.
            protected = frozenset({*self._fixed.values(), *self._held, digest})
            task = asyncio.create_task(
                asyncio.to_thread(self._make_sync, digest, text, protected),
                name=f"speak {digest}",
            )
            self._making[digest] = task
            task.add_done_callback(lambda _t: self._making.pop(digest, None))
        await asyncio.shield(task)

    def _make_sync(self, digest: str, text: str, protected: frozenset[str]) -> None:
        dest = self.host_dir / f"{digest}.wav"
        if dest.exists():
            os.utime(dest)  # recently used: the last to be removed
            return
        if not self.host_dir.is_dir():
            self.host_dir.mkdir(parents=True)
            self.host_dir.chmod(0o755)  # whatever this process's umask: Asterisk reads it
        self._speak(text, dest)
        dest.chmod(0o644)  # Asterisk runs as another user
        self._prune(protected)

    def _prune(self, protected: Collection[str]) -> None:
        """Remove the files beyond the ``keep`` most recently used, apart from the protected
        ones (the fixed prompts and the parts calls are playing)."""
        files = []
        for f in self.host_dir.glob("*.wav"):
            if f.stem in protected:
                continue
            with contextlib.suppress(OSError):
                files.append((f.stat().st_mtime, f))
        files.sort(reverse=True)
        for _, f in files[self.keep :]:
            with contextlib.suppress(OSError):
                f.unlink()
                log.debug("removed old order audio %s", f.name)
