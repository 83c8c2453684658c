"""An abstract interpreter for Python modules: bindings, functions, classes; never runs the code.

Path-insensitive on purpose: both arms of an `if` run (unless the test is a constant), a loop
body runs once, a function body runs when the function is called. Keras meaning is added by
`KerasSemantics` (python_keras.py); this module only knows Python.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bnlint.frontends import FrontendError
from bnlint.frontends.python import imports
from bnlint.frontends.python.expressions import (
    MAX_UNROLLED,
    NONE,
    UNROLL_NESTED,
    Expressions,
    Scope,
    fold,
    merge_returns,
)
from bnlint.frontends.python.keras_semantics import Args, KerasSemantics, dotted, model_key
from bnlint.frontends.python.lazy_module import LazyModule
from bnlint.frontends.python.project import ModuleSource, Project
from bnlint.frontends.python.recorder import FactRecorder
from bnlint.frontends.python.training import StepFinder
from bnlint.frontends.python.values import (
    UNKNOWN,
    Class,
    Const,
    Enumerated,
    Function,
    Instance,
    Mapping,
    Module,
    Ref,
    Seq,
    Super,
    Tensor,
    Value,
)
from bnlint.ir import Location


class TooComplex(FrontendError):
    """The input would take more interpretation than any real script needs."""


MAX_DEPTH = 24  # nested user-function calls interpreted at once
RECURSION_LIMIT = 1  # activations of one function (same closure) at once
# Statements interpreted for one unit (the largest real script we measured needs 11,000): beyond
# this the input is reported as too complex to analyse, rather than taking minutes.
STATEMENT_BUDGET = 200_000
# What makes a never-called function worth interpreting (besides the module's own names).
ORPHAN_KEYWORDS = (*imports.KERAS_FAMILY, "trainable", "compile", "fit", "train_on_batch", "apply_gradients", "minimize",
                   "train_step", "environ", "putenv", "TF_USE_LEGACY_KERAS")
MAX_RELEVANT_NAMES = 64
# What a never-called function must mention to be worth interpreting: a training event, a freeze,
# a `training=` argument, or the switches that decide the runtime.
ORPHAN_TRAINING_WORDS = ("fit(", "fit_generator(", "train_on_batch(", "apply_gradients(", "minimize(", "trainable",
                         "setattr(", "freeze", "training=True", "training = True", "train_step",
                         "model_to_estimator", "environ", "putenv", "TF_USE_LEGACY_KERAS")
MAX_MODULES = 64  # project modules read for one script


class Interpreter(Expressions, KerasSemantics):
    """Runs one module (or one notebook, cell after cell) abstractly, recording facts."""

    def __init__(self, recorder: FactRecorder, own: ModuleSource, project: Project | None = None) -> None:
        Expressions.__init__(self)
        KerasSemantics.__init__(self, recorder)
        self.own = own  # the unit's own source; `source` is the module being interpreted now
        self.source = own
        self.project = project
        self.modules: dict[Path, Scope] = {}  # project modules read so far, by resolved file
        # ids of defs and classes from other modules: never run as orphans for their own sake
        self.foreign: dict[int, ModuleSource] = {}
        self.module = self.scope
        self.module.source = own
        self.cell: int | None = None
        self.stack: list[ast.AST] = []
        self.frames: Counter[tuple[int, int]] = Counter()  # (def, closure) pairs running now
        self.methods: list[Function] = []  # the functions running now, innermost last
        self.returns: list[list[Value]] = []
        self.budget = STATEMENT_BUDGET
        self.unrolling = 1  # how many times the loops being unrolled run their innermost body
        self.called: set[int] = set()
        self.functions: list[Function] = []
        self.classes: list[Class] = []
        self.orphan = False
        self._relevant_names: set[str] | None = None
        self._scopes: list[Scope] = []
        self.cell_of: dict[int, int | None] = {}  # id(def or class node) -> its notebook cell
        self.nested: set[int] = set()  # ids of defs and classes written inside a function
        self.step_finder = StepFinder()
        self._stmt: dict[type, Callable[[Any], bool | None]] = {
            ast.Expr: self._s_expr,
            ast.Assign: self._s_assign,
            ast.AnnAssign: self._s_annassign,
            ast.AugAssign: self._s_augassign,
            ast.Import: self._s_import,
            ast.ImportFrom: self._s_importfrom,
            ast.FunctionDef: self._s_def,
            ast.AsyncFunctionDef: self._s_def,
            ast.ClassDef: self._s_class,
            ast.Return: self._s_return,
            ast.If: self._s_if,
            ast.For: self._s_for,
            ast.AsyncFor: self._s_for,
            ast.While: self._s_while,
            ast.With: self._s_with,
            ast.AsyncWith: self._s_with,
            ast.Try: self._s_try,
            ast.Global: self._s_global,
        }
        if hasattr(ast, "TryStar"):
            self._stmt[ast.TryStar] = self._s_try
        if hasattr(ast, "Match"):
            self._stmt[ast.Match] = self._s_match

    # -- entry points ---------------------------------------------------------------------------

    def run_module(self, body: list[ast.stmt], cell: int | None) -> None:
        self.cell = cell
        self.run_block(body)

    def run_orphans(self) -> None:
        """Interpret what the module pass never reached: functions nobody called (`main()` run by a
        CLI framework), classes nobody instantiated, methods nobody called. Objects are allocated
        per code site here, so a helper run alone and then again by its caller is one object."""
        self.orphan = True
        done_functions = done_classes = 0
        while done_functions < len(self.functions) or done_classes < len(self.classes):
            while done_functions < len(self.functions):
                function = self.functions[done_functions]
                done_functions += 1
                if id(function.node) in self.foreign:
                    continue  # another module's function: it matters only when this code calls it
                if id(function.node) not in self.called and self._may_matter(function.node):
                    self.invoke_function(function, Args(), function.node)
            while done_classes < len(self.classes):
                cls = self.classes[done_classes]
                done_classes += 1
                if id(cls.node) in self.foreign and not cls.instances:
                    continue
                if not cls.instances and not self._may_matter(cls.node):
                    continue
                if not cls.instances:
                    self.cell = cls.cell  # the class itself is the site: locate it in its cell
                    self.instantiate(cls, Args(star_unknown=True, kw_unknown=True), cls.node)
                for instance in list(cls.instances):
                    for name, method in cls.all_methods().items():
                        node = method.node
                        if name in instance.ran or id(node) in self.called:
                            continue
                        # A method of this module's instance, possibly inherited from another module.
                        if self._may_matter(node):
                            self.invoke_function(method.bind(instance), Args(star_unknown=True, kw_unknown=True), node)

    def _defined(self, node: ast.AST) -> None:
        self.cell_of[id(node)] = self.cell
        if self.source is not self.own:
            self.foreign[id(node)] = self.source
            for stmt in getattr(node, "body", ()) if isinstance(node, ast.ClassDef) else ():
                self.foreign[id(stmt)] = self.source  # its methods' text is in that module too
        if self.scope is not self.scope.module:
            self.nested.add(id(node))

    def _may_matter(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef) -> bool:
        """Can interpreting this never-called function or class produce a finding? Only if it
        trains, freezes or sets `training` (what it builds and returns goes nowhere: nothing calls
        it), and only through names it reaches from outside: a Keras-family module or model, another
        user function or class, or `.trainable` / `.compile` / `.fit` / the legacy-Keras switch.
        Text searches for those are much cheaper than interpreting the body."""
        source = self.foreign.get(id(node), self.own)
        lines = source.lines.get(self.cell_of.get(id(node), self.cell) if source is self.own else None) or []
        # From the first body line: the `def name(` line would always mention the function itself.
        first = node.body if isinstance(node, ast.Lambda) else node.body[0]
        text = "\n".join(lines[first.lineno - 1 : node.end_lineno])
        if not any(word in text for word in ORPHAN_TRAINING_WORDS):
            return False
        if self._relevant_names is None:
            names = set(ORPHAN_KEYWORDS)
            for name, value in self.module.vars.items():
                if isinstance(value, (Function, Class)) or model_key(value) is not None or (
                    isinstance(value, Ref) and imports.in_keras_family(value.qname)
                ):
                    names.add(name)
            self._relevant_names = names
        if len(self._relevant_names) > MAX_RELEVANT_NAMES or id(node) in self.nested:
            # A library-sized module (searching would cost more than interpreting), or a closure
            # that may use its enclosing function's models: interpret.
            return True
        return any(name in text for name in self._relevant_names)

    def release(self) -> None:
        """Break the reference cycles (scopes <-> closures, classes <-> instances, bound-method
        tables) so the syntax tree is freed as soon as the caller drops it, not by a later
        garbage collection that would have to walk all of it."""
        for scope in (*self._scopes, self.module, *self.modules.values()):
            scope.vars.clear()
            scope.stars.clear()
            scope.lazy = None  # an imported module's loader closes over this interpreter and the scope
            del scope.module  # a module scope is its own module
        self._scopes.clear()
        self.modules.clear()
        for cls in self.classes:
            cls.instances.clear()
            cls.methods.clear()
            cls.forget_mro()  # a class is first in its own order
        self.functions.clear()
        self.classes.clear()
        self.rec.sites.clear()
        self.rec.members.clear()
        self._stmt.clear()
        self._expr.clear()
        self._specials.clear()

    # -- locations ------------------------------------------------------------------------------

    def loc(self, node: ast.AST) -> Location:
        # Every node a fact points at is a statement, expression or argument: all have positions,
        # which ast.AST itself does not declare.
        positioned: Any = node
        line, col = positioned.lineno, positioned.col_offset
        end_line, end_col = positioned.end_lineno, positioned.end_col_offset
        lines = self.source.lines.get(self.cell)
        # ast offsets count UTF-8 bytes; users count characters.
        if lines is not None:
            col = self._chars(lines, line, col)
            if end_line is not None and end_col is not None:
                end_col = self._chars(lines, end_line, end_col)
        return Location(
            line=line,
            column=col + 1,
            end_line=end_line,
            end_column=None if end_col is None else end_col + 1,
            cell=self.cell,
            path=self.source.path,
        )

    @staticmethod
    def _chars(lines: list[str], line: int, offset: int) -> int:
        if 1 <= line <= len(lines):
            text = lines[line - 1]
            if not text.isascii():
                return len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        return offset

    # -- statements -----------------------------------------------------------------------------

    def run_block(self, body: Iterable[ast.stmt]) -> bool:
        """Run statements in order; True when they certainly return (the rest is dead code):
        a `return`, or an `if` whose test is a constant, or whose arms both return."""
        table = self._stmt
        for stmt in body:
            self.budget -= 1
            if self.budget < 0:
                raise TooComplex(f"too complex to analyse: more than {STATEMENT_BUDGET:,} statements to interpret "
                                 "(loops and calls multiply them); nothing is reported for it")
            handler = table.get(type(stmt))
            returned = handler(stmt) if handler is not None else None
            if returned is True or type(stmt) is ast.Return:
                return True
        return False

    def _s_expr(self, node: ast.Expr) -> None:
        if type(node.value) is not ast.Constant:  # docstrings
            self.ev(node.value)

    def _s_assign(self, node: ast.Assign) -> None:
        value = self.ev(node.value)
        for target in node.targets:
            self.bind(target, value, node)

    def _s_annassign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, self.ev(node.value), node)

    def _s_augassign(self, node: ast.AugAssign) -> None:
        value = self.ev(node.value)
        if isinstance(node.target, ast.Name):
            current = self.scope.lookup(node.target.id) or UNKNOWN
            self.scope.assign(node.target.id, fold(node.op, current, value))

    def _s_import(self, node: ast.Import) -> None:
        for alias in node.names:
            own = self._project_import(alias.name, 0)
            if own is not None:
                # `import a.b as m` binds the module itself; `import a.b` binds the package `a`.
                name = alias.asname or alias.name.partition(".")[0]
                self.scope.assign(name, own if alias.asname else self._module(name, 0, self.source.file) or own)
                continue
            if alias.asname:
                self.scope.assign(alias.asname, Ref(alias.name))
            else:
                top = alias.name.partition(".")[0]
                self.scope.assign(top, Ref(top))
            self.import_evidence(alias.name, f"import {alias.name}", node)

    def _s_importfrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        source = self._project_import(module, node.level) if (module or node.level) else None
        for alias in node.names:
            # `from . import models`: a submodule, even when the package has no __init__.py.
            submodule = None if source is not None or alias.name == "*" else self._project_import(
                f"{module}.{alias.name}" if module else alias.name, node.level)
            if source is not None:
                self._bind_from(source, alias)
            elif submodule is not None:
                self.scope.assign(alias.asname or alias.name, submodule)
            elif node.level:  # a relative import we cannot read: unknown
                self.scope.assign(alias.asname or alias.name, UNKNOWN)
            elif alias.name == "*":
                self.star_imports.append(module)
                self.import_evidence(module, f"from {module} import *", node)
            else:
                self.scope.assign(alias.asname or alias.name, Ref(f"{module}.{alias.name}"))
                self.import_evidence(f"{module}.{alias.name}", f"from {module} import {alias.name}", node)

    # -- the project's own modules ---------------------------------------------------------------

    def _project_import(self, name: str, level: int) -> Module | None:
        """The project's own module `name` (relative with `level` dots), read now; None when it is
        a library (Keras, NumPy, ...), cannot be found, or is not worth reading."""
        if self.project is None or self.source.file is None:
            return None
        if not level and name.partition(".")[0] in imports.KERAS_FAMILY:
            return None
        return self._module(name, level, self.source.file)

    def _module(self, name: str, level: int, importer: Path | None) -> Module | None:
        file = self.project.resolve(importer, name, level) if self.project and importer else None
        if file is None:
            return None
        scope = self.modules.get(file)
        if scope is None:
            scope = self._read_module(file)
            if scope is None:
                return None
        return Module(name, scope, importer, level)

    def _read_module(self, file: Path) -> Scope | None:
        if len(self.modules) >= MAX_MODULES or self.budget <= 0:
            return None
        source = self.project.source(file, self.source, self.source.path or self.rec.unit.path)  # type: ignore[union-attr]
        if source is None or source.tree is None:
            return None
        scope = Scope(None, None, source)
        self.modules[file] = scope  # before running it: an import cycle finds it half-read, as Python does
        display = source.path or str(file)  # a project module always has its own path
        self.rec.unit.extra_sources[display] = source.lines[None]
        self.rec.unit.files[display] = str(file)

        def run(stmt: ast.stmt) -> None:
            saved = (self.scope, self.cell, self.source)
            self.scope, self.cell, self.source = scope, None, source
            try:
                self.run_block((stmt,))
            finally:
                self.scope, self.cell, self.source = saved

        scope.lazy = LazyModule(source.tree, run)  # names are defined when first used
        return scope

    def _bind_from(self, module: Module, alias: ast.alias) -> None:
        if alias.name == "*":
            # Its names are looked up there when this code uses them (a package's __init__ that
            # star-imports ten submodules costs nothing until one of their names is used).
            if module.scope not in self.scope.stars:
                self.scope.stars.append(module.scope)
            return
        value = self.module_attribute(module, alias.name)
        self.scope.assign(alias.asname or alias.name, value)

    def module_attribute(self, module: Module, name: str) -> Value:
        """A name a project module defines, or its submodule of that name."""
        if module.scope is not None:
            found = module.scope.lookup(name)
            if found is not None:
                return found
        sub = self._module(f"{module.name}.{name}" if module.name else name, module.level, module.importer)
        return sub if sub is not None else UNKNOWN

    def _defaults(self, args: ast.arguments) -> dict[str, Value]:
        defaults: dict[str, Value] = {}
        positional = [*args.posonlyargs, *args.args]
        for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            defaults[arg.arg] = self.ev(default)
        for arg, keyword_default in zip(args.kwonlyargs, args.kw_defaults):
            if keyword_default is not None:
                defaults[arg.arg] = self.ev(keyword_default)
        return defaults

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Function:
        return Function(node, self.scope, self.cell, self._defaults(node.args))

    def _s_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        function = self._function(node)
        self.scope.assign(node.name, function)
        self.functions.append(function)
        self._defined(node)

    def _s_class(self, node: ast.ClassDef) -> None:
        bases = [self.ev(b) for b in node.bases]
        is_keras = any(
            (isinstance(b, Ref) and imports.canonical(b.qname) in ("keras.Model", "keras.Layer", "keras.Sequential"))
            or (isinstance(b, Class) and b.is_keras)
            for b in bases
        )
        cls = Class(node, self.cell, bases, is_keras)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                cls.methods[stmt.name] = self._function(stmt)
        self.scope.assign(node.name, cls)
        self.classes.append(cls)
        self._defined(node)

    def _s_return(self, node: ast.Return) -> None:
        value = self.ev(node.value) if node.value is not None else NONE
        if self.returns:
            self.returns[-1].append(value)

    def _s_if(self, node: ast.If) -> bool:
        test = self.ev(node.test)
        if isinstance(test, Const):
            try:
                taken = bool(test.value)
            except Exception:  # noqa: BLE001 - a folded constant with an odd __bool__
                taken = None
            if taken is not None:
                return self.run_block(node.body if taken else node.orelse)
        return self.run_guarded(node)

    def _s_for(self, node: ast.For | ast.AsyncFor) -> None:
        marker = self.step_finder.marker(node, self.source.lines.get(self.cell)) if self.source.may_train else None
        if marker is not None and not self.steps:
            self.run_step(marker, lambda: self._for(node))
        else:
            self._for(node)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        iterable = self.ev(node.iter)
        if self.layer_loop(node, iterable):
            pass  # `for layer in base.layers:` - KerasSemantics ran the body
        elif isinstance(iterable, Seq) and self._unrollable(len(iterable.items)):
            self._unrolled(node, iterable.items)
        elif isinstance(iterable, Enumerated) and isinstance(iterable.inner, Seq) and self._unrollable(len(iterable.inner.items)):
            self._unrolled(node, [Seq([Const(index), item]) for index, item in enumerate(iterable.inner.items)])
        else:
            self.bind(node.target, UNKNOWN, node)
            self.run_block(node.body)
        self.run_block(node.orelse)

    def _unrollable(self, count: int) -> bool:
        return count <= MAX_UNROLLED and self.unrolling * count <= UNROLL_NESTED

    def _unrolled(self, node: ast.For | ast.AsyncFor, items: list[Value]) -> None:
        """Run the body once per item (`for name in ["a", "b"]:` builds two models)."""
        factor = max(len(items), 1)
        self.unrolling *= factor
        try:
            for item in items:
                self.bind(node.target, item, node)
                self.run_block(node.body)
        finally:
            self.unrolling //= factor

    def _s_while(self, node: ast.While) -> None:
        self.ev(node.test)
        marker = self.step_finder.marker(node, self.source.lines.get(self.cell)) if self.source.may_train else None
        if marker is not None and not self.steps:
            self.run_step(marker, lambda: self.run_block(node.body))
        else:
            self.run_block(node.body)
        self.run_block(node.orelse)

    def _s_with(self, node: ast.With | ast.AsyncWith) -> None:
        tape = False
        for item in node.items:
            self.ev(item.context_expr)
            tape = tape or _is_gradient_tape(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, UNKNOWN, node)
        if tape:
            self.enter_tape()
        try:
            self.run_block(node.body)
        finally:
            if tape:
                self.tapes -= 1

    def _s_try(self, node: ast.Try) -> None:
        self.run_block(node.body)
        for handler in node.handlers:
            if handler.name:
                self.scope.assign(handler.name, UNKNOWN)
            self.run_block(handler.body)
        self.run_block(node.orelse)
        self.run_block(node.finalbody)

    def _s_global(self, node: ast.Global) -> None:
        self.scope.global_names.update(node.names)

    def _s_match(self, node) -> None:
        self.ev(node.subject)
        for case in node.cases:
            self.run_block(case.body)

    # -- binding --------------------------------------------------------------------------------

    def bind(self, target: ast.expr, value: Value, stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.scope.assign(target.id, value)
            self.name_model(value, target.id)
        elif isinstance(target, ast.Attribute):
            owner = self.ev(target.value)
            if target.attr == "trainable":
                self.assign_trainable(owner, stmt, value)
            elif isinstance(owner, Instance):
                owner.attrs[target.attr] = value
                self.name_model(value, dotted(target), attribute=True)
                self.add_part(owner, value)
        elif isinstance(target, ast.Subscript):
            self.assign_item(self.ev(target.value), self.ev(target.slice), value, stmt)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = target.elts
            if isinstance(value, Seq) and len(value.items) == len(elements) and not any(isinstance(e, ast.Starred) for e in elements):
                for element, item in zip(elements, value.items):
                    self.bind(element, item, stmt)
            else:
                for element in elements:
                    self.bind(element.value if isinstance(element, ast.Starred) else element, UNKNOWN, stmt)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, UNKNOWN, stmt)

    # -- functions and classes ------------------------------------------------------------------

    def invoke_function(self, function: Function, args: Args, site: ast.AST, fresh_inputs: bool = False) -> Value:
        node = function.node
        self.called.add(id(node))
        if isinstance(function.owner, Instance) and not isinstance(node, ast.Lambda):
            function.owner.ran.add(node.name)
        # Recursion is a function running inside itself with the same closure (followed a few
        # levels: `build(depth - 1)` reaches its base case); closures made by one `def` or
        # `lambda` in different calls (what `reduce`-based `compose()` builds) are not recursion.
        frame = (id(node), id(function.scope))
        if self.budget <= 0 or self.frames[frame] >= RECURSION_LIMIT or len(self.stack) >= MAX_DEPTH:
            return args.passthrough(UNKNOWN)
        scope = Scope(function.scope, function.scope.module)
        self._scopes.append(scope)
        self._bind_parameters(function, args, scope, fresh_inputs)
        saved = (self.scope, self.cell, self.source)
        self.scope, self.cell = scope, function.cell
        self.source = function.scope.module.source or self.own
        self.stack.append(node)
        self.methods.append(function)
        self.frames[frame] += 1
        self.returns.append([])
        try:
            if isinstance(node, ast.Lambda):
                self.returns[-1].append(self.ev(node.body))
            else:
                marker = self.step_finder.marker(node, self.source.lines.get(self.cell)) if self.source.may_train else None
                if marker is None:
                    self.run_block(node.body)
                else:
                    owner = model_key(function.owner) if function.owner is not None else None
                    body = node.body
                    self.run_step(marker, lambda: self.run_block(body), owner)
        finally:
            depth = len(self.stack)
            self.stack.pop()
            self.methods.pop()
            self.frames[frame] -= 1
            returned = self.returns.pop()
            self.scope, self.cell, self.source = saved
        result = merge_returns(returned)
        key = model_key(result)
        if key is not None:
            # `b = ResNet50(); return b`: `b` is the helper's word for it; the caller names it.
            self.rec.forget_local_name(key, depth)
        return result

    def _bind_parameters(self, function: Function, args: Args, scope: Scope, fresh_inputs: bool) -> None:
        spec: ast.arguments = function.node.args
        positional = [a.arg for a in (*spec.posonlyargs, *spec.args)]
        given = list(args.pos)
        if function.owner is not None and not _is_static(function.node):
            given.insert(0, function.owner)
        unknown = args.star_unknown or args.kw_unknown
        for index, name in enumerate(positional):
            if index < len(given):
                scope.vars[name] = given[index]
            elif name in args.kw:
                scope.vars[name] = args.kw[name]
            elif fresh_inputs:
                # Keras calls `call(inputs, training=...)` itself: the inputs are a fresh symbolic
                # tensor and no default (training=None) says what training will be.
                scope.vars[name] = Tensor(symbolic=True) if index == 1 else UNKNOWN
            elif name in function.defaults and not unknown:
                scope.vars[name] = function.defaults[name]
            else:
                scope.vars[name] = UNKNOWN
        for arg in spec.kwonlyargs:
            name = arg.arg
            if name in args.kw:
                scope.vars[name] = args.kw[name]
            elif name in function.defaults and not unknown and not fresh_inputs:
                scope.vars[name] = function.defaults[name]
            else:
                scope.vars[name] = UNKNOWN
        if spec.vararg is not None:
            extra = given[len(positional):]
            scope.vars[spec.vararg.arg] = UNKNOWN if args.star_unknown else Seq(extra)
        if spec.kwarg is not None:
            named = {*positional, *(a.arg for a in spec.kwonlyargs)}
            rest = {k: v for k, v in args.kw.items() if k not in named}
            scope.vars[spec.kwarg.arg] = UNKNOWN if args.kw_unknown else Mapping(rest)

    def instantiate(self, cls: Class, args: Args, site: ast.AST) -> Value:
        site_key = ("instance", id(site))
        if self.orphan and site_key in self.rec.sites:
            return self.rec.sites[site_key]
        key = self.rec.new_model(cls.node.name, self.loc(site), composite=True) if cls.is_keras else None
        instance = Instance(cls, key)
        cls.instances.append(instance)
        if self.orphan:
            self.rec.sites[site_key] = instance
        init = cls.lookup("__init__")
        if init is not None:
            self.invoke_function(init.bind(instance), args, site)
        if key is not None:
            call = cls.lookup("call")
            if call is not None:
                self.contexts.append(key)
                try:
                    self.invoke_function(call.bind(instance), Args(), site, fresh_inputs=True)
                finally:
                    self.contexts.pop()
        return instance

    def make_super(self) -> Value:
        """`super()`: the instance and method running now, if a method of a user class is."""
        for function in reversed(self.methods):
            if isinstance(function.owner, Instance):
                return Super(function.owner, function.node)
        return UNKNOWN

    def super_attribute(self, sup: Super, name: str) -> Value:
        """The next class's `name` in the instance's class order, after the one defining the method."""
        order = sup.instance.cls.mro()
        defining = next((i for i, cls in enumerate(order) if any(m.node is sup.method for m in cls.methods.values())), None)
        if defining is None:
            return UNKNOWN
        for cls in order[defining + 1:]:
            if name in cls.methods:
                return cls.methods[name].bind(sup.instance)
        return UNKNOWN  # a Keras base class (keras.Model.__init__): nothing to follow

    def attribute_of_instance(self, instance: Instance, name: str) -> Value | None:
        if name in instance.attrs:
            return instance.attrs[name]
        method = instance.cls.lookup(name)
        if method is None:
            return None
        if _has_decorator(method.node, "property"):
            return self.invoke_function(method.bind(instance), Args(), method.node)
        return method.bind(instance)


def _has_decorator(node: ast.AST, name: str) -> bool:
    return any(isinstance(d, ast.Name) and d.id == name for d in getattr(node, "decorator_list", ()))


def _is_static(node: ast.AST) -> bool:
    return _has_decorator(node, "staticmethod")


def _is_gradient_tape(expr: ast.expr) -> bool:
    """`tf.GradientTape()`, `GradientTape(persistent=True)`, ... as written."""
    return isinstance(expr, ast.Call) and (dotted(expr.func) or "").rpartition(".")[2] == "GradientTape"
