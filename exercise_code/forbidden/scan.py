"""The static half of the forbidden-shortcut rule: an AST scan of a kit's source for forbidden torch calls.

The scan finds the function's definition (following re-exports such as `from .transpose_conv import
conv_transpose2d`), then checks its body, module-level statements, same-module helpers it uses and
helpers imported from other student modules, for any name that resolves to a forbidden torch callable.
It reads the file Python would import, and refuses a module whose name could load something else (a
package next to a module, compiled code, a namespace package). Dynamic lookups
(`getattr(F, name_built_at_runtime)`) are the grader's runtime guard's job. Nothing is imported or run:
the grader scans submissions with it, and the public checks and `submit` scan the student's own kit.
"""

from __future__ import annotations

import ast
import importlib.machinery
from dataclasses import dataclass
from pathlib import Path

MAX_HOPS = 4
AMBIGUOUS = "ambiguous module layout"
"""`Finding.name` when the scan refuses a module because Python could import something other than the
source it would read; `Finding.where` then says which files and what to do."""


@dataclass(frozen=True)
class Finding:
    name: str
    """The forbidden callable, or `AMBIGUOUS`."""
    where: str
    """`exercise_code/layers/transpose_conv.py:88`, or for `AMBIGUOUS` the module and its files:
    `exercise_code/layers/transpose_conv: both transpose_conv.py and transpose_conv/__init__.py exist;
    keep one`."""


class _Refused(Exception):
    """A module the scan will not read (see `AMBIGUOUS`); carries the finding to report."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.where)
        self.finding = finding


class _Module:
    """A parsed student module with its import aliases."""

    def __init__(self, root: Path, dotted: str, path: Path) -> None:
        self.root, self.dotted, self.path = root, dotted, path
        self.tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
        self.is_package = path.name == "__init__.py"
        self.aliases: dict[str, str] = {}
        self.stars: list[str] = []
        self.defs = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = self.absolute(node.module, node.level)
                for a in node.names:
                    if a.name == "*":
                        self.stars.append(base)
                    else:
                        self.aliases[a.asname or a.name] = f"{base}.{a.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], self.dotted_of(node.value)
                if isinstance(target, ast.Name) and value and value.split(".")[0] == "torch":
                    self.aliases[target.id] = value

    def absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.dotted.split(".")
        base = parts if self.is_package else parts[:-1]
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def dotted_of(self, node: ast.AST) -> str | None:
        """`F.conv_transpose2d` -> `torch.nn.functional.conv_transpose2d` (None when not a name chain)."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.aliases.get(node.id)
        if head is None and node.id in self.defs:
            head = f"{self.dotted}.{node.id}"
        if head is None:
            head = f"{self.stars[0]}.{node.id}" if self.stars else node.id
        return ".".join([head, *reversed(attrs)])


_SUFFIXES = (
    *importlib.machinery.EXTENSION_SUFFIXES,
    ".so",
    ".pyd",
    *importlib.machinery.SOURCE_SUFFIXES,
    *importlib.machinery.BYTECODE_SUFFIXES,
)
"""What a path entry's finder tries, in its order (extension modules, source, bytecode); `.so`/`.pyd`
stand for other interpreters' extension tags."""


def _files(directory: Path, stem: str) -> list[Path]:
    """Files Python could import as `stem` from `directory`, in the order its FileFinder tries them."""
    found = [directory / f"{stem}{suffix}" for suffix in dict.fromkeys(_SUFFIXES)]
    found = [p for p in found if p.is_file()]
    tagged = sorted({*directory.glob(f"{stem}.*.so"), *directory.glob(f"{stem}.*.pyd")} - set(found))
    return [*tagged, *found]


def _unchecked_pyc(source: Path) -> Path | None:
    """A `__pycache__` file that Python would run instead of `source` without looking at it (an
    unchecked hash-based pyc, PEP 552); intake drops caches, this is the second line."""
    for pyc in source.parent.joinpath("__pycache__").glob(f"{source.stem}.*.pyc"):
        try:
            with pyc.open("rb") as handle:
                flags = int.from_bytes(handle.read(8)[4:8], "little")
        except OSError:
            continue
        if flags & 0b11 == 0b01:
            return pyc
    return None


def _refuse(rel: str, why: str) -> _Refused:
    return _Refused(Finding(AMBIGUOUS, f"{rel}: {why}"))


def _module_file(root: Path, dotted: str) -> Path | None:
    """The source file `import dotted` loads with `root` on sys.path, resolved like Python's path finder
    (a package's `__init__` before a module of the same name) without running anything; None when there
    is none. Raises _Refused when Python could load something other than that one source file."""
    directory, parts = root, dotted.split(".")
    chosen: Path | None = None
    for depth, name in enumerate(parts):
        rel = "/".join(parts[: depth + 1])
        package = directory / name
        inits = _files(package, "__init__") if package.is_dir() else []
        candidates = [*inits, *_files(directory, name)]
        if not candidates:
            if not package.is_dir():
                return None
            raise _refuse(rel, "a folder without __init__.py (a namespace package); add one")
        shown = [c.relative_to(directory).as_posix() for c in candidates]
        if len(candidates) > 1:
            listed = " and ".join([", ".join(sorted(shown)[:-1]), sorted(shown)[-1]])
            raise _refuse(rel, f"both {listed} exist (Python imports {shown[0]}); keep one")
        chosen = candidates[0]
        if chosen.suffix != ".py":
            raise _refuse(rel, f"{shown[0]} is compiled code, not source; submit the .py file")
        pyc = _unchecked_pyc(chosen)
        if pyc is not None:
            raise _refuse(rel, f"{pyc.relative_to(root).as_posix()} runs instead of the source; delete it")
        if depth < len(parts) - 1:
            if not inits:
                return None  # a plain module has no submodules
            directory = package
    return chosen


def _matches(resolved: str, forbidden: tuple[str, ...]) -> str | None:
    parts = resolved.split(".")
    for name in forbidden:
        short = name.split(".")[-1]
        if resolved == name or resolved.startswith(name + "."):
            return name
        if parts[0] == "torch" and short in parts[1:]:
            return name
    return None


class _Scanner:
    def __init__(self, root: Path, forbidden: tuple[str, ...]) -> None:
        self.root, self.forbidden = root, forbidden
        self.modules: dict[str, _Module | None] = {}
        self.seen: set[tuple[str, str]] = set()

    def module(self, dotted: str) -> _Module | None:
        if dotted not in self.modules:
            path = _module_file(self.root, dotted)
            try:
                self.modules[dotted] = _Module(self.root, dotted, path) if path else None
            except (SyntaxError, ValueError, OSError):
                self.modules[dotted] = None
        return self.modules[dotted]

    def locate(self, dotted: str, hops: int = 0) -> tuple[_Module, ast.AST] | None:
        """The module and def node that `dotted` names, following `from x import y` re-exports."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.module(".".join(parts[:cut]))
            if module is None:
                continue
            rest = parts[cut:]
            node: ast.AST | None = module.defs.get(rest[0])
            if node is None and rest[0] in module.aliases and hops < MAX_HOPS:
                target = module.aliases[rest[0]]
                if target.startswith("exercise_code."):
                    return self.locate(".".join([target, *rest[1:]]), hops + 1)
                return None
            for attr in rest[1:]:
                body = getattr(node, "body", [])
                node = next((n for n in body if getattr(n, "name", None) == attr), None)
            return (module, node) if node is not None else None
        return None

    def scan(self, module: _Module, node: ast.AST, hops: int = 0) -> Finding | None:
        key = (module.dotted, getattr(node, "name", "<module>"))
        if key in self.seen:
            return None
        self.seen.add(key)
        helpers: list[str] = []
        for sub in ast.walk(node):
            found = self.check(module, sub)
            if found:
                return found
            if isinstance(sub, ast.Name) and sub.id != getattr(node, "name", None):
                helpers.append(sub.id)
        for name in dict.fromkeys(helpers):
            if name in module.defs:
                found = self.scan(module, module.defs[name], hops)
            elif (
                name in module.aliases
                and module.aliases[name].startswith("exercise_code.")
                and hops < MAX_HOPS
            ):
                located = self.locate(module.aliases[name], hops + 1)
                found = self.scan(*located, hops + 1) if located else None
            else:
                continue
            if found:
                return found
        return None

    def check(self, module: _Module, node: ast.AST) -> Finding | None:
        resolved = None
        if isinstance(node, ast.Attribute | ast.Name) and isinstance(getattr(node, "ctx", None), ast.Load):
            resolved = module.dotted_of(node)
        elif isinstance(node, ast.ImportFrom):
            base = module.absolute(node.module, node.level)
            resolved = next(
                (f"{base}.{a.name}" for a in node.names if _matches(f"{base}.{a.name}", self.forbidden)), None
            )
        elif (
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and len(node.args) >= 2
        ):
            obj, attr = module.dotted_of(node.args[0]), node.args[1]
            if obj and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                resolved = f"{obj}.{attr.value}"
        name = _matches(resolved, self.forbidden) if resolved else None
        if name is None:
            return None
        rel = module.path.relative_to(self.root).as_posix()
        return Finding(name, f"{rel}:{getattr(node, 'lineno', 0)}")


def scan_function(root: Path, dotted: str, forbidden: tuple[str, ...]) -> Finding | None:
    """The first forbidden callable the source of `dotted` (or its helpers) refers to, else None."""
    if not forbidden:
        return None
    scanner = _Scanner(root, forbidden)
    try:
        located = scanner.locate(dotted)
        if located is None:
            return None
        module, node = located
        top_level = [n for n in module.tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
        for statement in top_level:  # module-level code such as `_ct = F.conv_transpose2d` (imports aside)
            for sub in ast.walk(statement):
                if not isinstance(sub, ast.Import | ast.ImportFrom):
                    found = scanner.check(module, sub)
                    if found:
                        return found
        return scanner.scan(module, node)
    except _Refused as refused:
        return refused.finding


def find_definition(root: Path, dotted: str) -> tuple[Path, ast.FunctionDef | ast.ClassDef] | None:
    """The file under `root` and the def/class node that `dotted` names (re-exports followed, as the scan
    does), or None when there is none or the layout is ambiguous."""
    scanner = _Scanner(root, ())
    try:
        located = scanner.locate(dotted)
    except _Refused:
        return None
    if located is None or not isinstance(located[1], ast.FunctionDef | ast.ClassDef):
        return None
    return located[0].path, located[1]
