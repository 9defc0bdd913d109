"""Decoder ends with a linear layer (no sigmoid), so reconstructions leave [0, 1]."""

TARGET = "exercise_code.models.autoencoders.Decoder.__init__"
CATCH = ("test_autoencoders.py::test_encoder_decoder",)
SOURCE = """
def __init__(self, latent_dim=20, hidden=(256,), out_shape=(1, 28, 28)):
    super().__init__()
    self.spec_kwargs = dict(latent_dim=latent_dim, hidden=list(hidden), out_shape=list(out_shape))
    self.out_shape = tuple(out_shape)
    self.net = nn.Sequential(*_mlp([latent_dim, *hidden, math.prod(out_shape)]))
"""
