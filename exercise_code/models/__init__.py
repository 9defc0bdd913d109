"""Models: patch-based segmentation and its fully convolutional twin, FCNs, autoencoders, PCA."""

from .autoencoders import Autoencoder, Classifier, ConvAutoencoder, Decoder, Encoder, LinearAutoencoder
from .fcn import FCN, Backbone, Variant
from .fully_conv import DenseMaxPool2d, DensePatchNet, fully_convolutional
from .patch import PatchClassifier, extract_patches, segment_by_patches
from .pca import PCA, pca, principal_angles
from .registry import build_model, model_spec, register, registered_models

__all__ = [
    "Backbone",
    "Variant",
    "FCN",
    "PCA",
    "Autoencoder",
    "Classifier",
    "ConvAutoencoder",
    "Decoder",
    "DenseMaxPool2d",
    "DensePatchNet",
    "Encoder",
    "LinearAutoencoder",
    "PatchClassifier",
    "build_model",
    "extract_patches",
    "fully_convolutional",
    "model_spec",
    "pca",
    "principal_angles",
    "register",
    "registered_models",
    "segment_by_patches",
]
