"""Bilinear kernel fills every (in, out) channel pair, so each output channel sums all input channels."""

TARGET = "exercise_code.layers.bilinear.bilinear_kernel"
CATCH = ("test_layers.py::test_bilinear_kernel", "test_fcn.py::test_fcn_bilinear_init")
SOURCE = """
def bilinear_kernel(in_channels, out_channels, kernel_size):
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(kernel_size, dtype=torch.float32) - centre).abs() / factor
    tent = taps[:, None] * taps[None, :]
    return tent.expand(in_channels, out_channels, kernel_size, kernel_size).clone()
"""
