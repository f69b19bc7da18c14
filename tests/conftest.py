import contextlib
import inspect
import io
import sys
import textwrap

import pytest
from click.testing import CliRunner, Result

from layercalc.analyses.loading import analyse_bytes

# torch_models.py is the reference networks' module (it imports torch), not a test
# module: --doctest-modules would import it, and fail where torch is absent
collect_ignore = ["torch_models.py"]


class _Tee(io.BufferedIOBase):
    """A binary stream that writes to its stream and to the shared mixed stream."""

    def __init__(self, own, mixed):
        super().__init__()
        self._own, self._mixed = own, mixed

    def writable(self):
        return True

    def write(self, b):
        self._own.write(b)
        self._mixed.write(b)
        return len(b)

    def close(self):  # the BytesIOs outlive the wrappers; click reads them afterwards
        pass


class _Click81Runner(CliRunner):
    """click 8.1's CliRunner giving click 8.2's result: ``stdout`` and ``stderr`` apart,
    ``output`` both, in the order they were written."""

    def __init__(self, **kw):
        super().__init__(mix_stderr=False, **kw)

    @contextlib.contextmanager
    def isolation(self, *args, **kw):
        with super().isolation(*args, **kw) as (out, err):
            self._mixed = io.BytesIO()
            # keep click's wrappers alive: collecting one closes its BytesIO
            kept = sys.stdout, sys.stderr
            sys.stdout = type(kept[0])(
                _Tee(out, self._mixed),
                encoding=self.charset,
                name="<stdout>",
                mode="w",
                write_through=True,
            )
            sys.stderr = type(kept[1])(
                _Tee(err, self._mixed),
                encoding=self.charset,
                name="<stderr>",
                mode="w",
                errors="backslashreplace",
                write_through=True,
            )
            yield out, err, self._mixed  # as click 8.2's isolation()

    def invoke(self, *args, **kw):
        result = super().invoke(*args, **kw)
        result.output_bytes = self._mixed.getvalue()
        result.__class__ = _Click81Result
        return result


class _Click81Result(Result):
    @property
    def output(self) -> str:
        return self.output_bytes.decode(self.runner.charset, "replace").replace("\r\n", "\n")


_CLICK_81 = "mix_stderr" in inspect.signature(CliRunner.__init__).parameters  # click < 8.2


def cli_runner(**kw) -> CliRunner:
    """The CliRunner every test uses (``from conftest import cli_runner``): ``stdout`` and
    ``stderr`` apart and ``output`` both, as click >= 8.2 gives them, on click 8.1 (the
    floor in pyproject.toml, tested by .ci/run) too."""
    # tables render 120 columns wide unless a test says otherwise (the tool's own default
    # is the terminal's width, else 80: tests/test_width.py)
    kw["env"] = {"COLUMNS": "120", **(kw.get("env") or {})}
    return _Click81Runner(**kw) if _CLICK_81 else CliRunner(**kw)


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
