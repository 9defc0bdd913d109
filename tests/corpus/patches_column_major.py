"""extract_patches orders the patches column by column (j * H + i) instead of row-major (i * W + j)."""

TARGET = "exercise_code.models.patch.extract_patches"
CATCH = ("test_patch.py::test_extract_patches",)
SOURCE = """
def extract_patches(images, patch_size):
    _check_patch_size(patch_size)
    N, C, H, W = images.shape
    r = patch_size // 2
    padded = F.pad(images, (r, r, r, r), mode="reflect") if r else images
    patches = []
    for n in range(N):
        for j in range(W):
            for i in range(H):
                patches.append(padded[n, :, i : i + patch_size, j : j + patch_size])
    return torch.stack(patches)
"""
