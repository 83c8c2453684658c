"""What a notebook's stored outputs show it ran on: progress bars, printed versions, library paths
in warnings and tracebacks (data: rules/knowledge/runtime_evidence.yaml, `notebook_outputs`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from bnlint import yaml_data
from bnlint.frontends.python.evidence import python_runtime
from bnlint.ir import Runtime
from bnlint.runtime import Keras3RuledOut, from_keras_version, runtime_from_requirements
from bnlint.shipped import knowledge_dir

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_VERSION = re.compile(r"(?<![\w.])(\d+\.\d+\.\d+)(-tf)?")
# Which runtimes each kind of evidence admits; evidence that admits none together says nothing.
_ADMITS = {"legacy": {"legacy"}, "keras2": {"keras2"}, "not_keras3": {"legacy", "keras2"}, "keras3": {"keras3"}}


@dataclass(frozen=True)
class _Patterns:
    budget: int
    bars: tuple[tuple[str, str, re.Pattern], ...]  # (kind, marker every match holds, pattern)
    paths: tuple[tuple[str, str], ...]  # (kind, path fragment)
    python_path: re.Pattern
    versions: dict[str, str]  # spelling in the code -> "tensorflow" or "keras"
    version_words: tuple[str, ...]  # what a cell that prints a version must mention


_BAR_MARKERS = {"not_keras3": "[", "keras3": "━"}


@cache
def _patterns() -> _Patterns:
    data = yaml_data.load((knowledge_dir() / "runtime_evidence.yaml").read_text(encoding="utf-8")) or {}
    section = data.get("notebook_outputs") or {}
    versions = {spelling: module for module, spellings in (section.get("versions") or {}).items() for spelling in spellings}
    return _Patterns(
        budget=int(section.get("budget", 0)),
        bars=tuple((kind, _BAR_MARKERS.get(kind, ""), re.compile(pattern))
                   for kind, pattern in (section.get("progress_bars") or {}).items()),
        paths=tuple((kind, fragment) for kind, fragments in (section.get("paths") or {}).items() for fragment in fragments),
        python_path=re.compile(section.get("python_path") or r"(?!)", re.IGNORECASE),
        versions=versions,
        version_words=tuple(sorted({spelling.rpartition(".")[2] for spelling in versions})),
    )


def _texts(output: object) -> Iterator[str]:
    """The text of one output: stream text, a result's text/plain, a traceback (never images, HTML)."""
    if not isinstance(output, dict):
        return
    data = output.get("data")
    for value in (output.get("text"), data.get("text/plain") if isinstance(data, dict) else None, output.get("traceback")):
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (part for part in value if isinstance(part, str))


class _Reader:
    """Reads outputs cell by cell within the budget, keeping the first evidence of each kind."""

    def __init__(self) -> None:
        self.patterns = _patterns()
        self.left = self.patterns.budget
        self.found: dict[str, list[str]] = {}  # kind -> texts, in the order found

    def add(self, kind: str, text: str) -> None:
        texts = self.found.setdefault(kind, [])
        if text not in texts:
            texts.append(text)

    def cell(self, index: int, source: object, outputs: list) -> None:
        texts = []
        for output in outputs:
            for text in _texts(output):
                if self.left <= 0:
                    break
                text = text[: self.left]
                self.left -= len(text)
                texts.append(_ANSI.sub("", text) if "\x1b" in text else text)
        if texts:
            self._libraries(index, texts)
            self._versions(index, source, texts)

    def _libraries(self, index: int, texts: list[str]) -> None:
        where = f"cell {index}'s output"
        for text in texts:
            for kind, marker, pattern in self.patterns.bars:
                if marker in text and kind not in self.found and pattern.search(text):
                    self.add(kind, f"a {'Keras 3' if kind == 'keras3' else 'Keras 2'} progress bar in {where}")
            if "packages" not in text:
                continue  # no library path in it
            text = text.replace("\\", "/")
            for kind, fragment in self.patterns.paths:
                if fragment in text:
                    self.add(kind, f"{fragment} in {where}")
            match = self.patterns.python_path.search(text)
            if match is not None:
                version = f"{match.group(1)}.{match.group(2)}"
                python = python_runtime(version)
                if python is not None:
                    self.add(python, f"Python {version} in {where}")

    def _versions(self, index: int, source: object, texts: list[str]) -> None:
        """`print(tf.__version__)`: the versions a cell prints, when its outputs hold exactly as
        many versions as its code names (`__version__` of anything counts, numpy's too)."""
        code = "".join(part for part in source if isinstance(part, str)) if isinstance(source, list) else source
        if not isinstance(code, str) or not any(word in code for word in self.patterns.version_words):
            return
        named = re.findall(r"[\w.]+\.(?:__version__|version\.VERSION)\b", code)
        printed = [match for text in texts for match in _VERSION.findall(text)]
        if not named or len(printed) != len(named):
            return
        for spelling, (version, suffix) in zip(named, printed):
            module = self.patterns.versions.get(spelling)
            runtime: Runtime | None
            if module == "keras":
                runtime = from_keras_version(version + suffix, "")
            elif module == "tensorflow":
                runtime = runtime_from_requirements([f"tensorflow=={version}"], "")
            else:
                continue
            if runtime is not None:
                self.add(runtime.target, f"{spelling} {version + suffix} printed in cell {index}'s output")

    def runtime(self) -> Runtime | None:
        if not self.found:
            return None
        admitted = set.intersection(*(_ADMITS[kind] for kind in self.found))
        if len(admitted) == 1:
            (target,) = admitted
            if target in self.found:
                return Runtime(target, self.found[target][0])  # type: ignore[arg-type]
        if admitted == _ADMITS["not_keras3"]:
            return Keras3RuledOut("keras2", self.found["not_keras3"][0])
        return None  # outputs of different runs (Keras 2 and Keras 3 bars): they say nothing


def recorded_runtime(cells: list[tuple[int, object, object]]) -> Runtime | None:
    """The runtime a notebook's stored outputs show it ran on, from (index, source, outputs) of its
    code cells; None when they show nothing, or disagree. At most the budget's characters of
    output are read, so a huge training log costs what its first part costs."""
    reader = _Reader()
    for index, source, outputs in cells:
        if reader.left <= 0:
            break
        if isinstance(outputs, list) and outputs:
            reader.cell(index, source, outputs)
    return reader.runtime()
