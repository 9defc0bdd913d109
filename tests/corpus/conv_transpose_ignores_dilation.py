"""Transpose convolution places the kernel taps next to each other whatever the dilation (the output size
formula still uses it, the taps do not)."""

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
    full_size = ((H - 1) * sH + kH, (W - 1) * sW + kW)
    full = F.fold(cols, full_size, (kH, kW), stride=(sH, sW))
    full = F.pad(full, (0, max(0, W_out + pW - full.shape[3]), 0, max(0, H_out + pH - full.shape[2])))
    out = full[:, :, pH : pH + H_out, pW : pW + W_out]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
"""
