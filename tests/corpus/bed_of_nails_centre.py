"""Bed of nails puts each value in the centre of its block instead of the top-left corner."""

TARGET = "exercise_code.layers.unpooling.bed_of_nails_unpool2d"
CATCH = ("test_layers.py::test_bed_of_nails_unpool2d",)
SOURCE = """
def bed_of_nails_unpool2d(x, scale):
    check_4d(x)
    sh, sw = positive_pair(scale, "scale")
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H * sh, W * sw)
    out[:, :, sh // 2 :: sh, sw // 2 :: sw] = x
    return out
"""
