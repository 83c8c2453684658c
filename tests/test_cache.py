"""The cache, held to the standard of a file downloaded from the internet (issue 19).

An entry is pure data about the file it is keyed by (it names no file to read or write), it is
signed with this user's secret, and it is read only from a folder bnlint made on this machine;
below that folder nothing follows a symlink, and a failed write leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint import rules
from bnlint.cli import cli
from bnlint.config import Settings
from bnlint.scan import scan

# tf.keras 2: a frozen ResNet50 called without training=False (BN001, fixed by `training=False`).
SCRIPT = textwrap.dedent("""\
    import tf_keras as keras
    base = keras.applications.ResNet50(weights=None, include_top=False)
    base.trainable = False
    inputs = keras.Input((64, 64, 3))
    x = base(inputs)  # the features
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(images, labels)
    """)
ARGS = ("--target-runtime", "keras2", "--no-confirm")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def entry_files(folder: Path) -> list[Path]:
    """The entries of a cache folder (in its two-character subfolders), whatever bnlint wrote them."""
    return sorted(p for p in folder.glob("??/*") if p.is_file() and not p.name.endswith(".tmp"))


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp")]


def rewrite_entries(folder: Path, change) -> int:
    """Apply `change` to the JSON of every entry and sign it again with this user's secret: an
    attacker who could write the cache and sign (the strongest one). An entry of an earlier
    bnlint (plain JSON) is rewritten as plain JSON."""
    from bnlint import cache

    changed = 0
    for path in entry_files(folder):
        raw = path.read_bytes()
        if raw.startswith(b"bnlint-cache-"):
            kind, _, key = path.name.partition("-")
            data = json.loads(raw.partition(b"\n")[2])
            change(data)
            store, note = cache.open_cache(folder)
            assert store is not None, note
            store.store(kind, key, json.dumps(data).encode())
        else:
            data = json.loads(raw)
            change(data)
            path.write_text(json.dumps(data))
        changed += 1
    return changed


def hide_findings(data: dict) -> None:
    data["findings"] = []


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file (bytes) and symlink (target) under `folder`, not following symlinks."""
    found: dict[str, bytes | str] = {}
    for current, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(current, name)
            relative = str(path.relative_to(folder))
            if path.is_symlink():
                found[relative] = os.readlink(path)
            elif path.is_file():
                found[relative] = path.read_bytes()
    return found


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A repository holding one script with a BN001 finding, as the current directory."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(repo)
    return repo


def findings_of(result) -> list[tuple]:
    return [(f["rule"], f["path"], f["line"]) for f in json.loads(result.output)["findings"]]


# --- 1. an entry names no file ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["--fix", "--add-noqa"])
def test_a_forged_entry_cannot_steer_fix_or_add_noqa_to_another_file(project, tmp_path, command):
    victim = tmp_path / "outside" / "victim.py"
    victim.parent.mkdir()
    victim.write_text(SCRIPT)
    assert run("check", "train.py", *ARGS).exit_code == 1  # fills the cache

    def elsewhere(data: dict) -> None:
        for finding in data["findings"]:
            finding["path"] = "../outside/victim.py"
            finding["source"] = {"file": str(victim), "project_path": "victim.py"}

    assert rewrite_entries(project / ".bnlint_cache", elsewhere) == 1
    run("check", "train.py", command, *ARGS)
    assert victim.read_text() == SCRIPT  # never written
    fixed = (project / "train.py").read_text()
    assert ("base(inputs, training=False)" in fixed) if command == "--fix" else ("# noqa: BN001" in fixed)


@pytest.mark.parametrize("dependency", ["../outside/victim.py", "{victim}", "linked.py"])
def test_an_entry_cannot_name_a_module_outside_the_project(project, tmp_path, monkeypatch, dependency):
    """A finding in a project module names it by its number in the entry's dependencies; a
    dependency outside the project (by `..`, by an absolute path, by a symlink) makes the entry a miss."""
    victim = tmp_path / "outside" / "victim.py"
    victim.parent.mkdir()
    victim.write_text(SCRIPT)
    (project / "linked.py").symlink_to(victim)
    assert run("check", "train.py", *ARGS).exit_code == 1
    sha = hashlib.sha256(SCRIPT.encode()).hexdigest()

    def in_the_victim(data: dict) -> None:
        data["deps"] = [[dependency.format(victim=victim), sha]]
        for finding in data["findings"]:
            finding["file"] = 1

    rewrite_entries(project / ".bnlint_cache", in_the_victim)
    result = run("check", "train.py", "--format", "json", *ARGS)
    assert findings_of(result) == [("BN001", "train.py", 5)]  # analysed again, not the entry's
    run("check", "train.py", "--fix", *ARGS)
    assert victim.read_text() == SCRIPT


@pytest.mark.parametrize("extra", [{"path": "other.py"}, {"source": {"file": "/etc/passwd", "project_path": "x"}},
                                   {"confirmation": {"status": "confirmed"}}, {"file": 7}, {"line": True},
                                   {"rule": "BN999"}, {"fixer": "recompile"}, {"severity": "fatal"}])
def test_an_entry_is_checked_field_by_field(project, monkeypatch, extra):
    """A signed entry whose finding has a field it must not have, or a value of the wrong type or
    out of range, is a miss: the file is analysed again."""
    from bnlint import scan as scan_module

    settings = Settings(target_runtime="keras2", jobs=1)
    first = scan(["."], settings)
    rewrite_entries(project / ".bnlint_cache", lambda data: [f.update(extra) for f in data["findings"]])
    analysed = []
    real = scan_module._read_unit
    monkeypatch.setattr(scan_module, "_read_unit", lambda item, *rest: analysed.append(item.display) or real(item, *rest))
    again = scan(["."], settings)
    assert analysed == ["train.py"]
    assert [f.to_json() for f in again.findings] == [f.to_json() for f in first.findings]


# --- 2. a cache that came with the code is not used ----------------------------------------------------


def test_a_cache_shipped_with_a_repository_does_not_hide_its_findings(project, tmp_path, monkeypatch):
    # On the attacker's machine: a cache whose entries say "nothing here", signed with their key.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-home"))
    assert run("check", ".", *ARGS).exit_code == 1
    rewrite_entries(project / ".bnlint_cache", hide_findings)
    assert run("check", ".", *ARGS).exit_code == 0  # the forgery works where it was signed
    # Cloned on another machine, at another path, with fresh modification times.
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, symlinks=True)
    now = time.time()
    for path in clone.rglob("*"):
        os.utime(path, (now, now), follow_symlinks=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-home"))
    monkeypatch.chdir(clone)
    shipped = snapshot(clone / ".bnlint_cache")
    result = run("check", ".", *ARGS)
    assert result.exit_code == 1, result.output
    assert "note: cache folder .bnlint_cache not used: bnlint did not make it on this machine" in result.stderr
    assert snapshot(clone / ".bnlint_cache") == shipped  # not read, not written


def test_an_entry_signed_for_another_key_is_a_miss(project, monkeypatch):
    """Two files' entries swapped (each validly signed, for the other's key)."""
    (project / "clean.py").write_text("import tf_keras as keras\nmodel = keras.Sequential()\n")
    settings = Settings(target_runtime="keras2", jobs=1)
    first = scan(["."], settings)
    a, b = entry_files(project / ".bnlint_cache")
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    again = scan(["."], settings)
    assert [f.to_json() for f in again.findings] == [f.to_json() for f in first.findings]


# --- the key: content and installation --------------------------------------------------------------

STABLE_RULE = textwrap.dedent("""\
    id: BN006
    name: trainable-batchnorm-in-inference-mode
    severity: warning
    inputs: [script, notebook]
    summary: A trainable model containing BatchNormalization is called with `training=False`.
    message: "`{callee.name}` is trainable and called with `training=False`: FIRST."
    fix: "Drop `training=False`."
    rationale: Rare on purpose.
    match:
      fact: call
      where:
        - training: "false"
        - callee.contains_bn: true
        - callee.frozen: false
        - in_graph: true
    """)


def test_a_rule_changed_in_place_is_not_answered_from_the_cache(project):
    """Same modification time, same size, different content: the key follows the content of the
    rules (built-in, knowledge data, and the user's rule folders), not their time stamps."""
    folder = project.parent / "my_rules"
    folder.mkdir()
    rule = folder / "BN006.yaml"
    rule.write_text(STABLE_RULE)
    (project / "train.py").write_text(SCRIPT.replace("x = base(inputs)", "x = base(inputs, training=False)")
                                      .replace("base.trainable = False\n", ""))
    settings = Settings(target_runtime="keras2", jobs=1, rules_dirs=(folder,))
    rules._load.cache_clear()
    try:
        assert [f.message.endswith("FIRST.") for f in scan(["."], settings).findings] == [True]
        stamp = rule.stat()
        rule.write_text(STABLE_RULE.replace("FIRST.", "OTHER."))
        os.utime(rule, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        rules._load.cache_clear()  # a new process reads the rule files again
        assert [f.message.endswith("OTHER.") for f in scan(["."], settings).findings] == [True]
    finally:
        rules._load.cache_clear()


def test_the_installation_digest_follows_version_code_rules_and_knowledge(tmp_path, monkeypatch):
    import bnlint
    from bnlint import installation

    copy = tmp_path / "rules"
    shutil.copytree(rules.builtin_rules_dir(), copy)
    monkeypatch.setattr(installation, "builtin_rules_dir", lambda: copy)
    user = tmp_path / "user_rules"
    user.mkdir()
    (user / "BN006.yaml").write_text(STABLE_RULE)
    before = installation.installation_digest((user,))
    assert installation.installation_digest((user,)) == before  # stable
    knowledge = copy / "knowledge" / "batchnorm_constructors.yaml"
    stamp = knowledge.stat()
    knowledge.write_bytes(knowledge.read_bytes().replace(b"ResNet50", b"ResNet51"))
    os.utime(knowledge, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    changed = installation.installation_digest((user,))
    assert changed != before
    (user / "BN006.yaml").write_text(STABLE_RULE.replace("FIRST", "OTHER"))
    assert installation.installation_digest((user,)) not in (before, changed)
    builtin_only = installation.installation_digest(())
    assert builtin_only != installation.installation_digest((user,))
    monkeypatch.setattr(bnlint, "__version__", "9.9.9")
    assert installation.installation_digest(()) != builtin_only


def test_a_new_bnlint_version_does_not_read_the_old_entries(project, monkeypatch):
    import bnlint
    from bnlint import scan as scan_module

    settings = Settings(target_runtime="keras2", jobs=1)
    scan(["."], settings)
    analysed = []
    real = scan_module._read_unit
    monkeypatch.setattr(scan_module, "_read_unit", lambda item, *rest: analysed.append(item.display) or real(item, *rest))
    scan(["."], settings)
    assert analysed == []  # the same installation: a hit
    monkeypatch.setattr(bnlint, "__version__", bnlint.__version__ + ".post1")
    scan(["."], settings)
    assert analysed == ["train.py"]


# --- folders bnlint did not make ----------------------------------------------------------------------


def _hidden_cache(project: Path) -> Path:
    """A genuine cache of this machine whose entries hide the finding (signed: only its owner could)."""
    assert scan(["."], Settings(target_runtime="keras2", jobs=1)).findings
    rewrite_entries(project / ".bnlint_cache", hide_findings)
    assert not scan(["."], Settings(target_runtime="keras2", jobs=1)).findings
    return project / ".bnlint_cache"


def _group_writable(project, tmp_path, monkeypatch) -> Path:
    _hidden_cache(project).chmod(0o770)
    return project / ".bnlint_cache"


def _world_writable(project, tmp_path, monkeypatch) -> Path:
    _hidden_cache(project).chmod(0o707)
    return project / ".bnlint_cache"


def _another_users(project, tmp_path, monkeypatch) -> Path:
    _hidden_cache(project)
    from bnlint import cache

    secret = cache.load_secret()
    monkeypatch.setattr(cache, "load_secret", lambda: secret)  # this user's key, read as that user
    monkeypatch.setattr(os, "geteuid", lambda: 4242)  # someone else runs bnlint on the same tree
    return project / ".bnlint_cache"


def _symlinked(project, tmp_path, monkeypatch) -> Path:
    real = _hidden_cache(project).rename(tmp_path / "elsewhere")
    (project / ".bnlint_cache").symlink_to(real, target_is_directory=True)
    return real


def _earlier_bnlint(project, tmp_path, monkeypatch) -> Path:
    """What bnlint 0.2 wrote, or a repository plants: the standard tag, a .gitignore, an entry."""
    folder = project / ".bnlint_cache"
    (folder / "ab").mkdir(parents=True)
    (folder / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n"
                                         "# This directory is a cache created by bnlint; it is safe to delete.\n")
    (folder / ".gitignore").write_text("# created by bnlint: safe to delete\n*\n")
    (folder / "ab" / f"{'ab' * 32}.json").write_text('{"findings": [], "errors": [], "deps": {}}')
    return folder


def _untagged(project, tmp_path, monkeypatch) -> Path:
    folder = project / ".bnlint_cache"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's own file\n")
    return folder


@pytest.mark.parametrize(("make", "why"), [
    (_group_writable, "other users may write to the folder (mode 770)"),
    (_world_writable, "other users may write to the folder (mode 707)"),
    (_another_users, "the folder belongs to another user"),
    (_symlinked, "it is a symlink"),
    (_earlier_bnlint, "bnlint did not make it on this machine"),
    (_untagged, "bnlint did not make it on this machine"),
], ids=["group-writable", "world-writable", "wrong-owner", "symlink", "planted-tag", "no-tag"])
def test_a_cache_folder_bnlint_did_not_make_is_neither_read_nor_written(project, tmp_path, monkeypatch, make, why):
    folder = make(project, tmp_path, monkeypatch)
    before = snapshot(folder)
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]  # analysed, not read
    (note,) = [n for n in report.notes if "cache" in n]  # one note, not an error
    assert note.startswith(f"cache folder .bnlint_cache not used: {why}"), note
    assert report.errors == []
    assert snapshot(folder) == before


def test_the_cache_is_made_private_and_tagged(project):
    scan(["."], Settings(target_runtime="keras2", jobs=1))
    folder = project / ".bnlint_cache"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    assert (folder / ".gitignore").read_text().endswith("*\n")
    (entry,) = entry_files(folder)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in project.iterdir() if p.name.startswith(".bnlint_cache.")] == []  # no staging folder left


def test_an_empty_folder_is_claimed_and_a_folder_of_the_users_files_is_left_alone(tmp_path, monkeypatch):
    from bnlint import cache

    empty = tmp_path / "empty"
    empty.mkdir(mode=0o700)
    store, note = cache.open_cache(empty)
    assert note is None and store is not None
    store.store("scan", "ab" * 32, b"data")
    assert store.load("scan", "ab" * 32) == b"data"
    assert (empty / "CACHEDIR.TAG").exists()

    own = tmp_path / "project"  # `--cache-dir .`: the user's own folder
    own.mkdir()
    (own / "train.py").write_text("x = 1\n")
    store, note = cache.open_cache(own)
    assert store is None and note == f"cache folder {own} not used: bnlint did not make it on this machine (remove it, and bnlint makes its own)"
    assert sorted(p.name for p in own.iterdir()) == ["train.py"]


# --- the secret ------------------------------------------------------------------------------------------


def test_the_secret_is_private_and_outside_the_tree(project, private_cache_home):
    scan(["."], Settings(target_runtime="keras2", jobs=1))
    secret = private_cache_home / "bnlint" / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and secret.stat().st_size == 32
    assert (private_cache_home / "bnlint").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("damage", ["replaced", "symlink", "readable", "truncated"])
def test_a_replaced_or_exposed_secret(project, private_cache_home, tmp_path, damage):
    """A new key (replaced) orphans every entry and folder made with the old one; a key that
    others could read, or that is not a file bnlint wrote, turns the cache off with one note."""
    settings = Settings(target_runtime="keras2", jobs=1)
    _hidden_cache(project)
    secret = private_cache_home / "bnlint" / "secret"
    if damage == "replaced":
        secret.unlink()
        secret.write_bytes(os.urandom(32))
        secret.chmod(0o600)
    elif damage == "symlink":
        other = tmp_path / "other-secret"
        other.write_bytes(secret.read_bytes())
        other.chmod(0o600)
        secret.unlink()
        secret.symlink_to(other)
    elif damage == "readable":
        secret.chmod(0o644)
    else:
        secret.write_bytes(secret.read_bytes()[:16])
    report = scan(["."], settings)
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]
    (note,) = [n for n in report.notes if "cache" in n]
    expected = {
        "replaced": "cache folder .bnlint_cache not used: bnlint did not make it on this machine",
        "symlink": f"cache not used: {secret}: it is a symlink",
        "readable": f"cache not used: {secret}: other users may read the file (mode 644)",
        "truncated": f"cache not used: {secret}: not a key bnlint made (16 bytes; remove it to make a new one)",
    }[damage]
    assert note.startswith(expected)


def test_two_processes_making_the_secret_at_once_agree(private_cache_home):
    """The key is written under a temporary name and linked into place: a second writer keeps the first key."""
    from bnlint import cache_secret, owned_files

    first = cache_secret.load_secret()
    folder_fd = owned_files.open_folder(private_cache_home / "bnlint")
    try:
        assert owned_files.write_file("secret", folder_fd, b"x" * 32, replace=False) is False
    finally:
        os.close(folder_fd)
    assert cache_secret.load_secret() == first
    assert leftovers(private_cache_home) == []


# --- 6. no symlink below the folder is followed ------------------------------------------------------


def test_subfolders_swapped_for_symlinks_are_not_followed(project, tmp_path):
    settings = Settings(target_runtime="keras2", jobs=1)
    scan(["."], settings)
    folder = project / ".bnlint_cache"
    _hidden = rewrite_entries(folder, hide_findings)
    outside = tmp_path / "outside"
    outside.mkdir()
    for sub in [p for p in folder.iterdir() if p.is_dir()]:
        sub.rename(outside / sub.name)
    for name in (f"{i:02x}" for i in range(256)):  # every subfolder an entry could go to
        (folder / name).symlink_to(outside / name if (outside / name).exists() else outside, target_is_directory=True)
    before = snapshot(outside)
    report = scan(["."], settings)
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]  # the signed entry out there was not read
    assert snapshot(outside) == before  # and nothing was written there


def test_a_default_cache_folder_that_is_a_symlink_to_a_tagged_folder_is_not_written(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (outside / ".gitignore").write_text("# created by bnlint: safe to delete\n*\n")
    (project / ".bnlint_cache").symlink_to(outside, target_is_directory=True)
    result = run("check", ".", *ARGS)
    assert result.exit_code == 1
    assert sorted(p.name for p in outside.iterdir()) == [".gitignore", "CACHEDIR.TAG"]
    assert "note: cache folder .bnlint_cache not used: it is a symlink" in result.stderr


def test_an_entry_that_is_a_symlink_or_a_fifo_is_a_miss(project, tmp_path):
    from bnlint import cache

    store, _ = cache.open_cache(tmp_path / "cache")
    store.store("scan", "cd" * 32, b"payload")
    entry = tmp_path / "cache" / "cd" / f"scan-{'cd' * 32}"
    target = tmp_path / "target"
    entry.rename(target)
    entry.symlink_to(target)
    assert store.load("scan", "cd" * 32) is None
    entry.unlink()
    os.mkfifo(entry)
    assert store.load("scan", "cd" * 32) is None  # and no hang


# --- 10. a full disk leaves nothing behind -------------------------------------------------------------


@pytest.mark.parametrize("failing", ["write", "replace"])
def test_a_full_disk_leaves_no_temporary_files(project, monkeypatch, failing):
    """Every entry write fails (ENOSPC from write(), or from the rename into place, which must
    grow the folder): the scan reports as usual and no temporary file is left, run after run."""
    for number in range(12):
        (project / f"train_{number}.py").write_text(SCRIPT + f"# {number}\n")
    settings = Settings(target_runtime="keras2", jobs=1)
    first = scan(["."], settings)  # makes the folder and its 13 entries
    assert len(entry_files(project / ".bnlint_cache")) == 13
    for entry in entry_files(project / ".bnlint_cache"):
        entry.unlink()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, no_space)
    reports = [scan(["."], settings) for _ in range(2)]
    monkeypatch.undo()
    for report in reports:
        assert [(f.rule, f.path) for f in report.findings] == [(f.rule, f.path) for f in first.findings]
    assert leftovers(project / ".bnlint_cache") == []
    assert entry_files(project / ".bnlint_cache") == []


def test_a_full_disk_while_making_the_secret_leaves_nothing_behind(project, private_cache_home, monkeypatch):
    shutil.rmtree(private_cache_home / "bnlint", ignore_errors=True)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    monkeypatch.undo()
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]
    assert [n for n in report.notes if "cache" in n] == [
        f"cache not used: cannot write {private_cache_home / 'bnlint' / 'secret'}: No space left on device"]
    assert list((private_cache_home / "bnlint").iterdir()) == []
    assert not (project / ".bnlint_cache").exists()


# --- variants: what else a cache that came from elsewhere could try ----------------------------------------


def test_an_entry_copied_from_another_machines_cache_is_a_miss(project, tmp_path, monkeypatch):
    """Into this machine's own (trusted) folder, at the very key it was written for."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-machine"))
    other = tmp_path / "other-checkout"
    shutil.copytree(project, other)
    monkeypatch.chdir(other)
    assert scan(["."], Settings(target_runtime="keras2", jobs=1)).findings
    rewrite_entries(other / ".bnlint_cache", hide_findings)  # signed with the other machine's key
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "this-machine"))
    monkeypatch.chdir(project)
    assert scan(["."], Settings(target_runtime="keras2", jobs=1)).findings
    (theirs,) = entry_files(other / ".bnlint_cache")
    (ours,) = entry_files(project / ".bnlint_cache")
    assert theirs.relative_to(other) == ours.relative_to(project)  # same key: content-addressed
    shutil.copyfile(theirs, ours)
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]


def test_a_cache_folder_swapped_for_a_symlink_during_a_run_is_not_followed(tmp_path):
    """The folder is checked once and then used through its descriptor: renaming it away and
    putting a symlink in its place redirects nothing."""
    from bnlint import cache

    folder = tmp_path / "cache"
    store, _ = cache.open_cache(folder)
    moved = folder.rename(tmp_path / "moved")
    outside = tmp_path / "outside"
    outside.mkdir()
    folder.symlink_to(outside, target_is_directory=True)
    store.store("scan", "ef" * 32, b"payload")
    assert list(outside.iterdir()) == []
    assert (moved / "ef" / f"scan-{'ef' * 32}").exists()
    assert cache.open_cache(folder)[1] == f"cache folder {folder} not used: it is a symlink"  # the next run


def test_a_tag_that_is_a_symlink_to_a_genuine_tag_is_not_believed(project, tmp_path):
    """A repository cannot borrow the tag of the user's own cache (its path is guessable)."""
    genuine = tmp_path / "genuine"
    from bnlint import cache

    cache.open_cache(genuine)
    planted = project / ".bnlint_cache"
    planted.mkdir(mode=0o700)
    (planted / "CACHEDIR.TAG").symlink_to(genuine / "CACHEDIR.TAG")
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert [n for n in report.notes if "cache" in n] == [
        "cache folder .bnlint_cache not used: bnlint did not make it on this machine (remove it, and bnlint makes its own)"]
    assert sorted(p.name for p in planted.iterdir()) == ["CACHEDIR.TAG"]


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_a_cache_path_that_is_not_a_folder(project, kind):
    path = project / ".bnlint_cache"
    path.write_text("x") if kind == "file" else os.mkfifo(path)
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert [(f.rule, f.path) for f in report.findings] == [("BN001", "train.py")]
    assert [n for n in report.notes if "cache" in n] == ["cache folder .bnlint_cache not used: it is not a folder"]
    assert report.errors == []


def test_a_relative_xdg_cache_home_is_ignored(project, tmp_path, monkeypatch):
    """The XDG spec: a relative path is invalid. Relative to the scanned folder, the key would
    sit inside the tree; bnlint uses ~/.cache instead."""
    monkeypatch.setenv("XDG_CACHE_HOME", "keys")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert not (project / "keys").exists()
    assert (tmp_path / "home" / ".cache" / "bnlint" / "secret").stat().st_size == 32


def test_a_secret_that_came_with_a_checkout_is_refused(project, tmp_path, monkeypatch):
    """XDG_CACHE_HOME pointed into a tree: a key shipped there is readable by others (git keeps no
    0600 mode), so it is no key."""
    shipped = project / "xdg" / "bnlint"
    shipped.mkdir(parents=True)
    (shipped / "secret").write_bytes(b"k" * 32)
    (shipped / "secret").chmod(0o644)
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / "xdg"))
    report = scan(["."], Settings(target_runtime="keras2", jobs=1))
    assert [n for n in report.notes if "cache" in n] == [
        f"cache not used: {shipped / 'secret'}: other users may read the file (mode 644)"]
