"""Correct: the loop version written as a loop over kernel taps instead of input pixels."""

TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d_loops"
FULL = ("test_layers.py::test_conv_transpose2d_loops",)
SOURCE = """
def conv_transpose2d_loops(x, weight, bias=None, stride=1, padding=0):
    check_4d(x)
    _check_weight_bias(x, weight, bias, 1)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = weight.shape
    full = x.new_zeros(N, C_out, (H - 1) * sH + kH, (W - 1) * sW + kW)
    for a in range(kH):
        for b in range(kW):
            full[:, :, a : a + (H - 1) * sH + 1 : sH, b : b + (W - 1) * sW + 1 : sW] += torch.einsum(
                "nchw,co->nohw", x, weight[:, :, a, b]
            )
    out = full[:, :, pH : full.shape[2] - pH, pW : full.shape[3] - pW]
    return out if bias is None else out + bias.view(1, -1, 1, 1)
"""
