"""Transpose convolution as zero insertion + full padding + conv2d, but with the kernel not flipped
(so it computes a correlation with the kernel, not the adjoint of conv2d)."""

TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d"
CATCH = ("test_layers.py::test_conv_transpose2d",)
SOURCE = """
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    check_4d(x)
    _check_weight_bias(x, weight, bias, groups)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    oH, oW = non_negative_pair(output_padding, "output_padding")
    dH, dW = positive_pair(dilation, "dilation")
    N, C_in, H, W = x.shape
    _, C_out_g, kH, kW = weight.shape
    g = groups
    up = x.new_zeros(N, C_in, (H - 1) * sH + 1, (W - 1) * sW + 1)
    up[:, :, ::sH, ::sW] = x  # zeros between the input pixels
    eH, eW = dH * (kH - 1), dW * (kW - 1)
    up = F.pad(up, (eW - pW, eW - pW + oW, eH - pH, eH - pH + oH))
    w = weight.reshape(g, C_in // g, C_out_g, kH, kW).transpose(1, 2).reshape(g * C_out_g, C_in // g, kH, kW)
    return F.conv2d(up, w, bias, dilation=(dH, dW), groups=g)
"""
