"""A SIPp agent that lets its phone ring before answering (the console's pop is read then)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation import agents
from simulation.agents import agent_scenario


def test_ring_ms_pauses_between_ringing_and_answer() -> None:
    scenario = agent_scenario(2000, ring_ms=3000)
    ringing = scenario.index("SIP/2.0 180 Ringing")
    pause = scenario.index('<pause milliseconds="3000"/>')
    answer = scenario.index("SIP/2.0 200 OK")
    assert ringing < pause < answer


def test_by_default_the_agent_answers_at_once() -> None:
    assert "<pause milliseconds" not in agent_scenario(2000)


def test_a_pool_of_agents_lets_each_phone_ring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[list[str]] = []

    def fake_start(args: list[str], workdir: Path, what: str, env: object = None) -> None:
        started.append(args)

    monkeypatch.setattr(agents, "start_background", fake_start)
    pool = agents.SippAgentPool(
        [("agent01", "pw")], 5060, 5070, 40000, talk_ms=2000, ring_ms=1500, workdir=tmp_path
    )
    monkeypatch.setattr(pool, "register", lambda timeout=30: None)
    pool.start()
    scenario = (tmp_path / "agent.xml").read_text()
    assert '<pause milliseconds="1500"/>' in scenario
    assert scenario.index("180 Ringing") < scenario.index('<pause milliseconds="1500"/>')
    assert started and str(tmp_path / "agent.xml") in started[0]
