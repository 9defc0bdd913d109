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


def _literals(path: Path, kind: str) -> tuple[ast.Module, dict[str, object]]:
    """The parsed file and its top-level `NAME = literal` assignments (read, never executed)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError) as exc:
        raise VerifyError(f"cannot read {kind} {path}: {exc}") from None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                raise VerifyError(f"{path.name}: {node.targets[0].id} must be a literal") from None
    return tree, values


def load_entry(path: Path) -> CorpusEntry:
    """Read one corpus file (literal assignments only; nothing in it is executed)."""
    tree, values = _literals(path, "corpus entry")
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


# --- cheats: submissions that try to earn points without doing the work --------------------------------


@dataclass(frozen=True)
class CheatEntry:
    """A cheating submission: the reference kit plus the student's extra files and models.

    Every test named in `catch` (a rubric key such as `test_quality.py::test_few_label_accuracy`, or one
    case, `test_quality.py::test_model_limits[autoencoder]`) must earn (almost) nothing.
    """

    name: str
    catch: tuple[str, ...]
    files: dict[str, str]
    """Path in the submission -> text, written over the reference kit."""
    append: dict[str, str]
    """Path in the submission -> text appended to the reference file (e.g. an import that registers)."""
    models: dict[str, dict]
    """Model name -> `{"spec": {...}, "from": reference model name or None, "tensors": {key: [shape]},
    "dtype": "float32", "expand": False}`: the spec (`"kwargs": "SAME"` takes the reference model's), the
    state_dict of a reference model (or none), plus zero tensors (stride-0 views of one zero if `expand`)."""
    target: str = ""
    source: str = ""
    """Optional, as in a bug entry: a function of the kit replaced by this source."""
    description: str = ""
    kind: str = "cheat"

    @property
    def suite_files(self) -> tuple[str, ...]:
        return tuple(sorted({key.split("::", 1)[0] for key in self.catch}))


def load_cheat(path: Path) -> CheatEntry:
    """Read one cheat entry (literal assignments only; nothing in it runs on the trusted side)."""
    tree, values = _literals(path, "cheat entry")
    catch = _strings(values.get("CATCH", ()), "CATCH", path)
    if not catch:
        raise VerifyError(f"{path.name}: CATCH must name the tests the cheat must not earn points on")
    tables = {}
    for field in ("FILES", "APPEND", "MODELS"):
        table = values.get(field, {})
        if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
            raise VerifyError(f"{path.name}: {field} must be a dict keyed by paths or model names")
        tables[field] = table
    for rel in [*tables["FILES"], *tables["APPEND"]]:
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise VerifyError(f"{path.name}: {rel!r} must be a relative path inside the submission")
    target, source = values.get("TARGET", ""), values.get("SOURCE", "")
    if not isinstance(target, str) or not isinstance(source, str) or bool(target) != bool(source):
        raise VerifyError(f"{path.name}: TARGET and SOURCE go together, as strings")
    return CheatEntry(
        name=path.stem,
        catch=catch,
        files=dict(tables["FILES"]),
        append=dict(tables["APPEND"]),
        models=dict(tables["MODELS"]),
        target=target,
        source=source,
        description=(ast.get_docstring(tree) or "").strip(),
    )


def load_cheats(folder: Path, only: tuple[str, ...] | list[str] = ()) -> list[CheatEntry]:
    """Every `*.py` cheat entry in `folder` (or just the names in `only` that are there)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VerifyError(f"cheats folder {folder} does not exist")
    entries = [load_cheat(p) for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    return [e for e in entries if e.name in only] if only else entries


def apply_cheat(root: Path, entry: CheatEntry, models: Path | None) -> None:
    """Turn the reference kit copy at `root` (with `root/models` from `models`) into the cheat."""
    import json

    import torch

    if entry.target:
        path, qualname = target_module(root, entry.target)
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_definition(text, qualname, entry.source, where=entry.name), encoding="utf-8")
    for rel, text in entry.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    for rel, text in entry.append.items():
        with open(root / rel, "a", encoding="utf-8") as handle:
            handle.write("\n" + textwrap.dedent(text).lstrip("\n"))
    for name, plan in entry.models.items():
        state: dict = {}
        if plan.get("from"):
            if models is None:
                raise VerifyError(f"{entry.name}: models/{name} starts from a reference model; give --models")
            state = torch.load(Path(models) / f"{plan['from']}.pt", weights_only=True)
        dtype = getattr(torch, str(plan.get("dtype", "float32")))
        for key, shape in dict(plan.get("tensors", {})).items():
            zeros = torch.zeros(1, dtype=dtype).expand(*shape) if plan.get("expand") else None
            state[key] = zeros if zeros is not None else torch.zeros(*shape, dtype=dtype)
        spec = dict(plan["spec"])
        if spec.get("kwargs") == "SAME":  # the reference model's constructor arguments
            spec["kwargs"] = json.loads((Path(models or "") / f"{plan['from']}.json").read_text())["kwargs"]
        (root / "models").mkdir(exist_ok=True)
        torch.save(state, root / "models" / f"{name}.pt")
        (root / "models" / f"{name}.json").write_text(json.dumps(spec), encoding="utf-8")
