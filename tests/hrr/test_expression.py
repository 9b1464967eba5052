"""The expression language: same vectors as the algebra, and nothing outside it."""

from __future__ import annotations

import pytest
import torch

import hrr
from hrr import Expression, HRRError, Vocabulary


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary(128, ["A", "B", "C", "D", "P"], seed=2, dtype=torch.float64)


class TestEvaluate:
    def test_matches_direct_algebra(self, vocab):
        a, b, c, d = vocab[["A", "B", "C", "D"]]
        expected = hrr.bind(a, b) + hrr.bind(c, hrr.inverse(d))
        assert torch.allclose(hrr.parse("A*B + C*~D", vocab), expected, atol=1e-12)

    def test_scaling_power_negation_parentheses(self, vocab):
        a, b, p = vocab[["A", "B", "P"]]
        got = hrr.parse("0.5*(A - B) + P**3 * -A", vocab)
        expected = 0.5 * (a - b) + hrr.bind(hrr.power(p, 3), -a)
        assert torch.allclose(got, expected, atol=1e-12)

    def test_names_and_reproducible_creation(self):
        e = Expression("X*Y + X")
        assert e.names == ("X", "Y")
        v1 = e.evaluate(Vocabulary(64, strict=False, seed=5))
        v2 = e.evaluate(Vocabulary(64, strict=False, seed=5))
        assert torch.equal(v1, v2)


class TestRejects:
    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("__import__('os').system('true')", "not part of the expression language"),
            ("A.real", "not part of the expression language"),
            ("A / B", "Div"),
            ("A *", "cannot parse"),
            ("", "empty"),
            ("2 + 3", "is a number"),
            ("A + 1", "mixes a number and a vector"),
            ("~2", "needs a vector"),
            ("A ** B", "exponent"),
            ("Q * A", "unknown symbol 'Q'"),
            ("A*(-1)**0.5", "complex"),
            ("A*2.0**2000", "column"),
            ("A*0**-1", "column"),
            ("9" * 400 + "*A", "too large"),
        ],
    )
    def test_errors_name_the_problem(self, vocab, text, match):
        with pytest.raises(HRRError, match=match):
            hrr.parse(text, vocab)

    def test_error_column_counts_leading_spaces(self, vocab):
        with pytest.raises(HRRError, match="column 3"):
            hrr.parse("  f(A)", vocab)

    def test_deep_nesting_is_an_error_not_a_crash(self, vocab):
        with pytest.raises(HRRError):
            hrr.parse("+".join(["A"] * 3000), vocab)
