"""The command line: each flag defined once, --help, --version, configs."""

import importlib
import os
import re
import subprocess
import sys
import typing

from absl import flags
import pytest

from conftest import ROOT, run_cli
import processes
from slimvision.cli import app
from slimvision.cli import flags as cli_flags
from slimvision.engines import config as config_lib

SCRIPTS = {
    'train_image_classifier.py': config_lib.TrainConfig,
    'eval_image_classifier.py': config_lib.EvalConfig,
    'export_inference_graph.py': config_lib.ExportConfig,
    'classify_image.py': config_lib.ClassifyConfig,
    'download_and_convert_data.py': config_lib.ConvertConfig,
    'serve_image_classifier.py': config_lib.ServeConfig,
}


def _parse(config_class, *args):
  flag_values = flags.FlagValues()
  cli_flags.define(config_class, flag_values)
  flag_values(['prog'] + list(args))
  return cli_flags.build(config_class, flag_values)


def test_every_flag_has_one_help_text_declared_once_beside_its_field():
  helps = {}
  for config_class in SCRIPTS.values():
    for field in config_lib.flag_fields(config_class):
      assert field.metadata['help'].strip(), field.name
      helps.setdefault(field.name, set()).add(
          (field.metadata['help'], field.metadata.get('choices')))
  assert len(helps) == 103
  # Commands that share a flag share its one help text (and choices).
  assert {name for name, texts in helps.items() if len(texts) > 1} == set()
  # Each flag's help is written once: one setting() per name; a command
  # with another default redeclares the field through redefault().
  with open(os.path.join(ROOT, 'engines', 'config.py')) as f:
    declared = re.findall(r'^  (\w+): [^=]+= setting\(', f.read(), re.M)
  assert sorted(declared) == sorted(helps)


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_each_flag_is_its_fields_name_type_default_and_help(script):
  flag_values = flags.FlagValues()
  cli_flags.define(SCRIPTS[script], flag_values)
  flag_types = {str: 'string', int: 'int', float: 'float', bool: 'bool'}
  for field in config_lib.flag_fields(SCRIPTS[script]):
    flag = flag_values[field.name]
    assert flag.default == field.default, field.name
    if 'choices' in field.metadata:
      choices = field.metadata['choices']
      assert flag.parser.enum_values == list(choices)
      # absl puts the choices before an enum flag's help.
      assert flag.help == '<%s>: %s' % ('|'.join(choices),
                                        field.metadata['help'])
    else:
      assert flag.help == field.metadata['help'], field.name
      base_type = [t for t in typing.get_args(field.type) or [field.type]
                   if t is not type(None)][0]
      assert flag.flag_type() == flag_types[base_type], field.name


def test_bare_tflite_quantize_still_means_dynamic_range():
  # It was a boolean flag; now an enum (none, dynamic, int8).
  argv = cli_flags.expand_bare_values(
      ['prog', '--tflite_quantize', '--notflite_quantize', '--x'],
      config_lib.ExportConfig)
  assert argv == ['prog', '--tflite_quantize=dynamic',
                  '--tflite_quantize=none', '--x']
  assert _parse(config_lib.ExportConfig,
                *argv[1:3]).tflite_quantize == 'none'
  assert _parse(config_lib.ExportConfig,
                '--tflite_quantize=int8').tflite_quantize == 'int8'
  # Only a command that has the flag reads it so.
  assert cli_flags.expand_bare_values(['prog', '--tflite_quantize'],
                                      config_lib.TrainConfig) == [
                                          'prog', '--tflite_quantize']


def test_no_module_but_cli_flags_defines_a_flag():
  definers = []
  for folder, dirs, files in os.walk(ROOT):
    dirs[:] = [d for d in dirs if d not in ('.git', '.venv', 'build')]
    for name in files:
      path = os.path.join(folder, name)
      if name.endswith('.py') and name != 'cli_test.py':
        with open(path) as f:
          if re.search(r'\bDEFINE_\w+\(', f.read()):
            definers.append(os.path.relpath(path, ROOT))
  assert definers == [os.path.join('cli', 'flags.py')]


def test_tf_slim_defaults_differ_per_script_as_they_did():
  train, evaluation = _parse(config_lib.TrainConfig), _parse(
      config_lib.EvalConfig)
  assert (train.batch_size, train.dataset_split_name) == (32, 'train')
  assert (evaluation.batch_size, evaluation.dataset_split_name) == (100,
                                                                    'test')
  assert train.checkpoint_path is None
  assert evaluation.checkpoint_path == '/tmp/tfmodel/'
  assert _parse(config_lib.ExportConfig).batch_size is None
  assert train.optimizer == 'rmsprop' and train.weight_decay == 0.00004


def test_flags_become_typed_config_fields():
  config = _parse(config_lib.TrainConfig, '--model_name=lenet',
                  '--batch_size=7', '--learning_rate=0.5',
                  '--nocolor_distortion', '--moving_average_decay=0.99',
                  '--optimizer=adam')
  assert config.model_name == 'lenet' and config.batch_size == 7
  assert config.learning_rate == 0.5 and config.moving_average_decay == 0.99
  assert config.color_distortion is False and config.optimizer == 'adam'
  assert config.augmentation() == {'color_distortion': False}
  speed = _parse(config_lib.EvalConfig, '--jpeg_decode=whole',
                 '--intra_op_threads=2', '--inter_op_threads=1',
                 '--input_threads=1')
  assert (speed.jpeg_decode, speed.intra_op_threads, speed.inter_op_threads,
          speed.input_threads) == ('whole', 2, 1, 1)
  convert = _parse(config_lib.ConvertConfig, '--source=/data')
  assert convert.source_dir == '/data'  # TF-Slim's alias.


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_help_lists_the_scripts_own_flags_only(script, capsys):
  result = run_cli(script, '--help')
  assert result.returncode == 0
  listed = re.findall(r'^  --(\w+)', result.stdout, re.M)
  assert listed == [f.name for f in config_lib.flag_fields(SCRIPTS[script])]
  assert 'Usage:' in result.stdout
  # No entry for absl's own flags (the closing note names its logging ones).
  for absl_flag in ('test_srcdir', 'tpu', 'logtostderr', 'only_check_args'):
    assert not re.search(r'^ *--%s\b' % absl_flag, result.stdout, re.M)


def test_train_help_gives_the_help_of_its_main_flags():
  result = run_cli('train_image_classifier.py', '-h')
  for flag in ('model_name', 'dataset_dir', 'batch_size'):
    assert '--' + flag in result.stdout
    help_text = config_lib.TrainConfig.__dataclass_fields__[flag].metadata[
        'help']
    first_words = ' '.join(help_text.split()[:4])
    assert first_words in ' '.join(result.stdout.split())


# The console entry point of a script, run as `slim-... --version` runs it;
# at exit it tells whether TensorFlow was imported.
_VERSION_RUN = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(
    'tensorflow imported: %s' % ('tensorflow' in sys.modules)))
sys.argv = ['slim-command', '--version']
from slimvision import {module}
{module}.main()
"""


@pytest.mark.parametrize('script', ['train_image_classifier.py',
                                    'eval_image_classifier.py'])
def test_version_is_one_line_before_tensorflow_loads(script):
  result = subprocess.run(
      [sys.executable, '-c', _VERSION_RUN.format(module=script[:-3])],
      capture_output=True, text=True, timeout=120, cwd=ROOT)
  assert result.returncode == 0, result.stderr
  assert re.fullmatch(r'slimvision \d+\.\d+\.\d+ \(TensorFlow 2\.\d+\.\S+, '
                      r'tf-slim \d+\.\d+\.\d+\)\n', result.stdout)
  # Nothing else: no TensorFlow start-up lines, and TensorFlow not loaded.
  assert result.stderr == 'tensorflow imported: False'


_GC_RUN = """
import gc, sys
from slimvision.cli import app
from slimvision.engines.config import TrainConfig

def engine(config):
  print(gc.isenabled(), gc.get_freeze_count())

argv = ['prog', '--dataset_dir=.']
app.run(TrainConfig, '__main__:engine', '', argv)
sys.argv = argv
app.main_entry(TrainConfig, '__main__:engine', '')
"""


def test_a_command_that_owns_its_process_freezes_what_it_imported():
  # A console entry point moves the imports' objects out of the garbage
  # collector's scans; a run called in-process (a test, a notebook) does
  # not, since it may not own them.
  result = subprocess.run([sys.executable, '-c', _GC_RUN],
                          capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
  assert result.returncode == 0, result.stderr
  in_process, owning = [line.split() for line in result.stdout.splitlines()]
  assert in_process == ['True', '0']
  assert owning[0] == 'True' and int(owning[1]) > 10000


@pytest.mark.parametrize('args, message', [
    (['--bogus=1'], "Unknown command line flag 'bogus'"),
    (['--batch_size=many'], "flag --batch_size=many"),
    (['--optimizer=lamb'], 'flag --optimizer=lamb: value should be one of'),
    (['stray'], 'unexpected argument'),
    (['--batch_size=0'], '--batch_size must be positive, got 0'),
    (['--batch_size=6', '--num_clones=4'], 'not divisible by --num_clones'),
    (['--jpeg_decode=fast'], 'flag --jpeg_decode=fast: value should be one '
     'of <partial|whole>'),
    (['--image_cache_mb=-1'], '--image_cache_mb must be 0 or more, got -1'),
    (['--intra_op_threads=-2'], '--intra_op_threads must be 0 or more'),
    (['--input_threads=-1'], '--input_threads must be 0 or more, got -1'),
    (['--labels_offset=-1'], '--labels_offset must be 0 or more, got -1'),
    (['--train_image_size=-5'], '--train_image_size must be positive'),
    (['--weight_decay=-1'], '--weight_decay must be in [0, inf), got -1'),
    (['--learning_rate=0'], '--learning_rate must be in (0, inf), got 0'),
    (['--num_epochs_per_decay=0'], '--num_epochs_per_decay must be in (0, '
     'inf), got 0'),
    (['--label_smoothing=1'], '--label_smoothing must be in [0, 1), got 1'),
    (['--momentum=2'], '--momentum must be in [0, 1), got 2'),
    (['--moving_average_decay=1.5'], '--moving_average_decay must be in (0, '
     '1), got 1.5'),
    (['--ftrl_learning_rate_power=0.5'], '--ftrl_learning_rate_power must be '
     'in (-inf, 0], got 0.5'),
])
def test_bad_flags_are_one_line_and_exit_2(args, message):
  result = run_cli('train_image_classifier.py', *args)
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ')
  assert message in lines[0]


def test_usage_wraps_each_flag_help():
  flag_values = flags.FlagValues()
  names = cli_flags.define(config_lib.ClassifyConfig, flag_values)
  text = app.usage('Classifies.', flag_values, names)
  assert text.startswith('Classifies.\n\nFlags:\n')
  assert '  --top_k (default: 5)\n      How many classes to print per image.' \
      in text
  assert max(len(line) for line in text.splitlines()) <= 80


def test_sigterm_unwinds_a_conversion_leaving_nothing(tmp_path, monkeypatch):
  import signal  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from slimvision.datasets import dataset_utils  # pylint: disable=g-import-not-at-top
  if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
    pytest.skip('this test process handles SIGTERM itself')
  for name in ('a', 'b'):
    os.makedirs(str(tmp_path / 'src' / name))
    for i in range(4):
      Image.new('RGB', (8, 8), (60 * i, 0, 0)).save(
          str(tmp_path / 'src' / name / ('%d.png' % i)))
  original = dataset_utils.StagedOutput.write_records
  calls = []

  def terminated_during_the_second(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
      os.kill(os.getpid(), signal.SIGTERM)
    return original(self, *args, **kwargs)

  monkeypatch.setattr(dataset_utils.StagedOutput, 'write_records',
                      terminated_during_the_second)
  out = tmp_path / 'out'
  result = run_cli('download_and_convert_data.py', '--dataset_name=mine',
                   '--source_dir=' + str(tmp_path / 'src'),
                   '--dataset_dir=' + str(out))
  assert result.returncode == 128 + signal.SIGTERM
  assert 'Terminated (SIGTERM)' in result.stderr
  assert len(calls) == 2
  assert os.listdir(str(out)) == []  # The staging folder went with it.
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_output_paths_that_cannot_be_written_are_one_line_before_tf(
    tmp_path):
  a_file = tmp_path / 'a_file'
  a_file.write_text('x')
  a_folder = str(tmp_path)
  cases = [
      ('train_image_classifier.py', ['--train_dir=%s/sub' % a_file],
       '--train_dir %s/sub cannot be written: %s is a file, not a folder'
       % (a_file, a_file)),
      ('eval_image_classifier.py', ['--eval_dir=%s' % a_file],
       '--eval_dir %s is a file, not a folder' % a_file),
      ('export_inference_graph.py', ['--checkpoint_path=x',
                                     '--saved_model_dir=%s' % a_file],
       '--saved_model_dir %s is a file, not a folder' % a_file),
      ('export_inference_graph.py', ['--checkpoint_path=x',
                                     '--tflite_file=%s' % a_folder],
       '--tflite_file %s is a folder; give the name of the file to write'
       % a_folder),
      ('export_inference_graph.py', ['--output_file=%s/g.pb' % a_file],
       '--output_file %s/g.pb cannot be written: %s is a file, not a '
       'folder' % (a_file, a_file)),
      ('download_and_convert_data.py', ['--dataset_name=shapes',
                                        '--dataset_dir=%s' % a_file],
       '--dataset_dir %s is a file, not a folder' % a_file),
  ]
  for script, args, message in cases:
    result = run_cli(script, *args)
    assert result.returncode == 2, (script, args)
    # One line, and before TensorFlow loads (no 'starting' line).
    assert result.stderr.strip().splitlines() == ['error: ' + message], (
        result.stderr)


@pytest.mark.parametrize('script', ['train_image_classifier.py',
                                    'eval_image_classifier.py'])
def test_no_dataset_dir_is_the_line_and_comes_before_tf(script, monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  result = run_cli(script)
  # Not evaluation's "Unknown split 'test' for dataset imagenet" (its
  # defaults), and without loading TensorFlow first.
  assert result.stderr.strip().splitlines() == [
      'error: --dataset_dir is required: the folder that holds the converted '
      'TFRecord files']


def test_a_parameter_server_needs_no_dataset_dir(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  config_lib.TrainConfig(job_name='ps').validate()
  monkeypatch.setenv('TF_CONFIG', '{"cluster": {}, "task": {"type": "ps"}}')
  config_lib.TrainConfig().validate()


def _import_scripts(*names):
  """Imports the scripts (each defines its flags in absl's global FLAGS);
  returns the modules."""
  return [importlib.import_module('slimvision.' + name) for name in names]


@pytest.fixture
def global_flags():
  """absl's global FLAGS, restored after the test: what it set there would
  otherwise reach the later tests of this process."""
  saved = {name: (flags.FLAGS[name].value,
                  flags.FLAGS[name].using_default_value)
           for name in list(flags.FLAGS)}
  yield flags.FLAGS
  for name, (value, using_default) in saved.items():
    flags.FLAGS[name].value = value
    flags.FLAGS[name].using_default_value = using_default


def test_scripts_define_their_flags_in_absls_global_flags_as_tf_slims_did():
  _import_scripts('train_image_classifier', 'eval_image_classifier')
  for config_class in (config_lib.TrainConfig, config_lib.EvalConfig):
    for field in config_lib.flag_fields(config_class):
      assert field.name in flags.FLAGS, field.name
  # Shared names are defined once, with the help of their field.
  model_name = [f for f in config_lib.flag_fields(config_lib.TrainConfig)
                if f.name == 'model_name'][0]
  assert flags.FLAGS['model_name'].help == model_name.metadata['help']


def test_each_script_keeps_the_global_flags_as_its_flags():
  # research/slim's `FLAGS = tf.app.flags.FLAGS`: script.FLAGS.x = ...
  scripts = _import_scripts(*(name[:-len('.py')] for name in SCRIPTS))
  assert all(script.FLAGS is flags.FLAGS for script in scripts)
  export = scripts[list(SCRIPTS).index('export_inference_graph.py')]
  assert 'output_file' in export.FLAGS


def test_main_of_argv_runs_with_the_global_flags_that_were_set(global_flags,
                                                              capsys):
  _import_scripts('train_image_classifier', 'eval_image_classifier')
  seen = []
  global_flags.model_name = 'lenet'
  global_flags.dataset_dir = '/data'
  assert app.run_with_global_flags(config_lib.EvalConfig, seen.append,
                                   None) == 0
  assert app.run_with_global_flags(config_lib.TrainConfig, seen.append,
                                   ['prog']) == 0
  evaluation, train = seen
  assert (evaluation.model_name, evaluation.dataset_dir) == ('lenet', '/data')
  assert (train.model_name, train.dataset_dir) == ('lenet', '/data')
  # Unset, each command keeps its own default, whichever defined the flag.
  assert (train.batch_size, evaluation.batch_size) == (32, 100)
  global_flags.batch_size = 5
  assert app.run_with_global_flags(config_lib.EvalConfig, seen.append,
                                   None) == 0
  assert seen[-1].batch_size == 5
  # A bad value is the command's one line and status 2, as on a command line.
  global_flags.batch_size = 0
  assert app.run_with_global_flags(config_lib.EvalConfig, seen.append,
                                   None) == 2
  assert len(seen) == 3
  assert capsys.readouterr().err.splitlines()[-1] == (
      'error: --batch_size must be positive, got 0')


def test_a_global_alias_that_was_set_counts(global_flags):
  _import_scripts('download_and_convert_data')
  config = cli_flags.build(config_lib.ConvertConfig, global_flags,
                           only_set=True)
  assert config.source_dir is None
  global_flags.source = '/data/raw'  # TF-Slim's name for --source_dir.
  config = cli_flags.build(config_lib.ConvertConfig, global_flags,
                           only_set=True)
  assert config.source_dir == '/data/raw'


def test_research_slims_export_test_runs_unchanged(global_flags, tmp_path):
  # research/slim's export_inference_graph_test, with our package prefix.
  from slimvision import export_inference_graph  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  output_file = str(tmp_path / 'lenet.pb')
  tf_flags = tf.app.flags.FLAGS
  tf_flags.output_file = output_file
  tf_flags.model_name = 'lenet'
  tf_flags.dataset_dir = str(tmp_path)
  assert export_inference_graph.main(None) == 0
  graph_def = tf.GraphDef()
  with open(output_file, 'rb') as f:
    graph_def.ParseFromString(f.read())
  nodes = {node.name: node for node in graph_def.node}
  assert nodes['input'].op == 'Placeholder'
  assert 'logits' in nodes and 'probabilities' in nodes
  # ImageNet, TF-Slim's default dataset: 1000 classes and a background one.
  assert [d.size for d in nodes['LeNet/fc4/biases'].attr['shape'].shape.dim
         ] == [1001]


# Two scripts imported, as a process may: their shared flags (--model_name,
# --batch_size...) are defined once.
_TF_APP_RUN = """
import tensorflow.compat.v1 as tf
from slimvision import classify_image, export_inference_graph
tf.app.run(export_inference_graph.main)
"""


def test_tf_app_run_parses_the_command_line_into_main(tmp_path):
  output_file = tmp_path / 'lenet.pb'
  result = processes.run(_TF_APP_RUN, ['--model_name=lenet',
                                       '--output_file=%s' % output_file],
                         timeout=300, program=True)
  assert result.returncode == 0, result.stderr[-3000:]
  assert output_file.stat().st_size > 0


def test_absls_logging_flags_are_accepted_as_research_slims_readme_passes(
    global_flags, tmp_path):
  # research/slim's README: export_inference_graph.py --alsologtostderr ...
  output = str(tmp_path / 'lenet.pb')
  result = run_cli('export_inference_graph.py', '--alsologtostderr', '--v=1',
                   '--model_name=lenet', '--output_file=' + output)
  assert result.returncode == 0, result.stderr[-2000:]
  assert os.path.getsize(output) > 0
  # They are absl's own flags, set as tf.app.run would set them.
  assert global_flags.alsologtostderr and global_flags.verbosity == 1
  result = run_cli('export_inference_graph.py', '--logtostderr=maybe',
                   '--model_name=lenet', '--output_file=' + output)
  assert result.returncode == 2 and 'logtostderr' in result.stderr
