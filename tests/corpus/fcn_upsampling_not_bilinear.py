"""FCN's transposed convolutions keep their random initialisation instead of starting as bilinear
interpolation."""

TARGET = "exercise_code.models.fcn.FCN.__init__"
CATCH = ("test_fcn.py::test_fcn_bilinear_init",)
SOURCE = """
def __init__(self, num_classes, variant="8s", backbone="vgg_small", in_channels=3, width=16,
             head_channels=128, pretrained_path=None):
    super().__init__()
    self.spec_kwargs = dict(num_classes=num_classes, variant=variant, backbone=backbone,
                            in_channels=in_channels, width=width, head_channels=head_channels,
                            pretrained_path=pretrained_path)
    self.variant = variant
    if backbone == "vgg_small":
        self.backbone = VGGSmall(in_channels, width)
    else:
        self.backbone = ResNet18Backbone(pretrained_path)
    c8, c16, c32 = self.backbone.channels
    self.head = nn.Sequential(nn.Conv2d(c32, head_channels, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.1),
                              nn.Conv2d(head_channels, head_channels, 1), nn.ReLU())
    self.score32 = nn.Conv2d(head_channels, num_classes, 1)
    self.score16 = nn.Conv2d(c16, num_classes, 1)
    self.score8 = nn.Conv2d(c8, num_classes, 1)
    for skip in (self.score16, self.score8):
        nn.init.zeros_(skip.weight)
        nn.init.zeros_(skip.bias)
    final = {"32s": 32, "16s": 16, "8s": 8}[variant]

    def up(factor):
        return ConvTranspose2d(num_classes, num_classes, 2 * factor, stride=factor, padding=factor // 2, bias=False)

    self.up2a, self.up2b, self.up_final = up(2), up(2), up(final)
"""
