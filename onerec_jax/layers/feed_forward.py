"""SwiGLU feed-forward block, the dense FFN of OneRec's encoder and small decoders.

Shape letters: b batch, s length, d model width, f feed-forward width.

Every weight carries logical axis names ('embed' for d, 'mlp' for f) in its `out_sharding` metadata.
`logical_init` attaches them so that the same module builds both on a bare CPU (names recorded, nothing
sharded) and under `jax.set_mesh(...)` with `nnx.logical_axis_rules(...)` (each weight is created
sharded by the rule table).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from onerec_jax.sharding.rules import logical_init

__all__ = ["SwiGLU", "logical_init"]


class SwiGLU(nnx.Module):
  """Gated feed-forward: `w_down(silu(x w_gate) * (x w_up))`, no biases.

  Attributes:
    w_gate: `nnx.Linear` d -> f, kernel [d, f] named ('embed', 'mlp').
    w_up: `nnx.Linear` d -> f, kernel [d, f] named ('embed', 'mlp').
    w_down: `nnx.Linear` f -> d, kernel [f, d] named ('mlp', 'embed').
  """

  def __init__(
    self,
    d_model: int,
    ffn_dim: int,
    *,
    dtype: jnp.dtype = jnp.float32,
    param_dtype: jnp.dtype = jnp.float32,
    rngs: nnx.Rngs,
  ):
    """Builds the three projections.

    Args:
      d_model: model width d.
      ffn_dim: hidden width f.
      dtype: computation dtype (activations and matmuls).
      param_dtype: storage dtype of the weights.
      rngs: random streams; `params` initialises the weights.
    """
    init = nnx.initializers.lecun_normal()

    def linear(d_in, d_out, names):
      return nnx.Linear(
        d_in,
        d_out,
        use_bias=False,
        dtype=dtype,
        param_dtype=param_dtype,
        kernel_init=logical_init(init, names),
        rngs=rngs,
      )

    self.w_gate = linear(d_model, ffn_dim, ("embed", "mlp"))
    self.w_up = linear(d_model, ffn_dim, ("embed", "mlp"))
    self.w_down = linear(ffn_dim, d_model, ("mlp", "embed"))

  def __call__(self, x: jax.Array) -> jax.Array:
    """Applies the block position-wise.

    Args:
      x: [..., d] activations.

    Returns:
      [..., d] in `dtype`.
    """
    return self.w_down(jax.nn.silu(self.w_gate(x)) * self.w_up(x))
