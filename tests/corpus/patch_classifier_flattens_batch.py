"""PatchClassifier.forward flattens the whole batch into one vector (`flatten()` without start_dim=1)
before the fully connected layers, so it only works for one patch at a time, if at all."""

TARGET = "exercise_code.models.patch.PatchClassifier.forward"
CATCH = ("test_patch.py::test_patch_classifier",)
SOURCE = """
def forward(self, x):
    features = self.features(x).flatten()
    return self.classifier(features.view(1, -1)).view(-1, self.classifier[-1].out_features)
"""
