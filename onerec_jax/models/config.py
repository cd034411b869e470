"""Typed configuration of the OneRec encoder-decoder."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(kw_only=True)
class ModelConfig:
  """Sizes of the encoder-decoder. Vocabulary and catalogue sizes are filled from the data/tokenizer."""

  size: str = "tiny"  # name of a row of models.sizes.MODEL_SIZES the widths below were taken from
  d_model: int = 64  # model width
  num_heads: int = 4  # attention heads
  head_dim: int = 0  # width per head (0 = d_model // num_heads)
  ffn_dim: int = 128  # dense SwiGLU hidden width
  num_encoder_layers: int = 1  # transformer layers over the user tokens
  num_decoder_layers: int = 1  # decoder layers (causal self-attn, cross-attn, FFN/MoE)
  num_experts: int = 0  # experts per MoE layer (0 = dense feed-forward)
  num_experts_per_token: int = 2  # top-k routing
  expert_ffn_dim: int = 0  # hidden width per expert (0 = ffn_dim)
  encoder_moe: bool = False  # also use MoE in the encoder (the 2.6B model does)
  router_bias_step: float = 1e-3  # auxiliary-loss-free balancing: bias step per training step
  dropout_rate: float = 0.0  # dropout on residual branches
  embed_dim: int = 32  # width of each sparse-feature embedding (the report uses 64)
  # The static pathway (one token): 'all' = user id + the dataset's static features, 'features' = the
  # static features without the user id, 'off' = a learned start token only (the pathway ablated).
  static_pathway: str = "all"
  # Rows of the user-id table (static_pathway='all'): 0 = one row per user; n > 0 = user ids hashed (id mod
  # n) into n shared rows, as TIGER (2,000), so a row cannot memorise one user's few targets.
  user_id_buckets: int = 0
  # Encoder pathway lengths (tokens).
  short_len: int = 20  # short-term pathway: the last interactions
  positive_len: int = 32  # positive-feedback pathway: the last high-engagement interactions
  lifelong_len: int = 64  # lifelong pathway: interactions (or representatives) fed to the QFormer
  lifelong_compression: str = "last"  # 'last': the last lifelong_len interactions | 'hkmeans': the report's
  # hierarchical k-means representatives of the last lifelong_history interactions (input/lifelong.py)
  lifelong_history: int = 0  # hkmeans: interactions compressed (0 = the whole history before the target)
  lifelong_queries: int = 8  # learned queries of the lifelong QFormer (tokens it emits)
  lifelong_layers: int = 1  # QFormer blocks
  use_item_id_embedding: bool = True  # embed raw item ids besides their semantic IDs
  # Multi-target training (0 = the report's design: one encoder pass per target). m > 0: the encoder is
  # causal over [static, positive, lifelong, short window] and the last m positions of each short window
  # are targets, each decoded with cross-attention to its own past only: one encoder pass serves m targets.
  targets_per_window: int = 0
  # Multi-target: decode at most ceil(target_capacity * b * m) rows per batch, the valid targets first
  # (onerec_jax.models.target_rows; 0 = every slot; targets past it are dropped and counted).
  target_capacity: float = 0.0
  # Training: decode beside each target its k most recent earlier items and push their probability down
  # (the history unlikelihood loss, losses.history_unlikelihood; models.history_negatives). 0 = off.
  history_negatives: int = 0
  # The form of that term: 'unlikelihood' -log(1 - pi(o)) (losses.history_unlikelihood) or 'pairwise'
  # -log sigmoid(log pi(target) - log pi(o)) (losses.history_pairwise).
  history_loss: str = "unlikelihood"
  # Its weight beside the next-token loss (either form). The unlikelihood's gradient is pi(o) / (1 - pi(o))
  # times that of log pi(o): with item probabilities of a few 1e-3 it is weak at weight 1.
  history_unlikelihood_weight: float = 1.0
  capacity_factor: float = 0.0  # MoE expert capacity (0 = no token dropped: ragged dispatch; an expert
  # mesh axis > 1 needs > 0: tokens are all-to-all'd to their experts in fixed-size buffers)
  # Filled in from the data and tokenizer (0 = not yet known).
  num_items: int = 0  # catalogue size
  num_users: int = 0  # user-id vocabulary (ids are hashed into it)
  num_categories: int = 0  # item category vocabulary
  num_authors: int = 0  # item author vocabulary
  static_vocab_sizes: tuple[int, ...] = ()  # vocab of each static user feature
  num_feedback: int = 0  # continuous feedback values per interaction
  num_sid_levels: int = 0  # semantic-ID length (tokens per item, incl. a disambiguation level)
  sid_vocab_size: int = 0  # codes per level (shared output width)
  # Numerics and kernels.
  dtype: str = "float32"  # activation dtype: float32 | bfloat16
  attention_impl: str = "auto"  # kernels_pallas.attention impl: auto | reference | xla | pallas

  @property
  def resolved_head_dim(self) -> int:
    return self.head_dim or self.d_model // self.num_heads

  @property
  def resolved_expert_ffn_dim(self) -> int:
    return self.expert_ffn_dim or self.ffn_dim

  def validate(self) -> None:
    """Checks cross-field consistency; raises ValueError naming the field."""
    for name in ("d_model", "num_heads", "ffn_dim", "num_encoder_layers", "num_decoder_layers", "embed_dim"):
      if getattr(self, name) <= 0:
        raise ValueError(f"model.{name} must be positive, got {getattr(self, name)}")
    if not self.head_dim and self.d_model % self.num_heads:
      raise ValueError(
        f"model.d_model={self.d_model} is not divisible by model.num_heads={self.num_heads}; set model.head_dim"
      )
    if self.num_experts < 0:
      raise ValueError(f"model.num_experts must be >= 0, got {self.num_experts}")
    if self.num_experts and not 1 <= self.num_experts_per_token <= self.num_experts:
      raise ValueError(
        f"model.num_experts_per_token={self.num_experts_per_token} must be in [1, num_experts={self.num_experts}]"
      )
    if self.encoder_moe and not self.num_experts:
      raise ValueError("model.encoder_moe=True needs model.num_experts > 0")
    if not 0 <= self.targets_per_window <= self.short_len:
      raise ValueError(
        f"model.targets_per_window={self.targets_per_window} must be in [0, model.short_len={self.short_len}]"
      )
    if not 0 <= self.target_capacity <= 1:
      raise ValueError(f"model.target_capacity must be in [0, 1] (0 = decode every slot), got {self.target_capacity}")
    if self.target_capacity and not self.targets_per_window:
      raise ValueError("model.target_capacity needs multi-target training (model.targets_per_window > 0)")
    if not 0 <= self.history_negatives <= self.short_len:
      raise ValueError(
        f"model.history_negatives={self.history_negatives} must be in [0, model.short_len={self.short_len}] (0 = off)"
      )
    if self.history_unlikelihood_weight <= 0:
      raise ValueError(f"model.history_unlikelihood_weight must be > 0, got {self.history_unlikelihood_weight}")
    if self.history_loss not in ("unlikelihood", "pairwise"):
      raise ValueError(f"model.history_loss must be 'unlikelihood' or 'pairwise', got {self.history_loss!r}")
    if self.history_loss != "unlikelihood" and not self.history_negatives:
      raise ValueError(
        f"model.history_loss={self.history_loss!r} has no pairs: the history negatives are off "
        "(set model.history_negatives > 0)"
      )
    if self.history_unlikelihood_weight != 1.0 and not self.history_negatives:
      raise ValueError(
        f"model.history_unlikelihood_weight={self.history_unlikelihood_weight} weighs nothing: the history "
        "unlikelihood is off (set model.history_negatives > 0)"
      )
    if self.capacity_factor < 0:
      raise ValueError(f"model.capacity_factor must be >= 0, got {self.capacity_factor}")
    if self.short_len < 1 or self.positive_len < 0 or self.lifelong_len < 0:
      raise ValueError("model.short_len must be >= 1 and positive_len, lifelong_len >= 0")
    if self.lifelong_compression not in ("last", "hkmeans"):
      raise ValueError(f"model.lifelong_compression must be 'last' or 'hkmeans', got {self.lifelong_compression!r}")
    if self.lifelong_len and self.lifelong_queries < 1:
      raise ValueError("model.lifelong_queries must be >= 1 when lifelong_len > 0")
    if self.user_id_buckets < 0 or (self.user_id_buckets and self.static_pathway != "all"):
      raise ValueError(
        f"model.user_id_buckets={self.user_id_buckets} must be >= 0 (0 = one row per user) and needs "
        f"model.static_pathway='all' (got {self.static_pathway!r}: no user-id token to hash)"
      )
    if self.static_pathway not in ("all", "features", "off"):
      raise ValueError(f"model.static_pathway must be all|features|off, got {self.static_pathway!r}")
    if self.dtype not in ("float32", "bfloat16"):
      raise ValueError(f"model.dtype must be float32 or bfloat16, got {self.dtype!r}")
    if self.attention_impl not in ("auto", "reference", "xla", "pallas"):
      raise ValueError(f"model.attention_impl must be auto|reference|xla|pallas, got {self.attention_impl!r}")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError(f"model.dropout_rate must be in [0, 1), got {self.dropout_rate}")

  def check_data_fields(self) -> None:
    """Checks the fields filled from data and tokenizer before a model is built."""
    for name in ("num_items", "num_users", "num_categories", "num_authors", "num_sid_levels", "sid_vocab_size"):
      if getattr(self, name) <= 0:
        raise ValueError(f"model.{name} is {getattr(self, name)}: fill it from the data/tokenizer before building")
