"""`layercalc import torch MODULE:CALLABLE --input SHAPE [--kwargs JSON] [-o SPEC.yaml]`."""

from __future__ import annotations

import importlib.util
import json

import click

from .imports import SPEC_OUTPUT

from .options import parse_input

INSTALL = "pip install 'layercalc[torch]'"


def have_torch() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


def _input(ctx, param, value):
    try:
        shape = parse_input(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if isinstance(shape, dict):
        raise click.BadParameter("give one unnamed shape, e.g. 1,3,224,224")
    return shape


def _kwargs(ctx, param, value):
    if value is None:
        return {}
    try:
        out = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from None
    if not isinstance(out, dict):
        raise click.BadParameter('expected a JSON object, e.g. {"num_classes": 10}')
    return out


@click.command("torch")
@click.argument("target", metavar="MODULE:CALLABLE")
@click.option(
    "--input",
    "input_shape",
    required=True,
    metavar="SIZES",
    callback=_input,
    help="the input shape, batch first, e.g. 1,3,224,224",
)
@click.option(
    "--kwargs",
    "kwargs",
    metavar="JSON",
    default=None,
    callback=_kwargs,
    help="keyword arguments for CALLABLE, a JSON object: '{\"num_classes\": 10}'",
)
@SPEC_OUTPUT
@click.option(
    "--flat",
    is_flag=True,
    help="no blocks: one group per module, every layer written out",
)
def COMMAND(target, input_shape, kwargs, output, flat):
    """Write a spec from a PyTorch module (needs: pip install 'layercalc[torch]').

    Imports MODULE, calls CALLABLE(**kwargs) for an nn.Module (in eval mode), traces
    it with torch.fx (forward hooks on the leaf modules when fx cannot) and writes a
    spec with the module's own names, so state_dict keys match: leaf modules are layers,
    `+`, torch.cat, flatten, ... are entries with `from:`, and module classes used
    several times become blocks whose arguments are the numbers that differ (and
    `has_...` flags for optional members, as ResNet's `downsample`). The spec ends with `expect:` (torch's output shape and parameter total) and
    is proved before it is written: layercalc builds it and compares every state_dict
    key and shape. Modules or operations with no spec equivalent are listed by module
    path with the reason, and nothing is written (exit 1).

    \b
      layercalc import torch torchvision.models:resnet50 --input 1,3,224,224
      layercalc import torch mymodels:Net --kwargs '{"width": 32}' \\
          --input 8,784 -o net.yaml
    """
    from .imports import check_output, fail, write_spec

    if not have_torch():
        return fail("`layercalc import torch` needs PyTorch, which is not installed", INSTALL)
    if check_output(output) is not None:  # a bad -o costs no import
        return 1
    try:
        from ..importers.torch import ImportFailure, import_torch
    except ImportError as exc:  # torch present but broken
        return fail(f"cannot import torch: {exc}", INSTALL)
    try:
        text = import_torch(target, input_shape, kwargs, blocks=not flat)
    except ImportFailure as exc:
        problems = [f"{path}: {reason}" for path, reason in exc.problems]
        return fail(exc.message, exc.hint, problems)
    return write_spec(output, text)
