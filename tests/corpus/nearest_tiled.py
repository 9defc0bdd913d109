"""Nearest unpooling tiles the whole image (`repeat`) instead of repeating each pixel (`repeat_interleave`)."""

TARGET = "exercise_code.layers.unpooling.nearest_unpool2d"
CATCH = ("test_layers.py::test_nearest_unpool2d",)
SOURCE = """
def nearest_unpool2d(x, scale):
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    return x.repeat(1, 1, sh, sw)
"""
