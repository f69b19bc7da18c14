"""Recurrent layers (SPEC.md section 12): ``rnn``, ``lstm``, ``gru`` with every constructor
option of torch.nn.RNN/LSTM/GRU, and the cells ``rnn_cell``, ``lstm_cell``, ``gru_cell``.

Shapes, state_dict names and refusals are PyTorch's (torch/nn/modules/rnn.py, read in
torch 2.14): the constructor's checks in its words, then the forward's (input rank and
size, initial state shapes). Outputs: ``output``, ``h_n`` (and ``c_n`` for lstm); a cell
gives ``h'`` (lstm_cell: ``h`` and ``c``). Initial states are optional further inputs
(``from: [x, h_0]``, ``from: [x, h_0, c_0]``), zeros when left out, as in PyTorch.

MACs count the weights' multiply-accumulates, as ``linear`` does (biases and the gates'
element-wise products are not counted): per time step, sample and direction, layer k
does G·H·I_k (input products) + G·H·H_out (hidden products) + H_out·H (the projection,
with proj_size), G = 1 (rnn), 4 (lstm), 3 (gru).
"""

from __future__ import annotations

from ..errors import LayerError
from .base import Arg, LayerType, Tensor

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
GATE_NAMES = {"rnn": "", "lstm": " (i, f, g, o)", "gru": " (r, z, n)"}
TORCH_NAME = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
MAX_STACK = 100_000  # num_layers, as the default --max-layers bounds leaf layers


class _Nonlinearity(Arg):
    """nn.RNN's nonlinearity: its constructor refuses other words in these words."""

    __slots__ = ()
    torch_refusal = "Unknown nonlinearity. Select from 'tanh' or 'relu'."


class _CellNonlinearity(Arg):
    """nn.RNNCell's nonlinearity: the constructor keeps any word, the forward refuses."""

    __slots__ = ()
    torch_refusal = "RNNCell's forward raises 'Unknown nonlinearity'"


def _sigmoid_(v):
    """sigmoid in place, as 0.5·(1 + tanh(x/2)): exact, and no overflow for large |x|."""
    import numpy as np

    v *= 0.5
    np.tanh(v, out=v)
    v += 1.0
    v *= 0.5


def _shape(s) -> str:
    return "(" + ", ".join(str(v) for v in s) + (",)" if len(s) == 1 else ")")


# -- one time step of each cell, in NumPy (gx: the input products with the biases that
# can be folded in; h, c: the state; returns the new state) ------------------------------


def _rnn_step(gx, h, w_hh, relu):
    import numpy as np

    g = np.dot(h, w_hh.T)
    g += gx
    if relu:
        np.maximum(g, 0, out=g)
    else:
        np.tanh(g, out=g)
    return g


def _lstm_step(gx, h, c, w_hh, w_hr, n_hidden):
    import numpy as np

    H = n_hidden
    g = np.dot(h, w_hh.T)
    g += gx
    _sigmoid_(g[:, : 2 * H])  # i, f
    np.tanh(g[:, 2 * H : 3 * H], out=g[:, 2 * H : 3 * H])  # g
    _sigmoid_(g[:, 3 * H :])  # o
    c = c * g[:, H : 2 * H]
    ig = g[:, :H] * g[:, 2 * H : 3 * H]
    c += ig
    del ig
    h = np.tanh(c)
    h *= g[:, 3 * H :]
    if w_hr is not None:
        h = np.dot(h, w_hr.T)
    return h, c


def _gru_step(gx, h, w_hh, b_hn, n_hidden):
    import numpy as np

    H = n_hidden
    gh = np.dot(h, w_hh.T)
    rz = gh[:, : 2 * H]
    rz += gx[:, : 2 * H]  # b_ir + b_hr and b_iz + b_hz are folded into gx
    _sigmoid_(rz)
    n = gh[:, 2 * H :]
    if b_hn is not None:
        n += b_hn
    n *= rz[:, :H]  # r ⊙ (W_hn h + b_hn)
    n += gx[:, 2 * H :]
    np.tanh(n, out=n)
    out = h - n
    out *= rz[:, H:]
    out += n  # (1 − z) ⊙ n + z ⊙ h
    return out


def _input_products(np, x2d, w_ih, b_ih, b_hh, mode, n_hidden):
    """x W_ihᵀ + b_ih, with b_hh folded in where the cell adds it unchanged (all of it for
    rnn and lstm; the r and z parts for gru, whose n part the reset gate multiplies)."""
    gx = np.dot(x2d, w_ih.T)
    if b_ih is not None:
        if mode == "gru":
            bias = b_ih.copy()
            bias[: 2 * n_hidden] += b_hh[: 2 * n_hidden]
        else:
            bias = b_ih + b_hh
        gx += bias  # one add over gx: a strided one on part of it takes NumPy buffers
    return gx


class Recurrent(LayerType):
    """torch.nn.RNN / LSTM / GRU.

    Parameters per layer k and direction: G·H·I_k + G·H·H_out + 2·G·H (biases) + P·H
    (weight_hr, with proj_size P), I_0 = input_size, I_k = D·H_out, H_out = P or H.
    MACs = Σ_k D·T·N·(G·H·I_k + G·H·H_out + P·H): every gate's input and hidden products
    for every time step and direction, weights only (as ``linear``), N = 1 unbatched.
    """

    family = "recurrent"
    merge = True  # the initial states are optional further inputs
    dropout_between_layers = True
    inferred = ("input_size",)

    def __init__(self, mode: str):
        self.mode = mode
        self.name = mode
        self.gates = GATES[mode]
        self.torch = TORCH_NAME[mode]
        self.doc = f"torch.nn.{self.torch}"
        args = [Arg("hidden_size", "int", doc="features of the hidden state h")]
        args.append(Arg("num_layers", "int", 1, doc="stacked recurrent layers"))
        if mode == "rnn":
            args.append(
                _Nonlinearity(
                    "nonlinearity", "choice", "tanh", words=("tanh", "relu"), doc="tanh or relu"
                )
            )
        args += [
            Arg("bias", "bool", True, doc="bias_ih and bias_hh"),
            Arg("batch_first", "bool", False, doc="(N, L, H_in) instead of (L, N, H_in)"),
            Arg("dropout", "float", 0.0, doc="between layers in training; off at inference"),
            Arg("bidirectional", "bool", False, doc="a backward direction too"),
        ]
        if mode == "lstm":
            args.append(Arg("proj_size", "int", 0, doc="projects h to this size (0: none)"))
        args.append(
            Arg("input_size", "int", None, nullable=True, doc="inferred from the input's last dim")
        )
        self.args = tuple(args)
        super().__init__()

    # -- shapes ---------------------------------------------------------------------------
    def _check_args(self, a):
        p = a["dropout"]
        if not 0 <= p <= 1:
            raise LayerError(
                "dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {p} (PyTorch "
                "refuses it)",
                arg="dropout",
            )
        given = a.get("input_size")
        if given is not None and given <= 0:
            raise LayerError(
                f"input_size must be greater than zero, got {given} (PyTorch refuses it)",
                arg="input_size",
            )
        if a["hidden_size"] <= 0:
            raise LayerError(
                f"hidden_size must be greater than zero, got {a['hidden_size']} "
                "(PyTorch refuses it)",
                arg="hidden_size",
            )
        if a["num_layers"] <= 0:
            raise LayerError(
                f"num_layers must be greater than zero, got {a['num_layers']} (PyTorch refuses it)",
                arg="num_layers",
            )
        if a["num_layers"] > MAX_STACK:
            raise LayerError(
                f"num_layers {a['num_layers']:,} is beyond layercalc's bound of "
                f"{MAX_STACK:,} stacked layers (each holds its own tensors)",
                arg="num_layers",
                code="too-large",
            )
        proj = a.get("proj_size", 0)
        if proj < 0:
            raise LayerError(
                f"proj_size should be a positive integer or zero to disable "
                f"projections, got {proj} (PyTorch refuses it)",
                arg="proj_size",
            )
        if proj >= a["hidden_size"]:
            raise LayerError(
                f"proj_size has to be smaller than hidden_size, got proj_size "
                f"{proj} and hidden_size {a['hidden_size']} (PyTorch refuses it)",
                arg="proj_size",
                hint=f"use a proj_size below {a['hidden_size']} (0: none)",
            )

    def infer(self, a, shapes):
        self._check_args(a)
        shape = tuple(shapes[0])
        rank = len(shape)
        if rank not in (2, 3):
            tensor = " tensor" if self.mode == "rnn" else ""
            raise LayerError(
                f"{self.torch}: Expected input to be 2D or 3D, got {rank}D"
                f"{tensor} instead (PyTorch refuses it; input {list(shape)})",
                code="bad-rank",
                hint="(L, N, H_in), (N, L, H_in) with batch_first, or (L, H_in) unbatched",
            )
        size = shape[-1]
        given = a.get("input_size")
        if given is None:
            if size <= 0:
                raise LayerError(
                    "input_size must be greater than zero, but the input's last "
                    f"dim is {size} (PyTorch refuses it)",
                    code="shape-mismatch",
                )
            a["input_size"] = size
        elif given != size:
            raise LayerError(
                f"input.size(-1) must be equal to input_size. Expected {given}, "
                f"got {size} (PyTorch refuses it)",
                arg="input_size",
                code="shape-mismatch",
                hint=f"set input_size: {size}, or remove it (layercalc infers it)",
            )
        batched = rank == 3
        bf = a["batch_first"] and batched
        steps = shape[1] if bf else shape[0]
        batch = (shape[0] if bf else shape[1]) if batched else None
        if steps == 0:
            raise LayerError(
                "Expected sequence length to be larger than 0 in RNN (PyTorch "
                f"refuses it; input {list(shape)})",
                code="shape-mismatch",
            )
        D = 2 if a["bidirectional"] else 1
        H = a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        lead = () if batch is None else (batch,)
        states = [("h_n", (D * a["num_layers"],) + lead + (h_out,))]
        if self.mode == "lstm":
            states.append(("c_n", (D * a["num_layers"],) + lead + (H,)))
        a["_steps"], a["_batch"], a["_states"] = steps, batch, tuple(states)
        self._check_states(a, shapes[1:], batched, batch)
        return shape[:-1] + (D * h_out,)

    def _check_states(self, a, given, batched, batch):
        if not given:
            return
        want = 2 if self.mode == "lstm" else 1
        if len(given) != want:
            states = "h_0, c_0" if self.mode == "lstm" else "h_0"
            raise LayerError(
                f"{self.name} takes its input alone or with its initial state"
                f"{'s' if want > 1 else ''} (from: [input, {states}], as "
                f"PyTorch's forward(input, {'(h_0, c_0)' if want > 1 else 'h_0'})"
                f"), but `from` names {len(given) + 1} inputs",
                arg="from",
                code="bad-from",
            )
        rank = 3 if batched else 2
        ranks = [len(s) for s in given]
        if any(r != rank for r in ranks):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if self.mode == "lstm":
                what = (
                    f"hx and cx should also be {rank}-D but got ({ranks[0]}-D, "
                    f"{ranks[1]}-D) tensors"
                )
            else:
                what = f"hx should also be {rank}-D but got {ranks[0]}-D tensor"
            raise LayerError(
                f"For {kind} input, {what} (PyTorch refuses it)", arg="from", code="bad-rank"
            )
        for i, ((name, need), got) in enumerate(zip(a["_states"], given)):
            if tuple(got) == need:
                continue
            # PyTorch compares the unbatched shapes with the batch dim put back
            t_need = need if batched else (need[0], 1) + need[1:]
            t_got = list(got) if batched else [got[0], 1] + list(got[1:])
            which = f"hidden[{i}] " if self.mode == "lstm" else "hidden "
            label = name.replace("_n", "_0")
            raise LayerError(
                f"{label} is {list(got)}, but this {self.name} needs "
                f"{list(need)} (PyTorch: Expected {which}size {t_need}, got "
                f"{t_got})",
                arg="from",
                code="shape-mismatch",
            )

    def outputs(self, a, shapes, out):
        return (("output", tuple(out)),) + a["_states"]

    # -- parameters and cost --------------------------------------------------------------
    def _layer_inputs(self, a) -> list[int]:
        D = 2 if a["bidirectional"] else 1
        h_out = a.get("proj_size", 0) or a["hidden_size"]
        return [a["input_size"] if k == 0 else D * h_out for k in range(a["num_layers"])]

    def tensors(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        ts = []
        for k, i_k in enumerate(self._layer_inputs(a)):
            for sfx in ("", "_reverse")[: 2 if a["bidirectional"] else 1]:
                ts += [
                    Tensor(f"weight_ih_l{k}{sfx}", (G * H, i_k)),
                    Tensor(f"weight_hh_l{k}{sfx}", (G * H, h_out)),
                ]
                if a["bias"]:
                    ts += [
                        Tensor(f"bias_ih_l{k}{sfx}", (G * H,), is_bias=True),
                        Tensor(f"bias_hh_l{k}{sfx}", (G * H,), is_bias=True),
                    ]
                if P:
                    ts.append(Tensor(f"weight_hr_l{k}{sfx}", (P, H)))
        return ts

    def macs(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        D = 2 if a["bidirectional"] else 1
        rows = a["_steps"] * (a["_batch"] if a["_batch"] is not None else 1)
        per_row = sum(G * H * i_k + G * H * h_out + P * H for i_k in self._layer_inputs(a))
        return D * rows * per_row

    def window(self, a, shapes, out):
        return None  # every output step may depend on every input step

    def saved(self, a, shapes, out):
        """What backpropagation through time keeps beyond the output: at every time step,
        for every layer and direction, the gates (G·H), the cell state (lstm), h before
        its projection (proj_size) and the hidden outputs of the layers below the last."""
        G, H = self.gates, a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        D = 2 if a["bidirectional"] else 1
        rows = a["_steps"] * (a["_batch"] if a["_batch"] is not None else 1)
        n = a["num_layers"]
        per = G * H + (H if self.mode == "lstm" else 0) + (H if P else 0)
        return D * rows * (n * per + (n - 1) * h_out)

    def summary(self, a):
        parts = [f"{a['input_size']}->{a['hidden_size']}"]
        if a.get("proj_size"):
            parts.append(f"proj={a['proj_size']}")
        if a["num_layers"] != 1:
            parts.append(f"layers={a['num_layers']}")
        if a["bidirectional"]:
            parts.append("bidirectional")
        if a["batch_first"]:
            parts.append("batch_first")
        if not a["bias"]:
            parts.append("bias=False")
        if a.get("nonlinearity", "tanh") != "tanh":
            parts.append(a["nonlinearity"])
        if a["dropout"]:
            parts.append(f"dropout={a['dropout']}")
        return " ".join(parts)

    # -- explain --------------------------------------------------------------------------
    def explain_shape(self, a, shapes, out):
        D = 2 if a["bidirectional"] else 1
        H, P = a["hidden_size"], a.get("proj_size", 0)
        h_out = P or H
        batched = a["_batch"] is not None
        lay = (
            ("(N, L, H_in)" if a["batch_first"] else "(L, N, H_in)")
            if batched
            else "(L, H_in), unbatched"
        )
        lines = [
            f"input {lay} = {_shape(shapes[0])}: L = {a['_steps']} steps"
            + (f", N = {a['_batch']}" if batched else "")
            + f", H_in = input_size = {a['input_size']}"
        ]
        hout = f"H_out = proj_size = {P}" if P else f"H_out = hidden_size = {H}"
        lines.append(
            f"output: last dim D·H_out = {D}·{h_out} = {D * h_out} ({hout}, D = "
            f"{D} direction{'s' if D > 1 else ''}); the other dims stay"
        )
        n = ", N" if batched else ""
        for name, s in a["_states"]:
            last = "H_out" if name == "h_n" else "H"
            lines.append(f"{name}: (D·num_layers{n}, {last}) = {_shape(s)}")
        return lines

    def explain_params(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        D = 2 if a["bidirectional"] else 1
        b = 2 if a["bias"] else 0
        lines = [
            f"G = {G} gate{'s' if G > 1 else ''}{GATE_NAMES[self.mode]}, H = {H}"
            + (f", P = proj_size = {P}" if P else "")
            + f", D = {D}; per layer and "
            f"direction {G}·(H·I + {'P' if P else 'H'}·H"
            + (" + 2H)" if b else ")")
            + (" + P·H" if P else "")
        ]
        total = 0
        inputs = self._layer_inputs(a)
        L = len(inputs)
        # layer 0 reads the input, every later one the same D·H_out: one line for them
        for first, last in ((0, 0), (1, L - 1)) if L > 1 else ((0, 0),):
            i_k = inputs[first]
            one = G * (H * i_k + H * h_out + b * H) + P * H
            total += (last - first + 1) * D * one
            src = "input_size" if first == 0 else "D·H_out"
            label = f"layer {first}" if first == last else f"layers {first}-{last}, each"
            text = (
                f"{label}: {G}·({H}·{i_k} + {H}·{h_out}"
                + (f" + 2·{H})" if b else ")")
                + (f" + {P}·{H}" if P else "")
                + f" = {one:,}"
            )
            if D > 1:
                text += f" × {D} directions = {D * one:,}"
            lines.append(text + f" (I = {src} = {i_k})")
        if a["num_layers"] > 1:
            lines.append(f"total {total:,}")
        i0, o = a["input_size"], D * h_out
        dense = i0 * o + o
        ratio = total / dense
        lines.append(
            f"a linear layer of the same {i0:,} inputs and {o:,} outputs per step "
            f"would hold {i0:,}·{o:,} + {o:,} = {dense:,} parameters; this "
            f"{self.name} holds {total:,} ({ratio:,.1f}×): each of its "
            f"{G} gate set{'s' if G > 1 else ''} reads the input and the previous "
            "hidden state"
        )
        return lines

    # -- forward --------------------------------------------------------------------------
    def workspace(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        h_out = a.get("proj_size", 0) or H
        D, L = (2 if a["bidirectional"] else 1), a["num_layers"]
        T, N = a["_steps"], a["_batch"] if a["_batch"] is not None else 1
        layer_out = T * N * D * h_out  # the layer below's output, read by the next
        gx = T * N * G * H  # one direction's input products
        step = 3 * N * G * H + 4 * N * (H + h_out)  # one step's temporaries
        states = D * L * N * (h_out + H)  # the zero initial states
        # + NumPy's buffer for adding the bias row to gx (8192 elements, measured)
        return (layer_out if L > 1 else 0) + gx + step + states + 8192 + 64

    def python_steps(self, a):
        """Each layer and direction: its time steps, plus 2 for its input products and
        set-up (num_layers: 99,999 over 2 steps cost as much as 300,000 steps)."""
        D = 2 if a["bidirectional"] else 1
        return a["num_layers"] * D * (a["_steps"] + 2)

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        batched = x.ndim == 3
        bf = a["batch_first"] and batched
        if not batched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        T = x.shape[1] if bf else x.shape[0]
        N = x.shape[0] if bf else x.shape[1]
        G, H = self.gates, a["hidden_size"]
        P = a.get("proj_size", 0)
        h_out = P or H
        D, L = (2 if a["bidirectional"] else 1), a["num_layers"]
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else w["weight_ih_l0"].dtype
        lstm = self.mode == "lstm"
        h_n = np.empty((D * L, N, h_out), dtype)
        c_n = np.empty((D * L, N, H), dtype) if lstm else None
        if len(xs) > 1:
            h0 = xs[1].reshape(D * L, N, h_out)
            c0 = xs[2].reshape(D * L, N, H) if lstm else None
        else:
            h0 = np.zeros((D * L, N, h_out), dtype)
            c0 = np.zeros((D * L, N, H), dtype) if lstm else None
        relu = a.get("nonlinearity") == "relu"
        inp = x
        for k in range(L):
            out = np.empty((N, T, D * h_out) if bf else (T, N, D * h_out), dtype)
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w_hh = w["weight_hh" + sfx]
                b_hh = w.get("bias_hh" + sfx)
                gx = _input_products(
                    np,
                    inp.reshape(-1, inp.shape[-1]),
                    w["weight_ih" + sfx],
                    w.get("bias_ih" + sfx),
                    b_hh,
                    self.mode,
                    H,
                )
                gx = gx.reshape(inp.shape[:-1] + (G * H,))
                b_hn = b_hh[2 * H :] if self.mode == "gru" and b_hh is not None else None
                w_hr = w.get("weight_hr" + sfx)
                idx = k * D + d
                h = h0[idx]
                c = c0[idx] if lstm else None
                cols = slice(d * h_out, (d + 1) * h_out)
                for t in range(T - 1, -1, -1) if d else range(T):
                    g_t = gx[:, t] if bf else gx[t]
                    if lstm:
                        h, c = _lstm_step(g_t, h, c, w_hh, w_hr, H)
                    elif self.mode == "gru":
                        h = _gru_step(g_t, h, w_hh, b_hn, H)
                    else:
                        h = _rnn_step(g_t, h, w_hh, relu)
                    if bf:
                        out[:, t, cols] = h
                    else:
                        out[t, :, cols] = h
                h_n[idx] = h
                if lstm:
                    c_n[idx] = c
                del gx, g_t, h, c
            inp = out  # dropout between layers is off at inference
            del out
        output = inp
        if not batched:
            output = output.reshape(T, D * h_out)
            h_n = h_n.reshape(D * L, h_out)
            c_n = c_n.reshape(D * L, H) if lstm else None
        return [output, h_n, c_n] if lstm else [output, h_n]


class RecurrentCell(LayerType):
    """torch.nn.RNNCell / LSTMCell / GRUCell: one time step.

    Parameters: G·H·I + G·H·H + 2·G·H (biases). MACs = N·(G·H·I + G·H·H) (weights only,
    as ``linear``), N = 1 unbatched.
    """

    family = "recurrent"
    merge = True
    inferred = ("input_size",)

    def __init__(self, mode: str):
        self.mode = mode
        self.name = f"{mode}_cell"
        self.gates = GATES[mode]
        self.torch = TORCH_NAME[mode] + "Cell"
        self.doc = f"torch.nn.{self.torch}"
        args = [
            Arg("hidden_size", "int", doc="features of the hidden state h"),
            Arg("bias", "bool", True, doc="bias_ih and bias_hh"),
        ]
        if mode == "rnn":
            args.append(
                _CellNonlinearity(
                    "nonlinearity", "choice", "tanh", words=("tanh", "relu"), doc="tanh or relu"
                )
            )
        args.append(
            Arg("input_size", "int", None, nullable=True, doc="inferred from the input's last dim")
        )
        self.args = tuple(args)
        super().__init__()

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        rank = len(shape)
        if rank not in (1, 2):
            raise LayerError(
                f"{self.torch}: Expected input to be 1D or 2D, got {rank}D "
                f"instead (PyTorch refuses it; input {list(shape)})",
                code="bad-rank",
                hint="(N, input_size), or (input_size) unbatched",
            )
        given = a.get("input_size")
        if given is None:
            a["input_size"] = shape[-1]
        elif given != shape[-1]:
            raise LayerError(
                f"input has inconsistent input_size: got {shape[-1]} expected "
                f"{given} (PyTorch refuses it)",
                arg="input_size",
                code="shape-mismatch",
                hint=f"set input_size: {shape[-1]}, or remove it (layercalc infers it)",
            )
        H = a["hidden_size"]
        if H < 0:
            raise LayerError(
                f"Trying to create tensor with negative dimension {H}: "
                f"[{self.gates * H}, {a['input_size']}] (PyTorch refuses "
                f"hidden_size {H})",
                arg="hidden_size",
            )
        if H == 0:
            raise LayerError(
                "hidden_size 0 gives an empty output (PyTorch returns one; "
                "layercalc models no empty tensors)",
                arg="hidden_size",
                code="output-too-small",
            )
        out = shape[:-1] + (H,)
        a["_batch"] = shape[0] if rank == 2 else None
        given = shapes[1:]
        if given:
            want = 2 if self.mode == "lstm" else 1
            if len(given) != want:
                states = "h_0, c_0" if self.mode == "lstm" else "h_0"
                raise LayerError(
                    f"{self.name} takes its input alone or with its state "
                    f"(from: [input, {states}]), but `from` names "
                    f"{len(given) + 1} inputs",
                    arg="from",
                    code="bad-from",
                )
            for i, s in enumerate(given):
                label = ("h_0", "c_0")[i]
                if len(s) not in (1, 2):
                    what = f"hx[{i}]" if self.mode == "lstm" else "hidden"
                    raise LayerError(
                        f"{self.torch}: Expected {what} to be 1D or 2D, got "
                        f"{len(s)}D instead (PyTorch refuses it)",
                        arg="from",
                        code="bad-rank",
                    )
                if len(s) != rank:
                    raise LayerError(
                        f"{label} is {list(s)}, but a {rank}-D input needs a "
                        f"{rank}-D {label} {list(out)} (PyTorch refuses it)",
                        arg="from",
                        code="bad-rank",
                    )
                if rank == 2 and s[0] != shape[0]:
                    raise LayerError(
                        f"Input batch size {shape[0]} doesn't match hidden{i} "
                        f"batch size {s[0]} (PyTorch refuses it)",
                        arg="from",
                        code="shape-mismatch",
                    )
                if s[-1] != H:
                    raise LayerError(
                        f"hidden{i} has inconsistent hidden_size: got {s[-1]}, "
                        f"expected {H} (PyTorch refuses it)",
                        arg="from",
                        code="shape-mismatch",
                    )
        return out

    def outputs(self, a, shapes, out):
        if self.mode != "lstm":
            return None
        return (("h", tuple(out)), ("c", tuple(out)))

    def tensors(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        ts = [Tensor("weight_ih", (G * H, a["input_size"])), Tensor("weight_hh", (G * H, H))]
        if a["bias"]:
            ts += [
                Tensor("bias_ih", (G * H,), is_bias=True),
                Tensor("bias_hh", (G * H,), is_bias=True),
            ]
        return ts

    def macs(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        n = a["_batch"] if a["_batch"] is not None else 1
        return n * (G * H * a["input_size"] + G * H * H)

    def saved(self, a, shapes, out):
        n = a["_batch"] if a["_batch"] is not None else 1
        return n * self.gates * a["hidden_size"]  # the gates, for the backward pass

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        text = f"{a['input_size']}->{a['hidden_size']}"
        if not a["bias"]:
            text += " bias=False"
        if a.get("nonlinearity", "tanh") != "tanh":
            text += " " + a["nonlinearity"]
        return text

    def explain_params(self, a, shapes, out):
        G, H, i = self.gates, a["hidden_size"], a["input_size"]
        b = 2 if a["bias"] else 0
        total = G * (H * i + H * H + b * H)
        dense = i * H + H
        return [
            f"G = {G} gate{'s' if G > 1 else ''}{GATE_NAMES[self.mode]}: {G}·(H·I + H·H"
            + (" + 2H)" if b else ")")
            + f" = {G}·({H}·{i} + {H}·{H}"
            + (f" + 2·{H})" if b else ")")
            + f" = {total:,}",
            f"a linear layer of the same {i:,} inputs and {H:,} outputs would hold "
            f"{i:,}·{H:,} + {H:,} = {dense:,} parameters; this {self.name} holds "
            f"{total:,} ({total / dense:,.1f}×): each of its {G} gate "
            f"set{'s' if G > 1 else ''} reads the input and the previous hidden state",
        ]

    def workspace(self, a, shapes, out):
        G, H = self.gates, a["hidden_size"]
        n = a["_batch"] if a["_batch"] is not None else 1
        return 2 * n * G * H + 4 * n * H + 8192 + 64  # gx, the hidden products, gates, zeros

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        batched = x.ndim == 2
        x2 = x if batched else x.reshape(1, -1)
        N, H = x2.shape[0], a["hidden_size"]
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else w["weight_ih"].dtype
        lstm = self.mode == "lstm"
        if len(xs) > 1:
            h = xs[1].reshape(N, H)
            c = xs[2].reshape(N, H) if lstm else None
        else:
            h = np.zeros((N, H), dtype)
            c = np.zeros((N, H), dtype) if lstm else None
        b_hh = w.get("bias_hh")
        gx = _input_products(np, x2, w["weight_ih"], w.get("bias_ih"), b_hh, self.mode, H)
        if lstm:
            h, c = _lstm_step(gx, h, c, w["weight_hh"], None, H)
        elif self.mode == "gru":
            h = _gru_step(gx, h, w["weight_hh"], b_hh[2 * H :] if b_hh is not None else None, H)
        else:
            h = _rnn_step(gx, h, w["weight_hh"], a.get("nonlinearity") == "relu")
        del gx
        if not batched:
            h = h.reshape(H)
            c = c.reshape(H) if lstm else None
        return [h, c] if lstm else h


def recurrents():
    return [Recurrent(m) for m in GATES] + [RecurrentCell(m) for m in GATES]
