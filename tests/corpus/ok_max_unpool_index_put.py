"""Correct: max unpooling by advanced indexing (row = index // W_out, column = index % W_out)."""

TARGET = "exercise_code.layers.unpooling.max_unpool2d"
FULL = ("test_layers.py::test_max_unpool2d", "test_layers.py::test_max_unpool2d_module")
SOURCE = """
def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    check_4d(x)
    check_4d(indices, "indices")
    kernel = positive_pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else positive_pair(stride, "stride")
    pads = non_negative_pair(padding, "padding")
    H_out, W_out = max_unpool_output_size(x.shape[-2:], kernel, strides, pads, output_size)
    N, C, H, W = x.shape
    out = x.new_zeros(N, C, H_out, W_out)
    n = torch.arange(N).view(N, 1, 1, 1).expand_as(indices)
    c = torch.arange(C).view(1, C, 1, 1).expand_as(indices)
    out[n, c, indices // W_out, indices % W_out] = x
    return out
"""
