"""A safe expression language over a vocabulary: `"A*B + C*~D"` to a vector, without `eval`.

The text is parsed by Python's own parser (`ast.parse`) and only a whitelist of nodes is accepted:
names, numbers, `+`, `-`, `*` (bind; scaling when one side is a number), `~` (inverse), `**`
(binding power) and parentheses. Nothing is ever executed. Names not yet in a non-strict
vocabulary are created from their names, so results are reproducible across processes.
Repeated subexpressions are evaluated once.
"""

from __future__ import annotations

import ast

import torch

from hrr.algebra import bind, inverse, power
from hrr.errors import HRRError
from hrr.vocabulary import Vocabulary

__all__ = ["Expression", "parse"]

_MAX_CHARS = 10_000
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Pow: "**"}
_UNARY = {ast.Invert: "~", ast.USub: "-", ast.UAdd: "+"}

Value = torch.Tensor | float


class Expression:
    """A parsed, validated expression; call `evaluate(vocab)` to get its vector.

    Args:
        text: e.g. `"A*B + C*~D"`, `"0.5*X + P**3 * Y"`.

    Raises:
        HRRError: on syntax errors or constructs outside the language, naming the column.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise HRRError("expression is empty; write e.g. 'A*B + C*~D'")
        if len(text) > _MAX_CHARS:
            raise HRRError(f"expression has {len(text)} characters, the limit is {_MAX_CHARS}")
        self.text = text
        try:
            self._tree = ast.parse(text.lstrip(), mode="eval").body
        except SyntaxError as e:
            col = (e.offset or 0) + len(text) - len(text.lstrip())
            raise HRRError(f"cannot parse {text!r}: {e.msg} at column {col}") from None
        except (RecursionError, MemoryError):
            raise HRRError(f"expression {text[:40]!r}... is nested too deeply") from None
        try:
            self.names: tuple[str, ...] = tuple(dict.fromkeys(self._validate(self._tree)))
        except RecursionError:
            raise HRRError(f"expression {text[:40]!r}... is nested too deeply") from None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def _validate(self, node: ast.AST) -> list[str]:
        """Check every node is allowed; return the names in order of appearance."""
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return []
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._validate(node.left) + self._validate(node.right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return self._validate(node.operand)
        col = getattr(node, "col_offset", 0) + 1 + len(self.text) - len(self.text.lstrip())
        what = type(getattr(node, "op", node)).__name__
        raise HRRError(
            f"{what} at column {col} of {self.text!r} is not part of the expression language "
            f"(allowed: names, numbers, + - * ~ ** and parentheses)"
        )

    def evaluate(self, vocab: Vocabulary) -> torch.Tensor:
        """The vector the expression denotes, with names looked up in `vocab`.

        Shapes:
            -> (d,)
        """
        missing = [n for n in self.names if n not in vocab]
        if missing and not vocab.strict:
            vocab.add(*missing)
        table = dict(zip(self.names, vocab[list(self.names)], strict=False)) if self.names else {}
        try:
            out = self._eval(self._tree, table, {})
        except RecursionError:
            raise HRRError(f"expression {self.text[:40]!r}... is nested too deeply") from None
        if not isinstance(out, torch.Tensor):
            raise HRRError(f"expression {self.text!r} is a number ({out}), not a vector")
        return out

    def _eval(self, node: ast.AST, table: dict[str, torch.Tensor], memo: dict[str, Value]) -> Value:
        key = ast.dump(node)
        if key in memo:
            return memo[key]
        if isinstance(node, ast.Name):
            out: Value = table[node.id]
        elif isinstance(node, ast.Constant):
            try:
                out = float(node.value)
            except OverflowError:
                raise HRRError(f"the number at column {node.col_offset + 1} is too large") from None
        elif isinstance(node, ast.UnaryOp):
            out = _unary(_UNARY[type(node.op)], self._eval(node.operand, table, memo), node)
        else:
            assert isinstance(node, ast.BinOp), f"unvalidated node {key}"
            left = self._eval(node.left, table, memo)
            right = self._eval(node.right, table, memo)
            out = _binary(_BINOPS[type(node.op)], left, right, node)
        memo[key] = out
        return out


def _unary(op: str, x: Value, node: ast.AST) -> Value:
    if op == "~":
        if not isinstance(x, torch.Tensor):
            raise HRRError(
                f"'~' at column {node.col_offset + 1} needs a vector, got the number {x}"
            )
        return inverse(x)
    return -x if op == "-" else x


def _binary(op: str, a: Value, b: Value, node: ast.AST) -> Value:
    try:
        out = _binary_unchecked(op, a, b, node)
    except (OverflowError, ZeroDivisionError) as e:
        raise HRRError(f"'{op}' at column {node.col_offset + 1}: {e}") from None
    if isinstance(out, complex) or (isinstance(out, torch.Tensor) and out.is_complex()):
        raise HRRError(f"'{op}' at column {node.col_offset + 1} gives a complex number")
    return out


def _binary_unchecked(op: str, a: Value, b: Value, node: ast.AST) -> Value:
    vec_a, vec_b = isinstance(a, torch.Tensor), isinstance(b, torch.Tensor)
    if op == "*":
        return bind(a, b) if vec_a and vec_b else a * b
    if op == "**":
        if vec_b:
            raise HRRError(f"'**' at column {node.col_offset + 1} needs a number as exponent")
        return power(a, b) if vec_a else a**b
    if vec_a != vec_b:
        raise HRRError(
            f"'{op}' at column {node.col_offset + 1} mixes a number and a vector; "
            f"scale with '*' instead"
        )
    return a + b if op == "+" else a - b


def parse(text: str, vocab: Vocabulary) -> torch.Tensor:
    """Evaluate `text` over `vocab` in one call: `parse("A*B + C*~D", vocab)`.

    Shapes:
        -> (d,)
    """
    return Expression(text).evaluate(vocab)
