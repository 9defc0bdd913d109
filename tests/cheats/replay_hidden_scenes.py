"""The segmentation model regenerates the hidden scenes inside the sandbox, from the seed the grader used to
derive from the public grading seed (which the worker can read back from torch's initial seed), and answers
with their masks: no training. Caught because the scene seed is now derived from a secret key that never
enters the sandbox (and the digits the scenes are drawn from are not readable there)."""

CATCH = ("test_quality.py::test_segmentation_quality",)
FILES = {
    "exercise_code/models/cheat.py": """
        import hashlib

        import torch

        from exercise_code.data import DigitScenes

        from .registry import register


        @register
        class SceneReplay(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.spec_kwargs = {}

            def forward(self, images):
                grading_seed = torch.initial_seed()
                digest = hashlib.sha256(f"{grading_seed}:hidden scenes".encode()).digest()
                seed = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
                known, masks = DigitScenes("test", 64, images.shape[-1], seed).tensors()
                found = [int(torch.nonzero((known == x).flatten(1).all(1))[0]) for x in images]
                return torch.nn.functional.one_hot(masks[found], 11).permute(0, 3, 1, 2).float()
    """,
}
APPEND = {"exercise_code/models/__init__.py": "from . import cheat  # noqa: F401, E402\n"}
MODELS = {"segmentation": {"spec": {"name": "SceneReplay", "kwargs": {}}}}
