"""The autoencoder carries 2.5 M extra values in a registered buffer (float16, so the file stays under the
size limit): a lookup table the parameter count never saw, since buffers are not parameters. Caught
because the limits count every tensor of the saved state_dict, on the trusted side, before the model is
built; the model then earns no quality points either."""

CATCH = (
    "test_quality.py::test_model_limits[autoencoder]",
    "test_quality.py::test_reconstruction_quality",
)
FILES = {
    "exercise_code/models/cheat.py": """
        import torch

        from .autoencoders import Autoencoder
        from .registry import register


        @register
        class StuffedAutoencoder(Autoencoder):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.register_buffer("memory", torch.zeros(2_500_000, dtype=torch.float16))
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {
    "autoencoder": {
        "spec": {"name": "StuffedAutoencoder", "kwargs": "SAME"},
        "from": "autoencoder",
        "tensors": {"memory": [2500000]},
        "dtype": "float16",
    },
}
