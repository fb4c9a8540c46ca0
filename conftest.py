"""Collection rules for the whole suite (unit tests and notebooks alike)."""

from pathlib import Path

import pytest

from support import in_ci, notebook_datasets


def pytest_collection_modifyitems(config, items):
    """Skips a notebook whole, with one line naming the fix, when its data is missing (outside CI).

    Without this, nbval runs the notebook cell by cell and every cell after the failed load fails
    again with a NameError. Under CI the notebook runs and fails at its first cell, as it should.
    """
    if in_ci():
        return
    from siamese_kit.data import missing_datasets

    reasons = {}
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            missing = missing_datasets(notebook_datasets(path))
            reasons[path] = (f"{path.name}: {', '.join(missing)} not here. Fix: "
                             + "; ".join(missing.values())) if missing else None
        if reasons[path]:
            item.add_marker(pytest.mark.skip(reason=reasons[path]))
