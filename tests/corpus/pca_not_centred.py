"""pca takes the SVD of the raw data without subtracting the mean first."""

TARGET = "exercise_code.models.pca.pca"
CATCH = ("test_autoencoders.py::test_pca",)
SOURCE = """
def pca(x, k):
    data = x.flatten(1).double()
    N, D = data.shape
    mean = data.mean(0)
    _, s, vh = torch.linalg.svd(data, full_matrices=False)
    variance = s[:k] ** 2 / max(N - 1, 1)
    return PCA(mean.to(x.dtype), vh[:k].to(x.dtype), variance.to(x.dtype))
"""
