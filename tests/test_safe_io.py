"""Only regular files are read, and never more than the limit: FIFOs and devices are refused at once."""

from __future__ import annotations

import os

import pytest

from bnlint.safe_io import UnreadableFile, read_bytes, read_text


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "x.py"
    path.write_bytes(b"import keras\n")
    assert read_bytes(path) == b"import keras\n"
    assert read_text(path) == "import keras\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "train.py"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="named pipe"):
        read_bytes(fifo)


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "model.keras"
    link.symlink_to("/dev/zero")
    with pytest.raises(UnreadableFile, match="device"):
        read_bytes(link)


def test_a_file_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.py"
    path.write_bytes(b"x" * 101)
    with pytest.raises(UnreadableFile, match="too large"):
        read_bytes(path, limit=100)
    assert read_bytes(path, limit=101) == b"x" * 101


def test_undecodable_text_is_one_line(tmp_path):
    path = tmp_path / "x.ipynb"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UnreadableFile, match="not valid UTF-8"):
        read_text(path)
