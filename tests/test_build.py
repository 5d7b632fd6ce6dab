"""BUILD stays true: every module and test has a target; every target's files
exist; every local dependency names a defined target.

Starlark is close enough to Python that the BUILD file runs under `exec`, with
the Bazel rules replaced by functions that record their arguments.
"""

import glob
import os

import pytest

from tests import conftest

ROOT = conftest.REPO_ROOT
PYTHON_DIRS = ("infomax_tf", "pipelines", "tests")


def parse_build(path):
  targets = {}

  def rule(kind):
    def record(name, **attrs):
      assert name not in targets, f"duplicate target {name}"
      targets[name] = dict(attrs, kind=kind)
    return record

  def glob_files(patterns, exclude=()):
    found = set()
    for pattern in patterns:
      found |= {os.path.relpath(p, ROOT) for p in
                glob.glob(os.path.join(ROOT, pattern), recursive=True)}
    return sorted(found - set(exclude))

  namespace = {
      "load": lambda *args: None,
      "package": lambda **kwargs: None,
      "requirement": lambda name: f"@pip//{name}",
      "glob": glob_files,
      "py_library": rule("py_library"),
      "py_binary": rule("py_binary"),
      "py_test": rule("py_test"),
  }
  with open(path) as f:
    exec(compile(f.read(), path, "exec"), namespace)  # pylint: disable=exec-used
  return targets


@pytest.fixture(scope="module")
def targets():
  return parse_build(os.path.join(ROOT, "BUILD"))


def _python_files():
  files = []
  for directory in PYTHON_DIRS:
    files += [os.path.relpath(p, ROOT) for p in
              glob.glob(os.path.join(ROOT, directory, "**", "*.py"),
                        recursive=True)]
  return sorted(files)


def test_every_python_file_has_a_target(targets):
  covered = {src for t in targets.values() for src in t.get("srcs", [])}
  missing = [f for f in _python_files() if f not in covered]
  assert not missing, f"files without a BUILD target: {missing}"


def test_every_test_file_has_a_py_test(targets):
  tests = {src for t in targets.values() if t["kind"] == "py_test"
           for src in t["srcs"]}
  missing = [f for f in _python_files()
             if os.path.basename(f).startswith("test_") and f not in tests]
  assert not missing, f"test files without a py_test: {missing}"


def test_every_named_file_exists(targets):
  for name, target in targets.items():
    for key in ("srcs", "data"):
      for item in target.get(key, []):
        if item.startswith(":"):
          assert item[1:] in targets, f"{name}.{key} names unknown {item}"
        else:
          assert os.path.exists(os.path.join(ROOT, item)), (
              f"target {name} names {item}, which does not exist")
    if "main" in target:
      assert os.path.exists(os.path.join(ROOT, target["main"]))


def test_local_deps_are_defined(targets):
  for name, target in targets.items():
    for dep in target.get("deps", []):
      if dep.startswith(":"):
        assert dep[1:] in targets, f"{name} depends on undefined {dep}"


def test_parser_catches_a_missing_file(tmp_path):
  build = tmp_path / "BUILD"
  build.write_text('py_library(name = "x", srcs = ["infomax_tf/nope.py"])\n')
  parsed = parse_build(str(build))
  with pytest.raises(AssertionError, match="does not exist"):
    test_every_named_file_exists(parsed)
