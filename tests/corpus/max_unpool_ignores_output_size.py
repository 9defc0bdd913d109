"""Max unpooling always uses the default output size and ignores `output_size`."""

TARGET = "exercise_code.layers.unpooling.max_unpool2d"
CATCH = ("test_layers.py::test_max_unpool2d",)
SOURCE = """
def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    check_4d(x)
    check_4d(indices, "indices")
    kernel = positive_pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else positive_pair(stride, "stride")
    pads = non_negative_pair(padding, "padding")
    N, C, H, W = x.shape
    H_out = (H - 1) * strides[0] - 2 * pads[0] + kernel[0]
    W_out = (W - 1) * strides[1] - 2 * pads[1] + kernel[1]
    out = x.new_zeros(N, C, H_out * W_out)
    out = out.scatter(2, indices.reshape(N, C, H * W), x.reshape(N, C, H * W))
    return out.reshape(N, C, H_out, W_out)
"""
