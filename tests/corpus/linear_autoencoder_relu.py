"""The "linear" autoencoder has a ReLU after its encoder, so it is no longer affine (and not PCA)."""

TARGET = "exercise_code.models.autoencoders.LinearAutoencoder.__init__"
CATCH = ("test_autoencoders.py::test_linear_autoencoder",)
SOURCE = """
def __init__(self, latent_dim=8, in_features=784):
    super().__init__()
    self.spec_kwargs = dict(latent_dim=latent_dim, in_features=in_features)
    self.encoder = nn.Sequential(nn.Linear(in_features, latent_dim), nn.ReLU())
    self.decoder = nn.Linear(latent_dim, in_features)
"""
