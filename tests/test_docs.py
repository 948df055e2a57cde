"""The docs run as written: every ```bash and ```python block of README.md and docs/*.md (tests/docs_runner.py)
on tiny data (tests/docs_workspace.py). Only what a `# needs the network` comment marks is skipped.

One test per block, named by the doc and line; the blocks of a page run in order in one working directory and
one Python namespace (the `doc_page` fixture, tests/conftest.py), so a block may use what an earlier one of its
page wrote or defined. This file runs README.md and the training and fine-tuning guides
(docs_runner.GUIDE_PAGES); tests/test_docs_reference.py runs the other pages.
"""

import pytest

import docs_runner

BLOCKS = docs_runner.runnable_blocks(guides=True)


@pytest.mark.large
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_doc_block_runs(block, doc_page):
    docs_runner.run_block(block, doc_page)


def test_the_guide_pages_are_here():
    """The split between the two docs test files names pages that exist (a renamed guide would move to
    tests/test_docs_reference.py and unbalance the two workers)."""
    assert {block.doc for block in BLOCKS} == set(docs_runner.GUIDE_PAGES)


def test_every_fence_is_labelled():
    """A bare ``` fence would hide a command from this test: blocks not meant to run say ```text."""
    bare = [block.id for path in docs_runner.DOCS for block in docs_runner.read_blocks(path) if not block.lang]
    assert not bare, f"label these fences (```text for listings and synopses, ```bash, ```python): {bare}"


def test_network_marks_skip_only_what_they_mark():
    shell = docs_runner.Block("x.md", 10, "bash", "keras-gst info\npip install a \\\n    b   # needs the network\n"
                                                   "# a comment\nkeras-gst info --help\n")
    assert docs_runner.shell_script(shell).split("\n") == ["keras-gst info", "# a comment", "keras-gst info --help"]
    whole = docs_runner.Block("x.md", 10, "bash", "# needs the network: two machines\nexport A=1\nkeras-gst info\n")
    assert docs_runner.shell_script(whole) is None
    python = docs_runner.Block("x.md", 5, "python", "a = 1\nb = f(\n    2)  # needs the network\nc = a + 1\n")
    source = docs_runner.python_source(python)
    assert source.split("\n")[4:] == ["a = 1", "", "", "c = a + 1"]  # padded to line 5, the doc's line numbers


def test_shell_blocks_run_commands_in_process(tmp_path):
    """`keras-gst` in a bash block (inside a loop, after `&&`) runs here; its exit code (argparse's SystemExit
    included) reaches bash."""
    block = docs_runner.Block("x.md", 1, "bash", "for c in info; do keras-gst --help > /dev/null && echo ran > out.txt; done\n"
                                                 "keras-gst no-such-command || echo refused >> out.txt\n")
    (tmp_path / ".ipc").mkdir()
    assert docs_runner.run_shell(block, tmp_path, tmp_path / ".ipc")
    assert (tmp_path / "out.txt").read_text().split() == ["ran", "refused"]
