"""What the IVR needs of a call's channel: the FastAGI session satisfies this structurally.

A caller who hangs up makes any of these raise (``pbx.errors.AgiHangup`` on the real link);
the IVR lets it propagate: the call tracker records where the caller left.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["IvrChannel"]


class IvrChannel(Protocol):
    @property
    def uniqueid(self) -> str: ...

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1
    ) -> tuple[str, bool]: ...

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None: ...

    async def set_variable(self, name: str, value: str) -> None: ...
