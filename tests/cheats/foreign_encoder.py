"""The classifier is not built on the pretrained encoder: its encoder carries tensors of its own (here one
extra buffer; in practice a bigger network trained on the labels alone). Caught because the classifier's
encoder must have exactly the autoencoder's encoder tensors (names and shapes) before it is scored."""

CATCH = ("test_quality.py::test_few_label_accuracy",)
FILES = {
    "exercise_code/models/cheat.py": """
        import torch

        from .autoencoders import Classifier
        from .registry import register


        @register
        class OwnEncoderClassifier(Classifier):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.encoder.register_buffer("extra", torch.zeros(3))
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {
    "classifier": {
        "spec": {"name": "OwnEncoderClassifier", "kwargs": "SAME"},
        "from": "classifier",
        "tensors": {"encoder.extra": [3]},
    },
}
