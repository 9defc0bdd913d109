"""What a complete submission holds: `exercise_code/`, `notebooks/*.ipynb`, `models/<name>.pt` + `.json`."""

from __future__ import annotations

from pathlib import Path

from exercise_code.config import CONFIG


def required_files(model_names: tuple[str, ...] = CONFIG.model_names) -> list[str]:
    """The files every submission must hold (patterns for the notebooks)."""
    files = ["exercise_code/__init__.py", "notebooks/*.ipynb"]
    for name in model_names:
        files += [f"models/{name}.pt", f"models/{name}.json"]
    return files


def missing_parts(root: Path, model_names: tuple[str, ...] = CONFIG.model_names) -> list[str]:
    """The required files that `root` lacks, in `required_files` order (empty when complete)."""
    missing = []
    for pattern in required_files(model_names):
        if "*" in pattern:
            folder, glob = pattern.split("/", 1)
            if not any(p.is_file() for p in (root / folder).glob(glob)):
                missing.append(pattern)
        elif not (root / pattern).is_file():
            missing.append(pattern)
    return missing
