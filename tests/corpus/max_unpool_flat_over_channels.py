"""Max unpooling scatters into one flat vector over C * H * W, but the indices count within each (n, c) plane."""

TARGET = "exercise_code.layers.unpooling.max_unpool2d"
CATCH = ("test_layers.py::test_max_unpool2d",)
SOURCE = """
def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    check_4d(x)
    check_4d(indices, "indices")
    kernel = positive_pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else positive_pair(stride, "stride")
    pads = non_negative_pair(padding, "padding")
    H_out, W_out = max_unpool_output_size(x.shape[-2:], kernel, strides, pads, output_size)
    N, C, H, W = x.shape
    out = x.new_zeros(N, C * H_out * W_out)
    out = out.scatter(1, indices.reshape(N, -1), x.reshape(N, -1))
    return out.reshape(N, C, H_out, W_out)
"""
