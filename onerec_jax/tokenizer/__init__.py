"""Item tokenizer: RQ-Kmeans semantic IDs, collision handling, the ID table and the prefix trie."""

from onerec_jax.tokenizer.config import TokenizerConfig
from onerec_jax.tokenizer.metrics import tokenizer_metrics
from onerec_jax.tokenizer.prefix_trie import PrefixTrie
from onerec_jax.tokenizer.residual_kmeans import ResidualKMeans, decode, encode, fit_residual_kmeans
from onerec_jax.tokenizer.semantic_ids import SemanticIdTable
