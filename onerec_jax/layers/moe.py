"""Mixture-of-experts feed-forward with SwiGLU experts and auxiliary-loss-free load balancing.

OneRec's decoder (PAPER.md section 3) replaces the dense FFN with top-k routed SwiGLU experts and
balances them with DeepSeek-V3's method: a per-expert bias is added to the router scores only to choose
the top-k experts; the gate weights come from the unbiased scores; after each training step the bias
of an over-loaded expert moves down and that of an under-loaded one moves up by a fixed step
(`update_router_bias`). No auxiliary loss term, so the bias gets no gradient.

Shape letters: b batch, s length, d model width, e experts, k experts chosen per token (top-k),
f expert hidden width, t tokens (b * s flattened), n token-slots (t * k), c expert capacity.

Dispatch sorts the n token-slots by expert, so each expert sees a contiguous group, then either
  * `capacity_factor == 0` (default): no token is dropped; the groups have ragged sizes and the expert
    matmuls are `jax.lax.ragged_dot` calls, FLOPs proportional to n; or
  * `capacity_factor > 0`: each expert keeps at most c = ceil(capacity_factor * n / e) slots (the
    earliest tokens in b, s order win), packed into a dense [e, c, d] buffer for plain einsums; the
    outputs of dropped slots are zero (the residual connection carries those tokens).
Both paths equal a per-token loop (see tests/layers/moe_test.py).
"""

import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from onerec_jax.layers.feed_forward import logical_init

__all__ = [
  "MoE",
  "RouterBias",
  "apply_router_bias_update",
  "dispatch_capacity",
  "dispatch_ragged",
  "expert_load",
  "moe_layers",
  "route",
  "update_router_bias",
]

SCORE_FNS = ("sigmoid", "softmax")


class RouterBias(nnx.Variable):
  """Per-expert bias [e] (float32) added to router scores for top-k selection only.

  Not an `nnx.Param`: optimizers built with `wrt=nnx.Param` ignore it, and it gets no gradient; it
  changes only through `update_router_bias` / `apply_router_bias_update`.
  """


# ----------------------------------------------------------------------------------------------------
# Pure helpers.
# ----------------------------------------------------------------------------------------------------


def route(
  logits: jax.Array, bias: jax.Array, top_k: int, score_fn: str = "sigmoid"
) -> tuple[jax.Array, jax.Array]:
  """Chooses k experts per token and their gate weights.

  Args:
    logits: [t, e] router logits.
    bias: [e] selection bias; affects which experts are chosen, never the gate values.
    top_k: k.
    score_fn: 'sigmoid' (DeepSeek-V3: independent affinities) or 'softmax'.

  Returns:
    experts: [t, k] int32 chosen expert ids, by decreasing biased score.
    gates: [t, k] float32 unbiased scores of the chosen experts. For k > 1 they are normalised to
      sum to 1 per token; for k == 1 the gate is the raw score of the chosen expert (normalising a
      single gate would make it identically 1 and cut the router off from the gradient).
  """
  logits = logits.astype(jnp.float32)
  if score_fn == "sigmoid":
    scores = jax.nn.sigmoid(logits)
  elif score_fn == "softmax":
    scores = jax.nn.softmax(logits, axis=-1)
  else:
    raise ValueError(f"score_fn must be one of {SCORE_FNS}, got {score_fn!r}")
  biased = scores + jax.lax.stop_gradient(bias.astype(jnp.float32))
  _, experts = jax.lax.top_k(biased, top_k)
  gates = jnp.take_along_axis(scores, experts, axis=-1)
  if top_k > 1:
    # Normalising over the chosen experts keeps the output scale independent of k and e; with k == 1
    # it would turn the gate into the constant 1, so the top-1 router would never learn (Switch
    # Transformer likewise gates top-1 by the raw softmax probability).
    gates = gates / (gates.sum(axis=-1, keepdims=True) + 1e-20)
  return experts.astype(jnp.int32), gates


def expert_load(experts: jax.Array, valid: jax.Array, num_experts: int) -> jax.Array:
  """Fraction of the valid tokens' routed slots that chose each expert (before any capacity drop).

  Args:
    experts: [t, k] chosen expert ids.
    valid: [t] bool; False tokens (padding) are not counted.
    num_experts: e.

  Returns:
    [e] float32 summing to 1 (all zeros when no token is valid).
  """
  k = experts.shape[-1]
  weights = jnp.repeat(valid.astype(jnp.float32), k)
  counts = jnp.bincount(experts.reshape(-1), weights=weights, length=num_experts)
  return counts / jnp.maximum(weights.sum(), 1.0)


def update_router_bias(bias: jax.Array, load: jax.Array, step_size: float) -> jax.Array:
  """One auxiliary-loss-free balancing step: `bias + step_size * sign(mean(load) - load)`.

  Under-loaded experts are pushed up, over-loaded ones down. Leading axes (for example a stacked
  [layers, e] bias from `nnx.scan`) are updated independently; the mean is over the expert axis.

  Args:
    bias: [..., e] current bias.
    load: [..., e] expert load (any scale; only its comparison with the mean matters).
    step_size: DeepSeek-V3 uses 0.001 for most of training.

  Returns:
    [..., e] new bias, dtype of `bias`.
  """
  load = load.astype(jnp.float32)
  delta = jnp.sign(load.mean(axis=-1, keepdims=True) - load)
  return (bias + step_size * delta).astype(bias.dtype)


def _swiglu_ragged(xs, w_gate, w_up, w_down, group_sizes):
  """SwiGLU per contiguous expert group: xs [n, d], w_* [e, d, f] / [e, f, d] -> [n, d]."""
  gate = jax.lax.ragged_dot(xs, w_gate, group_sizes)
  up = jax.lax.ragged_dot(xs, w_up, group_sizes)
  return jax.lax.ragged_dot(jax.nn.silu(gate) * up, w_down, group_sizes)


def _inverse_permutation(order: jax.Array) -> jax.Array:
  return jnp.zeros_like(order).at[order].set(jnp.arange(order.shape[0], dtype=order.dtype))


def dispatch_ragged(x, experts, w_gate, w_up, w_down):
  """Runs every token-slot through its expert with no dropping.

  Args:
    x: [t, d] tokens.
    experts: [t, k] chosen expert ids.
    w_gate, w_up: [e, d, f]; w_down: [e, f, d].

  Returns:
    [t, k, d] expert outputs per slot (ungated).
  """
  t, k = experts.shape
  num_experts = w_gate.shape[0]
  flat = experts.reshape(-1)  # [n]
  order = jnp.argsort(flat, stable=True)  # [n] slot ids grouped by expert
  group_sizes = jnp.bincount(flat, length=num_experts).astype(jnp.int32)
  ys = _swiglu_ragged(x[order // k], w_gate, w_up, w_down, group_sizes)  # [n, d] sorted
  return ys[_inverse_permutation(order)].reshape(t, k, -1)


def dispatch_capacity(x, experts, valid, capacity, w_gate, w_up, w_down):
  """Runs token-slots through their experts, each expert taking at most `capacity` slots.

  Slots of invalid tokens are never dispatched. Within an expert, earlier tokens (in t order) win.

  Args:
    x: [t, d] tokens.
    experts: [t, k] chosen expert ids.
    valid: [t] bool.
    capacity: c, a static int.
    w_gate, w_up: [e, d, f]; w_down: [e, f, d].

  Returns:
    ys: [t, k, d] expert outputs per slot (ungated; zero where dropped).
    kept: [t, k] bool, the slots that were computed.
  """
  t, k = experts.shape
  e = w_gate.shape[0]
  d = x.shape[-1]
  # Invalid slots get the sentinel expert id e: they sort last and are dropped.
  key = jnp.where(valid[:, None], experts, e).reshape(-1)  # [n]
  order = jnp.argsort(key, stable=True)
  sorted_key = key[order]
  counts = jnp.bincount(key, length=e + 1)
  starts = jnp.cumsum(counts) - counts
  position = jnp.arange(key.shape[0]) - starts[sorted_key]  # rank within its expert's group
  keep = (sorted_key < e) & (position < capacity)
  dest = jnp.where(keep, sorted_key * capacity + position, e * capacity)  # e * c: out of range
  buffer = jnp.zeros((e * capacity, d), x.dtype).at[dest].set(x[order // k], mode="drop")
  buffer = buffer.reshape(e, capacity, d)
  h = jax.nn.silu(jnp.einsum("ecd,edf->ecf", buffer, w_gate))
  h = h * jnp.einsum("ecd,edf->ecf", buffer, w_up)
  out = jnp.einsum("ecf,efd->ecd", h, w_down).reshape(e * capacity, d)
  ys_sorted = jnp.take(out, dest, axis=0, mode="fill", fill_value=0)  # [n, d]
  inverse = _inverse_permutation(order)
  return ys_sorted[inverse].reshape(t, k, d), keep[inverse].reshape(t, k)


# ----------------------------------------------------------------------------------------------------
# Module.
# ----------------------------------------------------------------------------------------------------


class MoE(nnx.Module):
  """Top-k routed SwiGLU experts with a selection-only router bias.

  Attributes:
    router: Param [d, e] named ('embed', None); logits are computed in float32.
    router_bias: RouterBias [e] float32, zeros at init.
    w_gate, w_up: Param [e, d, f] named ('expert', 'embed', 'mlp').
    w_down: Param [e, f, d] named ('expert', 'mlp', 'embed').
  """

  def __init__(
    self,
    d_model: int,
    ffn_dim: int,
    num_experts: int,
    top_k: int,
    *,
    capacity_factor: float = 0.0,
    score_fn: str = "sigmoid",
    dtype: jnp.dtype = jnp.float32,
    param_dtype: jnp.dtype = jnp.float32,
    rngs: nnx.Rngs,
  ):
    """Builds router and expert weights.

    Args:
      d_model: d.
      ffn_dim: f, hidden width of each expert.
      num_experts: e.
      top_k: k, experts per token (1 <= k <= e).
      capacity_factor: 0 (default) routes every slot (ragged matmuls, nothing dropped); > 0 caps
        each expert at ceil(capacity_factor * t * k / e) slots per call (t counts padding tokens too)
        and drops the rest; the share dropped is reported as aux['dropped_fraction'].
      score_fn: 'sigmoid' (DeepSeek-V3) or 'softmax'; gates are renormalised over the chosen k
        when k > 1, and are the raw score of the chosen expert when k == 1 (see `route`).
      dtype: computation dtype of the experts (the router always runs in float32).
      param_dtype: storage dtype of router and expert weights.
      rngs: random streams; `params` initialises the weights.
    """
    if not 1 <= top_k <= num_experts:
      raise ValueError(f"need 1 <= top_k <= num_experts, got top_k={top_k}, num_experts={num_experts}")
    if score_fn not in SCORE_FNS:
      raise ValueError(f"score_fn must be one of {SCORE_FNS}, got {score_fn!r}")
    if capacity_factor < 0:
      raise ValueError(f"capacity_factor must be >= 0, got {capacity_factor}")
    self.num_experts = num_experts
    self.top_k = top_k
    self.capacity_factor = capacity_factor
    self.score_fn = score_fn
    self.dtype = dtype

    # Fan-in is the d (or f) axis; the leading expert axis is a batch of independent matrices.
    expert_init = nnx.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
    router_init = nnx.initializers.lecun_normal()

    def param(init, shape, names):
      return nnx.Param(logical_init(init, names)(rngs.params(), shape, param_dtype))

    self.router = param(router_init, (d_model, num_experts), ("embed", None))
    self.router_bias = RouterBias(jnp.zeros((num_experts,), jnp.float32))
    self.w_gate = param(expert_init, (num_experts, d_model, ffn_dim), ("expert", "embed", "mlp"))
    self.w_up = param(expert_init, (num_experts, d_model, ffn_dim), ("expert", "embed", "mlp"))
    self.w_down = param(expert_init, (num_experts, ffn_dim, d_model), ("expert", "mlp", "embed"))

  def capacity(self, num_tokens: int) -> int:
    """Per-expert slot capacity c for a call over `num_tokens` tokens (0: unlimited)."""
    if not self.capacity_factor:
      return 0
    return max(1, math.ceil(self.capacity_factor * num_tokens * self.top_k / self.num_experts))

  def __call__(
    self, x: jax.Array, mask: jax.Array | None = None
  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Routes each token to k experts and mixes their outputs by the gates.

    Args:
      x: [b, s, d] (any leading axes work) activations.
      mask: [b, s] bool, True for real tokens. Masked tokens are left out of `expert_load` and of
        expert capacity, and their output is zero.

    Returns:
      y: [b, s, d] in `dtype`.
      aux: 'expert_load' [e] float32, each expert's fraction of the valid tokens' routed slots
        (before capacity drops; feed it to `update_router_bias`); 'router_z_loss' float32 scalar,
        mean over valid tokens of logsumexp(router logits)^2, only reported (the caller may log it
        or add it to its loss); 'dropped_fraction' float32 scalar, fraction of the valid tokens'
        routed slots dropped by the capacity (0 when capacity_factor == 0).
    """
    lead, d = x.shape[:-1], x.shape[-1]
    xt = x.reshape(-1, d)  # [t, d]
    valid = jnp.ones(xt.shape[:1], bool) if mask is None else mask.reshape(-1).astype(bool)

    logits = xt.astype(jnp.float32) @ self.router[...].astype(jnp.float32)  # [t, e]
    experts, gates = route(logits, self.router_bias[...], self.top_k, self.score_fn)
    gates = gates * valid[:, None]

    xt = xt.astype(self.dtype)
    weights = [w[...].astype(self.dtype) for w in (self.w_gate, self.w_up, self.w_down)]
    num_valid_slots = jnp.maximum(valid.sum() * self.top_k, 1)
    if self.capacity_factor:
      ys, kept = dispatch_capacity(xt, experts, valid, self.capacity(xt.shape[0]), *weights)
      gates = gates * kept
      dropped = (valid[:, None] & ~kept).sum() / num_valid_slots
    else:
      ys = dispatch_ragged(xt, experts, *weights)
      dropped = jnp.zeros((), jnp.float32)
    y = jnp.einsum("tk,tkd->td", gates.astype(self.dtype), ys)

    z = jax.nn.logsumexp(logits, axis=-1) ** 2
    aux = {
      "expert_load": expert_load(experts, valid, self.num_experts),
      "router_z_loss": (z * valid).sum() / jnp.maximum(valid.sum(), 1),
      "dropped_fraction": dropped.astype(jnp.float32),
    }
    return y.reshape(*lead, d), aux


# ----------------------------------------------------------------------------------------------------
# Bias updates over a whole model.
# ----------------------------------------------------------------------------------------------------


def moe_layers(model: nnx.Module) -> list[tuple[tuple, MoE]]:
  """Every `MoE` inside `model` with its graph path, in `nnx.iter_modules` order."""
  return [(path, m) for path, m in nnx.iter_modules(model) if isinstance(m, MoE)]


def apply_router_bias_update(
  model: nnx.Module,
  expert_loads: Sequence[jax.Array] | Mapping[tuple | str, jax.Array] | jax.Array,
  step_size: float,
) -> None:
  """Updates, in place, the `RouterBias` of every MoE in `model` from that layer's expert load.

  Call it after the optimizer step (inside or outside `nnx.jit`).

  Args:
    model: any module containing `MoE` layers.
    expert_loads: one [e] load per MoE layer, either a sequence (or stacked [num_layers, e] array)
      in `moe_layers(model)` order, or a mapping keyed by the layer's path tuple or its '/'-joined
      string (e.g. 'decoder/layers/0/moe').
    step_size: bias step (see `update_router_bias`).
  """
  layers = moe_layers(model)
  if isinstance(expert_loads, Mapping):
    loads = []
    for path, _ in layers:
      name = "/".join(map(str, path))
      if path in expert_loads:
        loads.append(expert_loads[path])
      elif name in expert_loads:
        loads.append(expert_loads[name])
      else:
        raise KeyError(f"no expert load for MoE layer {name!r}; got keys {list(expert_loads)}")
  else:
    loads = list(expert_loads)
    if len(loads) != len(layers):
      raise ValueError(f"{len(loads)} expert loads for {len(layers)} MoE layers")
  for (_, layer), load in zip(layers, loads):
    layer.router_bias[...] = update_router_bias(layer.router_bias[...], load, step_size)
