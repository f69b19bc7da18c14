"""The layer registry: every supported layer type, built from explicit imports.

``REGISTRY.get(name)`` matches PyTorch's class or functional names case- and
underscore-insensitively (``Conv2d``, ``conv_transpose2d``, ``BatchNorm2d``).
"""

from __future__ import annotations

from .activation import activations
from .attention import attention_types
from .base import REQUIRED, Arg, LayerType, RankPicked, Registry, Tensor
from .conv import Conv, ConvTranspose
from .linear import Embedding, Linear, TransformersConv1D
from .mathops import mathops
from .merge import merges
from .norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, LayerNorm2d, RMSNorm
from .pool import AdaptivePool, Pool
from .positional import positional_types
from .recurrent import recurrents
from .reshape import Flatten, Pad, PixelShuffle, Reshape, Unflatten, Upsample
from .freeparams import freeparams
from .splitops import splitops
from .tensorops import tensorops

__all__ = ["REGISTRY", "REQUIRED", "Arg", "LayerType", "Tensor"]


def _spatial_dims(rank: int) -> int:
    return rank - 2


def _batch_norm_dims(rank: int) -> int:
    return {2: 1, 3: 1, 4: 2, 5: 3}.get(rank, 0)


def _build() -> Registry:
    reg = Registry()
    reg.add(Linear())
    reg.add(TransformersConv1D())
    reg.add(Embedding())

    def family(name, make, pick=_spatial_dims, doc=""):
        variants = {d: reg.add(make(d)) for d in (1, 2, 3)}
        reg.add(
            RankPicked(
                name,
                variants,
                pick,
                variants[1].family,
                doc or f"{name}1d/2d/3d picked by the input rank",
            )
        )

    family("conv", Conv)
    family("conv_transpose", ConvTranspose)
    family("max_pool", lambda d: Pool("max", d))
    family("avg_pool", lambda d: Pool("avg", d))
    family("adaptive_avg_pool", lambda d: AdaptivePool("avg", d))
    family("adaptive_max_pool", lambda d: AdaptivePool("max", d))
    family("batch_norm", BatchNorm, _batch_norm_dims)
    family("instance_norm", InstanceNorm)
    reg.add(LayerNorm())
    reg.add(GroupNorm())
    reg.add(RMSNorm())
    reg.add(LayerNorm2d())
    for lt in activations():
        reg.add(lt)
    reg.add(Flatten())
    reg.add(Unflatten())
    reg.add(Reshape())
    reg.add(Upsample())
    reg.add(PixelShuffle(False))
    reg.add(PixelShuffle(True))
    for kind in ("zero", "constant", "reflection", "replication", "circular"):
        for d in (1, 2, 3):
            reg.add(Pad(kind, d))
    for lt in merges():
        reg.add(lt)
    for lt in mathops():
        reg.add(lt)
    for lt in splitops():
        reg.add(lt)
    for lt in freeparams():
        reg.add(lt)
    for lt in tensorops():
        reg.add(lt)
    for lt in recurrents():
        reg.add(lt)
    for lt in attention_types():
        reg.add(lt)
    for lt in positional_types():
        reg.add(lt)
    return reg


REGISTRY = _build()
