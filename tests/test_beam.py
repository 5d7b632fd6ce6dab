"""The Beam runner: same results as the local runner, retries, caching."""

import json
import os
import sys

import pytest

from infomax_tf import config as config_lib
from infomax_tf import faults
from pipelines import beam_runner
from pipelines import components
from tests import cli

pytest.importorskip("apache_beam", reason="apache-beam is optional "
                    "(requirements-beam.txt); .ci/run installs it")

MULTI_PROCESSING = ("--beam_options=--runner=DirectRunner "
                    "--direct_num_workers=2 "
                    "--direct_running_mode=multi_processing")


def _verdict(workdir):
  return json.loads((workdir / "claim2" / "verdict.json").read_text())


def _records(run_dir):
  return [json.loads(line) for line in
          (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def local_and_beam(smoke_all, tmp_path_factory):
  """The session's local smoke run, and claim 2 of it again on Beam."""
  local = smoke_all[0]
  beam = tmp_path_factory.mktemp("beam")
  result = cli.run_main("--claim=2", "--profile=smoke", f"--workdir={beam}",
                        "--runner=beam", MULTI_PROCESSING)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "training stages on Beam" in result.stderr
  return local, beam


def test_beam_and_local_runners_agree(local_and_beam):
  local, beam = local_and_beam
  assert _verdict(beam) == _verdict(local)
  run = os.path.join("claim2", "fig3", "separable_nwj", "seed_1")
  strip = lambda records: [{k: v for k, v in r.items()
                            if "seconds" not in k and "per_sec" not in k}
                           for r in records]
  assert strip(_records(beam / run)) == strip(_records(local / run))
  layout = lambda root: sorted(
      os.path.relpath(os.path.join(d, f), root)
      for d, _, files in os.walk(root / "claim2") for f in files
      if "events.out" not in f)
  assert layout(beam) == layout(local)


def test_rerunning_a_finished_sweep_trains_nothing(local_and_beam):
  _, beam = local_and_beam
  records = beam / "claim2" / components.RECORDS_DIR
  stamps = {p.name: p.stat().st_mtime_ns for p in records.iterdir()}
  result = cli.run_main("--claim=2", "--profile=smoke", f"--workdir={beam}",
                    "--runner=beam", MULTI_PROCESSING)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "training stages on Beam" not in result.stderr
  changed = [p.name for p in records.iterdir()
             if p.stat().st_mtime_ns != stamps[p.name]]
  assert changed == ["data.json"]


@pytest.mark.parametrize("beam_options,attempts", [
    # The FnApiRunner does not retry bundles: the DoFn retries the stage.
    (MULTI_PROCESSING, 3),
    # The bundle-based DirectRunner retries the failed bundle itself.
    ("--beam_options=--runner=BundleBasedDirectRunner", 1),
])
def test_a_failed_element_is_retried_from_its_checkpoint(tmp_path, beam_options,
                                                         attempts):
  marker = tmp_path / "fault-fired"
  result = cli.run_main(
      "--claim=2", "--profile=smoke", "--fig3_critics=bilinear,separable",
      f"--workdir={tmp_path / 'runs'}", "--runner=beam", beam_options,
      f"--beam_stage_attempts={attempts}",
      **{faults.FAIL_ONCE_ENV: "fig3/train/separable_nce@10",
         faults.MARKER_ENV: str(marker)})
  assert result.returncode == 0, result.stderr[-3000:]
  assert marker.exists()  # The fault did fire...
  run = tmp_path / "runs" / "claim2" / "fig3" / "separable_nce" / "seed_0"
  result_json = json.loads((run / "result.json").read_text())
  assert result_json["resumed_from_step"] == 10  # ...and the retry resumed.
  assert [r["step"] for r in _records(run)] == [0, 10, 20]


def test_settings_survive_the_trip_to_a_worker():
  settings = config_lib.Settings(seeds=4, bounds=("nce",),
                                 fig4ab_targets=(2.0,), fig1ab_hidden=(8, 8))
  again = config_lib.Settings.from_dict(json.loads(json.dumps(
      settings.to_dict())))
  assert again == settings


def test_missing_apache_beam_is_a_clear_error(monkeypatch):
  monkeypatch.setitem(sys.modules, "apache_beam", None)
  with pytest.raises(Exception, match="requirements-beam.txt"):
    beam_runner.BeamRunner(config_lib.Settings(runner="beam"), "2")
