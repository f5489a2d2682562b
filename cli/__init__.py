"""cli: the ``hotline1022`` command, one module per group of subcommands.

``main`` holds the parser and the commands that run or set up the hotline (serve, asterisk,
db, prompts, info); ``users``, ``ivr``, ``places``, ``staffing``, ``stats`` and ``simulate``
add theirs. An entry point: nothing in the running service imports it.
"""
