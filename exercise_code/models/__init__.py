"""Models: patch-based segmentation and its fully convolutional twin, FCNs, autoencoders."""

from .registry import build_model, model_spec, register, registered_models

__all__ = ["build_model", "model_spec", "register", "registered_models"]
