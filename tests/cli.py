"""Runs the command line in a subprocess, offline, from the repository root."""

import os
import subprocess
import sys

from tests import conftest


def command(*args):
  return [sys.executable, "-m", "infomax_tf.main", *args]


def environment(**extra):
  return dict(os.environ, INFOMAX_OFFLINE="1", PYTHONPATH=conftest.REPO_ROOT,
              **extra)


def run_main(*args, timeout=900, **env_extra):
  return subprocess.run(command(*args), capture_output=True, text=True,
                        env=environment(**env_extra), cwd=conftest.REPO_ROOT,
                        timeout=timeout)


def start_main(*args, **env_extra):
  return subprocess.Popen(command(*args), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env=environment(**env_extra), cwd=conftest.REPO_ROOT)
