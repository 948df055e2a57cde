"""The docs run as written: every ```bash and ```python block of README.md and docs/*.md (tests/docs_runner.py)
on tiny data (tests/docs_workspace.py). Only what a `# needs the network` comment marks is skipped.

One test per block, named by the doc and line; the blocks of a page run in order in one working directory and
one Python namespace, so a block may use what an earlier one of its page wrote or defined.
"""

import pytest

import docs_runner
import docs_workspace

BLOCKS = [block for block in docs_runner.all_blocks() if block.kind]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    return docs_workspace.make_workspace(tmp_path_factory.mktemp("docs") / "data")


@pytest.fixture(scope="session")
def pages(workspace):
    """doc -> (working directory, namespace), made on first use."""
    made = {}

    def page(doc):
        if doc not in made:
            directory = docs_runner.page_directory(workspace, workspace.parent / doc.replace("/", "_"))
            made[doc] = (directory, {"__name__": "__main__"})
        return made[doc]

    return page


@pytest.mark.large
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_doc_block_runs(block, pages):
    directory, namespace = pages(block.doc)
    if block.kind == "python":
        ran = docs_runner.run_python(block, namespace, directory)
    else:
        ran = docs_runner.run_shell(block, directory, directory / ".ipc")
    if not ran:
        pytest.skip(f"{block.id}: every command is marked {docs_runner.NETWORK!r}")


def test_every_fence_is_labelled():
    """A bare ``` fence would hide a command from this test: blocks not meant to run say ```text."""
    bare = [block.id for path in docs_runner.DOCS for block in docs_runner.read_blocks(path) if not block.lang]
    assert not bare, f"label these fences (```text for listings and synopses, ```bash, ```python): {bare}"
