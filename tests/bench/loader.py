"""The benches are scripts (``bench/*.py``), not a package: their tests load one by its path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def load_bench(file_name: str) -> ModuleType:
    """``bench/<file_name>`` as the module ``bench_<stem>`` (registered in ``sys.modules``, so
    its dataclasses and pickling find it)."""
    path = BENCH_DIR / file_name
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
