"""OneRec-JAX: Kuaishou's OneRec generative recommender in JAX.

Subpackages (one concept per file):
  tokenizer/  RQ-Kmeans semantic IDs, collisions, prefix trie, tokenizer metrics (PAPER.md section 1)
  layers/     attention, SwiGLU, mixture-of-experts with aux-loss-free balancing, transformer blocks
  models/     the OneRec encoder-decoder and the model-size table (sections 2-4)
  decoding/   trie-constrained beam search, generation, the notebook-facing Recommender (section 8)
  losses/     next-token loss over semantic IDs
  train/      optimiser, train step, Orbax checkpoints, train_and_evaluate (section 5)
  input/      the user simulator, sequences, leave-one-out splits, multi-scale features
  evaluation/ ranking metrics and the held-out evaluator
  sharding/   mesh and logical-axis rule tables
"""

__version__ = "0.1.0"
