"""Supervisors listening in, whispering to an agent or barging into an agent's call (issue
15), over ChanSpy."""
