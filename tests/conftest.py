import textwrap

import pytest

from layercalc.analyse import analyse_bytes

# torch_models.py is the reference networks' module (it imports torch), not a test
# module: --doctest-modules would import it, and fail where torch is absent
collect_ignore = ["torch_models.py"]


def net_of(text: str, **kw):
    """Analyse an inline spec; fail the test with the diagnostic if it is invalid."""
    r = analyse_bytes(textwrap.dedent(text).encode(), "t.yaml", **kw)
    assert r.net is not None, r.diagnostics
    return r.net


def diag_of(text: str, **kw):
    """Analyse an inline spec that must be invalid; returns its one diagnostic."""
    r = analyse_bytes(textwrap.dedent(text).encode(), "t.yaml", **kw)
    assert r.net is None, "expected an error"
    assert len(r.diagnostics) == 1
    return r.diagnostics[0]


def one_layer(layer: str, input_shape) -> object:
    """The single resolved layer of a one-layer spec."""
    net = net_of(f"input: {list(input_shape)}\nlayers:\n  - {layer}\n")
    assert len(net.layers) == 1
    return net.layers[0]


@pytest.fixture
def spec_file(tmp_path):
    def make(text: str, name="spec.yaml"):
        p = tmp_path / name
        p.write_text(textwrap.dedent(text))
        return str(p)
    return make


def assert_located(text: str, code: str, line: int, marker: str, hint=None):
    """The spec's one diagnostic has ``code`` and points at ``marker`` on ``line``."""
    col = textwrap.dedent(text).splitlines()[line - 1].index(marker) + 1
    d = diag_of(text)
    assert (d.code, d.line, d.column) == (code, line, col), d
    if hint:
        assert d.hint == hint
    return d
