"""Transpose convolution removes all 2 * padding rows and columns at the bottom/right instead of padding
on each side."""

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
    H_out = transpose_output_size(H, kH, sH, pH, oH, dH)
    W_out = transpose_output_size(W, kW, sW, pW, oW, dW)
    g = groups
    w_t = weight.reshape(g, C_in // g, C_out_g * kH * kW).transpose(1, 2)
    cols = torch.matmul(w_t, x.reshape(N, g, C_in // g, H * W)).reshape(N, g * C_out_g * kH * kW, H * W)
    full_size = ((H - 1) * sH + dH * (kH - 1) + 1, (W - 1) * sW + dW * (kW - 1) + 1)
    full = F.fold(cols, full_size, (kH, kW), dilation=(dH, dW), stride=(sH, sW))
    full = F.pad(full, (0, oW, 0, oH))
    out = full[:, :, :H_out, :W_out]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
"""
