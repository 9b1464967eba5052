"""`datasets` is optional at import: the plain loaders and the zero-shot pipeline run without it.

Each check runs in a fresh interpreter, since this test process may have imported `datasets`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_import_does_not_load_datasets():
    done = _run(
        "import sys, hartflow.data, hartflow.evaluation\nprint('datasets' in sys.modules)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_scan_and_zero_shot_work_with_datasets_blocked():
    done = _run(
        "import sys\n"
        "sys.modules['datasets'] = None  # any `import datasets` now raises ImportError\n"
        "from hartflow.data import load, load_examples\n"
        "from hartflow.evaluation import build_reasoner, decode_command\n"
        "parts = load_examples('scan', 'addprim_jump')\n"
        "print(len(parts['train']), len(parts['test']))\n"
        "print(parts['train'][0].input.split()[0] in {'jump', 'walk', 'run', 'look', 'turn'})\n"
        "reasoner = build_reasoner('scan', 'addprim_jump', d=256)\n"
        "print(decode_command('jump around left twice', reasoner)['answer'])\n"
        "try:\n"
        "    load('scan', 'simple')\n"
        "except ImportError:\n"
        "    print('load needs datasets')\n"
    )
    assert done.returncode == 0, done.stderr
    sizes, first_ok, answer, load_line = done.stdout.strip().splitlines()
    assert sizes == "14670 7706"  # the generated addprim_jump split (SCAN paper sizes)
    assert first_ok == "True"
    assert answer == " ".join(["I_TURN_LEFT I_JUMP"] * 8)
    assert load_line == "load needs datasets"
