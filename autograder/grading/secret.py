"""The secret key of a grading run: it fixes the hidden scenes and digits, and never enters the sandbox.

A batch draws the key from the OS once and keeps it in `<out>/.hidden-key` (mode 0600, beside the
results, so a resumed run grades the rest on the same hidden data), unless the TA gives a key file of
their own (`--secret-file`, e.g. to grade a late submission on the same data as the class). The public
grading seed (`--seed`) only draws the randomised cases of the implementation tests.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from autograder.errors import GradingError

from ..hidden.hidden_data import KEY_BITS

KEY_FILE = ".hidden-key"
"""Name of the key file a batch writes into its output folder."""


def draw_key() -> int:
    """A fresh key from the OS's random source."""
    return secrets.randbits(KEY_BITS)


def read_key(path: Path) -> int:
    """The key in `path` (hexadecimal text, as `write_key` writes it)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        key = int(text, 16)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GradingError(f"cannot read the hidden-data key from {path}: {exc}") from None
    if not 0 <= key < 2**KEY_BITS or len(text) < 8:
        raise GradingError(
            f"the hidden-data key in {path} must be 8 to 16 hex digits, got {len(text)} characters"
        )
    return key


def write_key(path: Path, key: int) -> Path:
    """Write `key` to a new file readable by its owner only; an existing file is kept as it is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{key:016x}\n")
    return path


def batch_key_file(out: Path, secret_file: Path | None = None) -> Path:
    """The key file a batch's graders read: the TA's `secret_file`, else `<out>/.hidden-key` (made once)."""
    if secret_file is not None:
        read_key(secret_file)  # fail early and clearly
        return Path(secret_file).resolve()
    path = Path(out).resolve() / KEY_FILE
    if not path.exists():
        try:
            write_key(path, draw_key())
        except FileExistsError:  # another batch on the same folder made it first
            pass
    read_key(path)
    return path
