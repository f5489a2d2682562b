"""simulation: the harness that plays a hotline's callers, agents and teams on a real Asterisk.

SIPp actors (``sipp`` runs the program; ``citizens``, ``agents``, ``team_phones`` are the
phones), the throwaway stack they call (``stack``), constant-rate runs (``simulate``), the
peak hour (``peak_plan``, ``peak``, ``peak_figures``, ``peak_report``) with its traffic
(``traffic``) and CPU sampling (``cpu``). Used by the CLI, the tests and ``bench/``; nothing in
the running service imports it.
"""
