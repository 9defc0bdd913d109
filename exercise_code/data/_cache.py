"""Where generated data is cached on disk, and the key that names a cached file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_ENV = "KIT_DATA_CACHE"
"""Environment variable that overrides the cache directory."""


def cache_dir() -> Path:
    """The data cache: `$KIT_DATA_CACHE`, else `<repo>/datasets/cache` in a checkout, else `~/.cache/...`.

    The directory is not created here; writers create it.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "datasets").is_dir():
        return repo / "datasets" / "cache"
    return Path.home() / ".cache" / "dense-prediction-kit"


def params_key(params: dict) -> str:
    """A short stable hash of JSON-able parameters (sorted keys): the name of a cached file."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
