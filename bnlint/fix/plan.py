"""What fixes a script's finding, decided on its syntax tree (`ast`) before anything is edited.

Each script fixer looks at one finding and returns a `Plan` (the edits, and the imports they
need) or None when it cannot fix that finding safely. The plan is all the fix decides: the scan
asks for it to mark a finding fixable (`[*]`) only when the fixer will fix it, without loading
the editing library, and `bnlint.fix.script` then carries it out with LibCST. Only what is safe
for the finding's target runtime is planned:

- BN001 (legacy, keras2): add `training=False` to the flagged call.
- BN003: copy the model's last `compile(...)` right before the stale `fit()`.
- BN004 (keras3): after the unfreezing statement, keep the base's BatchNormalization layers
  frozen, importing `BatchNormalization` the way the file imports Keras when it has no name for it.
- BN100: remove the codes of a suppression directive that suppress nothing, or the directive.

Positions are LibCST's: 1-based lines, 0-based columns counted in characters (`ast` counts bytes).
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from bnlint.findings import Finding
from bnlint.frontends.python.imports import canonical

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BN_CLASS = "keras.layers.BatchNormalization"
_BN_NAME = "BatchNormalization"
# The public spellings of the Keras package a `from X.applications import ...` may use, longest first.
_KERAS_PACKAGES = ("tensorflow.keras", "tf_keras", "keras")


@dataclass(frozen=True, order=True)
class Span:
    """Where a node is: LibCST's `PositionProvider` range (lines 1-based, columns in characters)."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class AddKeyword:
    """Pass `keyword=value` to the call at `call`, after its last argument."""

    call: Span
    keyword: str
    value: str


@dataclass(frozen=True)
class InsertStatements:
    """Insert `code` (whole statements) before or after the statement at `anchor`, at its indentation.

    `code` is written at indentation 0, with the file's own indent unit and line break."""

    anchor: Span
    after: bool
    code: str
    # Among insertions at the same place, lower ranks come first: a BN-freezing loop must precede
    # a recompile inserted at the same place, or the recompile would be stale again.
    rank: int = 0


@dataclass(frozen=True)
class AddImportedName:
    """Add `name` to the names of the `from ... import` statement at `statement`."""

    statement: Span
    name: str


@dataclass(frozen=True)
class EditComment:
    """Replace the comment at `comment` by `new`; an empty `new` removes it (with its line, when
    the comment had that line to itself)."""

    comment: Span
    new: str


Edit = AddKeyword | InsertStatements | AddImportedName | EditComment


@dataclass(frozen=True)
class Plan:
    """The edits that fix one finding."""

    edits: tuple[Edit, ...]


class Script:
    """A script's text and syntax tree, with `ast`'s byte columns turned into character columns.

    What a plan looks up (parents, calls and statements by position) is indexed on demand, one
    top-level statement at a time: the scan plans each fixable finding of a file, and walking a
    file of 40,000 statements for one finding would cost more than the scan of it.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = ast.parse(text)
        self.lines = _NEWLINE.split(text)
        first = _NEWLINE.search(text)
        self.newline = first.group() if first else "\n"
        self.parents: dict[ast.AST, ast.AST] = {}
        self._starts: dict[tuple[type, int, int], list[ast.AST]] = {}
        self._indexed: set[int] = set()
        self._ends = [node.end_lineno for node in self.tree.body]

    def _index(self, line: int) -> None:
        """Index the top-level statement that holds `line`: its nodes' parents, and its calls and
        statements by where they start."""
        at = bisect.bisect_left(self._ends, line)
        if at == len(self._ends) or at in self._indexed:
            return
        self._indexed.add(at)
        top = self.tree.body[at]
        self.parents[top] = self.tree
        for node in ast.walk(top):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            kind = ast.Call if isinstance(node, ast.Call) else ast.stmt if isinstance(node, ast.stmt) else None
            if kind is not None:
                self._starts.setdefault((kind, node.lineno, node.col_offset), []).append(node)

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its line break."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def column(self, line: int, byte_column: int) -> int:
        """`ast` columns count UTF-8 bytes; LibCST's count characters."""
        return len(self.line(line).encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> Span:
        return Span(node.lineno, self.column(node.lineno, node.col_offset),
                    node.end_lineno, self.column(node.end_lineno, node.end_col_offset))

    def source(self, node: ast.AST) -> str:
        where = self.span(node)
        if where.line == where.end_line:
            return self.line(where.line)[where.column : where.end_column]
        middle = [self.line(n) for n in range(where.line + 1, where.end_line)]
        lines = [self.line(where.line)[where.column :], *middle, self.line(where.end_line)[: where.end_column]]
        return self.newline.join(lines)

    def indentation(self, node: ast.stmt) -> str | None:
        """The whitespace before a statement, or None when it does not begin its line."""
        before = self.line(node.lineno)[: self.column(node.lineno, node.col_offset)]
        return before if before.strip() == "" else None

    def ends_its_line(self, node: ast.stmt) -> bool:
        rest = self.line(node.end_lineno)[self.column(node.end_lineno, node.end_col_offset) :]
        return rest.strip() == "" or rest.lstrip().startswith("#")

    def scope(self, node: ast.AST) -> ast.AST:
        """The function (or module) whose local names `node` sees."""
        parent = self.parents.get(node)
        while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            parent = self.parents.get(parent)
        return parent or self.tree

    def statement(self, node: ast.AST) -> ast.stmt | None:
        while node is not None and not isinstance(node, ast.stmt):
            node = self.parents.get(node)
        return node

    def calls_at(self, line: int | None, column: int | None) -> list[ast.Call]:
        """The calls that start at a 1-based line and column (the finding's place)."""
        if line is None or column is None:
            return []
        self._index(line)
        return list(self._starts.get((ast.Call, line, column - 1), ()))  # type: ignore[arg-type]

    def statement_at(self, line: int | None, column: int | None) -> ast.stmt | None:
        """The statement that starts at a 1-based line/column, else the innermost one on that line."""
        if line is None:
            return None
        self._index(line)
        exact = self._starts.get((ast.stmt, line, column - 1), []) if column is not None else []
        if exact:
            return exact[-1]  # type: ignore[return-value]
        around = [n for nodes in self._starts.values() for n in nodes
                  if isinstance(n, ast.stmt) and n.lineno <= line <= n.end_lineno]
        # Nested statements start after the ones that hold them: the latest start is the innermost.
        return (sorted(around, key=lambda n: (n.lineno, n.col_offset)) or [None])[-1]

    @cached_property
    def comments(self) -> dict[int, list[tuple[int, str]]]:
        """(start column, text) of each comment, by line: what tokenize calls a comment (a `#` in
        a string is none)."""
        found: dict[int, list[tuple[int, str]]] = {}
        for token in tokenize.generate_tokens(io.StringIO(self.text).readline):
            if token.type == tokenize.COMMENT:
                found.setdefault(token.start[0], []).append((token.start[1], token.string))
        return found

    @cached_property
    def indent_unit(self) -> str:
        """How much this file indents a block (four spaces when nothing says otherwise): the first
        block of the first compound statement at the top of the module that shows it."""
        for node in self.tree.body:
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and body[0].lineno > node.lineno:
                outer, inner = self.indentation(node), self.indentation(body[0])
                if outer is not None and inner is not None and inner.startswith(outer) and len(inner) > len(outer):
                    return inner[len(outer) :]
        return "    "

    def uses(self, name: str) -> bool:
        """Whether `name` occurs in the file as a word (in code, strings or comments alike)."""
        return re.search(rf"(?<![\w.]){re.escape(name)}\b", self.text) is not None


def _pick_call(script: Script, finding: Finding, name: str | None) -> ast.Call | None:
    """The call a finding points at; when several calls start there (`f(a)(b)`), the right one."""
    candidates = script.calls_at(finding.line, finding.column)
    if len(candidates) > 1 and finding.end_line is not None:
        end = (finding.end_line, finding.end_column)
        candidates = [c for c in candidates if (c.end_lineno, c.end_col_offset + 1) == end] or candidates
    if len(candidates) > 1 and name:
        candidates = [c for c in candidates if script.source(c.func) == name]
    return candidates[0] if len(candidates) == 1 else None


# --- BN001: training=False at the call ----------------------------------------------------


def plan_training_false(script: Script, finding: Finding) -> Plan | None:
    subject = finding.subject
    if finding.runtime.target not in ("legacy", "keras2"):
        return None  # in Keras 3 fit() overrides it: the BN004 fix is what protects
    if subject is None or subject.composition != "call" or subject.training != "absent":
        return None
    call = _pick_call(script, finding, subject.name)
    if call is None:
        return None
    # `*args` or `**kwargs` may already carry `training`: adding it could raise a TypeError.
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg in (None, "training") for k in call.keywords):
        return None
    return Plan((AddKeyword(script.span(call), "training", "False"),))


# --- BN003: compile again before the stale fit() ----------------------------------------------


def _fresh_optimizer(call: ast.Call) -> bool:
    """Whether running this compile() again builds a new optimizer.

    Reusing an optimizer instance after unfreezing fails in both Keras 3 ("Unknown variable")
    and tf.keras ("The optimizer cannot recognize variable"): only a string (`"adam"`) or a
    constructor call is safe to repeat.
    """
    optimizer = next((k.value for k in call.keywords if k.arg == "optimizer"), call.args[0] if call.args else None)
    if optimizer is None:
        return not any(k.arg is None for k in call.keywords)  # **kwargs may hold an instance
    return isinstance(optimizer, ast.Call) or (isinstance(optimizer, ast.Constant) and isinstance(optimizer.value, str))


def _bound_names(scope: ast.AST) -> set[str]:
    """Every name a function binds anywhere in it: its parameters, assignments, imports, loops."""
    names = {a.arg for a in ast.walk(scope) if isinstance(a, ast.arg)}
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not scope:
            names.add(node.name)
    return names


def _visible_from(script: Script, compile_call: ast.Call, fit: ast.Call) -> bool:
    """Whether the compile call's text means the same thing where the fit is.

    True in the same scope, and for a module-level compile whose names the fit's function
    does not rebind (they are the same globals there).
    """
    compile_scope, fit_scope = script.scope(compile_call), script.scope(fit)
    if compile_scope is fit_scope:
        return True
    if compile_scope is not script.tree:
        return False
    used = {n.id for n in ast.walk(compile_call) if isinstance(n, ast.Name)}
    return not used & _bound_names(fit_scope)


def _dedented(script: Script, compile_stmt: ast.stmt, call: ast.Call) -> str:
    """The compile call's text as if its statement began at column 0: LibCST indents the lines
    that continue it inside brackets by the indentation of the block it is inserted into."""
    text = script.source(call)
    old = script.indentation(compile_stmt) or ""
    lines = _NEWLINE.split(text)
    if len(lines) == 1 or not all(line.startswith(old) or not line.strip() for line in lines[1:]):
        return text
    moved = [line[len(old) :] if line.strip() else line for line in lines[1:]]
    shifted = script.newline.join([lines[0], *moved])
    try:  # continuation lines inside a string literal must not move
        same = ast.dump(ast.parse(shifted.strip(), mode="eval")) == ast.dump(ast.parse(text.strip(), mode="eval"))
    except SyntaxError:
        same = False
    return shifted if same else text


def _is_compound(node: ast.stmt) -> bool:
    return any(isinstance(getattr(node, f, None), list) for f in ("body", "orelse", "handlers", "finalbody", "cases"))


def plan_recompile(script: Script, finding: Finding) -> Plan | None:
    where = next((r for r in finding.related if r.role == "compile"), None)
    fit = _pick_call(script, finding, None)
    compiles = script.calls_at(where.line, where.column) if where else []
    if fit is None or len(compiles) != 1:
        return None
    compile_call = compiles[0]
    if not (isinstance(fit.func, ast.Attribute) and isinstance(compile_call.func, ast.Attribute)):
        return None
    if compile_call.func.attr != "compile" or script.source(fit.func.value) != script.source(compile_call.func.value):
        return None
    if not _visible_from(script, compile_call, fit) or not _fresh_optimizer(compile_call):
        return None
    fit_stmt, compile_stmt = script.statement(fit), script.statement(compile_call)
    if fit_stmt is None or compile_stmt is None or _is_compound(fit_stmt):
        return None
    if script.indentation(fit_stmt) is None:
        return None
    copy = _dedented(script, compile_stmt, compile_call)
    return Plan((InsertStatements(script.span(fit_stmt), False, copy + script.newline, rank=1),))


# --- BN004: keep the BN layers frozen after unfreezing (Keras 3) ----------------------------------


def _top_level_imports(tree: ast.Module) -> list[tuple[ast.stmt, bool]]:
    """The module's import statements and whether each always runs (not inside a top-level if/try)."""
    found = []
    pending = [(node, True) for node in tree.body]
    while pending:
        node, always = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, always))
        elif isinstance(node, (ast.If, ast.Try)):
            inner = [*node.body, *node.orelse, *getattr(node, "finalbody", [])]
            inner += [stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]
            pending += [(stmt, False) for stmt in inner]
    return sorted(found, key=lambda pair: pair[0].lineno)


def _bindings(statement: ast.stmt) -> list[tuple[str, str]]:
    """(bound name, imported path) of one import statement."""
    if isinstance(statement, ast.Import):
        return [(a.asname or a.name.partition(".")[0], a.name if a.asname else a.name.partition(".")[0]) for a in statement.names]
    if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
        return [(a.asname or a.name, f"{statement.module}.{a.name}") for a in statement.names if a.name != "*"]
    return []


def _keras_package(module: str) -> str | None:
    """`keras`, `tensorflow.keras` or `tf_keras`: the public package a Keras import path starts with."""
    return next((p for p in _KERAS_PACKAGES if module == p or module.startswith(p + ".")), None)


def batchnorm_spelling(script: Script, before_line: int) -> tuple[str, tuple[Edit, ...]] | None:
    """How code at `before_line` can name the BatchNormalization class, and the import edits that
    name needs: the file's own name for it when it has one, else `BatchNormalization` added the
    way the file imports Keras. None when the file imports both tf_keras and Keras 3 (which class
    would the base's layers be?), or when the name is taken by something else.

    `from keras.layers import BatchNormalization` beats `layers.BatchNormalization`, which beats
    `keras.layers.BatchNormalization` and `tf.keras.layers.BatchNormalization`.
    """
    imports = _top_level_imports(script.tree)
    spellings: list[tuple[int, str]] = []
    roots = set()
    for statement, _ in imports:
        for bound, path in _bindings(statement):
            root = path.partition(".")[0]
            if root in ("keras", "tf_keras", "tensorflow"):
                roots.add("tf_keras" if root == "tf_keras" else "keras")
            if statement.lineno >= before_line:
                continue
            name = canonical(path)
            if name == _BN_CLASS:
                spellings.append((0, bound))
            elif name == "keras.layers":
                spellings.append((1, f"{bound}.BatchNormalization"))
            elif name == "keras":
                spellings.append((2, f"{bound}.layers.BatchNormalization"))
            elif path == "tensorflow":
                spellings.append((3, f"{bound}.keras.layers.BatchNormalization"))
    if len(roots) > 1:
        return None
    if spellings:
        return min(spellings)[1], ()
    if script.uses(_BN_NAME) and _BN_NAME in _bound_names(script.tree) | {
            n.id for n in ast.walk(script.tree) if isinstance(n, ast.Name)}:
        return None  # a class or variable of the file's own already has that name
    return _BN_NAME, _import_batchnorm(script, [(s, always) for s, always in imports if s.lineno < before_line])


def _import_batchnorm(script: Script, imports: list[tuple[ast.stmt, bool]]) -> tuple[Edit, ...]:
    """Import `BatchNormalization` as a user would: added to the file's `from <keras>.layers import`
    when it has one, else a `from <keras>.layers import BatchNormalization` of its own after the
    file's Keras imports (`<keras>` as the file spells the package: keras, tensorflow.keras)."""
    keras_imports = [(s, always, _keras_package(s.module or "")) for s, always in imports
                     if isinstance(s, ast.ImportFrom) and not s.level and _keras_package(s.module or "")]
    for statement, always, package in keras_imports:
        if always and statement.module == f"{package}.layers" and all(a.name != "*" for a in statement.names):
            return (AddImportedName(script.span(statement), _BN_NAME),)
    package = keras_imports[0][2] if keras_imports else "keras"
    line = f"from {package}.layers import {_BN_NAME}{script.newline}"
    unconditional = [s for s, always in imports if always]
    after = [s for s, always, p in keras_imports if always and p == package] or unconditional
    if after:
        return (InsertStatements(script.span(after[-1]), True, line, rank=-1),)
    # No import to follow: the first statement after the docstring and `from __future__` imports.
    body = script.tree.body
    skip = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else 0
    while skip < len(body) and isinstance(body[skip], ast.ImportFrom) and body[skip].module == "__future__":
        skip += 1
    if skip == len(body):
        return ()  # nothing to put it before (cannot happen: the unfreeze is a statement)
    first = body[skip]
    return (InsertStatements(script.span(first), False, line, rank=-1),)


def _is_simple(node: ast.AST) -> bool:
    """`base`, `self.backbone`: an expression that is safe and cheap to evaluate again."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _model_of_layers(node: ast.AST) -> ast.AST | None:
    """`base.layers`, `base.layers[-20:]`, `enumerate(base.layers)` -> `base`."""
    wrappers = ("enumerate", "reversed", "list")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in wrappers and node.args:
        node = node.args[0]
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute) and node.attr == "layers":
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_layer":
        return node.func.value
    return None


def _loop_binding(loop: ast.For, name: str) -> bool:
    targets = [loop.target] + (list(loop.target.elts) if isinstance(loop.target, ast.Tuple) else [])
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _unfreezing(script: Script, stmt: ast.stmt) -> tuple[ast.stmt, ast.AST] | None:
    """(the statement to insert after, the model expression whose layers it unfreezes)."""
    if isinstance(stmt, ast.For):
        model = _model_of_layers(stmt.iter)
        return (stmt, model) if model is not None else None
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    owner = next((t.value for t in targets if isinstance(t, ast.Attribute) and t.attr == "trainable"), None)
    if owner is None:
        return None
    if isinstance(owner, ast.Name):
        # `layer.trainable = True` inside `for layer in base.layers[...]`: after the whole loop.
        parent = script.parents.get(stmt)
        while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            if isinstance(parent, ast.For) and _loop_binding(parent, owner.id):
                model = _model_of_layers(parent.iter)
                return (parent, model) if model is not None else None
            parent = script.parents.get(parent)
    model = _model_of_layers(owner)
    return (stmt, model if model is not None else owner)


def _names_the_target(script: Script, model: ast.AST, stmt: ast.stmt, target: str | None) -> bool:
    """Whether the unfrozen expression is the flagged base itself, not a model that holds it
    (`model.layers` would not reach the BN layers inside `base`): the name the user gave the
    base, or a parameter of the helper function that unfreezes whatever it is given."""
    if script.source(model) == target:
        return True
    scope = script.scope(stmt)
    helper = isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
    parameters = {a.arg for a in ast.walk(scope.args) if isinstance(a, ast.arg)} if helper else set()
    return isinstance(model, ast.Name) and model.id in parameters


def _unused_name(script: Script) -> str:
    candidates = ["_layer", "_bn_layer"] + [f"_bn_layer{i}" for i in range(2, 100)]
    return next(c for c in candidates if not script.uses(c))


def _flat_application(architecture: str | None, opaque: bool) -> bool:
    """Whether `.layers` reaches every BN layer: true of keras.applications models, whose graphs
    are flat. A hand-built or opaque model may nest its BN layers where this loop cannot see them,
    and a fix that silences the finding without protecting anything is worse than none."""
    return str(architecture or "").startswith("keras.applications.") and not opaque


def plan_freeze_batchnorm(script: Script, finding: Finding) -> Plan | None:
    subject = finding.subject
    if finding.runtime.target != "keras3" or subject is None or subject.unfrozen is None:
        return None  # tf.keras and legacy: the BN001 fix (training=False) is what protects
    if not _flat_application(subject.unfrozen_architecture, subject.unfrozen_opaque):
        return None
    stmt = script.statement_at(finding.line, finding.column)
    found = _unfreezing(script, stmt) if stmt is not None else None
    if found is None:
        return None
    after, model = found
    if script.indentation(after) is None or not _is_simple(model) or not script.ends_its_line(after):
        return None
    if not _names_the_target(script, model, after, subject.unfrozen):
        return None
    spelling = batchnorm_spelling(script, after.lineno)
    if spelling is None:
        return None
    bn_class, imports = spelling
    var, unit, nl = _unused_name(script), script.indent_unit, script.newline
    loop = (
        f"for {var} in {script.source(model)}.layers:{nl}"
        f"{unit}if isinstance({var}, {bn_class}):{nl}"
        f"{unit}{unit}{var}.trainable = False{nl}"
    )
    return Plan((*imports, InsertStatements(script.span(after), True, loop, rank=0)))


# --- BN100: remove what a suppression directive does not use ----------------------------------------


def _comment_at(script: Script, line: int, column: int) -> tuple[int, str] | None:
    """(start column, text) of the comment on `line` that holds the 0-based character `column`."""
    for start, text in script.comments.get(line, ()):
        if start <= column < start + len(text):
            return start, text
    return None


def _without_codes(directive: str, drop: set[str]) -> str:
    """The directive with the codes in `drop` taken out of its list (`# noqa: BN001, BN004`,
    `# bnlint: ignore[BN001, BN004]`), in its own spelling; empty when no code is left."""
    listed = re.search(r"\[(?P<inside>[^\]]*)\]|:\s*(?P<after>[A-Za-z]+[0-9]+(?:\s*,\s*[A-Za-z]+[0-9]+)*)\s*$", directive)
    if listed is None:
        return ""
    group = "inside" if listed.group("inside") is not None else "after"
    codes = [code.strip() for code in listed.group(group).split(",") if code.strip()]
    kept = [code for code in codes if code.upper() not in drop]
    if not kept:
        return ""
    return directive[: listed.start(group)] + ", ".join(kept) + directive[listed.end(group) :]


def plan_remove_suppression(script: Script, finding: Finding) -> Plan | None:
    """ruff's RUF100 fix: the unused codes go; a directive left with none goes whole, and what
    else the comment says (`# type: ignore`, an explanation) stays."""
    subject = finding.subject
    if finding.line is None or finding.column is None or finding.end_column is None or subject is None:
        return None
    comment = _comment_at(script, finding.line, finding.column - 1)
    if comment is None:
        return None  # the "directive" is inside a string, not a comment
    start, text = comment
    begin, end = finding.column - 1 - start, finding.end_column - 1 - start
    kept = _without_codes(text[begin:end], set(subject.unused_codes)) if subject.unused_codes else ""
    if kept:
        new = text[:begin] + kept + text[end:]
    else:
        before, after = text[:begin].rstrip(), text[end:].strip()
        if after and not after.startswith("#"):
            after = "# " + after  # an explanation after the codes: still a comment
        new = "  ".join(part for part in (before, after) if part)
    return Plan((EditComment(Span(finding.line, start, finding.line, start + len(text)), new),))


# By the names rules use in `fix: {script: NAME}` (listed in bnlint.fix.SCRIPT_FIXERS).
SCRIPT_FIXERS: dict[str, Callable[[Script, Finding], Plan | None]] = {
    "training-false": plan_training_false,
    "recompile": plan_recompile,
    "freeze-batchnorm": plan_freeze_batchnorm,
    "remove-suppression": plan_remove_suppression,
}


def plan(script: Script, finding: Finding) -> Plan | None:
    """The plan that fixes `finding`, or None: not fixable (a notebook cell, an unsafe place)."""
    planner = SCRIPT_FIXERS.get(finding.fixer or "")
    if planner is None or finding.cell is not None:
        return None
    try:
        return planner(script, finding)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None


def keep_fixable(text: str, findings: Iterable[Finding]) -> None:
    """Clear the fixer of each finding its fixer would not fix in `text`, so that `[*]` marks
    only what `check --fix` will change."""
    candidates = [f for f in findings if f.fixer is not None]
    if not candidates:
        return
    try:
        script = Script(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        script = None
    for finding in candidates:
        if script is None or plan(script, finding) is None:
            finding.fixer = None
