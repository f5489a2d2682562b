"""The sound files of what an agent's phone says back to a feature code.

``AgentPrompts.prepare()`` speaks each text (``ivr.prompts.speak``: espeak-ng, then sox to
8 kHz mono) into ``<name>.wav`` in a directory Asterisk plays from, once: ``.texts.json``
beside the files remembers the text each file speaks, so only a new or changed text (a pause
reason renamed in the settings) is spoken again at the next start. Files of prompts no longer
used (a reason removed) are deleted.

A prompt that cannot be spoken never stops the service: it is logged, keeps its previous file
if it had one or else gets a second of silence (the action is still done and confirmed in the
log), and is spoken again at the next start. Names are fixed (``failed`` is also what the
dialplan plays when the FastAGI script could not run), so paths do not depend on texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from ivr import prompts

__all__ = ["AgentPrompts"]

log = logging.getLogger(__name__)

MANIFEST = ".texts.json"


class AgentPrompts:
    """Named prompts in ``host_dir`` (this process's view), played by Asterisk from
    ``asterisk_dir`` (its view: they differ when Asterisk runs in a chroot)."""

    def __init__(
        self,
        host_dir: Path,
        asterisk_dir: str,
        texts: Mapping[str, str],
        *,
        speak: Callable[[str, Path], None] = prompts.speak,
    ) -> None:
        self.host_dir = host_dir
        self.asterisk_dir = asterisk_dir.rstrip("/")
        self.texts = dict(texts)
        self._speak = speak
        self._seconds: dict[str, float] = {}

    def path(self, name: str) -> str:
        """Asterisk's path of prompt ``name``, without extension (for ``STREAM FILE``)."""
        if name not in self.texts:
            raise KeyError(f"no agent prompt {name!r}")
        return f"{self.asterisk_dir}/{name}"

    def seconds(self, name: str) -> float:
        """How long prompt ``name`` plays (0.0 before ``prepare`` or when it has no file)."""
        return self._seconds.get(name, 0.0)

    async def prepare(self) -> list[str]:
        """Make the missing or out-of-date files, off the event loop; return the names that
        could not be spoken. Never raises: the service starts without them."""
        try:
            return await asyncio.to_thread(self._prepare_sync)
        except Exception:
            log.exception("agent phone prompts could not be prepared in %s", self.host_dir)
            return list(self.texts)

    def _prepare_sync(self) -> list[str]:
        if not self.host_dir.is_dir():
            self.host_dir.mkdir(parents=True)
            self.host_dir.chmod(0o755)  # whatever this process's umask: Asterisk reads it
        manifest = self._read_manifest()
        failed: list[str] = []
        for name, text in self.texts.items():
            dest = self.host_dir / f"{name}.wav"
            if not (dest.exists() and manifest.get(name) == text):
                try:
                    self._speak(text, dest)
                except (prompts.PromptError, OSError) as exc:
                    log.warning("agent prompt %r not spoken: %s", name, exc)
                    failed.append(name)
                    manifest.pop(name, None)  # spoken again at the next start
                    if not dest.exists():
                        prompts.write_silence(dest)
                else:
                    manifest[name] = text
                dest.chmod(0o644)  # Asterisk runs as another user
            self._seconds[name] = prompts.duration_s(dest)
        for old in self.host_dir.glob("*.wav"):
            if old.stem not in self.texts:
                with contextlib.suppress(OSError):
                    old.unlink()
                manifest.pop(old.stem, None)
        tmp = self.host_dir / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))
        tmp.replace(self.host_dir / MANIFEST)
        return failed

    def _read_manifest(self) -> dict[str, str]:
        try:
            data = json.loads((self.host_dir / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}
