"""Correct: transpose convolution by kernel taps: each tap (a, b) adds einsum(x, w[:, :, a, b]) to a strided
slice of the output (a loop over kH * kW taps, vectorised over pixels and groups)."""

TARGET = "exercise_code.layers.transpose_conv.conv_transpose2d"
FULL = ("test_layers.py::test_conv_transpose2d", "test_layers.py::test_conv_transpose2d_module")
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
    H_out = transpose_output_size(H, kH, sH, pH, oH, dH)
    W_out = transpose_output_size(W, kW, sW, pW, oW, dW)
    xg = x.reshape(N, g, C_in // g, H, W)
    wg = weight.reshape(g, C_in // g, C_out_g, kH, kW)
    big_h = max(H_out + pH, (H - 1) * sH + dH * (kH - 1) + 1)
    big_w = max(W_out + pW, (W - 1) * sW + dW * (kW - 1) + 1)
    full = x.new_zeros(N, g, C_out_g, big_h, big_w)
    for a in range(kH):
        for b in range(kW):
            contribution = torch.einsum("ngchw,gco->ngohw", xg, wg[:, :, :, a, b])
            full[..., a * dH : a * dH + (H - 1) * sH + 1 : sH, b * dW : b * dW + (W - 1) * sW + 1 : sW] += contribution
    out = full.reshape(N, g * C_out_g, big_h, big_w)[:, :, pH : pH + H_out, pW : pW + W_out]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
"""
