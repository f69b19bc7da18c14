"""`layercalc verify`: a real NumPy forward pass that checks every calculated number."""

from __future__ import annotations

import sys
import time

import click

from .common import (
    Digits,
    click_option,
    emit,
    prefixes_need_weights,
    spec_options,
    weights_options,
)
from .options import DEPTH
from .run import finish, load_all

PROGRESS_AFTER = 0.5  # seconds: quicker runs never show a progress bar


def _max_memory(ctx, param, value):
    from ..units import parse_bytes

    try:  # the grammar of expect's max_param_memory (layercalc.units)
        return parse_bytes(value, minimum=1)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _not_an_input(save, st, specs, weights=None, input_file=None) -> None:
    """Refuse a --save target that is a file being read: one of the SPEC files, the
    --input-file, the --weights file or a shard its index names (the same file, by
    device and inode, whatever the path; ``-`` is standard input). A user's checkpoint
    replaced by an npz would be lost."""
    import os

    from ..outfile import OutputError

    if st is None:
        return

    def same(path) -> bool:
        try:
            return os.path.samestat(st, os.fstat(0) if path == "-" else os.stat(path))
        except (OSError, ValueError):
            return False

    for spec in specs:
        if same(spec):
            what = "standard input" if spec == "-" else f"the spec '{spec}'"
            raise OutputError(
                save,
                f"it is {what}, which is being verified",
                "give --save a new file name, e.g. weights.npz; the spec is never overwritten",
            )
    from ..weights import files_read

    read = [("--input-file", input_file)]
    if weights is not None:  # the file, or an index and each of its shards
        read += [("--weights file", f) for f in files_read(weights)]
    for what, path in read:
        if path is not None and same(path):
            raise OutputError(
                save,
                f"it is the {what} '{path}', which is being read",
                "give --save a new file name, e.g. run.npz; what layercalc reads is never "
                "overwritten",
            )


class _Progress:
    """A rich progress bar on stderr, shown only on a terminal and only once the run has
    taken more than a moment (so quick runs and pipes stay clean): layers done, the
    elapsed time and an estimate of what is left. The estimate weighs each layer by its
    work (MACs plus the elements it writes), not by its count: a ResNet's first convs
    cost more than its last ReLUs."""

    def __init__(self, label: str, net=None):
        self.label = label
        self.start = time.perf_counter()
        self.bar = None
        self.task = None
        self.net = net
        self.done = None  # cumulative work after each layer, once the bar is shown
        try:  # sys.stderr is None when the process started with it closed (2>&-)
            self.enabled = sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, OSError, ValueError):
            self.enabled = False

    def __call__(self, i, n, name):
        if not self.enabled:
            return
        if self.bar is None and time.perf_counter() - self.start < PROGRESS_AFTER:
            return
        from rich.markup import escape

        from ..text import printable

        if self.bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[layer]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.done = self._work()
            total = self.done[-1] if self.done and len(self.done) == n else n
            self.task = self.bar.add_task(
                escape(printable(self.label)), total=total, layer="", count=""
            )
        work = self.done[i - 1] if self.done and len(self.done) == n and i > 0 else i
        self.bar.update(
            self.task, completed=work, count=f"{i:,}/{n:,}", layer=escape(printable(name))
        )

    def _work(self):
        """The cumulative work after each layer (made only for a bar shown, so a run
        that needs none never walks the layers for it), or None without a network."""
        if self.net is None:
            return None
        from ..arith import prod

        total, done = 0, []
        for layer in self.net.layers:
            total += layer.macs + prod(layer.output) + layer.params + 1
            done.append(total)
        return done

    def close(self):
        if self.bar is not None:
            self.bar.stop()


def _read(path, what: str, strip=None, add=None, data: bool = False):
    """The arrays of --weights (prefixes applied) or --input-file, the Diagnostic of a
    file that cannot be read, or None when the option is not given. A weights file with
    headers (.npz, .safetensors, an index) gives its shapes unless ``data``."""
    if path is None:
        return None
    from .. import weights as w

    try:
        if what == "input file":
            return w.load_input(path)
        if not data and what == "weights file" and w.headers_only(path):
            # their shapes first, from the headers: an archive of compressed zeros is
            # compared before it is inflated, and loaded (_arrays) only to run
            return w.rename(w.shapes(path), strip, add)
        return w.rename(w.load(path), strip, add)
    except w.WeightsError as exc:
        return exc.diagnostic(path, what)


def _given(r, arrays, weights, given, input_file, core) -> list:
    """The errors that keep a network from running on the given weights and input:
    an unreadable file, a missing, unexpected or mis-shaped tensor, an input of
    another shape. Empty when it may run."""
    from .. import weights as w
    from ..errors import Diagnostic

    out = []
    out += [found for found in (arrays, given) if isinstance(found, Diagnostic)]
    if arrays is not None and not isinstance(arrays, Diagnostic):
        out += w.compare(r.net, arrays, weights, r.file)
    if given is not None and not isinstance(given, Diagnostic):
        out += w.input_diagnostics(r.net, given, input_file, core._index_inputs(r.net), r.file)
    return out


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--seed",
    type=Digits(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="seed of the random parameters, buffers and input",
)
@click.option(
    "--save",
    "save",
    type=click.Path(readable=False),
    default=None,
    metavar="FILE.npz",
    help="write input, output and every parameter and buffer under its "
    "PyTorch state_dict key (one SPEC only)",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default="float32",
    show_default=True,
    help="element type of the forward pass",
)
@click.option(
    "--max-memory",
    "max_memory",
    default="2GiB",
    show_default=True,
    callback=_max_memory,
    metavar="SIZE",
    help="refuse runs whose estimated peak memory exceeds SIZE (512MiB, 2GiB)",
)
@click.option(
    "--max-steps",
    "max_steps",
    default=200_000,  # analyses.verify.DEFAULT_MAX_STEPS
    show_default=True,
    type=Digits(1),
    metavar="N",
    help="refuse runs of more than N recurrent time steps (each layer and direction)",
)
@weights_options(
    "run on a checkpoint's tensors (.safetensors, .npz; .pt/.pth/.bin with "
    "torch) instead of random ones"
)
@click.option(
    "--input-file",
    "input_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="X.npy",
    help="feed this input (.npy, or .npz with 'input' or 'input.NAME') instead of a random one",
)
@spec_options()
@click_option(DEPTH)
def verify(
    specs,
    seed,
    save,
    dtype,
    max_memory,
    max_steps,
    weights,
    strip_prefix,
    add_prefix,
    input_file,
    sets,
    input_shape,
    fmt,
    max_layers,
    width,
    full,
    depth,
):
    """Run the network for real in NumPy and check every calculated number.

    Every parameter and buffer gets a seeded random array of the exact shape PyTorch
    gives it; a seeded input (integer indices for embedding) goes through the network
    with inference semantics. Each layer passes when its array has the calculated
    shape and its tensors hold the calculated parameter and buffer counts. The peak
    memory is estimated first, and a run above --max-memory is refused. Exit 0 when
    everything agrees, 1 otherwise.

    --weights FILE runs on a checkpoint's tensors (compared first, as `check
    --weights` does: nothing runs when one is missing, unexpected or mis-shaped) and
    --input-file on a real input; --save then writes those, with the output they give.
    """
    if save is not None and len(specs) != 1:
        raise click.UsageError("--save writes one network's arrays: give exactly one SPEC")
    prefixes_need_weights(weights, strip_prefix, add_prefix)
    from ..machine import let_blas_threads_sleep

    let_blas_threads_sleep()  # before anything imports numpy
    from ..analyses import verify as core
    from ..errors import Diagnostic
    from ..graph import gc_paused
    from ..outfile import OutputError, check_target

    def unwritable(r, exc):
        r.diagnostics.append(
            Diagnostic(
                "unwritable",
                f"cannot write --save {save}: {exc.reason}",
                file=r.file,
                hint=exc.hint,
            )
        )

    results = load_all(specs, sets, input_shape, max_layers)
    runs = []  # (result, verification or None)
    arrays = given = None  # the --weights and --input-file arrays, read once
    if any(r.net is not None for r in results):
        arrays = _read(weights, "weights file", strip_prefix, add_prefix)
        given = _read(input_file, "input file")
    for r in results:
        if r.net is None:
            runs.append((r, None))
            continue
        refusal = core.integer_input_diagnostic(r.net, r.file) or core.rank_diagnostic(
            r.net, r.file
        )
        if refusal is not None:
            r.diagnostics.append(refusal)
            runs.append((r, None))
            continue
        from .. import weights as w

        found = _given(r, arrays, weights, given, input_file, core)
        if found:
            r.diagnostics += found
            runs.append((r, None))
            continue
        if save is not None:
            try:
                _, st = check_target(save)  # before the run: a bad --save costs no forward pass
                _not_an_input(save, st, specs, weights, input_file)
            except OutputError as exc:
                unwritable(r, exc)
                runs.append((r, None))
                continue
        # a checkpoint's tensors are all held from the start, as --save holds them
        estimate = core.estimate_memory(r.net, dtype, save is not None or arrays is not None)
        if estimate > max_memory:
            r.diagnostics.append(core.memory_diagnostic(r.net, estimate, max_memory, r.file))
            runs.append((r, None))
            continue
        if arrays is not None and any(isinstance(v, tuple) for v in arrays.values()):
            # the shapes agree: now the arrays
            arrays = _read(weights, "weights file", strip_prefix, add_prefix, data=True)
            if isinstance(arrays, Diagnostic):
                r.diagnostics.append(arrays)
                runs.append((r, None))
                continue
        if arrays is not None:
            found = w.tied_differences(r.net, arrays, weights, r.file)
            if found:
                r.diagnostics += found
                runs.append((r, None))
                continue
        steps, where = core.python_steps(r.net)
        if steps > max_steps:
            r.diagnostics.append(core.steps_diagnostic(r.net, steps, where, max_steps, r.file))
            runs.append((r, None))
            continue
        progress = _Progress(f"verify {r.file}", r.net)
        try:
            with gc_paused():  # a check record a layer, kept to the end: see gc_paused
                v = core.run(
                    r.net,
                    seed,
                    dtype,
                    save is not None,
                    progress,
                    estimate,
                    r.file,
                    weights=arrays,
                    inputs=None if given is None else w.match_inputs(r.net, given),
                )
        finally:
            progress.close()
        warning = core.nonfinite_diagnostic(r.net, v, r.file)
        if warning is not None:
            r.diagnostics.append(warning)
        from ..analyses.generation import window_diagnostic

        warning = window_diagnostic(r.net, r.file)
        if warning is not None:
            r.diagnostics.append(warning)
        if save is not None:
            if v.arrays is not None and any(k.startswith("output") for k in v.arrays):
                try:
                    core.save_npz(save, v.arrays)
                except OutputError as exc:
                    unwritable(r, exc)
            else:
                r.diagnostics.append(
                    Diagnostic(
                        "not-saved",
                        f"{save} was not written: the forward pass did not finish",
                        file=r.file,
                    )
                )
            v.arrays = None
        runs.append((r, v))

    from ..views import verify_table

    with gc_paused():  # rows and cells of every layer: see gc_paused
        tables = [
            None if v is None else verify_table(r.net, v, depth, r.diagnostics) for r, v in runs
        ]
    values = {"fmt": fmt, "width": width, "full": full}
    return emit(finish(results, tables, values, ok=all(v is not None and v.ok for _, v in runs)))


COMMANDS = (verify,)
