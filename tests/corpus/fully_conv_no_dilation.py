"""fully_convolutional makes the pools stride 1 but forgets to dilate the later layers, so the dense net
looks at a much smaller window than the patch classifier did."""

TARGET = "exercise_code.models.fully_conv.fully_convolutional"
CATCH = ("test_patch.py::test_fully_convolutional",)
SOURCE = """
def fully_convolutional(model):
    patch_size = model.spec_kwargs["patch_size"]
    layers = []
    for layer in model.features:
        if isinstance(layer, nn.MaxPool2d):
            layers.append(nn.MaxPool2d(layer.kernel_size, stride=1))
        elif isinstance(layer, nn.Conv2d):
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size)
            conv.load_state_dict(layer.state_dict())
            layers.append(conv)
        else:
            layers.append(layer)
    first = True
    for layer in model.classifier:
        if isinstance(layer, nn.Flatten):
            continue
        if isinstance(layer, nn.Linear):
            channels = layers_out_channels(layers) if first else layer.in_features
            side = int(round((layer.in_features / channels) ** 0.5)) if first else 1
            conv = nn.Conv2d(channels, layer.out_features, side)
            conv.weight.data.copy_(layer.weight.data.reshape(layer.out_features, channels, side, side))
            conv.bias.data.copy_(layer.bias.data)
            layers.append(conv)
            first = False
        else:
            layers.append(layer)
    return DensePatchNet(nn.Sequential(*layers), patch_size).eval()
"""
