"""Correct: transpose convolution by its definition, one kernel stamp per input pixel and group, with
dilation, output_padding and groups (slow but right)."""

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
    H_out = transpose_output_size(H, kH, sH, pH, oH, dH)
    W_out = transpose_output_size(W, kW, sW, pW, oW, dW)
    cin_g = C_in // groups
    # a canvas big enough for every stamp and for output_padding, then crop `padding` at the top/left
    canvas = x.new_zeros(N, C_out_g * groups, max(H_out + pH, (H - 1) * sH + dH * (kH - 1) + 1),
                         max(W_out + pW, (W - 1) * sW + dW * (kW - 1) + 1))
    for g in range(groups):
        xs = x[:, g * cin_g : (g + 1) * cin_g]
        ws = weight[g * cin_g : (g + 1) * cin_g]
        for i in range(H):
            for j in range(W):
                stamp = torch.einsum("nc,cokl->nokl", xs[:, :, i, j], ws)
                rows = slice(i * sH, i * sH + dH * (kH - 1) + 1, dH)
                cols = slice(j * sW, j * sW + dW * (kW - 1) + 1, dW)
                canvas[:, g * C_out_g : (g + 1) * C_out_g, rows, cols] += stamp
    out = canvas[:, :, pH : pH + H_out, pW : pW + W_out]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
"""
