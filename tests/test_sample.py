"""Hostile `--sample` files: one clear line, bounded memory, never a traceback, never a worker.

The sample reader checks every array's header before it reads a byte of data, so a corrupt
archive, a header that claims 10^12 elements and a 1.5 MB archive that inflates to 1.5 GiB are
refused (or, for `check`, read only as far as the 32 rows it needs) without allocating them.
"""

from __future__ import annotations

import os
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.lib import format as npy_format

import bnlint.confirm.runner as confirm
from bnlint.cli import cli
from bnlint.confirm.sample import MAX_ROWS, MAX_SAMPLE_BYTES, SampleError, check_sample, read_sample

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BOMB_ROWS, BOMB_ROW_BYTES = 1536, 2**20  # 1.5 GiB of float32 zeros


def npy_header(shape, descr="<f8") -> bytes:
    import io

    stream = io.BytesIO()
    npy_format.write_array_header_1_0(stream, {"shape": shape, "fortran_order": False, "descr": descr})
    return stream.getvalue()


def write_deflated_zip(path: Path, name: str, header: bytes, chunk: bytes, repeats: int) -> None:
    """A one-member zip of `header + chunk * repeats`, deflated once per distinct piece: after a
    full flush the compressor starts afresh, so every copy of the chunk deflates to the same bytes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    crc = zlib.crc32(header)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    sizes = (crc, len(head) + len(block) * repeats + len(tail), len(header) + len(chunk) * repeats)
    encoded = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, *sizes, len(encoded), 0) + encoded
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, *sizes, len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    with open(path, "wb") as out:
        out.write(local + head)
        for _ in range(repeats):
            out.write(block)
        out.write(tail)
        offset = out.tell()
        out.write(central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A ~1.5 MB .npz whose one array inflates to 1.5 GiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    write_deflated_zip(path, "x.npy", npy_header((BOMB_ROWS, BOMB_ROW_BYTES // 4), "<f4"), bytes(BOMB_ROW_BYTES), BOMB_ROWS)
    assert path.stat().st_size < 2 * 2**20
    with zipfile.ZipFile(path) as archive:  # a valid archive, as numpy would see it
        assert archive.getinfo("x.npy").file_size > 1.5 * 2**30
    return path


@pytest.fixture
def samples(tmp_path) -> dict[str, Path]:
    paths = {}
    np.savez(tmp_path / "ok.npz", x=np.arange(40 * 6, dtype="float32").reshape(40, 6), y=np.zeros(40))
    paths["ok"] = tmp_path / "ok.npz"
    data = paths["ok"].read_bytes()
    middle = len(data) // 2
    (tmp_path / "corrupt.npz").write_bytes(data[:middle] + bytes(16) + data[middle + 16:])
    paths["corrupt"] = tmp_path / "corrupt.npz"
    (tmp_path / "truncated.npz").write_bytes(data[:120])
    paths["truncated"] = tmp_path / "truncated.npz"
    (tmp_path / "huge.npy").write_bytes(npy_header((10**12,)) + bytes(64))
    paths["huge"] = tmp_path / "huge.npy"
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("x.npy", npy_header((10**12,)) + bytes(64))
    paths["huge_npz"] = tmp_path / "huge.npz"
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    paths["objects"] = tmp_path / "objects.npy"
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    paths["text"] = tmp_path / "text.npz"
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    paths["other"] = tmp_path / "other.npz"
    os.mkfifo(tmp_path / "fifo.npz")
    paths["fifo"] = tmp_path / "fifo.npz"
    return paths


@pytest.mark.parametrize(("name", "message"), [
    ("corrupt", "the sample is not a readable .npz archive ("),
    ("truncated", "the sample is not a readable .npz archive (File is not a zip file)"),
    ("huge", "the sample is truncated: its header declares 8,000,000,000,000 bytes of data, the file holds 64"),
    ("huge_npz", "array 'x' is truncated: its header declares 8,000,000,000,000 bytes of data, the .npz member holds 64"),
    ("objects", "the sample holds Python objects (they would need pickle, which bnlint never loads)"),
    ("text", "the sample is neither a .npy array nor a .npz archive"),
    ("other", "the sample .npz member 'notes.txt' is not a .npy array"),
    ("fifo", "the sample is not a regular file"),
])
def test_a_hostile_sample_is_one_line_without_reading_its_data(samples, name, message):
    tracemalloc.start()
    try:
        with pytest.raises(SampleError) as raised:
            check_sample(samples[name], rows=MAX_ROWS)
            read_sample(samples[name], rows=MAX_ROWS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert peak < 16 * 2**20


def test_a_good_sample_reads_the_same_arrays_as_numpy(samples, tmp_path):
    arrays = read_sample(samples["ok"], rows=MAX_ROWS)
    with np.load(samples["ok"]) as reference:
        assert np.array_equal(arrays["x"], reference["x"][:MAX_ROWS]) and np.array_equal(arrays["y"], reference["y"][:MAX_ROWS])
    assert len(read_sample(samples["ok"])["x"]) == 40  # explain reads every row
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.arange(12.0).reshape(4, 3)))
    assert np.array_equal(read_sample(tmp_path / "fortran.npy", rows=2)["x"], np.arange(12.0).reshape(4, 3)[:2])
    assert set(check_sample(samples["ok"])) == {"x", "y"}


def test_an_inflating_sample_is_refused_whole_and_read_only_as_far_as_check_needs(bomb):
    tracemalloc.start()
    try:
        with pytest.raises(SampleError, match=f"the limit for a sample is {MAX_SAMPLE_BYTES:,}"):
            check_sample(bomb)  # explain reads every row: 1.5 GiB, refused from the header
        first_rows = read_sample(bomb, rows=MAX_ROWS)["x"]  # what `check --sample` reads
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first_rows.shape == (MAX_ROWS, BOMB_ROW_BYTES // 4) and not first_rows.any()
    assert peak < 3 * MAX_ROWS * BOMB_ROW_BYTES  # 32 MiB of rows, not 1.5 GiB


def test_check_and_explain_refuse_a_broken_sample_in_one_line_before_any_worker(samples, bomb, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    model = str(EXAMPLES / "finetune_frozen.keras")
    runner = CliRunner()
    for sample in (samples["corrupt"], samples["huge"]):
        result = runner.invoke(cli, ["check", "--confirm", "--no-cache", "--sample", str(sample), model])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines()[-1].startswith(f"bnlint: error: {sample}: the sample ")
        assert "Traceback" not in result.output
    result = runner.invoke(cli, ["explain", model, "--sample", str(bomb)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"bnlint: error: {bomb}: the sample is too large to read: its arrays hold 1,610,612,736 bytes, "
        f"the limit for a sample is {MAX_SAMPLE_BYTES:,}"
    )
