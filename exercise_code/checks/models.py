"""Public checks of the saved models: `models/<name>.pt` + `.json` under the kit root for every
`CONFIG.model_names` name, loaded with `weights_only=True`, rebuilt with `build_model`, within
`CONFIG.limits_for(name)`, and answering the calls the grader makes (on random inputs).

Before a model is trained its check is a TODO ("not trained yet"), never a failure.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from exercise_code.config import CONFIG, state_dict_values
from exercise_code.models import build_model

from .inputs import expect_tensor
from .runner import CheckFailed, NotDoneYet, check, kit_root
from .settings import AUTOENCODERS, MODELS

MIB = 2**20


def _files(name: str) -> tuple[Path, Path]:
    """`models/<name>.pt` and `.json` under the kit root; NotDoneYet when neither exists."""
    folder = kit_root() / MODELS.folder
    weights, spec = folder / f"{name}.pt", folder / f"{name}.json"
    if not weights.exists() and not spec.exists():
        where = f"no {MODELS.folder}/ folder" if not folder.is_dir() else f"no {name}.pt or {name}.json in it"
        raise NotDoneYet(
            f"not trained yet: {where} under {kit_root().resolve()} (notebook {MODELS.notebook(name)} "
            f"trains the model and saves {MODELS.folder}/{name}.pt and {MODELS.folder}/{name}.json)"
        )
    for path, what in ((weights, "the state_dict"), (spec, "the JSON spec that rebuilds the model")):
        if not path.is_file():
            raise CheckFailed(f"{MODELS.folder}/{path.name} is missing: save {what} next to the other file")
    return weights, spec


def _state(name: str) -> tuple[dict[str, Any], Path, Path]:
    """The state_dict of `models/<name>.pt` (loaded with weights_only=True) and the two files' paths."""
    weights, spec_file = _files(name)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure is the student's to fix
        raise CheckFailed(
            f"{MODELS.folder}/{name}.pt does not load with torch.load(weights_only=True); save "
            f"model.state_dict(), not the model: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckFailed(
            f"{MODELS.folder}/{name}.pt must hold a state_dict (names -> tensors), got {type(state).__name__}"
        )
    return state, weights, spec_file


def _rebuild(name: str, state: dict[str, Any], spec_file: Path) -> nn.Module:
    """The model `models/<name>.json` describes, built with `build_model`, with `state` loaded (strict)."""
    rel = f"{MODELS.folder}/{name}"
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        spec = {"name": spec["name"], "kwargs": spec["kwargs"]}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(
            f'{rel}.json must be JSON like {{"name": ..., "kwargs": {{...}}}}: {type(exc).__name__}: {exc}'
        ) from None
    try:
        model = build_model(spec)
    except (ValueError, TypeError) as exc:
        raise CheckFailed(
            f"{rel}.json does not rebuild with build_model: {type(exc).__name__}: {exc}"
        ) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckFailed(
            f"{rel}.pt does not fit the model {rel}.json describes: {' '.join(first[:3])[:400]}"
        ) from None
    return model.eval()


def _within_limits(name: str, state: dict[str, Any], weights: Path) -> None:
    limits = CONFIG.limits_for(name)
    values = state_dict_values(state)
    if values > limits.max_parameters:
        raise CheckFailed(
            f"{MODELS.folder}/{name}.pt holds {values:,} values (parameters and buffers); the limit is "
            f"{limits.max_parameters:,}"
        )
    size = weights.stat().st_size / MIB
    if size > limits.max_file_mb:
        raise CheckFailed(
            f"{MODELS.folder}/{name}.pt is {size:.1f} MiB; the limit is {limits.max_file_mb:g} MiB"
        )


def _call(fn, x: torch.Tensor, expected: tuple[int, ...], what: str) -> torch.Tensor:
    with torch.no_grad():
        out = expect_tensor(fn(x), what)
    if tuple(out.shape) != expected:
        raise CheckFailed(f"{what}: expected shape {expected}, got {tuple(out.shape)}")
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise CheckFailed(f"{what}: the output holds NaN or inf")
    return out


def _segmentation_answers(model: nn.Module) -> None:
    from exercise_code.data.scenes import NUM_SCENE_CLASSES

    S = CONFIG.scene_size
    x = torch.rand(2, 3, S, S, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = expect_tensor(model(x), f"the segmentation model on scenes of shape {tuple(x.shape)}")
    logits, labels = (2, NUM_SCENE_CLASSES, S, S), (2, S, S)
    if not (tuple(out.shape) == logits or (tuple(out.shape) == labels and not out.is_floating_point())):
        raise CheckFailed(
            f"the segmentation model on scenes of shape {tuple(x.shape)}: expected logits of shape {logits} "
            f"({NUM_SCENE_CLASSES} classes) or integer labels of shape {labels}, got {tuple(out.shape)} "
            f"({out.dtype})"
        )


def _digit_answers(name: str, model: nn.Module) -> None:
    N, L = 2, CONFIG.latent_dim
    x = torch.rand(N, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if name == "autoencoder":
        first, second = getattr(model, "encode", None), getattr(model, "decode", None)
        if not (callable(first) and callable(second)):
            raise CheckFailed(
                "the autoencoder needs the methods `encode` and `decode`: the grader calls them"
            )
        codes = _call(first, x, (N, L), f"the autoencoder's encode(x) (latent size {L} from CONFIG)")
        _call(second, codes, tuple(x.shape), "the autoencoder's decode(encode(x))")
        return
    first, second = getattr(model, "encoder", None), getattr(model, "head", None)
    if not (isinstance(first, nn.Module) and isinstance(second, nn.Module)):
        raise CheckFailed("the classifier needs the submodules `encoder` and `head`: the grader calls them")
    codes = _call(first, x, (N, L), f"classifier.encoder(x) (latent size {L} from CONFIG)")
    _call(second, codes, (N, AUTOENCODERS.classes), "classifier.head(encoder(x))")


def _same_encoder(state: dict[str, Any]) -> None:
    """The classifier's encoder has the tensors of the autoencoder's encoder (it was fine-tuned from it)."""
    weights = kit_root() / MODELS.folder / "autoencoder.pt"
    if not weights.is_file():
        return  # the autoencoder's own check says what is missing
    try:
        pretrained = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception:  # the autoencoder's own check reports it
        return

    def shapes(s: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {k.removeprefix("encoder."): tuple(v.shape) for k, v in s.items() if k.startswith("encoder.")}

    mine, theirs = shapes(state), shapes(pretrained)
    if mine != theirs:
        diff = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))[:3]
        details = "; ".join(
            f"encoder.{k}: {mine.get(k, 'absent')} vs {theirs.get(k, 'absent')}" for k in diff
        )
        raise CheckFailed(
            "the classifier's encoder must be the autoencoder's encoder, fine-tuned (same tensors): "
            f"{details} (classifier vs autoencoder)"
        )


def _check_model(name: str) -> None:
    state, weights, spec_file = _state(name)
    _within_limits(name, state, weights)  # from the file, before any code of the model runs (as the grader)
    model = _rebuild(name, state, spec_file)
    if name == "segmentation":
        _segmentation_answers(model)
    elif name in ("autoencoder", "classifier"):
        _digit_answers(name, model)
    if name == "classifier":
        _same_encoder(state)


for _name in CONFIG.model_names:
    check("models", f"models/{_name}")(partial(_check_model, _name))
