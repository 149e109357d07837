"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train fastest on one thread, and it keeps them immune to other work on the
    machine (two threads fighting over busy cores made small matmuls 10-20x slower here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus_cache(tmp_path_factory) -> Path:
    """A fresh data-cache folder holding a copy of the default corpus (``make data`` puts it in
    the real cache; fetched when missing), so tests never depend on a mirror folder."""
    import shutil

    from labkit import data

    try:
        corpus = data.fetch(data.DEFAULT, progress=False)
    except data.DataError as err:
        pytest.fail(f"the default corpus could not be fetched; run `make data` first. {err}")
    cache = tmp_path_factory.mktemp("cache")
    shutil.copyfile(corpus, cache / corpus.name)
    return cache
