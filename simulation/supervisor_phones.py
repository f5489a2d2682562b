"""A supervisor's phone played by SIPp (issue 15: listening in): registers as ``supNN``,
answers the hotline's call into an agent's call (``pbx.recording.AmiSpyPbx``), optionally
presses keys (4 listen, 5 whisper, 6 barge) and stays until the hotline hangs up.

It is a ``SippTeamPhone`` with a supervisor's endpoint: the same scenario (answer, keys,
wait for the BYE), logged the same way (``calls()``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from simulation.team_phones import SippTeamPhone

__all__ = ["SippSupervisorPhone"]


@dataclass
class SippSupervisorPhone(SippTeamPhone):
    """``SippSupervisorPhone(endpoint="sup01", password=…, server_port=…, local_port=…,
    media_port=…, keys="5")``: no keys by default; a key is pressed ``first_key_after_ms``
    after the answer. It answers every call it gets (one spy session after another)."""

    keys: str = ""
    first_key_after_ms: int = 2000
    wait_for_bye_ms: int = 3_600_000

    def __post_init__(self) -> None:
        if not self.endpoint or not self.password or not self.server_port:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise ValueError("a supervisor's phone registers: endpoint, password, server_port")
