"""The "autoencoder" hands its input through unchanged: `encode` returns the image itself (a 784-wide
code), `decode` reshapes it back. Caught because reconstructions are scored as decode(encode(x)) with codes
of the configured latent size only."""

CATCH = ("test_quality.py::test_reconstruction_quality", "test_quality.py::test_autoencoder_latent_dim")
FILES = {
    "exercise_code/models/cheat.py": """
        import torch

        from .registry import register


        @register
        class Passthrough(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.spec_kwargs = {}

            def encode(self, x):
                return x.flatten(1)

            def decode(self, z):
                return z.view(len(z), 1, 28, 28)

            def forward(self, x):
                return x.clone()
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {"autoencoder": {"spec": {"name": "Passthrough", "kwargs": {}}}}
