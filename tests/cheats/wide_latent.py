"""A real MLP autoencoder, but with a 64-wide code instead of the assignment's latent size (an easier
compression problem). Caught because the code must have the configured size."""

CATCH = ("test_quality.py::test_reconstruction_quality", "test_quality.py::test_autoencoder_latent_dim")
MODELS = {
    "autoencoder": {
        "spec": {
            "name": "Autoencoder",
            "kwargs": {"latent_dim": 64, "hidden": [32], "in_shape": [1, 28, 28]},
        },
        "tensors": {
            "encoder.net.0.weight": [32, 784],
            "encoder.net.0.bias": [32],
            "encoder.net.2.weight": [64, 32],
            "encoder.net.2.bias": [64],
            "decoder.net.0.weight": [32, 64],
            "decoder.net.0.bias": [32],
            "decoder.net.2.weight": [784, 32],
            "decoder.net.2.bias": [784],
        },
    },
}
