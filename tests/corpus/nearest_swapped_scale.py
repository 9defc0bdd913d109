"""Nearest unpooling repeats rows by the width factor and columns by the height factor (sh, sw swapped)."""

TARGET = "exercise_code.layers.unpooling.nearest_unpool2d"
CATCH = ("test_layers.py::test_nearest_unpool2d",)
SOURCE = """
def nearest_unpool2d(x, scale):
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    return x.repeat_interleave(sw, dim=2).repeat_interleave(sh, dim=3)
"""
