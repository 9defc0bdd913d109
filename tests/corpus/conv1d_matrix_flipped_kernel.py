"""conv1d_as_matrix builds a true convolution (flipped kernel) instead of PyTorch's cross-correlation."""

TARGET = "exercise_code.layers.conv_matrix.conv1d_as_matrix"
CATCH = ("test_conv_matrix.py::test_conv1d_as_matrix",)
SOURCE = """
def conv1d_as_matrix(weight, input_length, stride=1, padding=0):
    k = _kernel(weight, 1).flip(0)
    K = k.shape[0]
    L_out = (input_length + 2 * padding - K) // stride + 1
    M = k.new_zeros(L_out, input_length + 2 * padding)
    for o in range(L_out):
        M[o, o * stride : o * stride + K] = k
    return M[:, padding : padding + input_length]
"""
