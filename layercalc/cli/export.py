"""`layercalc export`: a spec written out as a standalone PyTorch module file."""

from __future__ import annotations

import click

from .common import click_option, echo_diagnostics, yaml_limit_options
from .options import INPUT, MAX_LAYERS, SETS


@click.command("export")
@click.argument("spec", metavar="SPEC")
@click.option(
    "--to",
    "target",
    type=click.Choice(["torch"]),
    default="torch",
    show_default=True,
    help="the framework to write for",
)
@click.option(
    "-o",
    "--output",
    "output",
    default=None,
    metavar="FILE.py",
    help="write here (all or nothing) instead of standard output (`-`: standard output)",
)
@click_option(SETS)
@click_option(INPUT)
@click_option(MAX_LAYERS)
@yaml_limit_options
def export_command(spec, target, output, sets, input_shape, max_layers):
    """Write SPEC as a readable, standalone PyTorch module file.

    One nn.Module class per block of the spec (its arguments the __init__ parameters,
    `when:` an if, a repeat a loop), one class for the network and build() making it
    with the spec's vars and --set applied. Children are named as layercalc names them
    (so state_dict keys are layercalc's names and `layercalc verify --save` arrays load
    with strict=True); forward follows the spec's data flow with verify's inference
    semantics. A block that cannot be written as a class is written as containers, with
    a comment saying why. A layer type that cannot be exported is a located error
    (exit 1), never a different model. SPEC may be `-`.
    """
    if output == "-":  # standard output, as import's -o - (and SPEC -) mean
        output = None
    from ..errors import Diagnostic
    from ..export import ExportError, to_source
    from ..outfile import OutputError, check_target, refuse_input, write_atomic
    from .run import load_all

    (r,) = load_all([spec], sets, input_shape, max_layers)
    if r.net is None:
        echo_diagnostics([r])
        return 1
    if output is not None:
        try:
            _, st = check_target(output)  # before the work: a bad -o costs nothing
            refuse_input(output, st, spec, "exported", "model.py")
        except OutputError as exc:
            r.diagnostics.append(
                Diagnostic(
                    "unwritable",
                    f"cannot write -o {output}: {exc.reason}",
                    file=r.file,
                    hint=exc.hint,
                )
            )
            echo_diagnostics([r])
            return 1
    try:
        text = to_source(r.net, target, r.file)
    except ExportError as exc:
        r.diagnostics.extend(exc.diagnostics)
        echo_diagnostics([r])
        return 1
    errors = [d for d in r.diagnostics if d.severity == "error"]
    if errors:
        echo_diagnostics([r])
        return 1
    echo_diagnostics([r])  # warnings, if any
    if output is None:
        click.echo(text, nl=False)
        return 0
    try:
        write_atomic(output, lambda fh: fh.write(text.encode("utf-8")), suffix=".py")
    except OutputError as exc:
        r.diagnostics.append(
            Diagnostic(
                "unwritable", f"cannot write -o {output}: {exc.reason}", file=r.file, hint=exc.hint
            )
        )
        echo_diagnostics([r])
        return 1
    return 0


COMMANDS = (export_command,)
