"""Tests for onerec_jax.layers.feed_forward."""

import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest
from flax import nnx

from onerec_jax.layers.feed_forward import SwiGLU


class SwiGLUTest(absltest.TestCase):
  def test_matches_formula(self):
    ffn = SwiGLU(8, 24, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (2, 3, 8))
    wg, wu, wd = (ffn.w_gate.kernel[...], ffn.w_up.kernel[...], ffn.w_down.kernel[...])
    expected = (jax.nn.silu(x @ wg) * (x @ wu)) @ wd
    np.testing.assert_allclose(ffn(x), expected, rtol=1e-5, atol=1e-6)

  def test_shapes_and_logical_names(self):
    ffn = nnx.eval_shape(lambda: SwiGLU(1024, 2048, rngs=nnx.Rngs(0)))
    self.assertEqual(ffn.w_gate.kernel.shape, (1024, 2048))
    self.assertEqual(ffn.w_down.kernel.shape, (2048, 1024))
    specs = nnx.get_partition_spec(nnx.state(ffn))
    self.assertEqual(tuple(specs["w_gate"]["kernel"].get_value()), ("embed", "mlp"))
    self.assertEqual(tuple(specs["w_up"]["kernel"].get_value()), ("embed", "mlp"))
    self.assertEqual(tuple(specs["w_down"]["kernel"].get_value()), ("mlp", "embed"))

  def test_jax_eval_shape(self):
    state = jax.eval_shape(lambda: nnx.state(SwiGLU(128, 256, rngs=nnx.Rngs(0))))
    self.assertEqual(state["w_up"]["kernel"].get_value().shape, (128, 256))

  def test_dtypes(self):
    ffn = SwiGLU(8, 16, dtype=jnp.bfloat16, param_dtype=jnp.float32, rngs=nnx.Rngs(0))
    self.assertEqual(ffn.w_gate.kernel[...].dtype, jnp.float32)
    self.assertEqual(ffn(jnp.ones((2, 8))).dtype, jnp.bfloat16)

  def test_sharded_under_mesh_with_rules(self):
    # Auto axes: the layers add no per-matmul `out_sharding`, which Explicit axes would demand.
    mesh = jax.make_mesh((1, 1), ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    with jax.set_mesh(mesh), nnx.logical_axis_rules([("embed", None), ("mlp", "model")]):
      ffn = SwiGLU(8, 16, rngs=nnx.Rngs(0))
      self.assertEqual(ffn.w_gate.kernel[...].sharding.spec, jax.P(None, "model"))
      self.assertEqual(ffn.w_down.kernel[...].sharding.spec, jax.P("model", None))
      self.assertEqual(ffn(jnp.ones((2, 8))).shape, (2, 8))


if __name__ == "__main__":
  absltest.main()
