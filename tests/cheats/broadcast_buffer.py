"""The segmentation model's file holds a 7.4 M-value buffer stored as a broadcast view of one number
(stride 0), so the file is a few bytes and a parameter count reports nothing. Caught because the limits
count the values every tensor shows, from the file, on the trusted side."""

CATCH = ("test_quality.py::test_model_limits[segmentation]", "test_quality.py::test_segmentation_quality")
FILES = {
    "exercise_code/models/cheat.py": """
        import torch

        from .registry import register


        @register
        class Broadcast(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.spec_kwargs = {}
                self.register_buffer("table", torch.zeros(1).expand(7_400_000))

            def forward(self, images):
                return torch.zeros(len(images), 11, *images.shape[-2:])
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {
    "segmentation": {
        "spec": {"name": "Broadcast", "kwargs": {}},
        "tensors": {"table": [7400000]},
        "expand": True,
    }
}
