"""The menu in force, its prompts, and the announcements supervisors edit.

The menu file is validated before it is used: the service refuses to start on an invalid
file, and a reload with an invalid file keeps the menu in force and says why. A reload makes
the sound files of new or changed prompts first, then swaps the menu: calls already in the
menu finish on the one they started with, and Asterisk is not touched.

Announcements (the prompts that ``announcement`` nodes play) can be rewritten by a
supervisor; the new text is spoken first, and only once its sound file is made is it kept in
the database (overriding the file's text across restarts and reloads) and put in place. A
text that cannot be spoken is refused (``PromptError``): the announcement in force stays.
A new text can also be spoken into a draft first (``make_draft``, in ``.drafts/`` of the
prompt cache, not heard by callers) to be listened to, then published as it was heard
(``publish_draft``) or discarded. Each rewrite keeps the version it replaces (its text in
the database, its sound in ``.previous/``): ``revert`` puts that very sound back.

A prompt that cannot be spoken at start or reload never stops the service: it is logged and
keeps its previous sound file, or plays one second of silence if it never had one; it is
spoken again at the next reload. ``prompt_seconds`` tells the engine how long each prompt
plays, so that waiting for Asterisk to play it never times out before the prompt ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select

from ivr.menu import AnnouncementNode, Menu
from ivr.menu_file import load_menu
from ivr.ports import AnnouncementNotFound, DraftMismatch, NothingToRevert
from ivr.prompts import SPEAK_TIMEOUT_S, PromptError, duration_s, generate, remember, speak
from store.db import Database
from store.models import Announcement

__all__ = ["IvrService"]

log = logging.getLogger(__name__)


class IvrService:
    def __init__(
        self,
        *,
        db: Database,
        menu_path: Path,
        prompt_cache: Path,
        asterisk_prompts: Path | None,
        recorded_dir: Path | None = None,
        queues: Collection[str] | None = None,
        categories: Collection[str] | None = None,
        speak_timeout_s: float = SPEAK_TIMEOUT_S,
    ) -> None:
        self.db = db
        self.menu_path = menu_path
        self.prompt_cache = prompt_cache
        self.asterisk_prompts = asterisk_prompts
        self.recorded_dir = recorded_dir
        self.queues = queues
        self.categories = categories
        self.speak_timeout_s = speak_timeout_s
        self._menu: Menu | None = None
        self._lock = asyncio.Lock()
        self._seconds: dict[str, float] = {}

    @property
    def menu(self) -> Menu:
        assert self._menu is not None, "IvrService.start() not called"
        return self._menu

    def current(self) -> Menu:
        return self.menu

    def prompt_seconds(self, name: str) -> float:
        """How long prompt ``name`` plays (0.0 if unknown)."""
        return self._seconds.get(name, 0.0)

    def _load(self) -> Menu:
        return load_menu(self.menu_path, queues=self.queues, categories=self.categories)

    async def start(self) -> None:
        """Load and check the menu file (``MenuError`` if invalid) and make its prompts."""
        menu = self._load()
        await self._sync_prompts(menu)
        self._menu = menu
        log.info("menu %s: %d nodes", self.menu_path, len(menu.nodes))

    async def reload(self) -> dict[str, object]:
        async with self._lock:
            menu = await asyncio.to_thread(self._load)  # raises MenuError: old menu stays
            written, failed = await self._sync_prompts(menu)
            self._menu = menu
        log.info(
            "menu reloaded from %s: %d nodes, %d prompt file(s) made, %d not spoken",
            self.menu_path,
            len(menu.nodes),
            written,
            len(failed),
        )
        return {
            "menu": str(self.menu_path),
            "nodes": len(menu.nodes),
            "prompts_made": written,
            "prompts_failed": failed,
        }

    def _announcement_prompts(self, menu: Menu) -> set[str]:
        return {n.prompt for n in menu.nodes.values() if isinstance(n, AnnouncementNode)}

    async def _overrides(self) -> dict[str, Announcement]:
        async with self.db.session() as session:
            rows = (await session.scalars(select(Announcement))).all()
        return {a.name: a for a in rows}

    async def _sync_prompts(self, menu: Menu) -> tuple[int, list[str]]:
        """Make the menu's prompt files; return how many were written and which failed."""
        overrides = await self._overrides()
        texts = dict(menu.prompts)
        for name in self._announcement_prompts(menu) & overrides.keys():
            texts[name] = overrides[name].text
        failed: list[str] = []

        def not_spoken(name: str, exc: PromptError) -> None:
            failed.append(name)
            log.error("prompt %s not spoken, playing its previous audio or silence: %s", name, exc)

        written = await asyncio.to_thread(
            generate,
            self.prompt_cache,
            texts,
            self.recorded_dir,
            timeout_s=self.speak_timeout_s,
            on_error=not_spoken,
        )
        await asyncio.to_thread(self._publish, [p.name for p in written])
        return len(written), failed

    def _publish(self, names: list[str]) -> None:
        """Copy new prompt files to Asterisk and note how long every prompt plays."""
        if self.asterisk_prompts is not None:
            self._copy_to_asterisk(names)
        self._seconds = {p.stem: duration_s(p) for p in self.prompt_cache.glob("*.wav")}

    def _copy_to_asterisk(self, names: list[str]) -> None:
        assert self.asterisk_prompts is not None
        self.asterisk_prompts.mkdir(parents=True, exist_ok=True)
        for src in self.prompt_cache.glob("*.wav"):
            dest = self.asterisk_prompts / src.name
            if src.name in names or not dest.exists():
                tmp = dest.with_suffix(".tmp")
                shutil.copyfile(src, tmp)
                tmp.chmod(0o644)
                tmp.replace(dest)

    async def announcements(self) -> list[dict[str, object]]:
        menu = self.menu
        overrides = await self._overrides()
        out: list[dict[str, object]] = []
        for name in sorted(self._announcement_prompts(menu)):
            o = overrides.get(name)
            out.append(
                {
                    "name": name,
                    "text": o.text if o else menu.prompts[name],
                    "source": "supervisor" if o else "menu file",
                    "updated_at": o.updated_at.isoformat() if o else None,
                    "updated_by": o.updated_by if o else None,
                    "duration_s": round(self.prompt_seconds(name), 2),
                    "previous_text": o.previous_text if o else None,
                    "previous_by": o.previous_by if o else None,
                    "draft": self._draft(name),
                }
            )
        return out

    def _check_name(self, name: str) -> None:
        if name not in self._announcement_prompts(self.menu):
            raise AnnouncementNotFound(
                f"No announcement named {name!r}; announcements: "
                + ", ".join(sorted(self._announcement_prompts(self.menu)))
            )

    async def set_announcement(self, name: str, text: str, by: str) -> dict[str, object]:
        """Speak ``text`` and put it live at once (no draft to listen to first)."""
        self._check_name(name)
        async with self._lock:
            # Spoken first, next to the file in force: a text that cannot be spoken is never
            # saved, and the announcement callers hear stays as it was.
            self.prompt_cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.prompt_cache) as tmp:
                spoken = Path(tmp) / f"{name}.wav"
                await asyncio.to_thread(speak, text, spoken, timeout_s=self.speak_timeout_s)
                await self._go_live(name, text, by, spoken)
        log.info("announcement %s rewritten by %s", name, by)
        return await self._one(name)

    async def _one(self, name: str) -> dict[str, object]:
        return next(a for a in await self.announcements() if a["name"] == name)

    async def _go_live(self, name: str, text: str, by: str, spoken: Path) -> None:
        """Save ``text`` (keeping the version it replaces) and put ``spoken`` in place.
        Called under the lock, with ``spoken`` on the prompt cache's file system."""
        async with self.db.session() as session:
            row = await session.get(Announcement, name)
            if row is None or row.text != text:
                # The sound callers heard until now, kept for a revert.
                await asyncio.to_thread(self._keep_previous, name)
            if row is None:
                session.add(
                    Announcement(
                        name=name,
                        text=text,
                        updated_by=by,
                        previous_text=self.menu.prompts[name],
                        previous_by=None,
                    )
                )
            else:
                if row.text != text:
                    row.previous_text, row.previous_by = row.text, row.updated_by
                row.text = text
                row.updated_by = by
            await session.commit()
        await asyncio.to_thread(spoken.replace, self.prompt_cache / f"{name}.wav")
        await asyncio.to_thread(remember, self.prompt_cache, name, text)
        await self._sync_prompts(self.menu)  # a recorded file of that name still wins
        await asyncio.to_thread(self._publish, [f"{name}.wav"])

    @property
    def _previous(self) -> Path:
        return self.prompt_cache / ".previous"

    def _keep_previous(self, name: str) -> None:
        live = self.prompt_cache / f"{name}.wav"
        if live.exists():
            self._previous.mkdir(parents=True, exist_ok=True)
            tmp = self._previous / f"{name}.tmp"
            shutil.copyfile(live, tmp)
            tmp.replace(self._previous / f"{name}.wav")

    # -- drafts: heard by the supervisor before callers hear them ----------------------------

    @property
    def _drafts(self) -> Path:
        # A folder of the prompt cache: on the same file system (a rename puts a draft live)
        # and outside the ``*.wav`` that are copied to Asterisk.
        return self.prompt_cache / ".drafts"

    def _draft(self, name: str) -> dict[str, object] | None:
        wav = self._drafts / f"{name}.wav"
        try:
            meta = json.loads((self._drafts / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not wav.exists():
            return None
        return {
            "id": str(meta.get("id", "")),
            "text": str(meta.get("text", "")),
            "by": meta.get("by"),
            "duration_s": round(duration_s(wav), 2),
        }

    def audio(self, name: str, *, draft: bool) -> Path | None:
        """The sound file of the announcement (its draft, or what callers hear), or None."""
        self._check_name(name)
        path = (self._drafts if draft else self.prompt_cache) / f"{name}.wav"
        if draft and self._draft(name) is None:
            return None
        return path if path.exists() else None

    async def make_draft(self, name: str, text: str, by: str) -> dict[str, object]:
        """Speak ``text`` into the announcement's draft (replacing any earlier draft);
        callers go on hearing the live version. ``PromptError`` if it cannot be spoken."""
        self._check_name(name)
        async with self._lock:
            await asyncio.to_thread(self._drafts.mkdir, parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self._drafts) as tmp:
                spoken = Path(tmp) / f"{name}.wav"
                await asyncio.to_thread(speak, text, spoken, timeout_s=self.speak_timeout_s)
                meta = {"id": secrets.token_hex(8), "text": text, "by": by}
                await asyncio.to_thread(self._keep_draft, name, spoken, meta)
        log.info("announcement %s: draft %s made by %s", name, meta["id"], by)
        return await self._one(name)

    def _keep_draft(self, name: str, spoken: Path, meta: dict[str, str]) -> None:
        # The sound first, then what it says: a draft whose .json exists is complete.
        (self._drafts / f"{name}.json").unlink(missing_ok=True)
        spoken.replace(self._drafts / f"{name}.wav")
        tmp = spoken.with_suffix(".json")
        tmp.write_text(json.dumps(meta, ensure_ascii=False))
        tmp.replace(self._drafts / f"{name}.json")

    def _drop_draft(self, name: str) -> None:
        for suffix in (".json", ".wav"):
            (self._drafts / f"{name}{suffix}").unlink(missing_ok=True)

    async def publish_draft(self, name: str, draft_id: str, by: str) -> dict[str, object]:
        """Put the draft ``draft_id`` live; ``DraftMismatch`` if it is not the draft now."""
        self._check_name(name)
        async with self._lock:
            draft = self._draft(name)
            if draft is None or draft["id"] != draft_id:
                raise DraftMismatch(
                    f"announcement {name!r} has no draft {draft_id!r}: it was published, "
                    "discarded or replaced; listen to the draft now in place"
                )
            await self._go_live(name, str(draft["text"]), by, self._drafts / f"{name}.wav")
            await asyncio.to_thread(self._drop_draft, name)
        log.info("announcement %s: draft %s published by %s", name, draft_id, by)
        return await self._one(name)

    async def discard_draft(self, name: str) -> bool:
        """Throw the draft away; False if there was none."""
        self._check_name(name)
        async with self._lock:
            had = self._draft(name) is not None
            await asyncio.to_thread(self._drop_draft, name)
        return had

    async def revert(self, name: str, by: str) -> dict[str, object]:
        """Put the previous version live again (spoken again); the one it replaces becomes
        the previous, so a second revert undoes the first. ``NothingToRevert`` if none."""
        self._check_name(name)
        async with self.db.session() as session:
            row = await session.get(Announcement, name)
            previous = row.previous_text if row is not None else None
        if previous is None:
            raise NothingToRevert(f"announcement {name!r} keeps no previous version")
        kept = self._previous / f"{name}.wav"
        if not await asyncio.to_thread(kept.exists):
            # Its sound is gone (a new prompt cache): spoken again from its text.
            result = await self.set_announcement(name, previous, by)
        else:
            async with self._lock:
                with tempfile.TemporaryDirectory(dir=self.prompt_cache) as tmp:
                    # The very sound callers heard before, not a new rendering of its text.
                    sound = Path(tmp) / f"{name}.wav"
                    await asyncio.to_thread(shutil.copyfile, kept, sound)
                    await self._go_live(name, previous, by, sound)
            result = await self._one(name)
        log.info("announcement %s reverted by %s", name, by)
        return result
