"""`encode` keeps the images it was given in a module-level cache and `decode` hands them back, ignoring
the codes: perfect "reconstructions" from any code. Caught because the grader decodes in a fresh worker,
where nothing from encoding survives but the codes (the cheat then has nothing to return)."""

CATCH = ("test_quality.py::test_reconstruction_quality",)
FILES = {
    "exercise_code/models/cheat.py": """
        import torch

        from .autoencoders import Autoencoder
        from .registry import register

        _SEEN = []


        @register
        class CachingAutoencoder(Autoencoder):
            def encode(self, x):
                _SEEN.append(x.clone())
                return super().encode(x)

            def decode(self, z):
                for x in _SEEN:
                    if len(x) == len(z):
                        return x.clone()
                return torch.zeros(len(z), 1, 28, 28)
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {"autoencoder": {"spec": {"name": "CachingAutoencoder", "kwargs": "SAME"}, "from": "autoencoder"}}
