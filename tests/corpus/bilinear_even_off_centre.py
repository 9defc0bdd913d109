"""Bilinear kernel uses centre = factor - 1 for even sizes too, so even kernels are off-centre."""

TARGET = "exercise_code.layers.bilinear.bilinear_kernel"
CATCH = ("test_layers.py::test_bilinear_kernel", "test_fcn.py::test_fcn_bilinear_init")
SOURCE = """
def bilinear_kernel(in_channels, out_channels, kernel_size):
    factor = (kernel_size + 1) // 2
    centre = factor - 1
    taps = 1 - (torch.arange(kernel_size, dtype=torch.float32) - centre).abs() / factor
    tent = taps[:, None] * taps[None, :]
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    channels = torch.arange(min(in_channels, out_channels))
    weight[channels, channels] = tent
    return weight
"""
