"""Rebuild models from JSON specs: a submitted model is a `state_dict` plus `{"name", "kwargs"}`.

Every model class of the kit is decorated with `@register` and keeps its constructor arguments in
`self.spec_kwargs` (JSON values only; a nested model is itself a spec), so `model_spec(model)`
round-trips through `build_model`. No pickled modules anywhere.
"""

from __future__ import annotations

from typing import Any, TypeVar

from torch import nn

_REGISTRY: dict[str, type[nn.Module]] = {}

M = TypeVar("M", bound=type[nn.Module])


def register(cls: M) -> M:
    """Class decorator: make `cls` buildable by name from a JSON spec."""
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_models() -> list[str]:
    """Names `build_model` accepts."""
    return sorted(_REGISTRY)


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"name", "kwargs"}


def model_spec(model: nn.Module) -> dict[str, Any]:
    """The JSON spec of `model`: `{"name": class name, "kwargs": constructor arguments}`."""
    name = type(model).__name__
    if name not in _REGISTRY:
        raise ValueError(f"model class {name!r} is not registered; known: {registered_models()}")
    kwargs = getattr(model, "spec_kwargs", None)
    if not isinstance(kwargs, dict):
        raise ValueError(f"{name} has no `spec_kwargs` dict of constructor arguments")
    return {"name": name, "kwargs": kwargs}


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Instantiate a registered model from its spec; nested specs in kwargs are built first."""
    if not _is_spec(spec):
        raise ValueError(f"a model spec is a dict with keys 'name' and 'kwargs', got {spec!r}")
    name = spec["name"]
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known: {registered_models()}")
    kwargs = {k: build_model(v) if _is_spec(v) else v for k, v in spec["kwargs"].items()}
    return _REGISTRY[name](**kwargs)
