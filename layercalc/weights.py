"""Real weights (issue 16): read a checkpoint and compare it with a network's state_dict.

Formats, by suffix:

- ``.safetensors``: through the ``safetensors`` package when it is installed, else by
  reading its documented layout ourselves (an 8-byte little-endian header length, a
  JSON header of ``{key: {dtype, shape, data_offsets}}``, then the data). The header is
  checked before anything is read: at most MAX_HEADER bytes, every tensor's bytes
  inside the file and of its shape's size. bfloat16 becomes float32 (NumPy has none).
- ``.npz``: ``numpy.load(allow_pickle=False)``.
- ``.pt``, ``.pth``, ``.bin``: ``torch.load(weights_only=True)``, only when torch is
  installed; without it nothing is unpickled and the error says how to install it.
- ``.index.json``: a sharded checkpoint's index (Hugging Face's
  ``model.safetensors.index.json``): its ``weight_map`` names, for every key, the shard
  file beside it that holds it; each shard is read as above (headers only for
  ``shapes``), and a key the index maps to a shard that does not hold it is an error.

A state dict nested under a ``state_dict`` or ``model`` key (a training checkpoint) is
unwrapped. :func:`compare` gives located diagnostics: a missing or mis-shaped tensor
at the spec line of the layer it belongs to, an unexpected one at the weights file.
"""

from __future__ import annotations

import json
import os
import struct

from .errors import MAX_PROBLEMS, Diagnostic

SAFETENSORS = (".safetensors",)
NPZ = (".npz",)
TORCH = (".pt", ".pth", ".bin")
INDEX = (".index.json",)
SUFFIXES = SAFETENSORS + NPZ + TORCH + INDEX
MAX_INDEX = 64 * 2**20  # bytes of a sharded checkpoint's index
MAX_HEADER = 100 * 2**20  # bytes of a safetensors JSON header (the package's own bound)
MAX_RANK = 64
NESTED = ("state_dict", "model")  # keys a training checkpoint keeps its state dict under

# safetensors dtype -> (NumPy dtype, bytes per element); BF16 is read as uint16
ST_DTYPES = {
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U64": ("<u8", 8),
    "U32": ("<u4", 4),
    "U16": ("<u2", 2),
    "U8": ("u1", 1),
    "BOOL": ("?", 1),
}

TORCH_HINT = "pip install 'layercalc[torch]' (or pip install torch)"


class WeightsError(Exception):
    """A weights file that cannot be read; ``diagnostic(path)`` locates it at the file."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostic(self, path: str, what: str = "weights file") -> Diagnostic:
        return Diagnostic(
            "input-file" if what == "input file" else "weights-unreadable",
            f"cannot read the {what} '{path}': {self.message}",
            1,
            1,
            "error",
            self.hint,
            path,
        )


# -- reading -----------------------------------------------------------------------------


def _regular(path: str) -> None:
    """Refuse a path that is not a regular file (a pipe or device would block or never
    end) before anything opens it; raises OSError for a missing one."""
    import stat

    if not stat.S_ISREG(os.stat(path).st_mode):
        raise WeightsError("not a regular file")


def kind_of(path: str) -> str:
    low = os.fspath(path).lower()
    for kind, suffixes in (
        ("index", INDEX),
        ("safetensors", SAFETENSORS),
        ("npz", NPZ),
        ("torch", TORCH),
    ):
        if low.endswith(suffixes):
            return kind
    raise WeightsError(
        "unknown format",
        "give a .safetensors, .npz, .pt, .pth or .bin file, or the .index.json of a "
        "sharded checkpoint",
    )


def load(path: str) -> dict:
    """The tensors of the weights file ``path``: state_dict key -> NumPy array (bfloat16
    as float32). Raises WeightsError."""
    kind = kind_of(path)
    if kind == "index":
        return _sharded(path, load)
    read = {"safetensors": _load_safetensors, "npz": _load_npz}.get(kind, _load_torch)
    return _real(_guarded(path, read))


def shapes(path: str) -> dict:
    """key -> shape of the tensors of ``path``: a safetensors file's header alone (no
    data read), the other formats loaded. Raises WeightsError."""
    kind = kind_of(path)
    if kind == "index":
        return _sharded(path, shapes)
    if kind == "npz":  # each member's .npy header: nothing decompressed beyond it
        return _guarded(path, _npz_shapes)
    if kind != "safetensors":
        return {k: tuple(v.shape) for k, v in load(path).items()}
    try:
        _regular(path)
        with open(path, "rb") as fh:
            header, _ = _safetensors_header(fh, os.fstat(fh.fileno()).st_size)
    except OSError as exc:
        raise WeightsError(exc.strerror or str(exc)) from None
    return {k: shape for k, (_, shape, _) in header.items()}


def _guarded(path: str, read) -> dict:
    """``read(path)``, any failure of a damaged file a WeightsError."""
    try:
        _regular(path)  # a missing file is said plainly, whatever reads it
        return read(path)
    except WeightsError:
        raise
    except OSError as exc:
        raise WeightsError(exc.strerror or str(exc)) from None
    except MemoryError:
        raise WeightsError("not enough memory to read it") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file of any kind is refused
        raise WeightsError(f"{type(exc).__name__}: {exc}") from None


def _npz_shapes(path: str) -> dict:
    """key -> shape of an .npz's arrays from their .npy headers, as np.load names them
    (a member's name without .npy): a 4 MB archive of compressed zeros is not inflated
    to gigabytes to learn a shape."""
    import zipfile

    import numpy as np

    fmt = np.lib.format
    out = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            key = info.filename.removesuffix(".npy")
            with z.open(info) as fh:
                try:
                    version = fmt.read_magic(fh)
                except ValueError:
                    raise WeightsError(
                        f"'{key}' is not a NumPy array (.npy) inside the archive"
                    ) from None
                if version == (1, 0):
                    shape, _, dtype = fmt.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = fmt.read_array_header_2_0(fh)
                else:
                    shape, _, dtype = fmt._read_array_header(fh, version)
            if dtype.hasobject:
                raise WeightsError(
                    f"'{key}' holds Python objects, which layercalc never unpickles",
                    "save plain numeric arrays",
                )
            out[key] = tuple(int(d) for d in shape)
    return out


def _shards(path: str) -> dict:
    """A sharded checkpoint's index: shard file (beside the index) -> the keys the
    index maps to it, in order. Raises WeightsError."""
    try:
        _regular(path)
        with open(path, "rb") as fh:
            raw = fh.read(MAX_INDEX + 1)
    except OSError as exc:
        raise WeightsError(exc.strerror or str(exc)) from None
    if len(raw) > MAX_INDEX:
        raise WeightsError(f"an index larger than {MAX_INDEX // 2**20} MiB")
    try:
        index = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(f"the index is not JSON ({exc})") from None
    wmap = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(wmap, dict) or not wmap:
        raise WeightsError(
            "the index has no 'weight_map' of key -> shard file",
            "give the .index.json a sharded Hugging Face checkpoint comes with",
        )
    here = os.path.dirname(os.fspath(path))
    shards: dict = {}
    for key, name in wmap.items():
        if not isinstance(name, str) or os.path.basename(name) != name or name in ("", ".", ".."):
            raise WeightsError(
                f"the index maps '{key}' to {json.dumps(name)}, not a file name beside it"
            )
        if kind_of(name) == "index":
            raise WeightsError(f"the index maps '{key}' to another index, '{name}'")
        shards.setdefault(os.path.join(here, name), []).append(key)
    return shards


def files_read(path: str) -> list:
    """The files reading the checkpoint ``path`` opens: itself, and an index's shards
    (an index that cannot be read names none: reading it is refused anyway)."""
    if kind_of_or_none(path) != "index":
        return [path]
    try:
        return [path, *_shards(path)]
    except WeightsError:
        return [path]


def headers_only(path: str) -> bool:
    """Whether :func:`shapes` reads ``path`` without loading its tensors: .safetensors
    and .npz have headers; a torch pickle (or an index of them) is loaded whole."""
    kind = kind_of_or_none(path)
    if kind == "index":
        return all(kind_of_or_none(f) in ("safetensors", "npz") for f in files_read(path)[1:])
    return kind in ("safetensors", "npz")


def kind_of_or_none(path: str) -> str | None:
    try:
        return kind_of(path)
    except WeightsError:
        return None


def _sharded(path: str, read) -> dict:
    """Every shard of the index ``path`` read with ``read`` (load or shapes) into one
    state dict: the keys the index maps to a shard must be in it, and no key may be in
    two shards. Raises WeightsError naming the shard."""
    out: dict = {}
    for shard, keys in _shards(path).items():
        name = os.path.basename(shard)
        try:
            got = read(shard)
        except WeightsError as exc:
            raise WeightsError(f"shard '{name}': {exc.message}", exc.hint) from None
        absent = [k for k in keys if k not in got]
        if absent:
            more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
            raise WeightsError(
                f"the index maps '{absent[0]}'{more} to shard '{name}', which does not hold it",
                "the index and its shards are from different checkpoints?",
            )
        twice = next((k for k in got if k in out), None)
        if twice is not None:
            raise WeightsError(f"tensor '{twice}' is in two shards (one is '{name}')")
        out.update(got)
    return out


def _safetensors_header(fh, size: int) -> tuple[dict, int]:
    """The parsed and checked header of a safetensors file and where its data starts."""
    head = fh.read(8)
    if len(head) < 8:
        raise WeightsError("not a safetensors file: shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER:
        raise WeightsError(
            f"not a safetensors file: its header claims {n:,} bytes, above the "
            f"bound of {MAX_HEADER:,}"
        )
    if n > size - 8:
        raise WeightsError(
            f"truncated or not a safetensors file: its header claims {n:,} bytes, "
            f"but the file holds {size - 8:,} after the length"
        )
    raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WeightsError(f"not a safetensors file: its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WeightsError("not a safetensors file: its header is not a JSON object")
    start = 8 + n
    data = size - start
    out = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise WeightsError(f"tensor '{key}': its header entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in ST_DTYPES:
            raise WeightsError(f"tensor '{key}': unsupported dtype {dtype!r}")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_RANK
            or not all(type(d) is int and d >= 0 for d in shape)
        ):
            raise WeightsError(f"tensor '{key}': bad shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data
        ):
            raise WeightsError(
                f"tensor '{key}': data_offsets {offsets!r} lie outside the {data:,} bytes of data"
            )
        numel = 1
        for d in shape:
            numel *= d
        if numel * ST_DTYPES[dtype][1] != offsets[1] - offsets[0]:
            raise WeightsError(
                f"tensor '{key}': {dtype} {shape} needs {numel * ST_DTYPES[dtype][1]:,} "
                f"bytes, its data_offsets give {offsets[1] - offsets[0]:,}"
            )
        out[key] = (dtype, tuple(shape), offsets)
    return out, start


def _bf16(np, raw):
    """bfloat16 bits (uint16) -> float32: the same bits in the high half."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _load_safetensors(path: str) -> dict:
    import numpy as np

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        header, start = _safetensors_header(fh, size)  # checked before the package reads
        dtypes = {dtype for dtype, _, _ in header.values()}
        try:
            from safetensors.numpy import load_file
        except ImportError:
            load_file = None
        if load_file is not None and "BF16" not in dtypes:  # NumPy has no bfloat16
            return dict(load_file(path))
        out = {}
        for key, (dtype, shape, (lo, hi)) in header.items():
            fh.seek(start + lo)
            buf = fh.read(hi - lo)
            if len(buf) != hi - lo:
                raise WeightsError(f"tensor '{key}': the file ends inside its data")
            arr = np.frombuffer(buf, dtype=ST_DTYPES[dtype][0]).reshape(shape)
            if dtype == "BF16":
                arr = _bf16(np, arr)
            out[key] = arr
        return out


def _load_npz(path: str) -> dict:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    for k, v in out.items():  # NumPy hands back a member that is no .npy as its bytes
        if not isinstance(v, np.ndarray):
            raise WeightsError(f"'{k}' is not a NumPy array (.npy) inside the archive")
    return out


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _load_torch(path: str) -> dict:
    try:
        import torch
    except ImportError:
        raise WeightsError(
            "a PyTorch pickle (.pt, .pth, .bin) is read only through torch.load("
            "weights_only=True), and torch is not installed; layercalc never unpickles "
            "it otherwise",
            f"{TORCH_HINT}, or save the weights as .safetensors or .npz",
        ) from None
    import warnings

    try:
        with warnings.catch_warnings():  # torch's own (pickle protocol, sparse tensors)
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, zip errors
        raise WeightsError(
            f"torch.load(weights_only=True) refused it: {_torch_refusal(exc)}",
            "layercalc loads only tensors and plain containers, never running a pickle's "
            "code: save model.state_dict() (torch.save, or as .safetensors)",
        ) from None
    obj = _unwrap(obj)
    out = {}
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu()
            if v.dtype == torch.bfloat16:
                v = v.float()
            try:
                out[str(k)] = v.numpy()
            except (TypeError, RuntimeError):  # float8, quantized, sparse layouts...
                raise WeightsError(
                    f"tensor '{k}' is {v.dtype}"
                    + ("" if v.layout == torch.strided else f" ({v.layout})")
                    + ", which NumPy cannot hold",
                    "save it as a dense float32, float16 or bfloat16 tensor",
                ) from None
        elif isinstance(v, (int, float)) and "." in str(k):  # a state_dict key, no tensor
            raise WeightsError(
                f"'{k}' is a Python {type(v).__name__}, not a tensor (PyTorch's "
                "load_state_dict refuses it too: expected torch.Tensor)",
                f"save it as a tensor: torch.tensor({v!r})",
            )
    return _real(out)


def _real(arrays: dict) -> dict:
    """``arrays``, or a WeightsError for a complex one: layercalc runs real networks (a
    complex input or weight meets PyTorch's "Input type (c10::complex<float>) and bias
    type (float) should be the same"; NumPy would silently drop the imaginary part)."""
    for k, v in arrays.items():
        if getattr(v, "dtype", None) is not None and v.dtype.kind == "c":
            raise WeightsError(
                f"'{k}' is complex ({v.dtype}); the network is real (PyTorch refuses a "
                "complex tensor beside real weights)",
                "save the real part, or the real and imaginary parts as two channels",
            )
    return arrays


def _torch_refusal(exc: Exception) -> str:
    """What torch.load's refusal says of the file, without its advice to load with
    weights_only=False (layercalc never does) or its terminal escapes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    said = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    blocked = re.search(r"unsupported GLOBAL (\S+) whose module \S+ is blocked", text)
    if said:
        line = said.group(1).strip()
        found = re.match(r"Unsupported global: GLOBAL (\S+) was not an allowed global", line)
        if found:
            return (
                f"it pickles a {found.group(1)} object, not only tensors (a whole model "
                "saved with torch.save(model)?)"
            )
        if line.startswith("Unsupported operand"):
            return f"it is no PyTorch checkpoint ({line.lower()} in its pickle)"
        return line
    if blocked:
        return f"it pickles {blocked.group(1)}, which is never loaded"
    if isinstance(exc, OSError) or "PytorchStreamReader" in text or "zip archive" in text:
        return "the file is damaged or truncated"
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[0] if lines else type(exc).__name__


def _unwrap(obj):
    """The state dict of a checkpoint: ``obj`` itself, or the mapping under its
    ``state_dict`` or ``model`` key."""
    if not isinstance(obj, dict):
        raise WeightsError(f"it holds a {type(obj).__name__}, not a state dict")
    for key in NESTED:
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj


def rename(arrays: dict, strip: str | None = None, add: str | None = None) -> dict:
    """Keys with the prefix ``strip`` removed (keys without it are kept) and ``add``
    put in front, as a wrapper's `module.` or `model.` asks."""
    out = {}
    was: dict = {}  # renamed key -> the file's key
    for k, v in arrays.items():
        new = k
        if strip and new.startswith(strip):
            new = new[len(strip) :]
        if add:
            new = add + new
        if new in was:  # one tensor would silently replace the other
            flags = " ".join(
                f"{flag} {p}" for flag, p in (("--strip-prefix", strip), ("--add-prefix", add)) if p
            )
            raise WeightsError(
                f"{flags}: '{was[new]}' and '{k}' both become '{new}'",
                "the file holds the tensor with and without the prefix: remove one of "
                "them, or give a prefix that tells them apart",
            )
        was[new] = k
        out[new] = v
    return out


# -- comparing -----------------------------------------------------------------------------


def expected(net) -> dict:
    """The network's state_dict: key -> (shape, layer). Each leaf layer's tensors and
    its tied keys (PyTorch's state_dict holds a tied tensor under both keys); a shared
    module's further calls hold none, so it appears once."""
    out = {}
    for layer in net.layers:
        if layer.shares is not None:
            continue
        for t in layer.tensors:
            out.setdefault(layer.state_key(t.key), (tuple(t.shape), layer))
        for key, _, shape in layer.ties:
            out.setdefault(layer.state_key(key), (tuple(shape), layer))
    return out


def _shape(v) -> tuple:
    return tuple(int(d) for d in (v if isinstance(v, tuple) else v.shape))


def _common_prefix_hint(found: list, want: list) -> str | None:
    """A hint naming --strip-prefix or --add-prefix when one would make most keys meet
    (a checkpoint of a model with a head, `model.` before its body's keys, checked
    against a spec of the body alone, and the other way round)."""
    if not found or not want:
        return None
    from collections import Counter

    def prefix(keys):
        firsts = Counter(k.split(".", 1)[0] for k in keys if "." in k)
        return f"{firsts.most_common(1)[0][0]}." if firsts else None

    want_set, found_set = set(want), set(found)
    p = prefix(found)
    if p is not None:
        met = sum(k[len(p) :] in want_set for k in found if k.startswith(p))
        if met > len(want) // 2:
            rest = sum(not k.startswith(p) for k in found)
            return f"the file's keys carry the prefix '{p}': give --strip-prefix {p}" + (
                f" ({rest} other key{'s' if rest != 1 else ''} of the file, a head the "
                "spec lacks, stay unexpected)"
                if rest
                else ""
            )
    p = prefix(want)
    if p is not None:
        met = sum(k[len(p) :] in found_set for k in want if k.startswith(p))
        if met > len(found) // 2:
            return f"the spec's keys carry the prefix '{p}': give --add-prefix {p}"
    return None


def reserved(key: str) -> bool:
    """``input``, ``output`` and their ``.NAME`` forms: the arrays `verify --save` keeps
    beside the tensors (no layer may be named so), ignored in a weights file."""
    return key.split(".", 1)[0] in ("input", "output")


def compare(net, found: dict, weights_path: str, spec_file: str | None = None) -> list:
    """Diagnostics of the tensors ``found`` (key -> array or shape) against ``net``'s
    state_dict: ``weights-missing`` and ``weights-shape`` at the line of the layer the
    tensor belongs to, ``weights-unexpected`` at the weights file; in spec order, then
    the file's. At most MAX_PROBLEMS, then one ``too-many-problems``."""
    spec_file = spec_file or net.spec.file
    want = expected(net)
    shapes = {k: _shape(v) for k, v in found.items()}
    hint = _common_prefix_hint(list(shapes), list(want))
    # a tied key the file omits while holding its source: safetensors cannot store one
    # tensor twice, so save_pretrained of a tied model (Qwen2.5, GPT-2) keeps it once
    tied = {layer.state_key(key): src for layer in net.layers for key, src, _ in layer.ties}
    out: list = []
    for key, (shape, layer) in want.items():
        node = layer.node
        line, col = getattr(node, "line", 1), getattr(node, "col", 1)
        where = f"layer '{layer.name}' ({layer.type.name})"
        if key not in shapes and tied.get(key) in shapes:
            continue  # the source's own shape is checked under its key
        if key not in shapes:
            out.append(
                Diagnostic(
                    "weights-missing",
                    f"{where}: tensor '{key}' {list(shape)} is not in {weights_path}",
                    line,
                    col,
                    "error",
                    hint,
                    spec_file,
                )
            )
        elif shapes[key] != shape:
            out.append(
                Diagnostic(
                    "weights-shape",
                    f"{where}: tensor '{key}' is {list(shapes[key])} in "
                    f"{weights_path}, the spec gives {list(shape)}",
                    line,
                    col,
                    "error",
                    None,
                    spec_file,
                )
            )
    for key in shapes:
        if key not in want and not reserved(key):
            out.append(
                Diagnostic(
                    "weights-unexpected",
                    f"tensor '{key}' {list(shapes[key])} belongs to no layer of "
                    f"{spec_file or 'the spec'}",
                    1,
                    1,
                    "error",
                    hint,
                    weights_path,
                )
            )
    if hint is not None:  # said once, at the first missing or unexpected tensor
        first = next((i for i, d in enumerate(out) if d.hint == hint), None)
        out = [
            d if i == first or d.hint != hint else d._replace(hint=None) for i, d in enumerate(out)
        ]
    if len(out) > MAX_PROBLEMS:
        rest = len(out) - MAX_PROBLEMS
        out = out[:MAX_PROBLEMS] + [
            Diagnostic(
                "too-many-problems",
                f"{rest:,} more weights problems not shown",
                1,
                1,
                "error",
                hint or "is this the checkpoint of this spec?",
                weights_path,
            )
        ]
    return out


def tied_differences(net, arrays: dict, weights_path: str, spec_file: str | None = None) -> list:
    """``weights-tied`` errors, at the tying layer, for each tied key the file holds
    with values other than its source's: the spec runs one tensor where the checkpoint
    has two (PyTorch's load_state_dict would copy both into the one parameter, the
    later module's last), so the run could not be the checkpoint's."""
    import numpy as np

    out = []
    for layer in net.layers:
        for key, src, _ in layer.ties:
            full = layer.state_key(key)
            a, b = arrays.get(full), arrays.get(src)
            nan = a is not None and a.dtype.kind in "fc"  # NaN where it is NaN is equal
            if a is None or b is None or np.array_equal(a, b, equal_nan=nan):
                continue
            node = layer.node
            out.append(
                Diagnostic(
                    "weights-tied",
                    f"layer '{layer.name}' ({layer.type.name}) ties '{full}' to '{src}', "
                    f"but {weights_path} holds the two with different values",
                    getattr(node, "line", 1),
                    getattr(node, "col", 1),
                    "error",
                    "the checkpoint is of an untied model: remove the `tie:` (or set the "
                    "var that ties them to 0)",
                    spec_file or net.spec.file,
                )
            )
    return out


# -- inputs ----------------------------------------------------------------------------------


def load_input(path: str) -> dict:
    """The arrays of an --input-file: a .npy is ``input``; a .npz gives ``input`` or
    ``input.NAME`` keys (other keys, such as a saved output, are ignored)."""
    import numpy as np

    low = os.fspath(path).lower()
    try:
        _regular(path)
        if low.endswith(".npy"):
            return _real({"input": np.load(path, allow_pickle=False)})
        if low.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                return _real({k: z[k] for k in z.files if k == "input" or k.startswith("input.")})
    except WeightsError:
        raise
    except OSError as exc:
        raise WeightsError(exc.strerror or str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a damaged file is refused
        raise WeightsError(f"{type(exc).__name__}: {exc}") from None
    raise WeightsError("unknown format", "give a .npy file, or a .npz with an 'input' key")


def match_inputs(net, given: dict) -> dict:
    """The --input-file arrays by the spec's input refs: by key, or the file's one
    array for a network of one input."""
    refs = net.spec.input_refs()
    out = {ref: given[ref] for ref in refs if ref in given}
    if not out and len(refs) == 1 and len(given) == 1:
        out = {next(iter(refs)): next(iter(given.values()))}
    return out


def input_diagnostics(net, given: dict, path: str, index_refs=(), spec_file=None) -> list:
    """Located errors of an --input-file against the spec's inputs: one missing, of
    another shape, or of the wrong kind (integer indices for an embedding's input)."""
    import numpy as np

    spec_file = spec_file or net.spec.file
    refs = net.spec.input_refs()
    out = []
    for ref, shape in refs.items():
        name = ref[len("input.") :] if ref != "input" else None
        node = net.spec.input_nodes.get(name, net.spec.input_node) if name else None
        node = node or net.spec.input_node
        line, col = getattr(node, "line", 1), getattr(node, "col", 1)
        what = "the input" if name is None else f"input '{name}'"
        arr = match_inputs(net, given).get(ref)
        if arr is None:
            out.append(
                Diagnostic(
                    "input-file",
                    f"{what} {list(shape)} is not in {path} (key '{ref}')",
                    line,
                    col,
                    "error",
                    "a .npy holds the one input; a .npz holds 'input' or 'input.NAME'",
                    spec_file,
                )
            )
        elif tuple(arr.shape) != tuple(shape):
            out.append(
                Diagnostic(
                    "input-file",
                    f"{what} is {list(shape)} in the spec, {list(arr.shape)} in {path}",
                    line,
                    col,
                    "error",
                    f"give --input {','.join(map(str, arr.shape))} to run at the file's shape"
                    if name is None and arr.shape
                    else None,
                    spec_file,
                )
            )
        elif ref in index_refs and not np.issubdtype(arr.dtype, np.integer):
            out.append(
                Diagnostic(
                    "input-file",
                    f"{what} feeds an embedding and needs integer indices; {path} holds "
                    f"{arr.dtype}",
                    line,
                    col,
                    "error",
                    None,
                    spec_file,
                )
            )
        elif not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            out.append(
                Diagnostic(
                    "input-file",
                    f"{what} in {path} holds {arr.dtype}, not numbers",
                    line,
                    col,
                    "error",
                    None,
                    spec_file,
                )
            )
    return out
