"""The corpus of wrong (and alternative correct) solutions: one small Python file per entry.

An entry names the function it replaces and the hidden tests that must notice:

    '''Bed of nails in the centre of each block instead of its top-left corner.'''
    TARGET = "exercise_code.layers.unpooling.bed_of_nails_unpool2d"   # module path + qualified name
    CATCH = ("test_layers.py::test_bed_of_nails_unpool2d",)           # must lose points there
    SOURCE = '''
    def bed_of_nails_unpool2d(x, scale):
        ...
    '''

A correct alternative says `FULL = (...)` (tests that must keep full marks) instead of `CATCH`. Entries are
read with `ast.literal_eval`, never executed; the replacement is spliced into a copy of the reference by
line range of the function's definition.
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import VerifyError

PACKAGE = "exercise_code"


@dataclass(frozen=True)
class CorpusEntry:
    """One wrong solution (`catch` set) or alternative correct one (`full` set)."""

    name: str
    target: str
    source: str
    catch: tuple[str, ...] = ()
    """Rubric keys (`test_layers.py::test_x`) of tests that must lose points."""
    full: tuple[str, ...] = ()
    """Rubric keys of tests that must keep full marks."""
    description: str = ""

    @property
    def kind(self) -> str:
        return "bug" if self.catch else "correct"

    @property
    def suite_files(self) -> tuple[str, ...]:
        """The hidden test files that hold the tests this entry is checked on."""
        return tuple(sorted({key.split("::", 1)[0] for key in (*self.catch, *self.full)}))


def _strings(value: object, field: str, path: Path) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, tuple | list) or not all(isinstance(v, str) and "::" in v for v in items):
        raise VerifyError(
            f"{path.name}: {field} must be test names like 'test_layers.py::test_x', got {value!r}"
        )
    return tuple(items)


def load_entry(path: Path) -> CorpusEntry:
    """Read one corpus file (literal assignments only; nothing in it is executed)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError) as exc:
        raise VerifyError(f"cannot read corpus entry {path}: {exc}") from None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                raise VerifyError(f"{path.name}: {node.targets[0].id} must be a literal") from None
    for field in ("TARGET", "SOURCE"):
        if not isinstance(values.get(field), str):
            raise VerifyError(f"{path.name}: {field} must be a string")
    catch = _strings(values.get("CATCH", ()), "CATCH", path)
    full = _strings(values.get("FULL", ()), "FULL", path)
    if bool(catch) == bool(full):
        raise VerifyError(f"{path.name}: give exactly one of CATCH (a bug) or FULL (a correct alternative)")
    target = str(values["TARGET"])
    if not target.startswith(PACKAGE + "."):
        raise VerifyError(f"{path.name}: TARGET must name a function inside {PACKAGE}, got {target!r}")
    return CorpusEntry(
        name=path.stem,
        target=target,
        source=str(values["SOURCE"]),
        catch=catch,
        full=full,
        description=(ast.get_docstring(tree) or "").strip(),
    )


def load_corpus(folder: Path, only: tuple[str, ...] | list[str] = ()) -> list[CorpusEntry]:
    """Every `*.py` entry in `folder` (files starting with `_` are skipped), or just the names in `only`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VerifyError(f"corpus folder {folder} does not exist")
    entries = [load_entry(p) for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    if only:
        unknown = set(only) - {e.name for e in entries}
        if unknown:
            raise VerifyError(f"no corpus entries named {sorted(unknown)} in {folder}")
        entries = [e for e in entries if e.name in only]
    return entries


def target_module(root: Path, target: str) -> tuple[Path, list[str]]:
    """The module file under `root` that defines `target`, and the qualified name inside it."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        base = Path(root).joinpath(*parts[:cut])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[cut:]
    raise VerifyError(f"no module under {root} defines {target}")


def replace_definition(text: str, qualname: list[str], source: str, *, where: str = "<module>") -> str:
    """`text` (a module's source) with the def/class `qualname` replaced by `source`, re-indented."""
    tree = ast.parse(text)
    body: list[ast.stmt] = tree.body
    node: ast.stmt | None = None
    for part in qualname:
        node = next(
            (n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part), None
        )
        if node is None:
            raise VerifyError(f"{where} defines no {'.'.join(qualname)}")
        body = node.body
    assert node is not None
    new = textwrap.dedent(source).strip("\n")
    try:
        new_tree = ast.parse(new)
    except SyntaxError as exc:
        raise VerifyError(f"the replacement for {'.'.join(qualname)} does not parse: {exc}") from None
    names = [n.name for n in new_tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    if names != [qualname[-1]]:
        raise VerifyError(f"the replacement must define exactly {qualname[-1]!r}, it defines {names}")
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    indent = " " * node.col_offset
    lines = text.split("\n")
    replacement = [indent + line if line.strip() else "" for line in new.split("\n")]
    result = "\n".join(lines[: start - 1] + replacement + lines[node.end_lineno :])
    try:
        ast.parse(result)
    except SyntaxError as exc:  # pragma: no cover - indentation mishaps in an entry
        raise VerifyError(f"{where}: the patched module does not parse: {exc}") from None
    return result


def copy_package(source: Path, dest: Path) -> None:
    """Copy `source/exercise_code` to `dest/exercise_code` (no caches)."""
    package = Path(source) / PACKAGE
    if not package.is_dir():
        raise VerifyError(f"{source} holds no {PACKAGE} package")
    shutil.copytree(package, Path(dest) / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def apply_entry(root: Path, entry: CorpusEntry) -> Path:
    """Patch the kit copy at `root` in place with `entry`; returns the changed module file."""
    path, qualname = target_module(root, entry.target)
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_definition(text, qualname, entry.source, where=entry.name), encoding="utf-8")
    return path
