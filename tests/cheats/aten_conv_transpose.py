"""conv_transpose2d calls the forbidden op through the dispatcher (`torch.ops.aten.convolution` with
transposed=True), a name the AST scan's list does not spell and the old attribute wrappers never saw.
Caught by the guard's dispatcher layer."""

CATCH = ("test_layers.py::test_conv_transpose2d",)
TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d"
SOURCE = """
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    import torch

    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    op = getattr(torch.ops.aten, "convol" + "ution")
    return op(x, weight, bias, pair(stride), pair(padding), pair(dilation), True, pair(output_padding), groups)
"""
