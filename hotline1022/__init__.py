"""hotline1022: the backend of the 1022 citizen hotline.

This package holds what ties the domain packages together: settings, the command line and
the service runner. The domain lives in ``pbx``, ``ivr``, ``queues``, ``dispatch``, ``store``
and ``api``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
