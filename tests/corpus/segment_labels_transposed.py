"""segment_by_patches fills the label map column-major, so labels land on the transposed pixel."""

TARGET = "exercise_code.models.patch.segment_by_patches"
CATCH = ("test_patch.py::test_segment_by_patches",)
SOURCE = """
@torch.no_grad()
def segment_by_patches(model, images, batch_size=1024, progress=False):
    patch_size = model.spec_kwargs["patch_size"]
    N, C, H, W = images.shape
    model.eval()
    labels = torch.empty(N, H * W, dtype=torch.long)
    for n in range(N):
        patches = extract_patches(images[n : n + 1], patch_size)
        for start in range(0, H * W, batch_size):
            labels[n, start : start + batch_size] = model(patches[start : start + batch_size]).argmax(1)
    return labels.reshape(N, W, H).transpose(1, 2)
"""
