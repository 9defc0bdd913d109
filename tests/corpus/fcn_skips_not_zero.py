"""FCN keeps PyTorch's random initialisation for the skip score layers (FCN-16s/8s do not start as FCN-32s)."""

TARGET = "exercise_code.models.fcn.FCN.__init__"
CATCH = ("test_fcn.py::test_fcn_skip_init",)
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
    final = {"32s": 32, "16s": 16, "8s": 8}[variant]
    self.up2a = _upsampler(num_classes, 2)
    self.up2b = _upsampler(num_classes, 2)
    self.up_final = _upsampler(num_classes, final)
"""
