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

Expert parallelism: when the mesh (`jax.set_mesh`) has an 'expert' axis of n > 1 devices, the layer runs
under `shard_map`: every device routes its own tokens, packs them into the capacity buffer, and one
all-to-all over 'expert' sends each expert's slots to the device that holds it (e / n experts each); a
second all-to-all brings the outputs back (`dispatch_expert_parallel`; needs capacity_factor > 0). Loads,
drops and the z-loss are summed over the batch axes, so the router-bias update is that of one device
(tests/train/sharded_train_test.py: the same losses and biases on 1, 4 and 2 x 2 x 2 devices).
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
  "dispatch_expert_parallel",
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


def route(logits: jax.Array, bias: jax.Array, top_k: int, score_fn: str = "sigmoid") -> tuple[jax.Array, jax.Array]:
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


def _pack(x, experts, valid, capacity: int, num_experts: int):
  """Token-slots sorted by expert into a dense [e, c, d] buffer (the first c of each expert, in t order).

  Returns buffer [e, c, d], and what `_unpack` needs: dest [n] (row of each sorted slot in the flat
  buffer; e * c = dropped), order [n] (sorted slot -> slot id), keep [n] (sorted slot kept).
  """
  t, k = experts.shape
  e, d = num_experts, x.shape[-1]
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
  return buffer.reshape(e, capacity, d), dest, order, keep


def _swiglu_dense(buffer, w_gate, w_up, w_down):
  """SwiGLU per expert on a packed buffer: [..., e, c, d] with w_* [e, d, f] / [e, f, d] -> [..., e, c, d]."""
  h = jax.nn.silu(jnp.einsum("...ecd,edf->...ecf", buffer, w_gate))
  h = h * jnp.einsum("...ecd,edf->...ecf", buffer, w_up)
  return jnp.einsum("...ecf,efd->...ecd", h, w_down)


def _unpack(out, dest, order, keep, t: int, k: int):
  """Expert outputs [e, c, d] back to slots: ([t, k, d] zero where dropped, kept [t, k] bool)."""
  e, c, d = out.shape
  ys_sorted = jnp.take(out.reshape(e * c, d), dest, axis=0, mode="fill", fill_value=0)  # [n, d]
  inverse = _inverse_permutation(order)
  return ys_sorted[inverse].reshape(t, k, d), keep[inverse].reshape(t, k)


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
  buffer, dest, order, keep = _pack(x, experts, valid, capacity, w_gate.shape[0])
  return _unpack(_swiglu_dense(buffer, w_gate, w_up, w_down), dest, order, keep, t, k)


def dispatch_expert_parallel(x, experts, valid, capacity, w_gate, w_up, w_down, *, axis_name: str, num_experts: int):
  """`dispatch_capacity` with the experts spread over the devices of mesh axis `axis_name`.

  Call inside `shard_map` over that axis: x, experts, valid are this device's tokens; w_* are its
  e / n experts (experts j * e/n .. (j+1) * e/n - 1 on axis index j). The packed [e, c, d] buffer is
  split by owning device and exchanged with one all-to-all, each device runs its experts on the slots
  it received from all devices, and a second all-to-all returns the outputs (GShard / MaxText style).

  Returns:
    ys [t, k, d] (zero where dropped) and kept [t, k], as `dispatch_capacity`.
  """
  t, k = experts.shape
  local = w_gate.shape[0]
  shards = num_experts // local
  buffer, dest, order, keep = _pack(x, experts, valid, capacity, num_experts)
  d = buffer.shape[-1]
  send = buffer.reshape(shards, local, capacity, d)  # [owner shard, its expert, c, d]
  received = jax.lax.all_to_all(send, axis_name, 0, 0)  # [source shard, my expert, c, d]
  out = _swiglu_dense(received, w_gate, w_up, w_down)
  returned = jax.lax.all_to_all(out, axis_name, 0, 0)  # [owner shard, its expert, c, d]
  return _unpack(returned.reshape(num_experts, capacity, d), dest, order, keep, t, k)


BATCH_AXES = ("data", "fsdp", "expert")  # mesh axes the batch is split over (onerec_jax.sharding.rules)


def _expert_shards(num_experts: int, batch: int) -> int:
  """Devices the experts are spread over in the current mesh (1: no expert parallelism).

  Expert parallelism applies when the mesh set by `jax.set_mesh` has an 'expert' axis of size n > 1
  dividing num_experts and the batch divides over the batch axes; otherwise the layer runs as one
  computation (XLA shards it from the weights' logical axes).
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or "expert" not in mesh.axis_names:
    return 1
  n = mesh.shape["expert"]
  batch_devices = math.prod(mesh.shape[a] for a in BATCH_AXES if a in mesh.axis_names)
  if n <= 1 or num_experts % n or batch % batch_devices:
    return 1
  return n


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

  def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
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
    shards = _expert_shards(self.num_experts, x.shape[0])
    if shards > 1:
      if not self.capacity_factor:
        raise ValueError(
          f"the mesh spreads the {self.num_experts} experts over {shards} devices (expert axis): "
          "expert-parallel dispatch exchanges fixed-size buffers, so it needs "
          "model.capacity_factor > 0 (e.g. 1.25 or 2.0)"
        )
      return self._expert_parallel(x, mask)
    return self._local(x, mask)

  def _local(self, x, mask, axis_name: str | None = None, batch_axes: tuple[str, ...] = ()):
    """The layer on the tokens at hand; with `axis_name`, inside shard_map over the mesh (see
    `_expert_parallel`): the experts are this device's and aux statistics are summed over batch_axes."""
    lead, d = x.shape[:-1], x.shape[-1]
    xt = x.reshape(-1, d)  # [t, d]
    valid = jnp.ones(xt.shape[:1], bool) if mask is None else mask.reshape(-1).astype(bool)
    total = (lambda v: jax.lax.psum(v, batch_axes)) if batch_axes else (lambda v: v)

    logits = xt.astype(jnp.float32) @ self.router[...].astype(jnp.float32)  # [t, e]
    experts, gates = route(logits, self.router_bias[...], self.top_k, self.score_fn)
    gates = gates * valid[:, None]

    xt = xt.astype(self.dtype)
    weights = [w[...].astype(self.dtype) for w in (self.w_gate, self.w_up, self.w_down)]
    num_valid = jnp.maximum(total(valid.sum()), 1)
    if axis_name is not None:
      ys, kept = dispatch_expert_parallel(
        xt, experts, valid, self.capacity(xt.shape[0]), *weights, axis_name=axis_name, num_experts=self.num_experts
      )
    elif self.capacity_factor:
      ys, kept = dispatch_capacity(xt, experts, valid, self.capacity(xt.shape[0]), *weights)
    else:
      ys, kept = dispatch_ragged(xt, experts, *weights), None
    if kept is None:
      dropped = jnp.zeros((), jnp.float32)
    else:
      gates = gates * kept
      dropped = total((valid[:, None] & ~kept).sum()) / (num_valid * self.top_k)
    y = jnp.einsum("tk,tkd->td", gates.astype(self.dtype), ys)

    z = jax.nn.logsumexp(logits, axis=-1) ** 2
    local_valid = valid.sum().astype(jnp.float32)
    aux = {
      "expert_load": total(expert_load(experts, valid, self.num_experts) * local_valid) / num_valid,
      "router_z_loss": total((z * valid).sum()) / num_valid,
      "dropped_fraction": dropped.astype(jnp.float32),
    }
    return y.reshape(*lead, d), aux

  def _expert_parallel(self, x, mask):
    """Expert parallelism: tokens stay sharded over the batch axes, each device routes its own tokens
    and all-to-alls them to the devices holding their experts (`dispatch_expert_parallel`). The expert
    weights enter sharded over 'expert' only (gathered over the other weight axes, as FSDP does)."""
    from jax.sharding import PartitionSpec as P

    mask = jnp.ones(x.shape[:-1], bool) if mask is None else mask.astype(bool)
    batch = P(BATCH_AXES, *([None] * (x.ndim - 1)))
    graphdef, params, rest = nnx.split(self, nnx.Param, ...)

    def local(params, rest, x, mask):
      module = nnx.merge(graphdef, params, rest)
      return module._local(x, mask, axis_name="expert", batch_axes=BATCH_AXES)

    specs = jax.tree.map(lambda v: P("expert") if v.ndim == 3 else P(), params)  # w_* [e, ., .]; router
    rest_specs = jax.tree.map(lambda v: P(), rest)  # the router bias, replicated
    mask_spec = P(BATCH_AXES, *([None] * (mask.ndim - 1)))
    return jax.shard_map(
      local, in_specs=(specs, rest_specs, batch, mask_spec), out_specs=(batch, P()), check_vma=False
    )(params, rest, x, mask)


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
