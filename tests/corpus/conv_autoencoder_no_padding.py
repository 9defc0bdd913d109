"""The convolutional decoder's transpose convolutions have no padding: 7 -> 16 -> 34 instead of
7 -> 14 -> 28, so reconstructions are 34 x 34."""

TARGET = "exercise_code.models.autoencoders.ConvAutoencoder.__init__"
CATCH = ("test_autoencoders.py::test_conv_autoencoder",)
SOURCE = """
def __init__(self, latent_dim=20, width=16):
    super().__init__()
    self.spec_kwargs = dict(latent_dim=latent_dim, width=width)
    w = width
    self.encoder = nn.Sequential(
        nn.Conv2d(1, w, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * w * 49, latent_dim),
    )
    self.decoder = nn.Sequential(
        nn.Linear(latent_dim, 2 * w * 49),
        nn.ReLU(),
        nn.Unflatten(1, (2 * w, 7, 7)),
        ConvTranspose2d(2 * w, w, 4, stride=2),
        nn.ReLU(),
        ConvTranspose2d(w, 1, 4, stride=2),
        nn.Sigmoid(),
    )
"""
