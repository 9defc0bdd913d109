"""Loop transpose convolution crops padding - 1 at the bottom/right (off by one in the slice end)."""

TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d_loops"
CATCH = ("test_layers.py::test_conv_transpose2d_loops",)
SOURCE = """
def conv_transpose2d_loops(x, weight, bias=None, stride=1, padding=0):
    check_4d(x)
    _check_weight_bias(x, weight, bias, 1)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = weight.shape
    full = x.new_zeros(N, C_out, (H - 1) * sH + kH, (W - 1) * sW + kW)
    for i in range(H):
        for j in range(W):
            stamp = torch.einsum("nc,cokl->nokl", x[:, :, i, j], weight)
            full[:, :, i * sH : i * sH + kH, j * sW : j * sW + kW] += stamp
    out = full[:, :, pH : full.shape[2] - pH + 1, pW : full.shape[3] - pW + 1]
    if bias is not None:
        out = out + bias.view(1, C_out, 1, 1)
    return out
"""
