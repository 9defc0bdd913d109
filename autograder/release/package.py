"""Release step 1: copy the allowed files of the source package, with every solution region stripped."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import ReleaseError

from .markers import strip_solutions
from .policy import DEFAULT_POLICY, ReleasePolicy


@dataclass
class PackageStep:
    """What the package step wrote (paths relative to the release root)."""

    files: list[Path] = field(default_factory=list)
    regions: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    """Released `.py` file -> the functions whose solution regions were stripped."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Source files left out, with the reason."""


def package_files(
    source: Path, policy: ReleasePolicy = DEFAULT_POLICY
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(files to release, files skipped with a reason) of the package under the kit root `source`."""
    package = source / policy.package
    if not package.is_dir():
        raise ReleaseError(f"no {policy.package}/ package under {source}")
    keep: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink():
            skipped.append((rel, "a symbolic link"))
        elif path.is_file():
            reason = policy.skip_reason(rel)
            if reason:
                if "__pycache__" not in rel.parts:  # bytecode caches are not worth reporting
                    skipped.append((rel, reason))
            else:
                keep.append(path)
    return keep, skipped


def release_package(source: Path, staging: Path, policy: ReleasePolicy = DEFAULT_POLICY) -> PackageStep:
    """Write the student copy of `source/<package>` into `staging`; MarkerError on broken markers."""
    files, skipped = package_files(source, policy)
    step = PackageStep(skipped=skipped)
    for path in files:
        rel = path.relative_to(source)
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            text, regions = strip_solutions(path.read_text(encoding="utf-8"), rel)
            target.write_text(text, encoding="utf-8")
            if regions:
                step.regions[rel] = tuple(region.function for region in regions)
        else:
            shutil.copyfile(path, target)
        step.files.append(rel)
    return step
