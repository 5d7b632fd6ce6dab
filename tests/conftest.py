"""Shared pytest setup: offline, CPU-only, quiet TensorFlow."""

import os
import sys

# Set before TensorFlow is imported by any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# The data layer never probes the network when this is set: tests stay offline.
os.environ["INFOMAX_OFFLINE"] = "1"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)
