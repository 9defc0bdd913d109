"""FCN pads the input at the bottom/right but crops the centre of the upsampled scores (misaligned by half
the padding)."""

TARGET = "exercise_code.models.fcn.FCN.forward"
CATCH = ("test_fcn.py::test_fcn_crop_alignment",)
SOURCE = """
def forward(self, x):
    N, C, H, W = x.shape
    x = F.pad(x, (0, -W % 32, 0, -H % 32))
    f8, f16, f32 = self.backbone(x)
    score = self.score32(self.head(f32))
    if self.variant in ("16s", "8s"):
        score = self.up2a(score) + self.score16(f16)
    if self.variant == "8s":
        score = self.up2b(score) + self.score8(f8)
    out = self.up_final(score)
    top, left = (out.shape[2] - H) // 2, (out.shape[3] - W) // 2
    return out[:, :, top : top + H, left : left + W]
"""
