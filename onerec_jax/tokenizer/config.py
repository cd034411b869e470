"""Configuration of the item tokenizer (RQ-Kmeans semantic IDs)."""

import dataclasses

_INITS = ('kmeans++', 'random')
_DEDUPS = ('extra_token', 'none')
_METHODS = ('rq_kmeans', 'rq_vae')


@dataclasses.dataclass(kw_only=True)
class RqVaeConfig:
  """The RQ-VAE baseline (TIGER style): MLP encoder -> residual quantiser in latent space -> MLP decoder.

  The codebook count and size (L x c) are TokenizerConfig's num_levels x codebook_size, so RQ-Kmeans and
  RQ-VAE are compared at the same code budget. Defaults follow TIGER (hidden 512-256-128, latent 32,
  commitment 0.25, k-means initialised codebooks); the epoch count is the report-free choice made here.
  """

  hidden_dims: tuple[int, ...] = (512, 256, 128)  # encoder widths (decoder mirrors them), units
  latent_dim: int = 32  # width of the quantised latent (e)
  num_epochs: int = 200  # passes over the items
  batch_size: int = 1024  # items per step (capped at the item count)
  learning_rate: float = 1e-3  # Adam(W) step size
  weight_decay: float = 1e-4  # AdamW decoupled weight decay
  commitment: float = 0.25  # beta: weight of ||r - sg(e)||^2 (the codebook term ||sg(r) - e||^2 has 1)
  kmeans_init: bool = True  # initialise each level's codebook by k-means on the initial latents/residuals
  restart_every: int = 10  # epochs between dead-code restarts (0 = never): unused codes move to residuals

  def validate(self) -> 'RqVaeConfig':
    """Raises ValueError naming the field. Returns self."""
    if not self.hidden_dims or min(self.hidden_dims) < 1:
      raise ValueError(f'TokenizerConfig.rq_vae.hidden_dims must be positive widths, got {self.hidden_dims}.')
    for name in ('latent_dim', 'num_epochs', 'batch_size'):
      if getattr(self, name) < 1:
        raise ValueError(f'TokenizerConfig.rq_vae.{name} must be >= 1, got {getattr(self, name)}.')
    if self.learning_rate <= 0 or self.commitment < 0 or self.weight_decay < 0:
      raise ValueError('TokenizerConfig.rq_vae: learning_rate must be > 0, commitment and weight_decay >= 0.')
    if self.restart_every < 0:
      raise ValueError(f'TokenizerConfig.rq_vae.restart_every must be >= 0, got {self.restart_every}.')
    return self


@dataclasses.dataclass(kw_only=True)
class ItemVectorsConfig:
  """How the vectors to quantise are made: collaborative (PPMI + SVD) and aligned (content -> InfoNCE).

  The report aligns content vectors with an in-batch item-to-item InfoNCE loss over collaboratively
  similar pairs plus a caption-reconstruction loss, temperature and weights not given; the values here
  are choices made on ML-1M / Beauty (experiments/results/tokenizer.md).
  """

  window: int = 5  # co-occurrence window: items at most this many positions apart in a history are pairs
  collab_dim: int = 64  # collaborative embedding width (SVD rank of the PPMI matrix)
  ppmi_alpha: float = 0.75  # context-distribution smoothing exponent of PPMI (word2vec's 0.75)
  align_dim: int = 128  # projector output width (the aligned vectors' width)
  align_hidden: int = 512  # projector hidden width
  align_steps: int = 2000  # projector training steps
  align_batch_size: int = 512  # positive pairs per step (in-batch negatives: the other pairs)
  align_temperature: float = 0.07  # InfoNCE temperature (cosine logits / temperature)
  align_recon_weight: float = 1.0  # weight of the content-reconstruction (distillation) term
  align_learning_rate: float = 1e-3  # AdamW step size

  def validate(self) -> 'ItemVectorsConfig':
    """Raises ValueError naming the field. Returns self."""
    for name in ('window', 'collab_dim', 'align_dim', 'align_hidden', 'align_steps', 'align_batch_size'):
      if getattr(self, name) < 1:
        raise ValueError(f'TokenizerConfig.vectors.{name} must be >= 1, got {getattr(self, name)}.')
    if self.align_temperature <= 0 or self.align_learning_rate <= 0 or self.align_recon_weight < 0:
      raise ValueError(
        'TokenizerConfig.vectors: align_temperature and align_learning_rate must be > 0, align_recon_weight >= 0.'
      )
    return self


@dataclasses.dataclass(kw_only=True)
class TokenizerConfig:
  """How item vectors become semantic IDs.

  The report (OneRec technical report, section on RQ-Kmeans) uses 3 levels x 8,192 codes in production;
  the defaults here are a laptop-sized 3 x 256. OneRec V1 used balanced k-means; the report's version is
  plain k-means. The report has no collision step; `dedup='extra_token'` is the TIGER-style fourth token.
  """

  num_levels: int = 3  # residual quantisation levels (L)
  codebook_size: int = 256  # codes per level (c); every level has the same size
  num_iters: int = 20  # Lloyd iterations per level (with batch_size > 0: passes over the data)
  init: str = 'kmeans++'  # 'kmeans++' (batched D^2 sampling on a subsample) | 'random' (distinct items)
  balanced: bool = False  # OneRec V1 balanced k-means: every cluster gets floor or ceil of n / c items
  batch_size: int = 0  # mini-batch size for Lloyd updates on large catalogues (0 = full batch), items
  dedup: str = 'extra_token'  # collisions: 'extra_token' appends a disambiguation level | 'none'
  seed: int = 0  # PRNG seed; the fit is deterministic given the seed and the input
  # Where a training run's semantic IDs come from (onerec_jax.train.assembly.fit_or_load_tokenizer).
  source: str = ''  # a `python -m experiments.tokenize --out=DIR` folder to read ('' = fit in the run)
  method: str = 'rq_kmeans'  # 'rq_kmeans' | 'rq_vae': the tokenizer fitted in the run, or read from source
  item_vectors: str = 'side'  # what is quantised in the run: side | content | collaborative | aligned
  text_cache_dir: str = ''  # text-embedding cache ('' = ~/.cache/onerec_jax/text_embeddings)
  rq_vae: RqVaeConfig = dataclasses.field(default_factory=RqVaeConfig)  # the RQ-VAE baseline
  vectors: ItemVectorsConfig = dataclasses.field(default_factory=ItemVectorsConfig)  # collab/aligned vectors

  @property
  def id_length(self) -> int:
    """Tokens per semantic ID: the num_levels codes, plus the disambiguation token with dedup='extra_token'."""
    return self.num_levels + (self.dedup == 'extra_token')

  def validate(self) -> 'TokenizerConfig':
    """Checks fields and their combinations; raises ValueError naming the field. Returns self."""
    if self.num_levels < 1:
      raise ValueError(f'TokenizerConfig.num_levels must be >= 1, got {self.num_levels}.')
    if self.codebook_size < 2:
      raise ValueError(f'TokenizerConfig.codebook_size must be >= 2, got {self.codebook_size}.')
    if self.num_iters < 0:
      raise ValueError(f'TokenizerConfig.num_iters must be >= 0, got {self.num_iters}.')
    if self.init not in _INITS:
      raise ValueError(f'TokenizerConfig.init must be one of {_INITS}, got {self.init!r}.')
    if self.dedup not in _DEDUPS:
      raise ValueError(f'TokenizerConfig.dedup must be one of {_DEDUPS}, got {self.dedup!r}.')
    if self.method not in _METHODS:
      raise ValueError(f'TokenizerConfig.method must be one of {_METHODS}, got {self.method!r}.')
    if self.item_vectors not in ('side', 'content', 'collaborative', 'aligned'):
      raise ValueError(
        f"TokenizerConfig.item_vectors must be side | content | collaborative | aligned, got {self.item_vectors!r}."
      )
    if self.batch_size < 0:
      raise ValueError(f'TokenizerConfig.batch_size must be >= 0 (0 = full batch), got {self.batch_size}.')
    if self.balanced and self.batch_size:
      raise ValueError(
        f'TokenizerConfig.balanced=True needs full-batch assignment (batch_size=0), got batch_size={self.batch_size}.'
      )
    if self.batch_size and self.batch_size < self.codebook_size:
      raise ValueError(
        f'TokenizerConfig.batch_size ({self.batch_size}) must be >= codebook_size '
        f'({self.codebook_size}) so a mini-batch can reach every code.'
      )
    self.rq_vae.validate()
    self.vectors.validate()
    return self
