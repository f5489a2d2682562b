"""A SIPp agent that lets its phone ring before answering (the console's pop is read then)."""

from __future__ import annotations

from simulation.agents import agent_scenario


def test_ring_ms_pauses_between_ringing_and_answer() -> None:
    scenario = agent_scenario(2000, ring_ms=3000)
    ringing = scenario.index("SIP/2.0 180 Ringing")
    pause = scenario.index('<pause milliseconds="3000"/>')
    answer = scenario.index("SIP/2.0 200 OK")
    assert ringing < pause < answer


def test_by_default_the_agent_answers_at_once() -> None:
    assert "<pause milliseconds" not in agent_scenario(2000)
