"""The spec library against the same networks written in PyTorch.

Each model below is a compact hand copy of torchvision's definition (or of the PyTorch
tutorial's), keeping its module names. For every spec: parameter and buffer totals,
the state_dict (every key, every shape), the output shape of a real forward pass and,
through forward hooks, the output shape of every module whose name is also a layercalc
layer. Skipped when torch is not installed.
"""
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import pytest

from layercalc.analyse import analyse

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.torch
SPECS = Path(__file__).resolve().parent.parent / "specs"


# -- DCGAN (PyTorch DCGAN tutorial; its `main` Sequential, without the wrapper) ------------
def dcgan_discriminator(nc=3, ndf=64):
    return nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())


def dcgan_generator(nz=100, ngf=64, nc=3):
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())


# -- small networks ------------------------------------------------------------------------
def lenet5():
    return nn.Sequential(OrderedDict(
        c1=nn.Conv2d(1, 6, 5), t1=nn.Tanh(), s2=nn.AvgPool2d(2),
        c3=nn.Conv2d(6, 16, 5), t3=nn.Tanh(), s4=nn.AvgPool2d(2), fl=nn.Flatten(),
        c5=nn.Linear(400, 120), t5=nn.Tanh(), f6=nn.Linear(120, 84), t6=nn.Tanh(),
        f7=nn.Linear(84, 10)))


def mnist_mlp():
    return nn.Sequential(OrderedDict(
        fl=nn.Flatten(), fc1=nn.Linear(784, 512), r1=nn.ReLU(), d1=nn.Dropout(0.2),
        fc2=nn.Linear(512, 512), r2=nn.ReLU(), d2=nn.Dropout(0.2), fc3=nn.Linear(512, 10)))


class M5(nn.Module):  # torchaudio speech-command tutorial
    def __init__(self, n_input=1, n_output=35, stride=16, n_channel=32):
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x):
        for i in range(1, 5):
            x = getattr(self, f"pool{i}")(F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))))
        x = F.avg_pool1d(x, x.shape[-1])
        return self.fc1(torch.flatten(x, 1))


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 7))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 7), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


# -- torchvision.models.alexnet / vgg16 -----------------------------------------------------
class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGG16(nn.Module):
    CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
           512, 512, 512, "M"]

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        layers, c = [], 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -- torchvision.models.resnet ---------------------------------------------------------------
def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- torchvision.models.mobilenet_v2 ---------------------------------------------------------
def conv_norm_act(i, o, k=3, stride=1, groups=1):  # torchvision's Conv2dNormActivation
    return nn.Sequential(nn.Conv2d(i, o, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(conv_norm_act(inp, hidden, k=1))
        layers += [conv_norm_act(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        cin, last = 32, 1280
        features = [conv_norm_act(3, cin, stride=2)]
        for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                           [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(conv_norm_act(cin, last, k=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -- the small U-Net of specs/unet.yaml -------------------------------------------------------
def double_conv(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o),
                         nn.ReLU(inplace=True), nn.Conv2d(o, o, 3, padding=1, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, in_ch=3, classes=2, c=16):
        super().__init__()
        self.enc1, self.pool1 = double_conv(in_ch, c), nn.MaxPool2d(2)
        self.enc2, self.pool2 = double_conv(c, 2 * c), nn.MaxPool2d(2)
        self.enc3, self.pool3 = double_conv(2 * c, 4 * c), nn.MaxPool2d(2)
        self.bottleneck = double_conv(4 * c, 8 * c)
        self.up3, self.dec3 = nn.ConvTranspose2d(8 * c, 4 * c, 2, 2), double_conv(8 * c, 4 * c)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, 2), double_conv(4 * c, 2 * c)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * c, c, 2, 2), double_conv(2 * c, c)
        self.head = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool1(e1))
        e3 = self.enc3(self.pool2(e2))
        b = self.bottleneck(self.pool3(e3))
        d3 = self.dec3(torch.cat([e3, self.up3(b)], dim=1))
        d2 = self.dec2(torch.cat([e2, self.up2(d3)], dim=1))
        d1 = self.dec1(torch.cat([e1, self.up1(d2)], dim=1))
        return self.head(d1)


MODELS = {
    "dcgan_discriminator": dcgan_discriminator,
    "dcgan_generator": dcgan_generator,
    "lenet5": lenet5,
    "mnist_mlp": mnist_mlp,
    "audio_cnn_1d": M5,
    "conv_autoencoder": ConvAutoencoder,
    "alexnet": AlexNet,
    "vgg16": VGG16,
    "resnet18": lambda: ResNet(BasicBlock, [2, 2, 2, 2]),
    "resnet50": lambda: ResNet(Bottleneck, [3, 4, 6, 3]),
    "mobilenet_v2": MobileNetV2,
    "unet": UNet,
}
# the numbers torchvision documents for its models (num_params)
PUBLISHED = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512,
             "resnet50": 25_557_032, "mobilenet_v2": 3_504_872,
             "dcgan_generator": 3_576_704, "dcgan_discriminator": 2_765_568,
             "lenet5": 61_706, "audio_cnn_1d": 26_915}


def test_every_spec_has_a_torch_model():
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(MODELS)


@lru_cache(maxsize=None)
def spec(name):
    r = analyse(str(SPECS / f"{name}.yaml"))
    assert r.ok, r.diagnostics
    return r.net


@lru_cache(maxsize=None)
def model(name):
    torch.manual_seed(0)
    return MODELS[name]().eval()


@lru_cache(maxsize=None)
def run(name):
    """Forward the spec's input through the torch model; record every module's output."""
    m, net = model(name), spec(name)
    seen = {}

    def recorder(name):
        def hook(module, args, out):  # must return None, else it replaces the output
            seen.setdefault(name, tuple(out.shape))  # first call (ResNet reuses `relu`)
        return hook

    hooks = [mod.register_forward_hook(recorder(n)) for n, mod in m.named_modules() if n]
    try:
        with torch.no_grad():
            y = m(torch.randn(*net.input))
    finally:
        for h in hooks:
            h.remove()
    return tuple(y.shape), seen


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_and_buffer_totals(name):
    m, t = model(name), spec(name).totals()
    params = sum(p.numel() for p in m.parameters())
    buffers = sum(b.numel() for b in m.buffers())
    assert params == t["params"]
    assert buffers == t["buffers"]
    if name in PUBLISHED:
        assert params == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_keys_and_shapes(name):
    torch_sd = {k: tuple(v.shape) for k, v in model(name).state_dict().items()}
    ours = {}
    for layer in spec(name).layers:
        for t in layer.tensors:
            key = f"{layer.name}.{t.key}"
            assert key not in ours, f"duplicate key {key}"
            ours[key] = tuple(t.shape)
    assert set(ours) == set(torch_sd), (sorted(set(ours) - set(torch_sd))[:5],
                                        sorted(set(torch_sd) - set(ours))[:5])
    assert ours == torch_sd


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_shapes(name):
    out, seen = run(name)
    net = spec(name)
    assert [tuple(s) for s in net.outputs.values()] == [out]
    ours = {l.name: tuple(l.output) for l in net.layers}
    # blocks and sequentials are modules too (layer1.0, features.3, encoder, ...)
    ours.update((g.name, tuple(g.output)) for g in net.groups)
    common = set(ours) & set(seen)
    # every layer holding parameters has a torch counterpart whose output we compare
    with_params = {l.name for l in net.layers if l.tensors}
    assert with_params <= common
    mismatched = {n: (ours[n], seen[n]) for n in common if ours[n] != seen[n]}
    assert not mismatched
    assert len(common) >= len(with_params)


def test_hooks_sample_resnet50():
    # a readable sample of what test_forward_shapes checks wholesale
    _, seen = run("resnet50")
    assert seen["conv1"] == (1, 64, 112, 112)
    assert seen["maxpool"] == (1, 64, 56, 56)
    assert seen["layer1.0.downsample.0"] == (1, 256, 56, 56)
    assert seen["layer3.5.bn3"] == (1, 1024, 14, 14)
    assert seen["layer4.2.conv2"] == (1, 512, 7, 7)
    assert seen["avgpool"] == (1, 2048, 1, 1)
