"""Transpose convolution treats every input channel as connected to every output channel (groups ignored:
the weight's second axis is taken as all output channels)."""

TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d"
CATCH = ("test_layers.py::test_conv_transpose2d",)
SOURCE = """
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    check_4d(x)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    oH, oW = non_negative_pair(output_padding, "output_padding")
    dH, dW = positive_pair(dilation, "dilation")
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = weight.shape
    H_out = transpose_output_size(H, kH, sH, pH, oH, dH)
    W_out = transpose_output_size(W, kW, sW, pW, oW, dW)
    cols = weight.reshape(C_in, C_out * kH * kW).T @ x.reshape(N, C_in, H * W)
    full_size = ((H - 1) * sH + dH * (kH - 1) + 1, (W - 1) * sW + dW * (kW - 1) + 1)
    full = F.fold(cols, full_size, (kH, kW), dilation=(dH, dW), stride=(sH, sW))
    out = F.pad(full, (-pW, oW - pW, -pH, oH - pH))
    if bias is not None:
        out = out + bias[:C_out].view(1, -1, 1, 1)
    return out
"""
