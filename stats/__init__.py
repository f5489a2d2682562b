"""stats: the hotline's figures over time.

``rollups`` keeps per-15-minute and per-day rows built from calls and agent states, and
``refresher`` keeps them current while the service runs; ``history`` reads them as queue and
agent statistics; ``demand`` counts recorded arrivals and talk times; ``staffing`` is Erlang C
and A (pure arithmetic, no I/O).
"""
