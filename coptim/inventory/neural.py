"""Neural inventory policies: an MLP on the flat state and a GNN over the network tree.

Both see stock scaled by the mean demand flowing through each location and return
non-negative requests. New networks see *centred* features (see :func:`features`): with raw
scaled stock every input is positive (on hand ~1, inventory position ~L), so the first
layer's weights and biases are strongly coupled, and the pathwise gradient of a weight is
dominated by (mean input) x (gradient of the bias). HDPO from random weights then used the
pipeline weights as a second bias (orders grew with the pipeline) and stalled 5-18 % above
the optimum. Networks saved before the change load with ``centred=False``.

The GNN's warehouse allocations are feasible by construction:
a softmax over the stores it supplies (plus a "keep" option) times its available stock.
In settings with transshipment both networks also return flows between stores, feasible by
construction in the same way (see :func:`lateral_split`), as an
:class:`~coptim.inventory.simulator.Action`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from coptim.errors import InputError
from coptim.inventory.simulator import Action, NetworkTensors, State

#: Largest order a network may place, in units of the mean demand flowing through the location.
ORDER_CAP = 4.0
#: A fresh network keeps this many units of a store's stock for each unit it sends away.
KEEP_ODDS = 19.0


def _mlp(inputs: int, hidden: int, layers: int, outputs: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ELU()]
        width = hidden
    mods.append(nn.Linear(width, outputs))
    return nn.Sequential(*mods)


def _start_constant(layer: nn.Linear, rows: int) -> None:
    """Zero the first ``rows`` outputs' weights of ``layer``; set their bias so ``cap * sigmoid`` is the mean flow.

    A randomly initialised output layer makes the first policy react strongly and arbitrarily
    to the state; HDPO from there sometimes spent most of its budget undoing it and stalled
    (lost-sales p9-L1: 5 % above the optimum). From the constant mean-demand order the
    gradient still reaches every layer through the output weights.
    """
    with torch.no_grad():
        layer.weight[:rows].zero_()
        layer.bias[:rows].fill_(math.log(1.0 / (ORDER_CAP - 1.0)))


def feature_offset(net: NetworkTensors) -> Tensor:
    """What :func:`features` subtracts when centred (n, 2 + lmax), in units of mean flow.

    The values in a steady state where every location orders its mean flow: one period of
    demand on hand, one in each of the ``L - 1`` pipeline slots that can be filled at
    decision time (the last slot is always empty then), ``L`` in the inventory position.
    """
    slots = torch.arange(net.lmax, dtype=torch.float32)
    pipe = (slots[None, :] < (net.lead_time[:, None] - 1)).float()
    return torch.cat([torch.ones(net.n, 1), net.lead_time[:, None], pipe], dim=-1)


def features(net: NetworkTensors, state: State, centred: bool = False) -> Tensor:
    """Per-location features (B, n, 2 + lmax): on hand, inventory position and pipeline.

    Stock is divided by the mean flow through the location; ``centred`` also subtracts
    :func:`feature_offset`, so that the inputs are about zero in a typical state.
    """
    scale = net.flow_mean.clamp_min(1e-6)
    on_hand = state.on_hand / scale
    pipe = state.pipeline / scale[:, None]
    ip = on_hand + pipe.sum(-1)
    out = torch.cat([on_hand.unsqueeze(-1), ip.unsqueeze(-1), pipe], dim=-1)
    return out - feature_offset(net) if centred else out


def lateral_split(logits: Tensor, on_hand: Tensor) -> Tensor:
    """Flows between stores (B, n, n) from logits (B, n, n) whose diagonal is the "keep" option.

    Row ``i`` is a softmax over keeping the stock and sending it to each other store, times
    store ``i``'s stock on hand (positive part): the outflows never exceed the stock.
    """
    share = torch.softmax(logits, dim=-1) * (1.0 - torch.eye(logits.shape[-1]))
    return share * torch.relu(on_hand).unsqueeze(-1)


class MLPPolicy(nn.Module):
    """A fully connected network from the whole state to every location's request.

    With transshipment it also outputs, for every store, logits over keeping its stock and
    sending it to each other store (:func:`lateral_split`).

    Parameters
    ----------
    net
        Compiled network (fixes the input and output sizes).
    hidden, layers
        Hidden width and number of hidden layers.
    centred
        Centre the input features (see :func:`features`); False only for old weights.
    """

    name = "mlp"

    def __init__(self, net: NetworkTensors, hidden: int = 64, layers: int = 2, centred: bool = True):
        super().__init__()
        self.n, self.lmax = net.n, net.lmax
        self.centred = bool(centred)
        self.transship = net.transship_cost is not None
        self.body = _mlp(net.n * (2 + net.lmax), hidden, layers, net.n * (1 + net.n if self.transship else 1))
        self.register_buffer("cap", ORDER_CAP * net.flow_mean.clamp_min(1e-6))

    def start_at_mean_demand(self) -> None:
        """Make a fresh network order the mean demand in every state (:func:`_start_constant`; and, with
        transshipment, keeps ``KEEP_ODDS`` units of stock per unit it sends away)."""
        with torch.no_grad():
            _start_constant(self.body[-1], self.n)
            bias = self.body[-1].bias
            if self.transship:
                bias[self.n :].view(self.n, self.n).diagonal().add_(math.log(KEEP_ODDS * (self.n - 1)))

    def forward(self, net: NetworkTensors, state: State) -> Tensor | Action:
        """Requests (B, n) in ``[0, ORDER_CAP * mean flow]``; with transshipment an :class:`Action`."""
        if net.n != self.n or net.lmax != self.lmax or (net.transship_cost is not None) != self.transship:
            raise InputError("this network was trained for a different setting")
        x = features(net, state, self.centred).flatten(1)
        out = self.body(x)
        order = self.cap * torch.sigmoid(out[:, : self.n])
        if not self.transship:
            return order
        return Action(order, lateral_split(out[:, self.n :].view(-1, self.n, self.n), state.on_hand))


class GNNPolicy(nn.Module):
    """Message passing over the supply tree (torch-geometric ``DenseGraphConv``, mean aggregation).

    Every location gets an embedding from its own state and static data (lead time, costs,
    demand), refined by ``layers`` rounds of message passing along supplier-child edges in
    both directions. Locations supplied externally order ``cap * sigmoid(head)``; an inner
    location splits its available stock by a softmax over its children and a "keep" option,
    so allocations never exceed the stock (feasible by construction).

    With transshipment the graph is complete over the stores; the logit of a flow from store
    ``i`` to store ``j`` comes from the embeddings of ``i`` and ``j`` and the cost per unit, the
    logit of keeping from ``i``'s embedding plus ``log(n - 1)`` (so that a fresh network keeps
    the same share whatever the number of stores), and :func:`lateral_split` makes the flows.

    Parameters
    ----------
    net
        Compiled network; the weights do not depend on its size, only on ``lmax``.
    hidden, layers
        Embedding width and number of message-passing rounds.
    centred
        Centre the input features (see :func:`features`); False only for old weights.
    """

    name = "gnn"

    def __init__(self, net: NetworkTensors, hidden: int = 64, layers: int = 2, centred: bool = True):
        super().__init__()
        self.centred = bool(centred)
        from torch_geometric.nn import DenseGraphConv

        self.lmax = net.lmax
        self.encode = _mlp(2 + net.lmax + 6, hidden, 1, hidden)
        self.convs = nn.ModuleList([DenseGraphConv(hidden, hidden, aggr="mean") for _ in range(layers)])
        self.order_head = _mlp(hidden, hidden, 1, 1)
        self.alloc_head = _mlp(2 * hidden, hidden, 1, 1)
        self.keep_head = _mlp(hidden, hidden, 1, 1)
        self.transship = net.transship_cost is not None
        if self.transship:
            self.flow_head = _mlp(2 * hidden + 1, hidden, 1, 1)  # (source, destination, cost per unit)
            self.stay_head = _mlp(hidden, hidden, 1, 1)

    def start_at_mean_demand(self) -> None:
        """Make a fresh network order the mean flow in every state (:func:`_start_constant`; and,
        with transshipment, keeps ``KEEP_ODDS`` units of stock per unit it sends away)."""
        with torch.no_grad():
            _start_constant(self.order_head[-1], 1)
            if self.transship:
                self.stay_head[-1].bias.add_(math.log(KEEP_ODDS))

    def _graph(self, net: NetworkTensors) -> tuple[Tensor, Tensor]:
        from torch_geometric.utils import to_dense_adj

        src = torch.nonzero(net.internal).flatten()
        sup = net.supplier[src]
        edges = torch.cat([torch.stack([sup, src]), torch.stack([src, sup])], dim=1)
        adj = to_dense_adj(edges, max_num_nodes=net.n)[0]  # (n, n), both edge directions
        if self.transship:
            adj = 1.0 - torch.eye(net.n)  # stores only: every pair can exchange stock
        scale = net.flow_mean.clamp_min(1e-6)
        underage = torch.zeros(net.n)
        underage[net.stores] = net.underage
        std = torch.zeros(net.n)
        std[net.stores] = net.demand_std
        is_store = torch.zeros(net.n)
        is_store[net.stores] = 1.0
        static = torch.stack(
            [net.lead_time / 4.0, net.holding, underage / 10.0, std / scale, is_store, net.internal.float()], dim=-1
        )
        return adj, static

    def forward(self, net: NetworkTensors, state: State) -> Tensor | Action:
        """Requests (B, n); allocations out of inner locations sum to at most their stock.

        With transshipment an :class:`Action` with the flows between stores.
        """
        if net.lmax != self.lmax:
            raise InputError("this network was trained for a different longest lead time")
        if (net.transship_cost is not None) != self.transship:
            raise InputError("this network was trained for a setting with" + ("" if self.transship else "out")
                             + " transshipment")
        adj, static = self._graph(net)
        B = state.batch
        x = torch.cat([features(net, state, self.centred), static.expand(B, -1, -1)], dim=-1)
        z = self.encode(x)
        if net.n > 1:
            for conv in self.convs:
                z = z + torch.nn.functional.elu(conv(z, adj))
        cap = ORDER_CAP * net.flow_mean.clamp_min(1e-6)
        order = cap * torch.sigmoid(self.order_head(z).squeeze(-1))  # (B, n)
        out = torch.where(net.internal, torch.zeros_like(order), order)
        inner = torch.unique(net.supplier[net.internal])
        for j in inner.tolist():
            kids = torch.nonzero(net.supplier == j).flatten()
            parent = z[:, j : j + 1].expand(-1, kids.numel(), -1)
            logits = self.alloc_head(torch.cat([z[:, kids], parent], dim=-1)).squeeze(-1)  # (B, k)
            keep = self.keep_head(z[:, j])  # (B, 1)
            share = torch.softmax(torch.cat([logits, keep], dim=-1), dim=-1)[:, :-1]
            alloc = share * torch.relu(state.on_hand[:, j : j + 1])
            out = out.index_copy(1, kids, alloc)
        if not self.transship:
            return out
        n = net.n
        pairs = torch.cat([z.unsqueeze(2).expand(-1, -1, n, -1), z.unsqueeze(1).expand(-1, n, -1, -1),
                           torch.full((B, n, n, 1), net.transship_cost)], dim=-1)
        logits = self.flow_head(pairs).squeeze(-1)  # (B, n, n): from i to j
        keep = self.stay_head(z).squeeze(-1) + math.log(n - 1)  # (B, n)
        logits = torch.diagonal_scatter(logits, keep, dim1=1, dim2=2)
        return Action(out, lateral_split(logits, state.on_hand))
