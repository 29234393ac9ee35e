"""The examples in the core's docstrings run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import types

import pytest

from cryptoalerts import index, model, state


@pytest.mark.parametrize("module", [model, index, state], ids=lambda m: m.__name__)
def test_docstring_examples(module: types.ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module is not state:
        assert result.attempted > 0
