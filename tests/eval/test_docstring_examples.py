from __future__ import annotations

import doctest

import pytest

from maskaudit.eval import answer, metrics, report


@pytest.mark.parametrize("module", [answer, metrics, report])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
