"""Classifier builds a fresh encoder from the spec instead of copying the pretrained one (pretraining lost)."""

TARGET = "exercise_code.models.autoencoders.Classifier.__init__"
CATCH = ("test_autoencoders.py::test_classifier_keeps_encoder",)
SOURCE = """
def __init__(self, encoder, num_classes=10, freeze_encoder=False, hidden=64):
    super().__init__()
    self.spec_kwargs = dict(encoder=model_spec(encoder), num_classes=num_classes,
                            freeze_encoder=freeze_encoder, hidden=hidden)
    latent_dim = getattr(encoder, "latent_dim", None) or encoder.spec_kwargs["latent_dim"]
    self.encoder = type(encoder)(**encoder.spec_kwargs)
    for p in self.encoder.parameters():
        p.requires_grad_(not freeze_encoder)
    self.head = nn.Sequential(nn.ReLU(), nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
"""
