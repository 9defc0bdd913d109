"""conv2d_as_matrix flattens the input image column-major (x.T.flatten()) instead of row-major."""

TARGET = "exercise_code.layers.conv_matrix.conv2d_as_matrix"
CATCH = ("test_conv_matrix.py::test_conv2d_as_matrix",)
SOURCE = """
def conv2d_as_matrix(weight, input_shape, stride=1, padding=0):
    k = _kernel(weight, 2)
    sH, sW = positive_pair(stride, "stride")
    pH, pW = non_negative_pair(padding, "padding")
    H, W = input_shape
    kH, kW = k.shape
    H_out, W_out = (H + 2 * pH - kH) // sH + 1, (W + 2 * pW - kW) // sW + 1
    M = k.new_zeros(H_out, W_out, H + 2 * pH, W + 2 * pW)
    for i in range(H_out):
        for j in range(W_out):
            M[i, j, i * sH : i * sH + kH, j * sW : j * sW + kW] = k
    M = M[:, :, pH : pH + H, pW : pW + W]
    return M.transpose(2, 3).reshape(H_out * W_out, H * W)
"""
