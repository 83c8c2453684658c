"""Fix findings in a Python script by editing its text at the positions the findings name.

The code is never regenerated from the syntax tree: every fix is a small insertion at a
known offset, applied bottom-up, so comments and formatting elsewhere stay exactly as written.
Only what is safe for the finding's target runtime is fixed:

- BN001 (legacy, keras2): add `training=False` to the flagged call.
- BN003: copy the model's last `compile(...)` right before the stale `fit()`.
- BN004 (keras3): after the unfreezing statement, keep the base's BatchNormalization layers frozen.

Anything else is left alone, and so is every file without a fixable finding.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from bnlint.findings import Finding
from bnlint.frontends.python.imports import canonical

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BN_CLASS = "keras.layers.BatchNormalization"


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` with `new` (an insertion when start == end)."""

    start: int
    end: int
    new: str
    # Among insertions at the same offset, lower ranks come first: a BN-freezing loop must
    # precede a recompile inserted at the same place, or the recompile would be stale again.
    rank: int = 0


class Script:
    """A script's text and syntax tree, with AST positions turned into text offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = ast.parse(text)
        self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        first = _NEWLINE.search(text)
        self.newline = first.group() if first else "\n"
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.indent_unit = self._indent_unit()

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its line break."""
        start = self.line_starts[number - 1]
        end = self.line_starts[number] if number < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset(self, line: int, byte_column: int) -> int:
        """AST columns count UTF-8 bytes; text offsets count characters."""
        prefix = self.line(line).encode("utf-8")[:byte_column]
        return self.line_starts[line - 1] + len(prefix.decode("utf-8", errors="ignore"))

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def source(self, node: ast.AST) -> str:
        return self.text[self.start(node) : self.end(node)]

    def end_of_line(self, line: int) -> int:
        """The offset just past line `line`'s line break (or the end of the text)."""
        return self.line_starts[line] if line < len(self.line_starts) else len(self.text)

    def indentation(self, node: ast.stmt) -> str | None:
        """The whitespace before a statement, or None when it does not begin its line."""
        before = self.text[self.line_starts[node.lineno - 1] : self.start(node)]
        return before if before.strip() == "" else None

    def ends_its_line(self, node: ast.stmt) -> bool:
        rest = self.line(node.end_lineno).encode("utf-8")[node.end_col_offset :].decode("utf-8", errors="ignore")
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
        if line is None or column is None:
            return []
        return [
            n for n in ast.walk(self.tree)
            if isinstance(n, ast.Call) and n.lineno == line and n.col_offset + 1 == column
        ]

    def statement_at(self, line: int | None, column: int | None) -> ast.stmt | None:
        """The statement that starts at a 1-based line/column, else the innermost one on that line."""
        if line is None:
            return None
        around = [n for n in ast.walk(self.tree) if isinstance(n, ast.stmt) and n.lineno <= line <= n.end_lineno]
        exact = [n for n in around if n.lineno == line and column is not None and n.col_offset + 1 == column]
        # Nested statements start after the ones that hold them: the latest start is the innermost.
        return (exact or sorted(around, key=lambda n: (n.lineno, n.col_offset)) or [None])[-1]

    def _indent_unit(self) -> str:
        """How much this file indents a block (four spaces when nothing says otherwise)."""
        for node in ast.walk(self.tree):
            body = getattr(node, "body", None)
            if isinstance(node, ast.stmt) and isinstance(body, list) and body and body[0].lineno > node.lineno:
                outer, inner = self.indentation(node), self.indentation(body[0])
                if outer is not None and inner is not None and inner.startswith(outer) and len(inner) > len(outer):
                    return inner[len(outer) :]
        return "    "


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

def _after_last_argument(script: Script, call: ast.Call, last_end: int, close: int) -> Edit | None:
    """Insert `training=False` after the last argument, keeping a trailing comma and comments."""
    comma = None
    position = last_end
    i = last_end
    while i < close:
        char = script.text[i]
        if char == "#":
            while i < close and script.text[i] not in "\r\n":
                i += 1
            continue
        if char == ",":
            if comma is not None:
                return None
            comma = i
        elif char == ")" and comma is None:
            position = i + 1  # the closing parenthesis of a parenthesised last argument
        elif not char.isspace():
            return None
        i += 1
    if comma is None:
        return Edit(position, position, ", training=False")
    between = script.text[comma + 1 : close]
    if "\n" not in between and "\r" not in between:
        return Edit(comma + 1, close, " training=False")
    # One argument per line with a trailing comma: add ours as the next line, same indentation.
    last_arg = max([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))
    line_text = script.line(last_arg.lineno)
    indent = line_text[: len(line_text) - len(line_text.lstrip())]
    at = script.end_of_line(bisect.bisect_right(script.line_starts, comma))
    return Edit(at, at, f"{indent}training=False,{script.newline}")


def fix_training_false(script: Script, finding: Finding) -> Edit | None:
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
    close = script.end(call) - 1
    if script.text[close] != ")":
        return None
    arguments = [*call.args, *(k.value for k in call.keywords)]
    if not arguments:
        return Edit(close, close, "training=False")
    last_end = max(script.end(a) for a in arguments)
    return _after_last_argument(script, call, last_end, close)


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


def _reindented(script: Script, compile_stmt: ast.stmt, call: ast.Call, indent: str) -> str:
    """The compile call's text, its continuation lines shifted like its first line."""
    text = script.source(call)
    old = script.indentation(compile_stmt) or ""
    lines = _NEWLINE.split(text)
    if len(lines) == 1 or not all(line.startswith(old) or not line.strip() for line in lines[1:]):
        return text
    moved = [indent + line[len(old) :] if line.strip() else line for line in lines[1:]]
    shifted = script.newline.join([lines[0], *moved])
    try:  # continuation lines inside a string literal must not move
        same = ast.dump(ast.parse(shifted.strip(), mode="eval")) == ast.dump(ast.parse(text.strip(), mode="eval"))
    except SyntaxError:
        same = False
    return shifted if same else text


def fix_recompile(script: Script, finding: Finding) -> Edit | None:
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
    indent = script.indentation(fit_stmt)
    if indent is None:
        return None
    at = script.line_starts[fit_stmt.lineno - 1]
    copy = _reindented(script, compile_stmt, compile_call, indent)
    return Edit(at, at, f"{indent}{copy}{script.newline}", rank=1)


def _is_compound(node: ast.stmt) -> bool:
    return any(isinstance(getattr(node, f, None), list) for f in ("body", "orelse", "handlers", "finalbody", "cases"))


# --- BN004: keep the BN layers frozen after unfreezing (Keras 3) ----------------------------------

def _imports(tree: ast.Module) -> list[tuple[str, str, int]]:
    """(bound name, imported path, line) of the module-level imports, also in top-level if/try."""
    found = []
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                found.append((bound, alias.name if alias.asname else bound, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(a.asname or a.name, f"{node.module}.{a.name}", node.lineno) for a in node.names if a.name != "*"]
        elif isinstance(node, (ast.If, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                pending += getattr(node, field, [])
            pending += [stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]
    return found


def batchnorm_class(tree: ast.Module, before_line: int) -> str | None:
    """How this file can spell the BatchNormalization class, from its own imports.

    `from keras.layers import BatchNormalization` beats `layers.BatchNormalization`, which beats
    `keras.layers.BatchNormalization` and `tf.keras.layers.BatchNormalization`. None when the
    file imports no Keras, or both tf_keras and Keras 3 (which class would the base be?).
    """
    spellings: list[tuple[int, str]] = []
    roots = set()
    for bound, path, line in _imports(tree):
        if line >= before_line:
            continue
        name = canonical(path)
        root = path.partition(".")[0]
        if name == _BN_CLASS:
            spellings.append((0, bound))
        elif name == "keras.layers":
            spellings.append((1, f"{bound}.BatchNormalization"))
        elif name == "keras":
            spellings.append((2, f"{bound}.layers.BatchNormalization"))
        elif path == "tensorflow":
            spellings.append((3, f"{bound}.keras.layers.BatchNormalization"))
        else:
            continue
        roots.add("tf_keras" if root == "tf_keras" else "keras")
    if not spellings or len(roots) > 1:
        return None
    return min(spellings)[1]


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
    names = {n.id for n in ast.walk(script.tree) if isinstance(n, ast.Name)}
    candidates = ["_layer", "_bn_layer"] + [f"_bn_layer{i}" for i in range(2, 100)]
    return next(c for c in candidates if c not in names)


def _flat_application(architecture: str | None, opaque: bool) -> bool:
    """Whether `.layers` reaches every BN layer: true of keras.applications models, whose graphs
    are flat. A hand-built or opaque model may nest its BN layers where this loop cannot see them,
    and a fix that silences the finding without protecting anything is worse than none."""
    return str(architecture or "").startswith("keras.applications.") and not opaque


def fix_freeze_batchnorm(script: Script, finding: Finding) -> Edit | None:
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
    indent = script.indentation(after)
    if indent is None or not _is_simple(model) or not script.ends_its_line(after):
        return None
    if not _names_the_target(script, model, after, subject.unfrozen):
        return None
    bn_class = batchnorm_class(script.tree, after.lineno)
    if bn_class is None:
        return None
    var, unit, nl = _unused_name(script), script.indent_unit, script.newline
    at = script.end_of_line(after.end_lineno)
    loop = (
        f"{indent}for {var} in {script.source(model)}.layers:{nl}"
        f"{indent}{unit}if isinstance({var}, {bn_class}):{nl}"
        f"{indent}{unit}{unit}{var}.trainable = False{nl}"
    )
    lead = "" if at > 0 and script.text[at - 1] in "\r\n" else nl  # the statement ends the file
    return Edit(at, at, lead + loop, rank=0)


# By the names rules use in `fix: {script: NAME}` (listed in bnlint.fix.SCRIPT_FIXERS).
SCRIPT_FIXERS: dict[str, Callable[[Script, Finding], Edit | None]] = {
    "training-false": fix_training_false,
    "recompile": fix_recompile,
    "freeze-batchnorm": fix_freeze_batchnorm,
}


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits bottom-up, so earlier offsets stay valid."""
    for edit in sorted(edits, key=lambda e: (e.start, e.rank), reverse=True):
        text = text[: edit.start] + edit.new + text[edit.end :]
    return text


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def fix_source(text: str, findings: list[Finding]) -> tuple[str, list[Finding]]:
    """The script with every fixable finding fixed, and the findings that were.

    An edit that would not parse on its own, or overlaps one already taken, is dropped; the
    whole result is parsed once more before it is returned.
    """
    try:
        script = Script(text)
    except (SyntaxError, ValueError):
        return text, []
    edits: list[Edit] = []
    fixed_findings: list[Finding] = []
    for finding in findings:
        fixer = SCRIPT_FIXERS.get(finding.fixer or "")
        edit = fixer(script, finding) if fixer and finding.cell is None else None
        if edit is None:
            continue
        if edit not in edits:  # two findings can share one fix (the same loop flagged twice)
            if any(e.start < edit.end and edit.start < e.end for e in edits):
                continue  # overlapping replacements cannot both apply
            if not _parses(apply_edits(text, [edit])):
                continue
            edits.append(edit)
        fixed_findings.append(finding)
    fixed = apply_edits(text, edits)
    if not edits or not _parses(fixed):
        return text, []
    return fixed, fixed_findings
