"""`layercalc import torch` builds and traces the module on the meta device first
(issue 18, target 5): the spec is the one real tensors give, and a module that needs
real data falls back to them. The meta run's shortcuts (no normal random numbers
drawn, a batch norm's output made directly: issue 18.5) keep the real run's errors."""

import textwrap

import pytest

torch = pytest.importorskip("torch")
tv = pytest.importorskip("torchvision")

from layercalc.importers import torch as importer  # noqa: E402
from layercalc.importers.torch import ImportFailure, import_torch  # noqa: E402

NEEDS_DATA = """
import torch
from torch import nn


class Widths(nn.Module):
    def __init__(self):
        super().__init__()
        widths = torch.tensor([4.0, 8.0]).round().int().tolist()  # real data: no meta
        self.a = nn.Linear(3, widths[0])
        self.b = nn.Linear(widths[0], widths[1])

    def forward(self, x):
        return self.b(self.a(x).relu())


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)

    def forward(self, x):
        return torch.special.erf(self.a(x))


class WrongNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(8)  # 4 channels come in

    def forward(self, x):
        return self.norm(self.conv(x))


class FlatNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.norm = nn.BatchNorm2d(4)  # a 2-d input

    def forward(self, x):
        return self.norm(self.a(x))


class NegativeStd(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        nn.init.normal_(self.a.weight, std=-1.0)

    def forward(self, x):
        return self.a(x)


class LeafDraw(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.a.weight.normal_()  # in place on a parameter, with grad on

    def forward(self, x):
        return self.a(x)
"""


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_meta_spec_is_the_real_one(name):
    shape = (1, 3, 32, 32)
    real = import_torch(f"torchvision.models:{name}", shape, model=getattr(tv.models, name)())
    assert import_torch(f"torchvision.models:{name}", shape) == real


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "meta_models_for_import.py").write_text(textwrap.dedent(NEEDS_DATA))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "meta_models_for_import"


def test_a_constructor_needing_data_runs_on_real_tensors(user_module, monkeypatch):
    tried = []
    real = importer._on_meta
    monkeypatch.setattr(importer, "_on_meta", lambda *a: tried.append(real(*a)) or tried[-1])
    text = import_torch(f"{user_module}:Widths", (2, 3))
    assert tried == [None]  # the meta run gave up; the real one wrote the spec
    assert "in_features: 4" in text or "out_features: 8" in text


@pytest.mark.parametrize(
    "name, shape",
    [
        ("Unsupported", (2, 3)),
        ("WrongNorm", (1, 3, 8, 8)),
        ("FlatNorm", (2, 3)),
        ("NegativeStd", (2, 3)),
        ("LeafDraw", (2, 3)),
    ],
)
def test_errors_are_the_real_runs(user_module, monkeypatch, name, shape):
    with pytest.raises(ImportFailure) as meta_first:
        import_torch(f"{user_module}:{name}", shape)
    monkeypatch.setattr(importer, "_on_meta", lambda *a: None)
    with pytest.raises(ImportFailure) as real_only:
        import_torch(f"{user_module}:{name}", shape)
    assert meta_first.value.message == real_only.value.message
    assert meta_first.value.problems == real_only.value.problems


def test_meta_run_takes_its_shortcuts(monkeypatch):
    """ResNet-18 on the meta device: no batch_norm runs, no normal_ draws (the two
    Python decompositions that took most of ResNet-50's meta run)."""
    ran = []
    batch_norm = torch.nn.functional.batch_norm
    monkeypatch.setattr(
        torch.nn.functional, "batch_norm", lambda *a, **k: ran.append("bn") or batch_norm(*a, **k)
    )
    undrawn = importer._undrawn
    skipped = []
    monkeypatch.setattr(importer, "_undrawn", lambda *a: skipped.append(undrawn(*a)) or skipped[-1])
    text = import_torch("torchvision.models:resnet18", (1, 3, 32, 32))
    assert "batch_norm2d" in text
    assert ran == []
    assert skipped and all(t is not None and t.is_meta for t in skipped)
