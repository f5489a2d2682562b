"""hotline1022: the backend of the 1022 citizen hotline — settings and the running service.

This package holds only what wires the domain together and runs it: ``settings`` (the
``HOTLINE_*`` environment) and ``service`` (the composition root: one asyncio process with
the AMI link, the FastAGI server, the timers and the REST API). The domain lives in ``ivr``,
``queues``, ``dispatch`` and ``stats``, on ``pbx`` and ``store``; the API in ``api``. Around
it, and never imported by it: ``cli`` (the ``hotline1022`` command), ``provision`` (Asterisk
roots, config, secrets) and ``simulation`` (SIPp actors, throwaway stacks, the peak hour).
"""

from importlib import metadata

__all__ = ["__version__"]

try:
    __version__ = metadata.version("hotline1022")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
