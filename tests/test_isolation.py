"""Nothing from the folder bnlint runs in, or from the tree it scans, is ever imported.

A cloned repository under review may hold `json.py`, `numpy.py` or `tensorflow.py`. The
confirmation worker imports all of those names; started as `python -m`, it would put the current
folder first on `sys.path` and run them. Each planted module here writes a marker file when
imported, and the dynamic check and `explain` must leave no marker behind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HIJACKED = ("json", "argparse", "numpy", "tensorflow", "keras", "h5py", "bnlint")


def _plant(folder: Path, marker: Path) -> None:
    for name in HIJACKED:
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n", encoding="utf-8")


def _bnlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The console script itself, as a user runs it (not `python -m`, which trusts the cwd too).
    executable = Path(sys.executable).with_name("bnlint")
    return subprocess.run([str(executable), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.tf
@pytest.mark.slow
def test_planted_modules_in_the_current_folder_and_the_scanned_tree_never_run(tmp_path):
    marker = tmp_path / "MARKER"
    here = tmp_path / "checkout"
    scanned = here / "models"
    scanned.mkdir(parents=True)
    shutil.copy(EXAMPLES / "finetune_frozen.keras", scanned / "frozen.keras")
    _plant(here, marker)
    _plant(scanned, marker)

    checked = _bnlint("check", "--confirm", "--format", "json", "models", cwd=here)
    assert checked.returncode == 0, checked.stderr  # a Keras 3 saved model: an info note, never a failure
    assert '"status": "confirmed"' in checked.stdout, checked.stdout[-2000:]

    explained = _bnlint("explain", "models/frozen.keras", "--format", "json", cwd=here)
    assert explained.returncode == 0, explained.stderr
    assert '"fit_loss"' in explained.stdout

    assert not marker.exists(), f"planted modules ran: {marker.read_text()}"
