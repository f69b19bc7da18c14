"""Free parameters and buffers (SPEC.md section 12): ``parameter: {name: class_token,
shape: [1, 1, 768]}`` is an entry with no input whose output is the tensor itself, as a
module's ``nn.Parameter`` attribute (ViT's ``class_token``, ConvNeXt's ``layer_scale``)
or ``register_buffer`` is. Its state_dict key is its dotted name with no suffix
(``encoder.pos_embedding``); ``buffer: true`` makes it a buffer, and the meta key
``trainable: false`` a frozen parameter, as for every layer. ``init: arange`` fills a
buffer with the integers 0, 1, ... (int64, as ``register_buffer("index",
torch.arange(n))``), which an embedding may read.

``arange`` (``torch.arange(start, end, step)``) is an entry with no input either: a 1-d
int64 tensor of positions (GPT-2's ``pos = torch.arange(0, t)``), with no state.
"""

from __future__ import annotations

from ..errors import LayerError
from .base import Arg, LayerType, Tensor


class Parameter(LayerType):
    name = "parameter"
    aliases = ("buffer",)
    family = "tensor"
    doc = "torch.nn.Parameter (or a registered buffer): a tensor, no input"
    takes_input = False
    args = (
        Arg("shape", "shape", doc="the tensor's full shape"),
        Arg("buffer", "bool", False, doc="a buffer (state_dict, not parameters())"),
        Arg(
            "init",
            "choice",
            "random",
            words=("random", "arange"),
            doc="arange: an int64 buffer holding 0, 1, ... (verify's contents)",
        ),
    )

    def infer(self, a, shapes):
        shape = tuple(a["shape"])
        if any(n < 1 for n in shape):
            raise LayerError(
                f"a parameter's sizes must be at least 1, got {list(shape)}", arg="shape"
            )
        if a["init"] == "arange" and not a["buffer"]:
            raise LayerError(
                "init: arange makes integer contents, and a parameter must be "
                "floating point (PyTorch refuses it: Only Tensors of floating "
                "point and complex dtype can require gradients)",
                arg="init",
                hint="add `buffer: true`",
            )
        return shape

    def integer(self, a):
        return a["init"] == "arange"

    def tensors(self, a, shapes, out):
        dtype = "int64" if a["init"] == "arange" else "float"
        return [Tensor("", tuple(out), buffer=a["buffer"], dtype=dtype)]

    def window(self, a, shapes, out):
        return None  # no input: no field

    def workspace(self, a, shapes, out):
        return 0  # the output is the parameter's own array

    def forward(self, a, xs, w):
        return w[""]

    def summary(self, a):
        return ("buffer" if a["buffer"] else "") + (" arange" if a["init"] == "arange" else "")


class Arange(LayerType):
    """torch.arange(start, end, step) of integers: ceil((end - start) / step) values."""

    name = "arange"
    family = "tensor"
    doc = "torch.arange: the int64 positions start, start + step, ... below end"
    takes_input = False
    args = (
        Arg("end", "int", doc="the bound (excluded)"),
        Arg("start", "int", 0, doc="the first value"),
        Arg("step", "int", 1, doc="the gap between values (not 0)"),
    )

    def infer(self, a, shapes):
        start, end, step = a["start"], a["end"], a["step"]
        if step == 0:
            raise LayerError("step must be nonzero (PyTorch refuses it)", arg="step")
        if (step > 0 and end < start) or (step < 0 and end > start):
            raise LayerError(
                f"upper bound and larger bound inconsistent with step sign "
                f"(PyTorch refuses start {start}, end {end}, step {step})",
                arg="end",
            )
        n = -(-(end - start) // step)
        if n == 0:
            raise LayerError(
                f"arange from {start} to {end} is empty (PyTorch returns an "
                "empty tensor; layercalc models none)",
                arg="end",
                code="output-too-small",
            )
        return (n,)

    def integer(self, a):
        return True

    def int_range(self, a):
        start, step = a["start"], a["step"]
        last = start + (-(-(a["end"] - start) // step) - 1) * step
        return (min(start, last), max(start, last))

    def window(self, a, shapes, out):
        return None

    def workspace(self, a, shapes, out):
        return 2 * out[0]  # int64: twice a float32 element

    def forward(self, a, xs, w):
        import numpy as np

        return np.arange(a["start"], a["end"], a["step"], dtype=np.int64)

    def summary(self, a):
        return f"{a['start']}:{a['end']}" + (f":{a['step']}" if a["step"] != 1 else "")


def freeparams():
    return [Parameter(), Arange()]
