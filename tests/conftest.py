import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared/data/real beside the repository (see its SOURCE.md); KERAS_GST_REAL_DATA overrides.
REAL_DATA = Path(os.environ.get("KERAS_GST_REAL_DATA", REPO_ROOT.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data():
    if not REAL_DATA.is_dir():
        pytest.fail(f"Real test data not found at {REAL_DATA}: clone the repository next to ../shared.")
    return REAL_DATA
