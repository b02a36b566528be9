"""RNN / LSTM / GRU and their cells (PyTorch parameter names, gate order and init)."""

import math
import numbers
import warnings

import rustgrad
from rustgrad.nn import functional as F
from rustgrad.nn import init
from rustgrad.nn.modules.module import Module
from rustgrad.nn.parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).tanh()


def _rnn_relu_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).relu()


def _lstm_cell(x, hc, w_ih, w_hh, b_ih, b_hh):
    h, c = hc
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    n = gates.shape[-1] // 4
    i = gates.narrow(-1, 0, n).sigmoid()
    f = gates.narrow(-1, n, n).sigmoid()
    g = gates.narrow(-1, 2 * n, n).tanh()
    o = gates.narrow(-1, 3 * n, n).sigmoid()
    c2 = f * c + i * g
    return o * c2.tanh(), c2


def _gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gi = F.linear(x, w_ih, b_ih)
    gh = F.linear(h, w_hh, b_hh)
    n = gi.shape[-1] // 3
    r = (gi.narrow(-1, 0, n) + gh.narrow(-1, 0, n)).sigmoid()
    z = (gi.narrow(-1, n, n) + gh.narrow(-1, n, n)).sigmoid()
    cand = (gi.narrow(-1, 2 * n, n) + r * gh.narrow(-1, 2 * n, n)).tanh()
    return (1 - z) * cand + z * h


class RNNBase(Module):
    """Shared machinery: weights per layer/direction and the time loop."""

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be greater than 0")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than 0")
        if proj_size != 0:
            raise NotImplementedError("proj_size is not supported by rustgrad")
        gate_size = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        dtype = dtype or rustgrad.float32
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input), (gate_size, hidden_size)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                for nm, shp in zip(names, shapes):
                    setattr(self, nm, Parameter(rustgrad.empty(*shp, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    def flatten_parameters(self):
        pass

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _layer_weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        if self.bias:
            return w_ih, w_hh, getattr(self, f"bias_ih_l{layer}{suffix}"), getattr(self, f"bias_hh_l{layer}{suffix}")
        return w_ih, w_hh, None, None

    def _cell(self):
        if self.mode == "LSTM":
            return _lstm_cell
        if self.mode == "GRU":
            return _gru_cell
        return _rnn_relu_cell if self.mode == "RNN_RELU" else _rnn_tanh_cell

    def forward(self, input, hx=None):
        is_lstm = self.mode == "LSTM"
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)
            if hx is not None:
                if is_lstm:
                    hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                else:
                    hx = hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.shape[-1]}")
        seq_len, batch = input.shape[0], input.shape[1]
        nd = 2 if self.bidirectional else 1
        expected_h = (self.num_layers * nd, batch, self.hidden_size)
        if hx is None:
            h0 = rustgrad.zeros(*expected_h, dtype=input.dtype, device=input.device)
            c0 = rustgrad.zeros(*expected_h, dtype=input.dtype, device=input.device) if is_lstm else None
        else:
            if is_lstm:
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            for t in (h0, c0) if is_lstm else (h0,):
                if tuple(t.shape) != expected_h:
                    name = "hidden" if not is_lstm or t is h0 else "cell"
                    raise RuntimeError(f"Expected {name} size {expected_h}, got {list(t.shape)}")
        cell = self._cell()
        layer_input = input
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs_dir = []
            for direction in range(nd):
                w = self._layer_weights(layer, direction)
                idx = layer * nd + direction
                h = h0[idx]
                state = (h, c0[idx]) if is_lstm else h
                steps = range(seq_len - 1, -1, -1) if direction == 1 else range(seq_len)
                outs = [None] * seq_len
                for t in steps:
                    state = cell(layer_input[t], state, *w)
                    outs[t] = state[0] if is_lstm else state
                if is_lstm:
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
                outs_dir.append(rustgrad.stack(outs, 0) if seq_len else layer_input.new_zeros(0, batch, self.hidden_size))
            layer_out = outs_dir[0] if nd == 1 else rustgrad.cat(outs_dir, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_out = F.dropout(layer_out, self.dropout, True)
            layer_input = layer_out
        output = layer_input
        h_n = rustgrad.stack(h_n, 0)
        c_n = rustgrad.stack(c_n, 0) if is_lstm else None
        if not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    """Elman RNN with tanh or relu nonlinearity."""

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)
        self.__dict__["nonlinearity"] = nonlinearity


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order (input, forget, cell, output)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """GRU with PyTorch's gate order (reset, update, new)."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dtype = dtype or rustgrad.float32
        self.weight_ih = Parameter(rustgrad.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(rustgrad.empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(rustgrad.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(rustgrad.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prep(self, input, hx, n_states):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = rustgrad.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            hx = (z, z) if n_states == 2 else z
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if n_states == 2 else hx.unsqueeze(0)
        return input, hx, batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx, 1)
        if self.nonlinearity == "tanh":
            out = _rnn_tanh_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        elif self.nonlinearity == "relu":
            out = _rnn_relu_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx, 2)
        h, c = _lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx, 1)
        out = _gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
