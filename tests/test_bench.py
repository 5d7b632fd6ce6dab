"""The benchmark harness runs and prints its schema (no timing assertions)."""

import json
import subprocess
import sys

from tests import cli
from tests import conftest

# Not imported from infomax_tf.bench: its absl flags share names with the
# command line's, and tests run in one process.
CONFIGS = {"fig1ab", "fig1c", "fig2", "fig3_bilinear", "fig3_separable",
           "fig3_concat", "fig4ab_mlp", "fig4ab_convnet", "probe"}
REQUIRED = {"config", "batch", "params", "median_step_ms", "p10_step_ms",
            "p90_step_ms", "compile_s", "gflop_per_step", "gflops", "seeds"}


def test_every_config_prints_one_json_line(tmp_path):
  out = tmp_path / "bench.jsonl"
  result = subprocess.run(
      [sys.executable, "-m", "infomax_tf.bench", "--steps=1", "--warmup=0",
       "--seeds=2", "--probe_examples=400", f"--json_out={out}"],
      capture_output=True, text=True, env=cli.environment(),
      cwd=conftest.REPO_ROOT, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [json.loads(l) for l in result.stdout.splitlines()
           if l.startswith("{")]
  assert [json.loads(l) for l in out.read_text().splitlines()] == lines
  assert {l["config"] for l in lines} == CONFIGS
  for line in lines:
    assert REQUIRED <= set(line), line["config"]
  trained = [l for l in lines if l["config"] != "probe"]
  for line in trained:
    assert line["median_step_ms"] > 0 and line["gflop_per_step"] > 0
    assert line["params"] > 0
  assert all(l["seeds"] == 2 for l in trained if l["config"] != "fig1c")
  fig2, = [l for l in lines if l["config"] == "fig2"]
  assert fig2["jacobian_eval_ms"] > 0
  probes = [l for l in lines if l["config"] == "probe"]
  assert len(probes) == 1 and 0 <= probes[0]["accuracy"] <= 1


def test_unknown_config_is_a_usage_error():
  result = subprocess.run(
      [sys.executable, "-m", "infomax_tf.bench", "--configs=fig9"],
      capture_output=True, text=True, env=cli.environment(),
      cwd=conftest.REPO_ROOT, timeout=300)
  assert result.returncode != 0
  assert "unknown configs" in result.stderr
