"""A package folder `exercise_code/layers/transpose_conv/` sits beside the clean `transpose_conv.py` the AST
scan used to read; Python imports the package, whose conv_transpose2d calls F.conv_transpose2d. Caught
because the scan reads what Python imports and refuses a layout where two files claim one module."""

CATCH = ("test_layers.py::test_conv_transpose2d",)
FILES = {
    "exercise_code/layers/transpose_conv/__init__.py": """
        import torch.nn.functional as F


        def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
            return F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)


        def transpose_output_size(size, kernel, stride, padding, output_padding=0, dilation=1):
            return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


        def conv_transpose2d_loops(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
            return conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)
    """,
}
