"""Upsampling layers: unpooling, convolution as a matrix, transpose convolution, bilinear kernels."""

from .bilinear import bilinear_kernel
from .conv_matrix import conv1d_as_matrix, conv2d_as_matrix
from .modules import ConvTranspose2d, MaxUnpool2d
from .transpose_conv import conv_transpose2d, conv_transpose2d_loops, transpose_output_size
from .unpooling import bed_of_nails_unpool2d, max_unpool2d, nearest_unpool2d

__all__ = [
    "ConvTranspose2d",
    "MaxUnpool2d",
    "bed_of_nails_unpool2d",
    "bilinear_kernel",
    "conv1d_as_matrix",
    "conv2d_as_matrix",
    "conv_transpose2d",
    "conv_transpose2d_loops",
    "max_unpool2d",
    "nearest_unpool2d",
    "transpose_output_size",
]
