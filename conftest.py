"""pytest settings shared by the unit tests and the notebook run (nbval)."""

from __future__ import annotations

import pytest

# nbval gives up on a cell when its output messages pause for more than 5 s after the cell has
# finished, which happens on a machine busy with other work (the kernel is still sending them),
# and in full mode after a long, quiet training cell. The wait is generous so that a check never
# depends on how chatty a cell is; a cell that really hangs is still caught by
# --nbval-cell-timeout, which nbval applies first.
NBVAL_OUTPUT_TIMEOUT_S = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if type(item).__name__ == "IPyNbCell" and hasattr(item, "output_timeout"):
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
