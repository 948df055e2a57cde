import collections
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_gst  # noqa: E402,F401  before TensorFlow, as in users' scripts and the CLI (its oneDNN default)

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real sample files kept in the repository (tests/assets/real, see its SOURCE.md); KERAS_GST_REAL_DATA
# points the tests at another copy.
REAL_DATA = Path(os.environ.get("KERAS_GST_REAL_DATA", REPO_ROOT / "tests" / "assets" / "real"))


@pytest.fixture(scope="session")
def real_data():
    if not REAL_DATA.is_dir():
        pytest.fail(f"Real test data not found at {REAL_DATA}: restore tests/assets/real from git or unset KERAS_GST_REAL_DATA.")
    return REAL_DATA


@pytest.fixture(scope="session")
def doc_page(tmp_path_factory):
    """doc -> (working directory, namespace) for the docs tests (tests/test_docs.py, test_docs_reference.py),
    made on first use: a page's blocks share both, every page has its own."""
    import docs_runner
    import docs_workspace

    workspace = docs_workspace.make_workspace(tmp_path_factory.mktemp("docs") / "data")
    made = {}

    def page(doc):
        if doc not in made:
            directory = docs_runner.page_directory(workspace, workspace.parent / doc.replace("/", "_"))
            made[doc] = (directory, {"__name__": "__main__"})
        return made[doc]

    return page


def pytest_addoption(parser):
    parser.addoption("--model-examples", action="store_true",
                     help="also run the docstring examples that build, train, save or convert a model "
                          "(tests/test_docstring_examples.py; about 10 minutes on 2 cores)")


def pytest_collection_modifyitems(config, items):
    """Docstring examples marked `model_example` are skipped unless --model-examples (they would take a third of
    CI's time; the same calls are tested elsewhere on tiny models).

    The files with the most slow (`large`) tests first, each file's tests in their order: under `-n 2 --dist
    loadfile` (setup.cfg, with --no-loadscope-reorder so xdist keeps this order) the long files start at once
    and the short ones fill in at the end, instead of a long file running alone while the other worker idles."""
    if not config.getoption("--model-examples"):
        skip = pytest.mark.skip(reason="a docstring example that builds a model: run with --model-examples")
        for item in items:
            if item.get_closest_marker("model_example"):
                item.add_marker(skip)
    large = collections.Counter(item.path for item in items if item.get_closest_marker("large")
                                and not item.get_closest_marker("model_example"))
    items.sort(key=lambda item: -large[item.path])
