"""The quality chart reads metrics and seed-spread JSONs, computes the fraction of the published minimum
and writes a PNG; a row without a metric is an error naming it."""

import json

import pytest

from experiments import published, quality_plot, seed_spread


def _metrics(path, recall, ndcg):
  path.write_text(json.dumps({"model": {"recall@10": recall, "ndcg@10": ndcg}, "popularity": {"recall@10": 0.01}}))
  return str(path)


def test_table_fractions_and_png(tmp_path):
  a = _metrics(tmp_path / "a.json", 0.0600, 0.0300)
  b = _metrics(tmp_path / "b.json", 0.0500, 0.0320)
  spread_file = tmp_path / "seeds.json"
  spread_file.write_text(json.dumps(seed_spread.seed_spread([a, b], ["recall@10", "ndcg@10"])))
  rows = {"seed0": a, "two seeds": str(spread_file)}
  table = quality_plot.quality_table("amazon_beauty", rows, ["recall@10", "ndcg@10"])
  assert table[0]["recall@10"] == 0.0600
  assert table[0]["recall@10_of_min"] == pytest.approx(0.0600 / 0.0648)
  assert table[1]["recall@10"] == pytest.approx(0.0550)  # the mean, with min-max as its range
  assert (table[1]["recall@10_low"], table[1]["recall@10_high"]) == (0.0500, 0.0600)
  text = quality_plot.markdown("amazon_beauty", table, ["recall@10", "ndcg@10"])
  assert "| seed0 | 0.0600 (93%) | 0.0300 (78%) |" in text and "TIGER (published)" in text
  path = quality_plot.plot("amazon_beauty", table, ["recall@10", "ndcg@10"], str(tmp_path / "q.png"))
  assert open(path, "rb").read(4) == b"\x89PNG"
  assert quality_plot.read_row(a + "#popularity") == {"recall@10": (0.01, 0.01, 0.01)}
  with pytest.raises(ValueError, match="row 'seed0'.*hr@50"):
    quality_plot.quality_table("amazon_beauty", {"seed0": a}, ["hr@50"])


def test_dotted_block_paths(tmp_path):
  path = tmp_path / "older.json"  # a JSON that keeps its reported evaluation under 'best'
  path.write_text(json.dumps({"best": {"step": 5500, "test": {"hr@10": 0.2272, "num_users": 6040}}}))
  assert quality_plot.read_row(f"{path}#best.test")["hr@10"] == (0.2272, 0.2272, 0.2272)
  with pytest.raises(ValueError, match=r"older.json: no block 'best.valid' \(at 'valid' found \['step', 'test'\]\)"):
    quality_plot.read_row(f"{path}#best.valid")
  with pytest.raises(ValueError, match="holds no metric values"):
    path.write_text(json.dumps({"best": {"test": {}}}))
    quality_plot.read_row(f"{path}#best.test")


def test_a_run_that_picked_a_step_plots_that_steps_figures(tmp_path):
  path = tmp_path / "picked.json"
  path.write_text(json.dumps({"model": {"recall@10": 0.06}, "selected": {"step": 6000, "test": {"recall@10": 0.066}}}))
  assert quality_plot.read_row(str(path))["recall@10"] == (0.066, 0.066, 0.066)
  assert quality_plot.read_row(f"{path}#model")["recall@10"] == (0.06, 0.06, 0.06)


def test_published_numbers():
  assert published.fraction_of({"hr@10": 0.2853 / 2}, "ml1m") == {"hr@10": 0.5}
  assert published.PUBLISHED["amazon_beauty"]["TIGER"]["hr@10"] == 0.0648  # recall@K = hr@K
  with pytest.raises(KeyError, match="kuairand"):
    published.published("kuairand")
