"""pytest settings shared by the unit tests and the notebook run (nbval)."""

from __future__ import annotations

import pytest

# nbval gives up on a cell when its output messages pause for more than 5 s after the cell has
# finished, which happens on a machine busy with other work (the kernel is still sending them).
# A cell that really hangs is still caught by --nbval-cell-timeout.
NBVAL_OUTPUT_TIMEOUT_S = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if type(item).__name__ == "IPyNbCell" and hasattr(item, "output_timeout"):
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
