"""Which runtime a file targets: recorded Keras versions, the project's pins, configuration."""

from __future__ import annotations

import pytest

from bnlint.ir import Runtime
from bnlint.runtime import (
    PIN_FILE_LIMIT,
    Keras3RuledOut,
    decode_text,
    from_keras_version,
    from_pins,
    runtime_from_requirements,
    settle,
)


@pytest.mark.parametrize(
    ("version", "target"),
    [("3.15.1", "keras3"), ("3.0.0", "keras3"), ("2.15.0", "keras2"), ("2.4.0", "keras2"), ("2.3.1", "legacy"), ("2.2.4-tf", "legacy")],
)
def test_recorded_keras_version(version, target):
    assert from_keras_version(version, "metadata.json keras_version").target == target


@pytest.mark.parametrize(
    ("pins", "target"),
    [
        (["tensorflow==2.12.*"], "keras2"),
        (["tensorflow>=2.16"], "keras3"),
        (["tensorflow-cpu~=2.15.0"], "keras2"),
        (["tensorflow<2"], "legacy"),
        (["keras==2.2.4", "tensorflow==1.15"], "legacy"),
        (["keras<3", "tensorflow>=2.16"], "keras2"),  # an explicit keras pin decides
        (["keras>=3.0"], "keras3"),
    ],
)
def test_pins_decide_the_runtime(pins, target):
    assert runtime_from_requirements(pins, "requirements.txt").target == target


def test_unpinned_or_unrelated_requirements_say_nothing():
    assert runtime_from_requirements(["numpy", "tensorflow", "-r other.txt", "# comment"], "r.txt") is None


def _fresh(tmp_path):
    (tmp_path / ".git").mkdir()
    from_pins.cache_clear()
    return tmp_path


def test_pins_are_found_up_to_the_repository_root(tmp_path):
    root = _fresh(tmp_path)
    (root / "requirements.txt").write_text("tensorflow==2.13.1\n")
    (root / "src" / "train").mkdir(parents=True)
    runtime = from_pins(root / "src" / "train")
    assert runtime.target == "keras2"
    assert "requirements.txt" in runtime.source


def test_pyproject_setup_cfg_and_environment_yml(tmp_path):
    root = _fresh(tmp_path)
    (root / "a").mkdir()
    (root / "a" / "pyproject.toml").write_text('[project]\nname="x"\ndependencies=["keras>=3.2"]\n')
    (root / "b").mkdir()
    (root / "b" / "setup.cfg").write_text("[options]\ninstall_requires =\n    tensorflow==2.10.0\n")
    (root / "c").mkdir()
    (root / "c" / "environment.yml").write_text("dependencies:\n  - python=3.8\n  - tensorflow=1.15\n")
    (root / "d").mkdir()
    (root / "d" / "pyproject.toml").write_text('[tool.poetry.dependencies]\ntensorflow = "~2.11"\n')
    (root / "e").mkdir()
    (root / "e" / "pyproject.toml").write_text('[tool.poetry.dependencies]\ntensorflow = "^2.11"\n')
    assert from_pins(root / "a").target == "keras3"
    assert from_pins(root / "b").target == "keras2"
    assert from_pins(root / "c").target == "legacy"
    assert from_pins(root / "d").target == "keras2"
    assert from_pins(root / "e").target == "keras3"  # ^2.11 admits 2.16+, which ships Keras 3


def test_pins_above_the_repository_do_not_count(tmp_path):
    (tmp_path / "requirements.txt").write_text("tensorflow==2.12\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    from_pins.cache_clear()
    assert from_pins(repo) is None


# --- pin files in any Unicode encoding a byte order mark names ----------------------------------

ENVIRONMENT = "name: tf\r\ndependencies:\r\n  - python=3.9.7\r\n  - pip:\r\n    - keras==2.8.0\r\n    - tensorflow-gpu==2.8.0\r\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
@pytest.mark.parametrize("name", ["environment.yml", "requirements.txt"])
def test_pin_files_are_decoded_by_their_byte_order_mark(tmp_path, encoding, name):
    # Windows' `conda env export > environment.yml` writes UTF-16 with a BOM (PowerShell's `>`).
    root = _fresh(tmp_path)
    text = ENVIRONMENT if name == "environment.yml" else "keras==2.8.0\r\ntensorflow-gpu==2.8.0\r\n"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    (root / name).write_bytes(bom + text.encode(encoding))
    runtime = from_pins(root)
    assert (runtime.target, runtime.source) == ("keras2", f"{name}: keras==2.8.0")


def test_pin_files_that_cannot_be_read_pin_nothing_silently(tmp_path):
    root = _fresh(tmp_path)
    (root / "a").mkdir()
    (root / "a" / "requirements.txt").write_bytes(b"tensorflow==2.12.0\n\xff\xfe\x00 not UTF-8 without a BOM\n")
    (root / "b").mkdir()  # a UTF-16 text without its mark is not guessed at
    (root / "b" / "requirements.txt").write_bytes("tensorflow==2.12.0\n".encode("utf-16-le"))
    (root / "c").mkdir()  # far larger than any list of pins: not read
    (root / "c" / "requirements.txt").write_bytes(b"tensorflow==2.12.0\n" + b"# padding\n" * (PIN_FILE_LIMIT // 10 + 1))
    for folder in ("a", "b", "c"):
        assert from_pins(root / folder) is None, folder


def test_a_pin_file_that_is_a_fifo_pins_nothing_and_does_not_block(tmp_path):
    import os

    root = _fresh(tmp_path)
    os.mkfifo(root / "fifo")
    (root / "requirements.txt").symlink_to(root / "fifo")
    assert from_pins(root) is None


def test_decode_text_reads_each_byte_order_mark():
    for encoding in ("utf-8-sig", "utf-16", "utf-32"):
        assert decode_text("tensorflow==2.8.0\n".encode(encoding)) == "tensorflow==2.8.0\n"
    assert decode_text(b"tensorflow==2.8.0\n") == "tensorflow==2.8.0\n"
    with pytest.raises(UnicodeDecodeError):
        decode_text(b"\xfe not text")


# --- pins read below Keras 3, for code that rules Keras 3 out ---------------------------------


@pytest.mark.parametrize(
    ("pins", "target", "below_keras3"),
    [
        (["tensorflow==2.0.0"], "legacy", "legacy"),
        (["tensorflow>=2.0"], "keras3", "keras2"),  # admits 2.15, the newest tf.keras 2
        (["tensorflow>=1.14,<2.2"], "legacy", "legacy"),
        (["keras>=3", "tensorflow==2.1.0"], "keras3", "legacy"),  # the keras pin admits no Keras 2
        (["keras>=2.2"], "keras3", "keras2"),
        (["tensorflow>=2.16"], "keras3", None),  # nothing below Keras 3: no pin says which
    ],
)
def test_pins_read_below_keras3(pins, target, below_keras3):
    assert runtime_from_requirements(pins, "requirements.txt").target == target
    below = runtime_from_requirements(pins, "requirements.txt", keras3=False)
    assert (below.target if below else None) == below_keras3


def test_settle_lets_the_pins_choose_between_legacy_and_keras2(tmp_path):
    root = _fresh(tmp_path)
    (root / "old").mkdir()
    (root / "old" / "requirements.txt").write_text("tensorflow==2.0.0\n")
    (root / "loose").mkdir()
    (root / "loose" / "requirements.txt").write_text("tensorflow>=2.0\n")
    (root / "new").mkdir()
    (root / "new" / "requirements.txt").write_text("tensorflow>=2.16\n")
    ruled_out = Keras3RuledOut("keras2", "fit_generator() (line 10)")
    assert settle(ruled_out, root / "old") == Runtime("legacy", "fit_generator() (line 10), requirements.txt: tensorflow==2.0.0")
    assert settle(ruled_out, root / "loose") == Runtime("keras2", "fit_generator() (line 10), requirements.txt: tensorflow>=2.0")
    assert settle(ruled_out, root / "new") == Runtime("keras2", "fit_generator() (line 10)")
    assert type(settle(ruled_out, root / "new")) is Runtime  # settled: no longer waiting for pins
    # What the code decided by itself stays, whatever the pins say.
    decided = Runtime("keras2", "import tf_keras (line 1)")
    assert settle(decided, root / "old") is decided
