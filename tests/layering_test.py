"""The layers import downwards only, and only the command line reads flags.

  3  the scripts at the top and cli/      flags -> config -> engine
  2  engines/                             training, evaluation, export, ...
  1  datasets/ nets/ preprocessing/ deployment/
  0  core/                                compat, errors, log, registry
"""

import ast
import os
import subprocess
import sys

import pytest

from conftest import ROOT

LAYERS = {'core': 0, 'datasets': 1, 'nets': 1, 'preprocessing': 1,
          'deployment': 1, 'engines': 2, 'cli': 3}
_NOT_PACKAGE = ('tests', 'benchmarks', '.venv', 'build', 'dist')


def _modules():
  """(dotted name under slimvision, path) of every module of the package."""
  for folder, dirs, files in os.walk(ROOT):
    relative = os.path.relpath(folder, ROOT)
    if relative != '.' and relative.split(os.sep)[0] in _NOT_PACKAGE + (
        '.git',):
      dirs[:] = []
      continue
    for name in files:
      if name.endswith('.py') and name != 'setup.py':
        parts = [] if relative == '.' else relative.split(os.sep)
        yield '.'.join(parts + [name[:-3]]), os.path.join(folder, name)


def _layer(module):
  """The layer of a module name under slimvision (the scripts: 3)."""
  top = module.split('.')[0]
  if top == '__init__':
    return 0
  return LAYERS.get(top, 3)


def _imports(module, path):
  """The slimvision modules that `path` imports (as names under it)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = module.split('.')[:-1]
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      if node.level:
        base = package[:len(package) - node.level + 1]
        names = ['.'.join(base + ([node.module] if node.module else []))]
      else:
        names = [node.module or '']
    else:
      continue
    for name in names:
      if name.startswith('slimvision.'):
        found.append(name[len('slimvision.'):])
      elif node.__class__ is ast.ImportFrom and node.level:
        found.append(name)
  return [n for n in found if n]


def test_every_package_folder_has_a_layer():
  folders = {m.split('.')[0] for m, _ in _modules() if '.' in m}
  assert folders == set(LAYERS)


def _upward(modules):
  """'a imports b' for each import of a higher layer among `modules`."""
  return ['%s imports %s' % (module, imported)
          for module, path in modules for imported in _imports(module, path)
          if _layer(imported) > _layer(module)]


def test_no_module_imports_a_layer_above_its_own():
  modules = list(_modules())
  assert len(modules) > 60
  assert not _upward(modules)


def test_the_check_sees_upward_imports(tmp_path):
  bad = tmp_path / 'bad.py'
  bad.write_text('from slimvision.engines import training\n'
                 'from ..cli import app\n'
                 'from . import nets_factory\n')
  assert _upward([('nets.bad', str(bad))]) == [
      'nets.bad imports engines', 'nets.bad imports cli']


@pytest.mark.parametrize('token', ['FLAGS', 'absl import flags'])
def test_only_the_command_line_reads_flags(token):
  readers = []
  for module, path in _modules():
    if _layer(module) < 3:
      with open(path) as f:
        if token in f.read():
          readers.append(module)
  assert not readers


def test_a_command_answers_before_tensorflow_loads(tmp_path):
  """The command layer and the configs load no TensorFlow, so --help and
  a command's first line come at once; the engine loads it afterwards."""
  program = (
      'import sys\n'
      'import train_image_classifier, classify_image\n'
      'from slimvision.engines import config\n'
      'assert train_image_classifier.run(["prog", "--help"]) == 0\n'
      'print(sorted(m for m in sys.modules if m.split(".")[0] in '
      '("tensorflow", "tf_slim", "tf_keras")))\n')
  result = subprocess.run([sys.executable, '-c', program], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().splitlines()[-1] == '[]'
  assert '--model_name' in result.stdout
