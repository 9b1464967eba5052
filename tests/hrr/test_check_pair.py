"""`check_pair` reports only real shape errors as shape errors."""

from __future__ import annotations

import sys

import pytest
import torch

import hrr
from hrr.errors import HRRError


def _at_depth(n: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return hrr.unbind(a, b) if n == 0 else _at_depth(n - 1, a, b)


def test_a_recursion_error_is_not_called_a_shape_mismatch():
    a, b = torch.ones(1, 8), torch.ones(1, 8)
    limit = sys.getrecursionlimit()
    seen = set()
    try:
        for spare in range(1, 40):  # the limit is hit at every point of unbind's checks in turn
            sys.setrecursionlimit(len_stack() + 30 + spare)
            try:
                _at_depth(30, a, b)
                seen.add("ok")
            except RecursionError:
                seen.add("recursion")
    finally:
        sys.setrecursionlimit(limit)
    assert "recursion" in seen and "ok" in seen  # both sides of the limit were reached


def test_shapes_that_do_not_broadcast_still_say_so():
    with pytest.raises(HRRError, match=r"do not broadcast.*\(2, 4\).*\(3, 4\)"):
        hrr.unbind(torch.ones(2, 4), torch.ones(3, 4))


def len_stack() -> int:
    frame, n = sys._getframe(), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n
