#!/usr/bin/env python3
"""seqlab_torch: move the weights of seqlab's recurrent networks to and from PyTorch.

What it is: a converter between a seqlab model file (HDF5, docs/formats.md "Recurrent networks")
and a PyTorch module, SeqlabCharModel, that computes exactly what seqlab computes:

    nn.Embedding(V + 1, E) -> nn.RNN / nn.LSTM / nn.GRU(E, H, num_layers=L) -> nn.Linear(H, V)

with seqlab's prediction convention: the network input at step t is the PREVIOUS symbol x_{t-1},
and at t = 0 the extra "start" row V of the embedding; the head's output at step t scores x_t.
So log p(x_1..x_T) includes the first symbol, as every seqlab model does.

It also converts seqlab's sequence-level task models (root attribute `task`: RnnTaskModel,
a classifier or regressor over whole sequences), as SeqlabTaskModel:

    [nn.Embedding(V, E)] -> nn.RNN / nn.LSTM / nn.GRU(D, H, num_layers=L, bidirectional=b)
                         -> final states h_n of the top layer (both directions) -> nn.Linear(R, O)

over symbols (with the embedding) or frames (without), uni- or bidirectional: the backward
direction's parameters carry PyTorch's "_reverse" suffix in both worlds.

What it is not: a general exporter. Only the options PyTorch's own modules implement convert:
Elman cells with tanh or relu, LSTM, and GRU in its "pytorch" variant, without residual
connections. Leaky units, Jordan networks, time-delay connections, the "cho" GRU and residual
stacks have no torch.nn counterpart and are refused with a one-line error, as are next-step
models over frames or vectors (no embedding and softmax head).

Command line (see docs/torch.md):
    python3 seqlab_torch.py to-torch MODEL.h5 OUT.pt [--dtype float64|float32]
    python3 seqlab_torch.py from-torch IN.pt OUT.h5 [--alphabet CHARS | --alphabet-file FILE]
                                                    [--separator S] [--nonlinearity tanh|relu]
                                                    [--task classify|regress]
                                                    [--kind symbols|vectors|binary_frames]

A .pt file written by to-torch is a dict {"seqlab_torch": 1, "config": ..., "alphabet": [...],
"separator": ..., "unknown_index": ..., "state_dict": ...}; load_checkpoint() turns it back into
a ready SeqlabCharModel. from-torch reads such a dict or a bare state_dict of SeqlabCharModel
(module names embedding / rnn / head); a bare state_dict carries no alphabet, so --alphabet or
--alphabet-file is then required. A bare state_dict of a SeqlabTaskModel needs --task (and,
without an embedding, --kind).

Numbers: a seqlab file stores float64. to-torch keeps float64 unless asked for float32;
from-torch widens float32 tensors to float64, which is exact.
"""

import argparse
import contextlib
import os
import sys
import tempfile

import h5py
import numpy as np
import torch
from torch import nn

FORMAT_VERSION = 1          # the seqlab_format this converter reads and writes
CHECKPOINT_VERSION = 1      # the "seqlab_torch" key of the .pt dicts written here
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}   # rows of weight_ih_l{k} = blocks * H
CELL_OF_BLOCKS = {blocks: cell for cell, blocks in GATE_BLOCKS.items()}
TASKS = ("classify", "regress")
KINDS = ("symbols", "vectors", "binary_frames")


class ConversionError(Exception):
    """A file or checkpoint that cannot be converted; the message is one line naming the cause."""


class SeqlabCharModel(nn.Module):
    """seqlab's recurrent model over V symbols, as a PyTorch module.

    Parameters (state_dict keys = seqlab dataset names with '/' for '.'):
      embedding.weight         (V + 1, E)   row v = input for symbol v; row V = the start input
      rnn.weight_ih_l{k}       (G H, D)     D = E for k = 0, else H; G = 1 (rnn), 3 (gru), 4 (lstm)
      rnn.weight_hh_l{k}       (G H, H)     gate order as torch: LSTM i,f,g,o; GRU r,z,n
      rnn.bias_ih_l{k}, rnn.bias_hh_l{k}  (G H)
      head.weight (V, H), head.bias (V)
    """

    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers, cell="lstm",
                 nonlinearity="tanh", dtype=torch.float64):
        super().__init__()
        if cell not in CELLS:
            raise ConversionError(f"cell '{cell}' is not one of {', '.join(CELLS)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ConversionError(f"nonlinearity '{nonlinearity}' is not tanh or relu")
        self.vocab_size = vocab_size
        self.cell = cell
        self.nonlinearity = nonlinearity
        self.embedding = nn.Embedding(vocab_size + 1, embedding_size, dtype=dtype)
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = CELLS[cell](embedding_size, hidden_size, num_layers=num_layers, dtype=dtype,
                               **extra)
        self.head = nn.Linear(hidden_size, vocab_size, dtype=dtype)

    @property
    def start_index(self):
        """The embedding row fed at t = 0 (there is no previous symbol yet)."""
        return self.vocab_size

    def config(self):
        """The constructor arguments (without dtype), as stored in a checkpoint."""
        return {"vocab_size": self.vocab_size,
                "embedding_size": self.embedding.embedding_dim,
                "hidden_size": self.rnn.hidden_size,
                "num_layers": self.rnn.num_layers,
                "cell": self.cell,
                "nonlinearity": self.nonlinearity}

    def forward(self, symbols):
        """Logits of every step of whole sequences, each scored from the initial (zero) state.

        symbols: LongTensor (T,) or (T, B), time first, values in 0..V-1.
        Returns (T, V) or (T, B, V): logits[t] scores symbols[t] given symbols[:t].
        """
        single = symbols.dim() == 1
        if single:
            symbols = symbols.unsqueeze(1)
        if symbols.shape[0] == 0:  # torch's recurrent modules reject empty sequences
            logits = self.head.weight.new_zeros((0, symbols.shape[1], self.vocab_size))
        else:
            start = torch.full((1, symbols.shape[1]), self.start_index, dtype=torch.long,
                               device=symbols.device)
            inputs = torch.cat([start, symbols[:-1]], dim=0)
            hidden, _ = self.rnn(self.embedding(inputs))
            logits = self.head(hidden)
        return logits.squeeze(1) if single else logits

    def step_log_probs(self, symbols):
        """log p(x_t | x_<t) for every t, natural logs: (T,) or (T, B)."""
        log_probs = torch.log_softmax(self.forward(symbols), dim=-1)
        return log_probs.gather(-1, symbols.unsqueeze(-1)).squeeze(-1)


# ---- seqlab model files ----------------------------------------------------------------------

def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_convertible(path, attrs):
    """Raises ConversionError unless the file's options are ones torch.nn implements."""
    model = _text(attrs.get("model", ""))
    if model == "leaky":
        raise ConversionError(f"{path}: leaky-unit networks have no PyTorch equivalent "
                              "(only rnn, lstm and gru convert)")
    if model == "jordan":
        raise ConversionError(f"{path}: Jordan networks (the previous output fed back) have no "
                              "PyTorch equivalent (only rnn, lstm and gru convert)")
    delay = int(attrs.get("delay", 0))
    if delay != 0:
        raise ConversionError(f"{path}: the time-delay connection (delay = {delay}) has no "
                              "torch.nn.RNN equivalent (only models without --delay convert)")
    if model not in CELLS:
        raise ConversionError(f"{path}: model type '{model}' is not a recurrent network that "
                              "converts (expected rnn, lstm or gru)")
    kind = _text(attrs.get("kind", "symbols"))
    if kind != "symbols":
        raise ConversionError(f"{path}: a model over {kind} has no embedding and softmax head "
                              "(only models over symbols convert)")
    if model == "rnn":
        activation = _text(attrs.get("activation", "tanh"))
        if activation not in ("tanh", "relu"):
            raise ConversionError(f"{path}: root attribute 'activation' is '{activation}', "
                                  "expected tanh or relu")
    if model == "gru":
        variant = _text(attrs.get("gru_variant", ""))
        if variant != "pytorch":
            raise ConversionError(f"{path}: GRU variant '{variant}' differs from torch.nn.GRU "
                                  "(only gru_variant = pytorch converts)")
    if int(attrs.get("residual", 0)) != 0:
        raise ConversionError(f"{path}: residual connections have no torch.nn.RNN/LSTM/GRU "
                              "equivalent")


def read_seqlab(path):
    """Reads a seqlab recurrent model file.

    Returns (config, alphabet, tensors): config as SeqlabCharModel's arguments, alphabet a dict
    {"symbols": [...], "separator": str, "unknown_index": int or None}, tensors a dict from
    state_dict key to float64 numpy array. Raises ConversionError (one line) for files that are
    not seqlab models, options without a torch equivalent, and missing or mis-shaped datasets.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConversionError(f"{path}: cannot open as HDF5 ({e})") from None
    with f:
        attrs = dict(f.attrs)
        if "seqlab_format" not in attrs or "model" not in attrs:
            raise ConversionError(f"{path}: not a seqlab model file (no 'seqlab_format' or "
                                  "'model' attribute)")
        if int(attrs["seqlab_format"]) != FORMAT_VERSION:
            raise ConversionError(f"{path}: seqlab_format {int(attrs['seqlab_format'])} is not "
                                  f"supported (this converter reads {FORMAT_VERSION})")
        _check_convertible(path, attrs)
        if "alphabet" not in f or "embedding" not in f:
            raise ConversionError(f"{path}: no 'alphabet' or 'embedding/weight': only models "
                                  "over symbols convert")
        cell = _text(attrs["model"])
        alphabet_ds = f["alphabet"]
        alphabet = {"symbols": list(alphabet_ds.asstr()[...]),
                    "separator": _text(alphabet_ds.attrs.get("separator", "")),
                    "unknown_index": (int(alphabet_ds.attrs["unknown_index"])
                                      if "unknown_index" in alphabet_ds.attrs else None)}
        tensors = {}

        def collect(name, obj):
            if isinstance(obj, h5py.Dataset) and name != "alphabet":
                tensors[name.replace("/", ".")] = np.asarray(obj[...], dtype=np.float64)

        f.visititems(collect)

    config = _infer_config(path, tensors, cell)
    if config["vocab_size"] != len(alphabet["symbols"]):
        raise ConversionError(f"{path}: 'alphabet' has {len(alphabet['symbols'])} symbols but "
                              f"head/weight scores {config['vocab_size']}")
    if cell == "rnn":
        config["nonlinearity"] = _text(attrs.get("activation", "tanh"))
    _check_shapes(path, config, tensors)
    return config, alphabet, tensors


def _infer_config(where, tensors, cell=None):
    """SeqlabCharModel's arguments from parameter shapes (nonlinearity left at tanh)."""
    for key in sorted(tensors):
        if key.endswith("_reverse") or ".weight_hr_l" in key:
            raise ConversionError(f"{where}: parameter '{key.replace('.', '/')}' belongs to a "
                                  "bidirectional or projected torch module, which does not "
                                  "convert to a next-step model (a SeqlabTaskModel's weights "
                                  "convert with --task)")
    for key in ("embedding.weight", "head.weight", "rnn.weight_hh_l0"):
        if key not in tensors:
            raise ConversionError(f"{where}: missing parameter '{key.replace('.', '/')}'")
    rows, hidden = tensors["rnn.weight_hh_l0"].shape
    blocks = rows // hidden if hidden > 0 else 0
    if cell is None:
        if blocks * hidden != rows or blocks not in CELL_OF_BLOCKS:
            raise ConversionError(f"{where}: rnn/weight_hh_l0 has shape {rows} x {hidden}, "
                                  "expected (G*H, H) with G = 1, 3 or 4")
        cell = CELL_OF_BLOCKS[blocks]
    layers = 0
    while f"rnn.weight_ih_l{layers}" in tensors:
        layers += 1
    vocab_plus_start, embedding = tensors["embedding.weight"].shape
    return {"vocab_size": vocab_plus_start - 1, "embedding_size": embedding,
            "hidden_size": hidden, "num_layers": layers, "cell": cell, "nonlinearity": "tanh"}


def _expected_shapes(config):
    v, e, h = config["vocab_size"], config["embedding_size"], config["hidden_size"]
    g = GATE_BLOCKS[config["cell"]]
    shapes = {"embedding.weight": (v + 1, e), "head.weight": (v, h), "head.bias": (v,)}
    for k in range(config["num_layers"]):
        shapes[f"rnn.weight_ih_l{k}"] = (g * h, e if k == 0 else h)
        shapes[f"rnn.weight_hh_l{k}"] = (g * h, h)
        shapes[f"rnn.bias_ih_l{k}"] = (g * h,)
        shapes[f"rnn.bias_hh_l{k}"] = (g * h,)
    return shapes


def _check_shapes(where, config, tensors):
    """Every parameter present with its shape, and nothing else (e.g. no reverse direction)."""
    if config["num_layers"] < 1 or config["vocab_size"] < 1:
        raise ConversionError(f"{where}: no recurrent layer or an empty embedding")
    expected = _expected_shapes(config)
    for key, shape in expected.items():
        if key not in tensors:
            raise ConversionError(f"{where}: missing parameter '{key.replace('.', '/')}' "
                                  f"(expected shape {shape})")
        if tuple(tensors[key].shape) != shape:
            raise ConversionError(f"{where}: '{key.replace('.', '/')}' has shape "
                                  f"{tuple(tensors[key].shape)}, expected {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise ConversionError(f"{where}: parameter '{extra[0].replace('.', '/')}' has no place in "
                              "a unidirectional embedding -> rnn -> linear model (bidirectional, "
                              "projections and extra layers do not convert)")


@contextlib.contextmanager
def _atomic_output(path, suffix):
    """Yields a temporary path next to `path`, renamed to `path` when the block succeeds and
    removed when it fails, so a failed write never leaves a half-written file at `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConversionError(f"{path}: the folder {folder} does not exist")
    handle, temp = tempfile.mkstemp(prefix=".seqlab_torch-", suffix=suffix, dir=folder)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would make the output private to its writer
    try:
        yield temp
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _reproducible_file(path):
    """An h5py.File for writing whose bytes depend only on its contents (no timestamps).

    HDF5 1.10 object headers (libver v110) are about a quarter smaller than the default 1.8 ones,
    but they stamp every group with its creation time unless told not to.
    """
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))


def _reproducible_group(parent, name):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    h5py.h5g.create(parent.id, name.encode("utf-8"), gcpl=gcpl)


def write_seqlab(path, config, alphabet, tensors, created_by=None):
    """Writes a seqlab recurrent model file with every attribute the format requires.

    tensors: state_dict key -> array-like (any float dtype; stored as float64).
    The file is written under a temporary name in the same folder and renamed, so a failure
    never leaves a half-written file at `path`.
    """
    _check_shapes(path, config, {k: np.asarray(v) for k, v in tensors.items()})
    if len(alphabet["symbols"]) != config["vocab_size"]:
        raise ConversionError(f"{path}: the alphabet has {len(alphabet['symbols'])} symbols, the "
                              f"model {config['vocab_size']}")
    if len(set(alphabet["symbols"])) != len(alphabet["symbols"]) or "" in alphabet["symbols"]:
        raise ConversionError(f"{path}: alphabet symbols must be distinct and non-empty")
    with _atomic_output(path, ".h5") as temp, _reproducible_file(temp) as f:
        f.attrs["seqlab_format"] = np.int64(FORMAT_VERSION)
        f.attrs["model"] = config["cell"]
        f.attrs["created_by"] = created_by or f"seqlab_torch.py (PyTorch {torch.__version__})"
        f.attrs["kind"] = "symbols"
        f.attrs["hidden"] = np.int64(config["hidden_size"])
        f.attrs["layers"] = np.int64(config["num_layers"])
        f.attrs["embedding"] = np.int64(config["embedding_size"])
        f.attrs["input_size"] = np.int64(config["vocab_size"])
        f.attrs["residual"] = np.int64(0)
        f.attrs["dropout"] = np.float64(0.0)
        if config["cell"] == "rnn":
            f.attrs["activation"] = config["nonlinearity"]
        if config["cell"] == "gru":
            f.attrs["gru_variant"] = "pytorch"
        ds = f.create_dataset("alphabet", data=alphabet["symbols"],
                              dtype=h5py.string_dtype("utf-8"), track_times=False)
        ds.attrs["separator"] = alphabet.get("separator", "")
        if alphabet.get("unknown_index") is not None:
            ds.attrs["unknown_index"] = np.int64(alphabet["unknown_index"])
        for key in _expected_shapes(config):
            group, name = key.split(".")
            if group not in f:
                _reproducible_group(f, group)
            f[group].create_dataset(name, data=np.asarray(tensors[key], dtype=np.float64),
                                    track_times=False)


# ---- sequence-level task models ----------------------------------------------------------------

class SeqlabTaskModel(nn.Module):
    """seqlab's RnnTaskModel (a whole sequence -> one output), as a PyTorch module.

    Parameters (state_dict keys = seqlab dataset names with '/' for '.'):
      embedding.weight            (V, E)     symbols only; row v = input for symbol v (no start row)
      rnn.weight_ih_l{k}[_reverse] (G H, D)  D = E or d for k = 0, else R = H * directions
      rnn.weight_hh_l{k}[_reverse] (G H, H), rnn.bias_ih_l{k}[_reverse], rnn.bias_hh_l{k}[_reverse]
      head.weight (O, R), head.bias (O)      O = K classes or m targets
    The sequence's representation is the top layer's h_n: the forward direction's state after
    the last real step and, when bidirectional, the backward direction's state after reading the
    first step, concatenated [forward; backward]; padding is never read (packed sequences).
    """

    def __init__(self, task, kind, input_size, hidden_size, num_layers, outputs, cell="lstm",
                 embedding_size=0, bidirectional=False, nonlinearity="tanh",
                 dtype=torch.float64):
        super().__init__()
        if task not in TASKS:
            raise ConversionError(f"task '{task}' is not one of {', '.join(TASKS)}")
        if kind not in KINDS:
            raise ConversionError(f"kind '{kind}' is not one of {', '.join(KINDS)}")
        if cell not in CELLS:
            raise ConversionError(f"cell '{cell}' is not one of {', '.join(CELLS)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ConversionError(f"nonlinearity '{nonlinearity}' is not tanh or relu")
        self.task, self.kind, self.cell = task, kind, cell
        self.input_size, self.outputs = input_size, outputs
        self.nonlinearity, self.bidirectional = nonlinearity, bool(bidirectional)
        first = input_size
        if kind == "symbols":
            self.embedding = nn.Embedding(input_size, embedding_size, dtype=dtype)
            first = embedding_size
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = CELLS[cell](first, hidden_size, num_layers=num_layers,
                               bidirectional=self.bidirectional, dtype=dtype, **extra)
        directions = 2 if self.bidirectional else 1
        self.head = nn.Linear(directions * hidden_size, outputs, dtype=dtype)

    def config(self):
        """The constructor arguments (without dtype), as stored in a checkpoint."""
        return {"task": self.task, "kind": self.kind, "input_size": self.input_size,
                "hidden_size": self.rnn.hidden_size, "num_layers": self.rnn.num_layers,
                "outputs": self.outputs, "cell": self.cell,
                "embedding_size": self.embedding.embedding_dim if self.kind == "symbols" else 0,
                "bidirectional": self.bidirectional, "nonlinearity": self.nonlinearity}

    def features(self, sequences):
        """The representation of each sequence: (B, R).

        sequences: a list of B tensors, each (T_i,) LongTensor symbols or (T_i, d) frames, T_i >= 1.
        """
        lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        padded = nn.utils.rnn.pad_sequence(list(sequences))  # time first
        inputs = self.embedding(padded) if self.kind == "symbols" else padded
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths, enforce_sorted=False)
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        directions = 2 if self.bidirectional else 1
        return torch.cat(list(h_n[-directions:]), dim=1)

    def forward(self, sequences):
        """(B, O): class log-probabilities (classify) or predictions (regress)."""
        outputs = self.head(self.features(sequences))
        return torch.log_softmax(outputs, dim=-1) if self.task == "classify" else outputs


def _directions(config):
    return ["", "_reverse"] if config["bidirectional"] else [""]


def _expected_task_shapes(config):
    h, g = config["hidden_size"], GATE_BLOCKS[config["cell"]]
    r = h * len(_directions(config))
    shapes = {"head.weight": (config["outputs"], r), "head.bias": (config["outputs"],)}
    first = config["input_size"]
    if config["kind"] == "symbols":
        shapes["embedding.weight"] = (config["input_size"], config["embedding_size"])
        first = config["embedding_size"]
    for k in range(config["num_layers"]):
        for suffix in _directions(config):
            shapes[f"rnn.weight_ih_l{k}{suffix}"] = (g * h, first if k == 0 else r)
            shapes[f"rnn.weight_hh_l{k}{suffix}"] = (g * h, h)
            shapes[f"rnn.bias_ih_l{k}{suffix}"] = (g * h,)
            shapes[f"rnn.bias_hh_l{k}{suffix}"] = (g * h,)
    return shapes


def _check_task_shapes(where, config, tensors):
    if config["num_layers"] < 1 or config["outputs"] < 1 or config["input_size"] < 1:
        raise ConversionError(f"{where}: no recurrent layer, no output or no input")
    if config["task"] == "classify" and config["outputs"] < 2:
        raise ConversionError(f"{where}: a classifier needs at least 2 classes, head/weight "
                              f"has {config['outputs']} rows")
    expected = _expected_task_shapes(config)
    for key, shape in expected.items():
        if key not in tensors:
            raise ConversionError(f"{where}: missing parameter '{key.replace('.', '/')}' "
                                  f"(expected shape {shape})")
        if tuple(tensors[key].shape) != shape:
            raise ConversionError(f"{where}: '{key.replace('.', '/')}' has shape "
                                  f"{tuple(tensors[key].shape)}, expected {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise ConversionError(f"{where}: parameter '{extra[0].replace('.', '/')}' has no place in "
                              "a seqlab task model (projections and extra layers do not convert)")


def _infer_task_config(where, tensors, task, kind, cell=None):
    """SeqlabTaskModel's arguments from parameter shapes (nonlinearity left at tanh)."""
    for key in sorted(tensors):
        if ".weight_hr_l" in key:
            raise ConversionError(f"{where}: parameter '{key.replace('.', '/')}' belongs to a "
                                  "projected torch module, which does not convert")
    for key in ("head.weight", "rnn.weight_hh_l0", "rnn.weight_ih_l0"):
        if key not in tensors:
            raise ConversionError(f"{where}: missing parameter '{key.replace('.', '/')}'")
    rows, hidden = tensors["rnn.weight_hh_l0"].shape
    blocks = rows // hidden if hidden > 0 else 0
    if cell is None:
        if blocks * hidden != rows or blocks not in CELL_OF_BLOCKS:
            raise ConversionError(f"{where}: rnn/weight_hh_l0 has shape {rows} x {hidden}, "
                                  "expected (G*H, H) with G = 1, 3 or 4")
        cell = CELL_OF_BLOCKS[blocks]
    if kind is None:
        kind = "symbols" if "embedding.weight" in tensors else "vectors"
    if (kind == "symbols") != ("embedding.weight" in tensors):
        raise ConversionError(f"{where}: kind '{kind}' " + ("needs" if kind == "symbols" else
                              "has no use for") + " an 'embedding/weight' parameter")
    layers = 0
    while f"rnn.weight_ih_l{layers}" in tensors:
        layers += 1
    if kind == "symbols":
        input_size, embedding = tensors["embedding.weight"].shape
    else:
        input_size, embedding = tensors["rnn.weight_ih_l0"].shape[1], 0
    return {"task": task, "kind": kind, "input_size": input_size, "hidden_size": hidden,
            "num_layers": layers, "outputs": tensors["head.weight"].shape[0], "cell": cell,
            "embedding_size": embedding, "bidirectional": "rnn.weight_hh_l0_reverse" in tensors,
            "nonlinearity": "tanh"}


def read_seqlab_task(path):
    """Reads a seqlab task model file (root attribute `task`).

    Returns (config, alphabet or None, tensors) as read_seqlab does, config as SeqlabTaskModel's
    arguments. Raises ConversionError (one line) for options without a torch equivalent and for
    missing or mis-shaped datasets.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ConversionError(f"{path}: cannot open as HDF5 ({e})") from None
    with f:
        attrs = dict(f.attrs)
        if int(attrs.get("seqlab_format", -1)) != FORMAT_VERSION:
            raise ConversionError(f"{path}: seqlab_format {attrs.get('seqlab_format')} is not "
                                  f"supported (this converter reads {FORMAT_VERSION})")
        cell = _text(attrs.get("model", ""))
        if cell not in CELLS:
            raise ConversionError(f"{path}: task model over '{cell}' cells has no PyTorch "
                                  "equivalent (only rnn, lstm and gru convert)")
        task, kind = _text(attrs.get("task", "")), _text(attrs.get("kind", ""))
        if task not in TASKS or kind not in KINDS:
            raise ConversionError(f"{path}: root attributes task '{task}' and kind '{kind}' are "
                                  f"not one of {'/'.join(TASKS)} and {'/'.join(KINDS)}")
        if cell == "gru" and _text(attrs.get("gru_variant", "")) != "pytorch":
            raise ConversionError(f"{path}: GRU variant '{_text(attrs.get('gru_variant', ''))}' "
                                  "differs from torch.nn.GRU (only gru_variant = pytorch converts)")
        alphabet = None
        if kind == "symbols":
            if "alphabet" not in f:
                raise ConversionError(f"{path}: a task model over symbols without 'alphabet'")
            ds = f["alphabet"]
            alphabet = {"symbols": list(ds.asstr()[...]),
                        "separator": _text(ds.attrs.get("separator", "")),
                        "unknown_index": (int(ds.attrs["unknown_index"])
                                          if "unknown_index" in ds.attrs else None)}
        tensors = {}

        def collect(name, obj):
            if isinstance(obj, h5py.Dataset) and name != "alphabet":
                tensors[name.replace("/", ".")] = np.asarray(obj[...], dtype=np.float64)

        f.visititems(collect)
        config = _infer_task_config(path, tensors, task, kind, cell)
        if cell == "rnn":
            config["nonlinearity"] = _text(attrs.get("activation", "tanh"))
        if bool(int(attrs.get("bidirectional", 0))) != config["bidirectional"]:
            raise ConversionError(f"{path}: root attribute 'bidirectional' does not match the "
                                  "'_reverse' datasets")
    _check_task_shapes(path, config, tensors)
    if alphabet is not None and len(alphabet["symbols"]) != config["input_size"]:
        raise ConversionError(f"{path}: 'alphabet' has {len(alphabet['symbols'])} symbols but "
                              f"embedding/weight has {config['input_size']} rows")
    return config, alphabet, tensors


def write_seqlab_task(path, config, alphabet, tensors, created_by=None):
    """Writes a seqlab task model file with every attribute the format requires (atomically)."""
    _check_task_shapes(path, config, {k: np.asarray(v) for k, v in tensors.items()})
    if config["kind"] == "symbols":
        if alphabet is None or len(alphabet["symbols"]) != config["input_size"]:
            raise ConversionError(f"{path}: a task model over {config['input_size']} symbols "
                                  "needs an alphabet of as many symbols")
        if len(set(alphabet["symbols"])) != len(alphabet["symbols"]) or "" in alphabet["symbols"]:
            raise ConversionError(f"{path}: alphabet symbols must be distinct and non-empty")
    with _atomic_output(path, ".h5") as temp, _reproducible_file(temp) as f:
        f.attrs["seqlab_format"] = np.int64(FORMAT_VERSION)
        f.attrs["model"] = config["cell"]
        f.attrs["created_by"] = created_by or f"seqlab_torch.py (PyTorch {torch.__version__})"
        f.attrs["task"] = config["task"]
        f.attrs["kind"] = config["kind"]
        f.attrs["input_size"] = np.int64(config["input_size"])
        f.attrs["hidden"] = np.int64(config["hidden_size"])
        f.attrs["layers"] = np.int64(config["num_layers"])
        f.attrs["bidirectional"] = np.int64(1 if config["bidirectional"] else 0)
        f.attrs["outputs"] = np.int64(config["outputs"])
        if config["cell"] == "rnn":
            f.attrs["activation"] = config["nonlinearity"]
        if config["cell"] == "gru":
            f.attrs["gru_variant"] = "pytorch"
        if config["kind"] == "symbols":
            f.attrs["embedding"] = np.int64(config["embedding_size"])
            ds = f.create_dataset("alphabet", data=alphabet["symbols"],
                                  dtype=h5py.string_dtype("utf-8"), track_times=False)
            ds.attrs["separator"] = alphabet.get("separator", "")
            if alphabet.get("unknown_index") is not None:
                ds.attrs["unknown_index"] = np.int64(alphabet["unknown_index"])
        for key in _expected_task_shapes(config):
            group, name = key.split(".")
            if group not in f:
                _reproducible_group(f, group)
            f[group].create_dataset(name, data=np.asarray(tensors[key], dtype=np.float64),
                                    track_times=False)


def is_task_file(path):
    """True when `path` is an HDF5 file whose root carries the `task` attribute."""
    try:
        with h5py.File(path, "r") as f:
            return "task" in f.attrs
    except OSError:
        return False


def task_model_from_seqlab(path, dtype=torch.float64):
    """Ensures: (SeqlabTaskModel holding the file's weights in `dtype`, alphabet dict or None)."""
    config, alphabet, tensors = read_seqlab_task(path)
    model = SeqlabTaskModel(**config, dtype=dtype)
    model.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in tensors.items()},
                          strict=True)
    return model, alphabet


def task_model_to_seqlab(model, path, alphabet=None, created_by=None):
    """Writes a SeqlabTaskModel as a seqlab task model file."""
    tensors = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    write_seqlab_task(path, model.config(), alphabet, tensors, created_by)


# ---- between the two ---------------------------------------------------------------------------

def model_from_seqlab(path, dtype=torch.float64):
    """Ensures: (SeqlabCharModel holding the file's weights in `dtype`, alphabet dict)."""
    config, alphabet, tensors = read_seqlab(path)
    model = SeqlabCharModel(**config, dtype=dtype)
    model.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in tensors.items()},
                          strict=True)
    return model, alphabet


def model_to_seqlab(model, path, alphabet, created_by=None):
    """Writes a SeqlabCharModel as a seqlab model file (alphabet dict as read_seqlab returns)."""
    tensors = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    write_seqlab(path, model.config(), alphabet, tensors, created_by)


def save_checkpoint(model, alphabet, path):
    """Writes the .pt dict documented at the top of this file (alphabet None for a task model
    over frames)."""
    with _atomic_output(path, ".pt") as temp:
        torch.save({"seqlab_torch": CHECKPOINT_VERSION, "config": model.config(),
                    "alphabet": list(alphabet["symbols"]) if alphabet else None,
                    "separator": alphabet.get("separator", "") if alphabet else "",
                    "unknown_index": alphabet.get("unknown_index") if alphabet else None,
                    "state_dict": model.state_dict()}, temp)


def load_checkpoint(path):
    """Ensures: (SeqlabCharModel, alphabet dict) from a .pt file written by to-torch."""
    data = torch.load(path, map_location="cpu")
    if not isinstance(data, dict) or "state_dict" not in data or "config" not in data:
        raise ConversionError(f"{path}: not a checkpoint written by seqlab_torch.py to-torch")
    dtype = next(iter(data["state_dict"].values())).dtype
    kind = SeqlabTaskModel if "task" in data["config"] else SeqlabCharModel
    model = kind(**data["config"], dtype=dtype)
    model.load_state_dict(data["state_dict"], strict=True)
    if data.get("alphabet") is None:
        return model, None
    return model, {"symbols": data["alphabet"], "separator": data.get("separator", ""),
                   "unknown_index": data.get("unknown_index")}


def _alphabet_from_args(args):
    if args.alphabet is not None and args.alphabet_file is not None:
        raise ConversionError("give --alphabet or --alphabet-file, not both")
    if args.alphabet is not None:
        symbols, separator = list(args.alphabet), ""
    elif args.alphabet_file is not None:
        try:
            with open(args.alphabet_file, encoding="utf-8") as f:
                symbols = [line.rstrip("\n") for line in f if line.rstrip("\n") != ""]
        except (OSError, UnicodeDecodeError) as e:
            raise ConversionError(f"{args.alphabet_file}: cannot read the alphabet ({e})") from None
        separator = " "
    else:
        return None
    if args.separator is not None:
        separator = args.separator
    return {"symbols": symbols, "separator": separator, "unknown_index": None}


def to_torch(args):
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]
    read = task_model_from_seqlab if is_task_file(args.model) else model_from_seqlab
    model, alphabet = read(args.model, dtype)
    save_checkpoint(model, alphabet, args.out)


def _task_from_torch(args, data, tensors):
    """from-torch for a SeqlabTaskModel checkpoint or bare state_dict."""
    saved = data.get("config", {}) if "state_dict" in data else {}
    task = args.task or saved.get("task")
    if args.task and saved.get("task") and args.task != saved["task"]:
        raise ConversionError(f"{args.checkpoint}: the checkpoint is a '{saved['task']}' model, "
                              f"not --task {args.task}")
    kind = args.kind or saved.get("kind")
    config = _infer_task_config(args.checkpoint, tensors, task, kind, saved.get("cell"))
    config["nonlinearity"] = saved.get("nonlinearity", "tanh")
    if args.nonlinearity is not None:
        if config["cell"] != "rnn":
            raise ConversionError("--nonlinearity applies to rnn (Elman) weights only")
        config["nonlinearity"] = args.nonlinearity
    alphabet = None
    if config["kind"] == "symbols":
        alphabet = _alphabet_from_args(args)
        if alphabet is None:
            if data.get("alphabet") is None:
                raise ConversionError(f"{args.checkpoint}: a bare state_dict has no alphabet: "
                                      "give --alphabet CHARS or --alphabet-file FILE")
            alphabet = {"symbols": list(data["alphabet"]), "separator": data.get("separator", ""),
                        "unknown_index": data.get("unknown_index")}
    elif args.alphabet is not None or args.alphabet_file is not None:
        raise ConversionError(f"--alphabet applies to models over symbols, not {config['kind']}")
    _check_task_shapes(args.checkpoint, config, tensors)
    write_seqlab_task(args.out, config, alphabet, tensors)


def from_torch(args):
    try:
        data = torch.load(args.checkpoint, map_location="cpu")
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConversionError(f"{args.checkpoint}: cannot load with torch.load ({reason})") from None
    if isinstance(data, nn.Module):
        data = data.state_dict()
    if not isinstance(data, dict):
        raise ConversionError(f"{args.checkpoint}: expected a state_dict or a seqlab_torch "
                              "checkpoint dict")
    state = data["state_dict"] if "state_dict" in data else data
    tensors = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            raise ConversionError(f"{args.checkpoint}: state_dict entry '{key}' is not a tensor")
        if not value.is_floating_point():
            raise ConversionError(f"{args.checkpoint}: '{key}' is not a floating-point tensor")
        tensors[key] = value.detach().cpu().double().numpy()
    if args.task is not None or ("state_dict" in data and "task" in data.get("config", {})):
        _task_from_torch(args, data, tensors)
        return
    if args.kind is not None:
        raise ConversionError("--kind applies to task models (--task) only")
    config = _infer_config(args.checkpoint, tensors,
                           data.get("config", {}).get("cell") if "state_dict" in data else None)
    if "state_dict" in data and "config" in data:
        config["nonlinearity"] = data["config"].get("nonlinearity", "tanh")
    if args.nonlinearity is not None:
        if config["cell"] != "rnn":
            raise ConversionError("--nonlinearity applies to rnn (Elman) weights only")
        config["nonlinearity"] = args.nonlinearity
    alphabet = _alphabet_from_args(args)
    if alphabet is None:
        if "alphabet" not in data:
            raise ConversionError(f"{args.checkpoint}: a bare state_dict has no alphabet: give "
                                  "--alphabet CHARS or --alphabet-file FILE")
        alphabet = {"symbols": list(data["alphabet"]), "separator": data.get("separator", ""),
                    "unknown_index": data.get("unknown_index")}
    _check_shapes(args.checkpoint, config, tensors)
    if len(alphabet["symbols"]) != config["vocab_size"]:
        raise ConversionError(f"{args.checkpoint}: the model scores {config['vocab_size']} "
                              f"symbols but the alphabet has {len(alphabet['symbols'])}")
    write_seqlab(args.out, config, alphabet, tensors)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="seqlab_torch.py",
        description="Move recurrent-network weights between seqlab model files and PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("to-torch", help="seqlab model file (.h5) -> PyTorch checkpoint (.pt)")
    p.add_argument("model", help="seqlab model file of type rnn, lstm or gru over symbols, or a "
                                 "task model (classify / regress) of those cells")
    p.add_argument("out", help="checkpoint to write")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="parameter type in the checkpoint (default float64, exact)")
    p.set_defaults(run=to_torch)
    p = commands.add_parser("from-torch", help="PyTorch checkpoint (.pt) -> seqlab model file")
    p.add_argument("checkpoint", help="a to-torch checkpoint or a SeqlabCharModel state_dict")
    p.add_argument("out", help="seqlab model file to write")
    p.add_argument("--alphabet", help="the symbols as one string, one character each, in index "
                                      "order (e.g. abcde)")
    p.add_argument("--alphabet-file", help="UTF-8 file with one symbol per line, in index order")
    p.add_argument("--separator", help="text printed between symbols (default: empty for "
                                       "--alphabet, a space for --alphabet-file)")
    p.add_argument("--nonlinearity", choices=["tanh", "relu"],
                   help="activation of Elman weights (default: the checkpoint's, else tanh)")
    p.add_argument("--task", choices=list(TASKS),
                   help="the input is a SeqlabTaskModel (needed for a bare state_dict)")
    p.add_argument("--kind", choices=list(KINDS),
                   help="task models: what the sequences hold (default: symbols with an "
                        "embedding, else vectors)")
    p.set_defaults(run=from_torch)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ConversionError as e:
        print(f"seqlab_torch.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # unwritable output folder, missing input file, full disk
        where = f"{e.filename}: " if e.filename else ""
        print(f"seqlab_torch.py: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
