"""Correct: nearest unpooling by gathering rows i // sh and columns j // sw."""

TARGET = "exercise_code.layers.unpooling.nearest_unpool2d"
FULL = ("test_layers.py::test_nearest_unpool2d",)
SOURCE = """
def nearest_unpool2d(x, scale):
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    H, W = x.shape[-2:]
    rows = torch.arange(H * sh) // sh
    cols = torch.arange(W * sw) // sw
    return x[:, :, rows][:, :, :, cols]
"""
