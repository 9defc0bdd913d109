"""Encoder flattens the whole batch into one vector (`x.view(-1)`) instead of one row per image."""

TARGET = "exercise_code.models.autoencoders.Encoder.forward"
CATCH = ("test_autoencoders.py::test_encoder_decoder", "test_autoencoders.py::test_autoencoder")
SOURCE = """
def forward(self, x):
    return self.net(x.view(-1))
"""
