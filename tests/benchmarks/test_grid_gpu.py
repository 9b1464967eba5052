"""benchmarks.grid_gpu (one command on a GPU; --dry-run on CPU) and grid_speed's FLOP count."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import grid_gpu, grid_speed
from hartflow.grid import sudoku_rater


@pytest.mark.skipif(torch.cuda.is_available(), reason="refusal is for machines without CUDA")
def test_refuses_in_one_line_without_cuda(capsys):
    with pytest.raises(SystemExit) as e:
        grid_gpu.main(["--minutes", "1"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "--dry-run" in err


@pytest.mark.slow  # ~1 min: generates 6 hard puzzles and compiles the train step
@pytest.mark.skipif(not sudoku_rater.HAVE_NUMBA, reason="rating in pure Python: pip install numba")
def test_dry_run_builds_compiles_and_trains_two_steps(tmp_path, capsys):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = grid_gpu.main(["--dry-run", "--work", str(tmp_path)])
    finally:
        torch.set_num_threads(before)
    saved = json.loads((tmp_path / out["run"].split("/")[-1] / "result.json").read_text())
    assert saved["steps"] == 2 and saved["dry_run"] and saved["config"]["compile"]
    assert saved["data"]["min_rating"] == 20 and saved["data"]["mean_rating"] >= 20
    assert saved["flops_per_step"] > 0 and 0 <= saved["test_exact"] <= 1
    assert "blank cells" in capsys.readouterr().out


class TestFlopCount:
    def test_linear_forward_and_backward(self):
        layer = torch.nn.Linear(8, 4, bias=False)
        x = torch.randn(3, 5, 8, requires_grad=True)
        recorder = grid_speed.MatmulRecorder()
        with recorder:
            layer(x).sum().backward()
        # forward 2·15·8·4, and two backward products of the same size
        assert grid_speed.matmul_flops(recorder.calls) == 3 * 2 * 15 * 8 * 4

    def test_attention_counts_its_two_products(self):
        q = torch.randn(2, 3, 5, 4)
        recorder = grid_speed.MatmulRecorder()
        with recorder:
            torch.nn.functional.scaled_dot_product_attention(q, q, q)
        assert grid_speed.matmul_flops(recorder.calls) == 2 * (2 * 6 * 5 * 4 * 5)


def _puzzle(shift: int, rating: int):
    """A valid 9×9 Sudoku (a shifted pattern) with every third cell blank, rated `rating`."""
    import numpy as np

    from hartflow.grid.sudoku_transform import Puzzle

    answer = np.array([((r * 3 + r // 3 + c + shift) % 9) + 1 for r in range(9) for c in range(9)],
                      dtype=np.int8)  # fmt: skip
    question = answer.copy()
    question[::3] = 0
    return Puzzle(question=question, answer=answer, rating=rating)


def test_puzzles_read_from_a_csv_skip_generation_and_keep_the_rating_floor(tmp_path):
    from hartflow.grid import sudoku

    puzzles = [_puzzle(0, 30), _puzzle(1, 5), _puzzle(2, 40)]
    csv = sudoku.write_csv(puzzles, tmp_path / "made_ahead.csv")
    info = grid_gpu.build_data(tmp_path / "data", train=1, test=1, aug=2, min_rating=20, seed=0,
                               workers=1, puzzles_csv=csv)  # fmt: skip
    assert info["mean_rating"] == 35 and info["puzzles_from"] == str(csv)
    assert (tmp_path / "data" / "test" / "dataset.json").exists()
    with pytest.raises(SystemExit, match="2 puzzles rated >= 20, need 3"):
        grid_gpu.build_data(tmp_path / "more", train=2, test=1, aug=0, min_rating=20, seed=0,
                            workers=1, puzzles_csv=csv)  # fmt: skip
