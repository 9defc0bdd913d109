"""principal_angles takes singular values of a.T @ b without orthonormalising the columns first."""

TARGET = "exercise_code.models.pca.principal_angles"
CATCH = ("test_autoencoders.py::test_principal_angles",)
SOURCE = """
def principal_angles(a, b, degrees=True):
    cosines = torch.linalg.svdvals(a.double().T @ b.double()).clamp(-1.0, 1.0)
    angles = torch.arccos(cosines)
    return angles * (180.0 / math.pi) if degrees else angles
"""
