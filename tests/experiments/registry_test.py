"""Every registered experiment validates and builds under jax.eval_shape; overrides are typed."""

import dataclasses

import jax
import pytest
from flax import nnx

from experiments import registry
from onerec_jax.config_overrides import apply_overrides, from_dict, to_dict
from onerec_jax.models.onerec import OneRec
from onerec_jax.models.sasrec import SASRec
from onerec_jax.sharding.rules import make_mesh, mesh_context


def _with_data_fields(config):
  """Model config with the data-dependent fields filled from the config alone (no data generated)."""
  from experiments.aot_compile import abstract_model_config

  return abstract_model_config(config)


def _abstract_model(config):
  """The experiment's model built under jax.eval_shape (no parameters allocated)."""
  if config.family == "sasrec":
    model_config = dataclasses.replace(config.sasrec, num_items=config.data.simulator.num_items)
    with mesh_context(make_mesh(), "fsdp_tp"):
      return nnx.eval_shape(lambda: SASRec(model_config, rngs=nnx.Rngs(0)))
  if config.family == "reward":
    from onerec_jax.models.reward import RewardModel

    sim = config.data.simulator
    reward_config = dataclasses.replace(
      config.reward,
      num_items=sim.num_items,
      num_users=sim.num_users,
      num_categories=sim.num_categories,
      num_authors=sim.num_authors,
    )
    with mesh_context(make_mesh(), config.train.sharding_rules):
      return nnx.eval_shape(lambda: RewardModel(reward_config, 7, rngs=nnx.Rngs(0)))
  model_config = _with_data_fields(config)
  with mesh_context(make_mesh(), config.train.sharding_rules):
    return nnx.eval_shape(lambda: OneRec(model_config, rngs=nnx.Rngs(0)))


@pytest.mark.parametrize("name", registry.names())
def test_experiment_validates_and_builds_abstractly(name):
  config = registry.get(name)
  config.validate()
  assert config.name == name and config.description
  model = _abstract_model(config)
  params = nnx.state(model, nnx.Param)
  count = sum(x.size for x in jax.tree.leaves(params))
  assert count > 0
  specs = nnx.get_partition_spec(params)
  assert jax.tree.leaves(specs), "parameters carry partition specs"


def test_hand_written_tiny_siblings_have_parents_and_the_rest_derive_one():
  """A hand-written `X_tiny` belongs to an experiment X (or a family prefix of one); every other
  experiment gets its test-sized variant from the `tiny` transform (`X:tiny`)."""
  names = registry.names()
  assert "quickstart_tiny" in names
  parents = {n for n in names if not n.endswith("_tiny")}
  for sibling in (n for n in names if n.endswith("_tiny")):
    assert any(p.startswith(sibling[: -len("_tiny")]) for p in parents), sibling
  for parent in parents:
    assert registry.get(parent + ":tiny").name == parent + ":tiny"


def test_unknown_experiment_names_nearest():
  with pytest.raises(ValueError, match="Did you mean: quickstart"):
    registry.get("quickstrat")


def test_overrides_are_typed_and_round_trip():
  config = registry.build_config(
    "quickstart_tiny",
    [
      "--config.train.num_steps=7",
      "--config.eval.ks=(1,3)",
      "--config.model.dtype=bfloat16",
      "--config.data.simulator.seed=5",
    ],
    data_dir="/nowhere",
  )
  assert config.train.num_steps == 7 and config.eval.ks == (1, 3) and config.model.dtype == "bfloat16"
  assert config.data.simulator.seed == 5 and config.data.data_dir == "/nowhere"
  assert from_dict(type(config), to_dict(config)) == config


def test_level_temperatures_are_refused_where_nothing_decodes():
  config = registry.get("sasrec_ml1m")
  apply_overrides(config, ["eval.level_temperatures=1.0,1.0"])
  with pytest.raises(ValueError, match="family 'sasrec' does not decode"):
    config.validate()


@pytest.mark.parametrize(
  "override, message",
  [
    ("train.num_step=3", "Did you mean: train.num_steps"),
    ("train.num_steps=three", "expected int"),
    ("model.dtype=float16", "model.dtype must be float32 or bfloat16"),
    ("train.batch_size=0", "train.batch_size must be positive"),
    ("eval.num_beams=3", "eval.num_beams=3 must be >= max"),
    ("eval.level_temperatures=1.0,0.0", "eval.level_temperatures must be positive"),
    ("eval.level_temperatures=1.0,1.0", "eval.level_temperatures has 2 values; the semantic IDs have"),
    ("model", "must look like"),
  ],
)
def test_bad_overrides_fail_clearly(override, message):
  with pytest.raises(ValueError, match=message):
    config = registry.get("quickstart_tiny")
    apply_overrides(config, [override])
    config.validate()


@pytest.mark.parametrize("name", registry.names())
def test_tiny_variant_of_every_experiment_validates_and_builds(name):
  config = registry.get(name + ":tiny")
  config.validate()
  assert config.name == name + ":tiny" and config.family == registry.get(name).family
  assert config.train.num_steps <= 20 and config.model.d_model <= 32
  assert config.data.dataset == registry.get(name).data.dataset  # same data and protocol, smaller
  assert _abstract_model(config) is not None


def test_tiny_variant_trains_end_to_end(tmp_path):
  from onerec_jax.train.trainer import train_and_evaluate

  results = train_and_evaluate(registry.get("quickstart:tiny"), str(tmp_path / "qt"))
  assert results["train"]["steps"] == 20 and results["legal_rate"] == 1.0
