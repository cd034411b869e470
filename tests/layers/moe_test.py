"""Tests for onerec_jax.layers.moe: dispatch against a per-token loop, routing, bias balancing."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl.testing import absltest, parameterized
from flax import nnx

from onerec_jax.layers import moe as moe_lib
from onerec_jax.layers.moe import MoE, RouterBias, apply_router_bias_update, route, update_router_bias

D, F, E, K = 8, 16, 4, 2


def _np(v):
  return np.asarray(v[...], np.float64)


def reference_moe(m: MoE, x, mask=None, capacity=0):
  """Per-token loop over the chosen experts, in float64. Returns [b, s, d]."""
  router, bias = _np(m.router), _np(m.router_bias)
  wg, wu, wd = _np(m.w_gate), _np(m.w_up), _np(m.w_down)
  xt = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
  valid = np.ones(len(xt), bool) if mask is None else np.asarray(mask).reshape(-1)
  y = np.zeros_like(xt)
  taken = np.zeros(m.num_experts, int)
  for i, xi in enumerate(xt):
    logits = xi @ router
    if m.score_fn == "sigmoid":
      scores = 1 / (1 + np.exp(-logits))
    else:
      scores = np.exp(logits - logits.max())
      scores /= scores.sum()
    chosen = np.argsort(-(scores + bias), kind="stable")[: m.top_k]
    gates = scores[chosen] / scores[chosen].sum() if m.top_k > 1 else scores[chosen]
    if not valid[i]:
      continue
    for g, ex in zip(gates, chosen):
      if capacity:
        if taken[ex] >= capacity:
          continue
        taken[ex] += 1
      h = xi @ wg[ex]
      h = h / (1 + np.exp(-h)) * (xi @ wu[ex])
      y[i] += g * (h @ wd[ex])
  return y.reshape(x.shape)


@nnx.jit
def _apply(m, x, mask=None):
  # Jitted so each test compiles once instead of dispatching dozens of ops eagerly.
  return m(x, mask)


def _inputs(shape=(3, 7, D), seed=1):
  return jax.random.normal(jax.random.key(seed), shape)


class MoEReferenceTest(parameterized.TestCase):
  @parameterized.product(
    score_fn=["sigmoid", "softmax"], capacity_factor=[0.0, 1.0], masked=[False, True], top_k=[1, K]
  )
  def test_matches_per_token_reference(self, score_fn, capacity_factor, masked, top_k):
    # capacity_factor = 1 with c scaled by e / k gives c = t: nothing can be dropped, so both
    # dispatch paths must agree.
    m = MoE(D, F, E, top_k, score_fn=score_fn, capacity_factor=capacity_factor * E / top_k, rngs=nnx.Rngs(0))
    m.router_bias[...] = jax.random.normal(jax.random.key(7), (E,)) * 0.1
    x = _inputs()
    mask = jax.random.bernoulli(jax.random.key(3), 0.7, x.shape[:2]) if masked else None
    y, aux = _apply(m, x, mask)
    np.testing.assert_allclose(y, reference_moe(m, x, mask), rtol=1e-4, atol=1e-5)
    self.assertEqual(float(aux["dropped_fraction"]), 0.0)

  def test_capacity_drops_match_reference(self):
    m = MoE(D, F, E, K, capacity_factor=0.5, rngs=nnx.Rngs(0))
    x = _inputs((2, 16, D))
    mask = jnp.arange(16)[None, :] < jnp.array([[16], [11]])
    y, aux = _apply(m, x, mask)
    capacity = m.capacity(32)
    self.assertEqual(capacity, 8)  # ceil(0.5 * 32 * 2 / 4)
    np.testing.assert_allclose(y, reference_moe(m, x, mask, capacity), rtol=1e-4, atol=1e-5)
    self.assertGreater(float(aux["dropped_fraction"]), 0.0)

  def test_full_top_k_is_dense_mixture(self):
    m = MoE(D, F, E, E, rngs=nnx.Rngs(0))
    x = _inputs((2, 5, D))
    scores = jax.nn.sigmoid(x @ m.router[...])
    weights = scores / scores.sum(-1, keepdims=True)  # [b, s, e]
    h = jax.nn.silu(jnp.einsum("bsd,edf->bsef", x, m.w_gate[...]))
    h = h * jnp.einsum("bsd,edf->bsef", x, m.w_up[...])
    expected = jnp.einsum("bse,bsef,efd->bsd", weights, h, m.w_down[...])
    y, aux = _apply(m, x)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(aux["expert_load"], np.full(E, 1 / E), rtol=1e-6)


class RoutingTest(absltest.TestCase):
  def test_bias_changes_selection_not_gates(self):
    logits = jax.random.normal(jax.random.key(0), (10, E))
    bias = jnp.zeros(E).at[3].set(5.0)
    experts, gates = route(logits, bias, K)
    self.assertTrue(bool((experts == 3).any(-1).all()))
    scores = jax.nn.sigmoid(logits)
    chosen = jnp.take_along_axis(scores, experts, -1)
    np.testing.assert_allclose(gates, chosen / chosen.sum(-1, keepdims=True), rtol=1e-6)
    unbiased, _ = route(logits, jnp.zeros(E), K)
    self.assertFalse(bool((unbiased == 3).any(-1).all()))

  def test_top1_gate_is_raw_score(self):
    # Normalising a single gate would make it 1 and leave the router without gradient.
    logits = jax.random.normal(jax.random.key(0), (10, E))
    bias = jnp.zeros(E).at[2].set(0.3)
    for score_fn, score in (("sigmoid", jax.nn.sigmoid), ("softmax", jax.nn.softmax)):
      experts, gates = route(logits, bias, 1, score_fn)
      np.testing.assert_allclose(gates, jnp.take_along_axis(score(logits), experts, -1), rtol=1e-6)
      self.assertLess(float(gates.max()), 1.0)
      grad = jax.grad(lambda z, fn=score_fn: route(z, bias, 1, fn)[1].sum())(logits)
      self.assertTrue(bool((jnp.abs(grad).sum(-1) > 0).all()), score_fn)

  def test_no_gradient_through_bias(self):
    logits = jax.random.normal(jax.random.key(0), (10, E))
    grad = jax.grad(lambda b: route(logits, b, K)[1].sum() + route(logits, b, K)[1][:, 0].sum())(jnp.zeros(E))
    np.testing.assert_array_equal(grad, np.zeros(E))

  def test_update_router_bias(self):
    new = update_router_bias(jnp.zeros(4), jnp.array([0.5, 0.3, 0.1, 0.1]), 0.1)
    np.testing.assert_allclose(new, [-0.1, -0.1, 0.1, 0.1], rtol=1e-6)
    stacked = update_router_bias(jnp.zeros((2, 3)), jnp.array([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0]]), 1.0)
    np.testing.assert_allclose(stacked, [[0, 0, 0], [-1, 1, 1]])

  def test_masked_tokens_excluded_from_load(self):
    m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
    x = _inputs((1, 9, D))
    mask = jnp.arange(9)[None] < 4
    y, aux = _apply(m, x, mask)
    y_valid, aux_valid = _apply(m, x[:, :4])
    np.testing.assert_allclose(aux["expert_load"], aux_valid["expert_load"], rtol=1e-6)
    np.testing.assert_allclose(y[:, :4], y_valid, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y[:, 4:], 0.0)
    np.testing.assert_allclose(float(aux["expert_load"].sum()), 1.0, rtol=1e-6)


class GradientTest(parameterized.TestCase):
  def test_gradients_reach_selected_experts_and_router_only(self):
    m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
    x = _inputs((1, 1, D))
    experts, _ = route(x.reshape(1, D) @ m.router[...], m.router_bias[...], K)
    selected = set(np.asarray(experts[0]).tolist())

    def loss_fn(model):
      y, _ = model(x)
      return (y * jnp.arange(1, D + 1)).sum()

    grads = nnx.jit(nnx.grad(loss_fn))(m)  # wrt nnx.Param: RouterBias is not a Param
    self.assertNotIn("router_bias", grads)
    self.assertGreater(float(jnp.abs(grads["router"][...]).sum()), 0.0)
    for name in ("w_gate", "w_up", "w_down"):
      per_expert = jnp.abs(grads[name][...]).sum(axis=(1, 2))
      for ex in range(E):
        self.assertEqual(bool(per_expert[ex] > 0), ex in selected, f"{name} expert {ex}")

    bias_grads = nnx.jit(nnx.grad(loss_fn, argnums=nnx.DiffState(0, RouterBias)))(m)
    np.testing.assert_array_equal(bias_grads["router_bias"][...], np.zeros(E))

  def test_top1_router_gets_gradient(self):
    m = MoE(D, F, E, 1, rngs=nnx.Rngs(0))
    x = _inputs((2, 5, D))

    def loss_fn(model):
      y, _ = model(x)
      return (y * jnp.arange(1, D + 1)).sum()

    grads = nnx.jit(nnx.grad(loss_fn))(m)
    self.assertGreater(float(jnp.abs(grads["router"][...]).sum()), 1e-3)

  @parameterized.parameters("sigmoid", "softmax")
  def test_top1_router_learns_to_pick_the_better_expert(self, score_fn):
    # Experts frozen, only the router trained: the target is expert 1's own output, but the router
    # starts by sending every token to expert 0. The loss can only fall if the gate gradient moves
    # the router (with gates renormalised to 1 it stays exactly constant).
    m = MoE(D, F, E, 1, score_fn=score_fn, rngs=nnx.Rngs(0))
    x = _inputs((1, 64, D)).at[..., 0].set(1.0)  # feature 0 is constant, a per-expert router bias
    m.router[...] = (jax.random.normal(jax.random.key(2), (D, E)) * 0.01).at[0, 0].add(1.0)
    h = jax.nn.silu(x @ m.w_gate[1]) * (x @ m.w_up[1])
    target = h @ m.w_down[1]
    router_only = nnx.All(nnx.Param, nnx.PathContains("router"))
    opt = nnx.Optimizer(m, optax.sgd(1.0), wrt=router_only)

    @nnx.jit
    def step(model, opt):
      def loss_fn(model):
        y, aux = model(x)
        return jnp.mean((y - target) ** 2), aux

      grad_fn = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, router_only), has_aux=True)
      (loss, aux), grads = grad_fn(model)
      opt.update(model, grads)
      return loss, aux["expert_load"]

    history = [step(m, opt) for _ in range(40)]
    (first_loss, first_load), (last_loss, last_load) = history[0], history[-1]
    self.assertEqual(float(first_load[0]), 1.0)
    self.assertLess(float(last_loss), 0.4 * float(first_loss))
    self.assertGreater(float(last_load[1]), 0.5)


def _skewed_moe():
  """An MoE whose router sends (almost) every token to experts 0 and 1."""
  m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
  m.router[...] = m.router[...].at[:, :2].add(2.0)
  return m


def _train_loads(balance: bool, steps: int = 40):
  model = _skewed_moe()
  opt = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)
  target_map = jax.random.normal(jax.random.key(5), (D, D)) / np.sqrt(D)

  @nnx.jit
  def step(model, opt, key):
    x = jax.random.normal(key, (4, 16, D)) + 1.0  # positive mean: the skewed router fires on it

    def loss_fn(model):
      y, aux = model(x)
      return jnp.mean((y - x @ target_map) ** 2), aux

    (_, aux), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    opt.update(model, grads)
    if balance:
      apply_router_bias_update(model, [aux["expert_load"]], step_size=0.02)
    return aux["expert_load"]

  loads = [step(model, opt, k) for k in jax.random.split(jax.random.key(9), steps)]
  return np.mean(loads[-10:], axis=0)


class AuxStatsTest(absltest.TestCase):
  def test_dropped_fraction(self):
    x = _inputs((2, 16, D)) + 1.0  # positive mean: the skewed router fires on it
    mask = jnp.arange(16)[None, :] < jnp.array([[16], [11]])
    ragged = _skewed_moe()
    _, aux = _apply(ragged, x, mask)
    self.assertEqual(float(aux["dropped_fraction"]), 0.0)

    tiny = MoE(D, F, E, K, capacity_factor=0.1, rngs=nnx.Rngs(0))
    nnx.update(tiny, nnx.state(ragged))
    capacity = tiny.capacity(32)
    self.assertEqual(capacity, 2)  # ceil(0.1 * 32 * 2 / 4)
    _, aux = _apply(tiny, x, mask)
    # Expected from the routing itself: each expert drops whatever of its valid slots exceed c.
    experts, _ = route(x.reshape(-1, D) @ tiny.router[...], tiny.router_bias[...], K)
    valid = np.asarray(mask).reshape(-1)
    counts = np.bincount(np.asarray(experts)[valid].reshape(-1), minlength=E)
    self.assertEqual(counts[:2].sum(), 2 * valid.sum())  # skewed: all valid slots on experts 0, 1
    expected = np.maximum(counts - capacity, 0).sum() / (K * valid.sum())
    np.testing.assert_allclose(float(aux["dropped_fraction"]), expected, rtol=1e-6)
    self.assertGreater(float(aux["dropped_fraction"]), 0.9)

  def test_router_z_loss_matches_hand_computation(self):
    m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
    x = _inputs((2, 6, D))
    mask = jnp.arange(6)[None, :] < jnp.array([[6], [2]])
    _, aux = _apply(m, x, mask)
    logits = np.asarray(x, np.float64).reshape(-1, D) @ _np(m.router)
    lse = np.log(np.exp(logits).sum(-1))
    valid = np.asarray(mask).reshape(-1)
    np.testing.assert_allclose(float(aux["router_z_loss"]), np.mean(lse[valid] ** 2), rtol=1e-5)
    self.assertEqual(aux["router_z_loss"].shape, ())
    self.assertEqual(aux["router_z_loss"].dtype, jnp.float32)
    self.assertEqual(aux["dropped_fraction"].dtype, jnp.float32)
    self.assertEqual(aux["expert_load"].shape, (E,))

  def test_all_tokens_masked(self):
    m = MoE(D, F, E, K, capacity_factor=1.0, rngs=nnx.Rngs(0))
    _, aux = _apply(m, _inputs((1, 4, D)), jnp.zeros((1, 4), bool))
    for name in ("router_z_loss", "dropped_fraction"):
      self.assertEqual(float(aux[name]), 0.0, name)
    np.testing.assert_array_equal(aux["expert_load"], np.zeros(E))


class BalancingTest(absltest.TestCase):
  def test_bias_updates_balance_a_skewed_router(self):
    def imbalance(load):
      return load.max() / max(load.min(), 1e-3)

    unbalanced = _train_loads(balance=False)
    balanced = _train_loads(balance=True)
    self.assertGreater(imbalance(unbalanced), 20.0)
    self.assertLess(imbalance(balanced), 2.0)
    self.assertLess(imbalance(balanced), imbalance(unbalanced))

  def test_apply_router_bias_update_finds_every_layer(self):
    class Stack(nnx.Module):
      def __init__(self, rngs):
        self.first = MoE(D, F, E, K, rngs=rngs)
        self.inner = nnx.List([nnx.Dict(moe=MoE(D, F, E, K, rngs=rngs))])

    model = Stack(nnx.Rngs(0))
    self.assertEqual([p for p, _ in moe_lib.moe_layers(model)], [("first",), ("inner", 0, "moe")])
    load = jnp.array([0.4, 0.4, 0.1, 0.1])
    apply_router_bias_update(model, [load, load[::-1]], 0.5)
    np.testing.assert_allclose(model.first.router_bias[...], [-0.5, -0.5, 0.5, 0.5])
    np.testing.assert_allclose(model.inner[0]["moe"].router_bias[...], [0.5, 0.5, -0.5, -0.5])
    apply_router_bias_update(model, {("first",): load, "inner/0/moe": load}, 0.5)
    np.testing.assert_allclose(model.first.router_bias[...], [-1, -1, 1, 1])
    np.testing.assert_allclose(model.inner[0]["moe"].router_bias[...], [0, 0, 0, 0])
    with self.assertRaises(ValueError):
      apply_router_bias_update(model, [load], 0.5)


class CompilationTest(absltest.TestCase):
  def test_jit_matches_eager(self):
    # The other tests run jitted; this one also covers eager dispatch (slow on CPU: op by op).
    m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
    x = _inputs()
    mask = jnp.ones(x.shape[:2], bool).at[0, -2:].set(False)
    y_eager, aux_eager = m(x, mask)
    y_jit, aux_jit = _apply(m, x, mask)
    np.testing.assert_allclose(y_jit, y_eager, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aux_jit["expert_load"], aux_eager["expert_load"])

  def test_bf16_compute(self):
    m = MoE(D, F, E, K, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    y, _ = _apply(m, _inputs().astype(jnp.bfloat16))
    self.assertEqual(y.dtype, jnp.bfloat16)
    self.assertEqual(m.w_gate[...].dtype, jnp.float32)

  def test_eval_shape_paper_size(self):
    # The 0.935B decoder layer: d 1024, f 2048, 24 experts, 2 active.
    m = nnx.eval_shape(lambda: MoE(1024, 2048, 24, 2, rngs=nnx.Rngs(0)))
    self.assertEqual(m.w_gate.shape, (24, 1024, 2048))
    self.assertEqual(m.w_down.shape, (24, 2048, 1024))
    self.assertEqual(m.router.shape, (1024, 24))
    specs = nnx.get_partition_spec(nnx.state(m))
    self.assertEqual(tuple(specs["w_gate"].get_value()), ("expert", "embed", "mlp"))
    self.assertEqual(tuple(specs["w_down"].get_value()), ("expert", "mlp", "embed"))
    self.assertEqual(tuple(specs["router"].get_value()), ("embed", None))
    state = jax.eval_shape(lambda: nnx.state(MoE(1024, 2048, 24, 2, rngs=nnx.Rngs(0))))
    self.assertEqual(state["w_up"].get_value().shape, (24, 1024, 2048))
    self.assertEqual(state["router_bias"].get_value().shape, (24,))

  def test_built_sharded_under_mesh_with_rules(self):
    mesh = jax.make_mesh((1, 1), ("data", "expert"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    rules = [("expert", "expert"), ("embed", None), ("mlp", None)]
    with jax.set_mesh(mesh), nnx.logical_axis_rules(rules):
      m = MoE(D, F, E, K, rngs=nnx.Rngs(0))
      self.assertEqual(m.w_gate[...].sharding.spec, jax.P("expert", None, None))
      y, _ = _apply(m, _inputs())
    np.testing.assert_allclose(y, reference_moe(m, _inputs()), rtol=1e-4, atol=1e-5)

  def test_invalid_config(self):
    with self.assertRaises(ValueError):
      MoE(D, F, 4, 5, rngs=nnx.Rngs(0))
    with self.assertRaises(ValueError):
      MoE(D, F, 4, 2, score_fn="relu", rngs=nnx.Rngs(0))


if __name__ == "__main__":
  absltest.main()
