"""`layercalc import torch` builds and traces the module on the meta device first
(issue 18, target 5): the spec is the one real tensors give, and a module that needs
real data falls back to them."""

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


def test_errors_are_the_real_runs(user_module, monkeypatch):
    with pytest.raises(ImportFailure) as meta_first:
        import_torch(f"{user_module}:Unsupported", (2, 3))
    monkeypatch.setattr(importer, "_on_meta", lambda *a: None)
    with pytest.raises(ImportFailure) as real_only:
        import_torch(f"{user_module}:Unsupported", (2, 3))
    assert meta_first.value.message == real_only.value.message
    assert meta_first.value.problems == real_only.value.problems
