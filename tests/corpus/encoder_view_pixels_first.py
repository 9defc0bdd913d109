"""Encoder reshapes to (784, N) (`x.view(784, -1)`): pixels first, so the batch lands on the feature axis."""

TARGET = "exercise_code.models.autoencoders.Encoder.forward"
CATCH = ("test_autoencoders.py::test_encoder_decoder", "test_autoencoders.py::test_autoencoder")
SOURCE = """
def forward(self, x):
    return self.net(x.reshape(784, -1))
"""
