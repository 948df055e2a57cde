"""The docs run as written (see tests/test_docs.py): the blocks of every page other than README.md and the
training and fine-tuning guides, i.e. the export, data, conversion and architecture pages."""

import pytest

import docs_runner

BLOCKS = docs_runner.runnable_blocks(guides=False)


@pytest.mark.large
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_doc_block_runs(block, doc_page):
    docs_runner.run_block(block, doc_page)
