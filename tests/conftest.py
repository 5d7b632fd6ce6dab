"""Shared pytest setup: offline, CPU-only, quiet TensorFlow; the smoke run."""

import os
import sys

import pytest

# Set before TensorFlow is imported by any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# The data layer never probes the network when this is set: tests stay offline.
os.environ["INFOMAX_OFFLINE"] = "1"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)


@pytest.fixture(scope="session")
def smoke_all(tmp_path_factory):
  """`--claim=all --profile=smoke` once per session: (workdir, result).

  Several test modules read it (schema, cache, reference verdicts); the ones
  that rerun claim 2 in it reproduce the same values, so sharing is safe.
  """
  from tests import cli  # pylint: disable=g-import-not-at-top
  workdir = tmp_path_factory.mktemp("smoke_all")
  result = cli.run_main("--claim=all", "--profile=smoke",
                        f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir, result
