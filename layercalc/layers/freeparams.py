"""Free parameters and buffers (SPEC.md section 12): ``parameter: {name: class_token,
shape: [1, 1, 768]}`` is an entry with no input whose output is the tensor itself, as a
module's ``nn.Parameter`` attribute (ViT's ``class_token``, ConvNeXt's ``layer_scale``)
or ``register_buffer`` is. Its state_dict key is its dotted name with no suffix
(``encoder.pos_embedding``); ``buffer: true`` makes it a buffer, and the meta key
``trainable: false`` a frozen parameter, as for every layer.
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
    args = (Arg("shape", "shape", doc="the tensor's full shape"),
            Arg("buffer", "bool", False, doc="a buffer (state_dict, not parameters())"))

    def infer(self, a, shapes):
        shape = tuple(a["shape"])
        if any(n < 1 for n in shape):
            raise LayerError(f"a parameter's sizes must be at least 1, got {list(shape)}",
                             arg="shape")
        return shape

    def tensors(self, a, shapes, out):
        return [Tensor("", tuple(out), buffer=a["buffer"])]

    def window(self, a, shapes, out):
        return None  # no input: no field

    def workspace(self, a, shapes, out):
        return 0  # the output is the parameter's own array

    def forward(self, a, xs, w):
        return w[""]

    def summary(self, a):
        return "buffer" if a["buffer"] else ""


def freeparams():
    return [Parameter()]
