"""The autoencoder's decoder is built with out_shape=in_shape[1:] (28 x 28), so reconstructions lose the
channel dimension: (N, 28, 28) instead of the input's (N, 1, 28, 28)."""

TARGET = "exercise_code.models.autoencoders.Autoencoder.__init__"
CATCH = ("test_autoencoders.py::test_autoencoder",)
SOURCE = """
def __init__(self, latent_dim=20, hidden=(256,), in_shape=(1, 28, 28)):
    super().__init__()
    self.spec_kwargs = dict(latent_dim=latent_dim, hidden=list(hidden), in_shape=list(in_shape))
    self.encoder = Encoder(math.prod(in_shape), hidden, latent_dim)
    self.decoder = Decoder(latent_dim, tuple(reversed(hidden)), in_shape[1:])
"""
