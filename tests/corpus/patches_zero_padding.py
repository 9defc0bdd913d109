"""extract_patches pads the border with zeros instead of reflecting the image."""

TARGET = "exercise_code.models.patch.extract_patches"
CATCH = ("test_patch.py::test_extract_patches",)
SOURCE = """
def extract_patches(images, patch_size):
    _check_patch_size(patch_size)
    N, C, H, W = images.shape
    r = patch_size // 2
    padded = F.pad(images, (r, r, r, r))
    cols = F.unfold(padded, patch_size)
    return cols.transpose(1, 2).reshape(N * H * W, C, patch_size, patch_size)
"""
