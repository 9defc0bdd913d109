"""What a submission holds, for the student's helper and the grader's intake alike: the required files,
what is never zipped, the grader's size caps, and the notebook cell that makes each missing piece."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exercise_code.config import CONFIG

PACKAGE = "exercise_code"
NOTEBOOKS: tuple[str, ...] = (
    "01_unpooling_transpose_conv",
    "02_patch_segmentation",
    "03_fcn",
    "04_autoencoders",
)
"""The kit's notebooks, each handed in as `notebooks/<stem>.ipynb` (the grader matches them by name)."""

NEVER_SUBMITTED: tuple[str, ...] = (
    "__MACOSX",
    ".DS_Store",
    "Thumbs.db",
    "__pycache__",
    ".ipynb_checkpoints",
    ".git",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)
"""File and folder names never zipped (the grader's intake skips the same names)."""
NEVER_SUBMITTED_SUFFIXES: tuple[str, ...] = (".pyc", ".pyo")


@dataclass(frozen=True)
class ZipCaps:
    """What the grader's intake accepts (its `IntakeLimits` defaults): a zip over a cap is rejected."""

    max_files: int = 2000
    max_total_mb: float = 200.0
    """Sum of the file sizes, in MiB."""
    max_file_mb: float = 100.0
    """One file, in MiB."""


CAPS = ZipCaps()


@dataclass(frozen=True)
class SavedBy:
    """Where a submitted model is saved: a notebook and the title of its saving section."""

    notebook: str
    section: str


SAVED_BY: dict[str, SavedBy] = {
    "segmentation": SavedBy("03_fcn", "Part 5: Save the model you submit"),
    "autoencoder": SavedBy("04_autoencoders", "Part 6: Save the models you submit"),
    "classifier": SavedBy("04_autoencoders", "Part 6: Save the models you submit"),
}
"""Model name (`CONFIG.model_names`) -> the notebook section whose cell writes `models/<name>.pt`/`.json`."""


def required_files(
    model_names: tuple[str, ...] = CONFIG.model_names, notebooks: tuple[str, ...] | None = None
) -> list[str]:
    """The files every submission must hold, relative to its root.

    `notebooks`: the notebook stems each required as `notebooks/<stem>.ipynb` (the helper passes
    `NOTEBOOKS`); None asks only for some `notebooks/*.ipynb` (the grader's intake, which grades the
    notebooks it finds and reports the others itself).
    """
    files = [f"{PACKAGE}/__init__.py"]
    files += ["notebooks/*.ipynb"] if notebooks is None else [f"notebooks/{stem}.ipynb" for stem in notebooks]
    for name in model_names:
        files += [f"models/{name}.pt", f"models/{name}.json"]
    return files


def missing_parts(
    root: Path, model_names: tuple[str, ...] = CONFIG.model_names, notebooks: tuple[str, ...] | None = None
) -> list[str]:
    """The `required_files` that `root` lacks, in that order (empty when complete)."""
    missing = []
    for pattern in required_files(model_names, notebooks):
        if "*" in pattern:
            folder, glob = pattern.split("/", 1)
            if not any(p.is_file() for p in (Path(root) / folder).glob(glob)):
                missing.append(pattern)
        elif not (Path(root) / pattern).is_file():
            missing.append(pattern)
    return missing


def how_to_make(part: str) -> str:
    """What makes the required file `part` (a path from `required_files`), said to a student."""
    path = Path(part)
    if path.parts[0] == PACKAGE:
        return f"restore {part} from the released kit (your code lives in {PACKAGE}/)"
    if path.parts[0] == "notebooks":
        if "*" in part:
            return "keep your notebooks in notebooks/"
        return f"keep your copy of the released {path.name} in notebooks/ under that name"
    name = path.stem
    saved = SAVED_BY.get(name)
    if saved is None:
        return f"save the model {name!r} as models/{name}.pt (its state_dict) and models/{name}.json"
    return (
        f"run the cell under '{saved.section}' in notebooks/{saved.notebook}.ipynb, "
        "with fast mode off (KIT_FAST unset: fast mode saves to a temporary folder)"
    )


def missing_sentences(missing: list[str]) -> list[str]:
    """One sentence per missing part (a model's `.pt` and `.json` together), each with `how_to_make`."""
    sentences = []
    for part in missing:
        pair = part.removesuffix(".pt") + ".json" if part.endswith(".pt") else None
        if part.endswith(".json") and part.removesuffix(".json") + ".pt" in missing:
            continue  # said together with its .pt
        if pair in missing:
            sentences.append(f"{part} and {pair} are missing: {how_to_make(part)}")
        else:
            sentences.append(f"{part} is missing: {how_to_make(part)}")
    return sentences


def never_submitted(rel: Path) -> bool:
    """True for caches and OS junk (`NEVER_SUBMITTED`, `.pyc`) at the relative path `rel`."""
    return any(part in NEVER_SUBMITTED for part in rel.parts) or rel.suffix in NEVER_SUBMITTED_SUFFIXES
