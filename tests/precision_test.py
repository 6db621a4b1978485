"""--precision: what `auto` picks on which hardware, the session's graph
rewrite, fp16 loss scaling, and float32 checkpoints and exports whatever the
precision.

The bf16 training runs in a process of its own with TensorFlow's oneDNN
ops forced on (TF_ENABLE_ONEDNN_OPTS=1): without native bf16 (AMX,
AVX512-BF16) TensorFlow leaves them off and skips the bf16 rewrite, so only
there does the graph really compute in bf16 on any x86 CPU (emulated, and
slowly, where the CPU has no bf16 instructions).
"""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from conftest import error_line, run_cli
import processes
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines import config as config_lib
from slimvision.engines import precision
from slimvision.engines import train_session

_AMX = ('processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 '
        'amx_bf16 amx_tile amx_int8\n\nprocessor\t: 1\nflags\t\t: fpu sse2 '
        'avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n')
_AVX512_BF16 = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n'
_AVX2 = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n'
_ON = rewriter_config_pb2.RewriterConfig.ON
_OFF = rewriter_config_pb2.RewriterConfig.OFF
_LENET = ['--dataset_name=shapes', '--model_name=lenet',
          '--preprocessing_name=lenet']


def _cpu(cpuinfo, onednn=True):
  return precision.Hardware(precision.cpu_bf16_flags(cpuinfo), None, onednn)


def _gpu(capability):
  return precision.Hardware(frozenset(), capability, False)


@pytest.fixture
def warnings(monkeypatch):
  """The warnings `precision` logs, as a list of their texts."""
  said = []
  monkeypatch.setattr(log, 'warning', lambda text, *args: said.append(
      text % args if args else text))
  return said


def test_cpu_bf16_flags_read_from_cpuinfo():
  assert precision.cpu_bf16_flags(_AMX) == {'amx_bf16', 'avx512_bf16'}
  assert precision.cpu_bf16_flags(_AVX512_BF16) == {'avx512_bf16'}
  assert precision.cpu_bf16_flags(_AVX2) == set()
  assert precision.cpu_bf16_flags('') == set()
  assert [_cpu(t).kind for t in (_AMX, _AVX512_BF16, _AVX2)] == [
      'cpu-amx', 'cpu-avx512bf16', 'cpu']


def test_auto_follows_the_measurements_on_amx():
  amx = _cpu(_AMX)
  assert precision.choose('auto', 'inception_v3', amx) == (
      'bf16', 'auto: inception_v3 trains 2.1x faster in bf16 on AMX '
      '(measured)')
  assert precision.choose('auto', 'cifarnet', amx)[0] == 'bf16'
  assert precision.choose('auto', 'mobilenet_v1_025', amx) == (
      'fp32', 'auto: mobilenet_v1_025 is 3.1x slower in bf16 on AMX '
      '(depthwise convolutions)')
  chosen, reason = precision.choose('auto', 'resnet_v1_50', amx)
  assert chosen == 'fp32'
  assert 'not measured' in reason and '--precision=bf16' in reason


def test_auto_follows_the_measurements_on_avx512_bf16():
  avx512 = _cpu(_AVX512_BF16)
  assert precision.choose('auto', 'inception_v3', avx512) == (
      'bf16', 'auto: inception_v3 trains 1.8x faster in bf16 on AVX512-BF16 '
      '(measured)')
  assert precision.choose('auto', 'cifarnet', avx512) == (
      'bf16', 'auto: cifarnet trains 1.2x faster in bf16 on AVX512-BF16 '
      '(measured)')
  assert precision.choose('auto', 'mobilenet_v1_025', avx512) == (
      'fp32', 'auto: mobilenet_v1_025 is 2.0x slower in bf16 on AVX512-BF16 '
      '(depthwise convolutions)')


def test_auto_never_picks_a_precision_measured_slower():
  for (model_name, kind), speedup in precision.MEASURED.items():
    cpuinfo = {'cpu-amx': _AMX, 'cpu-avx512bf16': _AVX512_BF16}[kind]
    chosen, _ = precision.choose('auto', model_name, _cpu(cpuinfo))
    assert (chosen == 'bf16') == (speedup > 1.0), (model_name, kind)


def test_auto_is_fp32_without_native_bf16_or_measurements():
  assert precision.choose('auto', 'inception_v3', _cpu(_AVX2)) == (
      'fp32', 'auto: this CPU has no native bf16 (no amx_bf16 or '
      'avx512_bf16 flag)')
  # A model measured on AMX only is not assumed as fast on AVX512-BF16.
  chosen, reason = precision.choose('auto', 'resnet_v1_50',
                                    _cpu(_AVX512_BF16))
  assert chosen == 'fp32' and 'not measured' in reason
  # oneDNN off (TF_ENABLE_ONEDNN_OPTS=0): TensorFlow would skip the rewrite.
  chosen, reason = precision.choose('auto', 'inception_v3',
                                    _cpu(_AMX, onednn=False))
  assert chosen == 'fp32' and 'oneDNN' in reason
  chosen, reason = precision.choose('auto', 'inception_v3', _gpu((9, 0)))
  assert chosen == 'fp32' and '--precision=fp16' in reason


def test_explicit_bf16_without_native_bf16_runs_with_an_honest_warning(
    warnings):
  assert precision.choose('bf16', 'lenet', _cpu(_AVX2, onednn=False))[0] == (
      'bf16')
  assert 'skips the bf16 rewrite' in warnings[-1]
  assert 'no speed-up' in warnings[-1]
  precision.choose('bf16', 'lenet', _cpu(_AVX2, onednn=True))
  assert 'emulates' in warnings[-1] and 'slower' in warnings[-1]
  precision.choose('bf16', 'mobilenet_v1_025', _cpu(_AMX))
  assert '3.1x slower' in warnings[-1]
  precision.choose('bf16', 'inception_v3', _gpu((8, 0)))
  assert 'GPU stay float32' in warnings[-1]
  count = len(warnings)
  assert precision.choose('bf16', 'inception_v3', _cpu(_AMX))[0] == 'bf16'
  assert precision.choose('fp32', 'inception_v3', _cpu(_AMX))[0] == 'fp32'
  assert len(warnings) == count  # Nothing to warn about.


def test_fp16_needs_a_gpu_with_fast_float16():
  with pytest.raises(UserError) as raised:
    precision.choose('fp16', 'lenet', _cpu(_AVX2))
  assert str(raised.value).startswith('--precision=fp16 needs a GPU')
  assert str(raised.value).endswith('valid here: fp32, bf16, auto')
  with pytest.raises(UserError, match='compute capability 7.0 or newer'):
    precision.choose('fp16', 'lenet', _gpu((6, 1)))
  assert precision.choose('fp16', 'lenet', _gpu((8, 0)))[0] == 'fp16'
  with pytest.raises(UserError, match='valid: fp32, bf16, fp16, auto'):
    precision.choose('fp64', 'lenet', _cpu(_AVX2))


def test_session_config_carries_the_rewrite():
  base = tf.ConfigProto(allow_soft_placement=True)
  for name, bf16, fp16 in (('fp32', _OFF, _OFF), ('bf16', _ON, _OFF),
                           ('fp16', _OFF, _ON)):
    config = precision.session_config_for(name, base)
    rewrite = config.graph_options.rewrite_options
    assert rewrite.auto_mixed_precision_onednn_bfloat16 == bf16, name
    assert rewrite.auto_mixed_precision == fp16, name
    assert config.allow_soft_placement
  assert base == tf.ConfigProto(allow_soft_placement=True)  # Not changed.
  with pytest.raises(ValueError):
    precision.session_config_for('auto')
  # Training's session: the rewrite and the worker's device filters.
  session_config = train_session._session_config(  # pylint: disable=protected-access
      config_lib.TrainConfig(precision='bf16', num_ps_tasks=1, task=2))
  rewrite = session_config.graph_options.rewrite_options
  assert rewrite.auto_mixed_precision_onednn_bfloat16 == _ON
  assert rewrite.auto_mixed_precision == _OFF
  assert list(session_config.device_filters) == [
      '/job:ps', '/job:worker/task:2']
  # In a cluster, bf16 runs unfused: a task refuses the fused op in bf16.
  assert rewrite.remapping == _OFF
  for local in (config_lib.TrainConfig(precision='bf16'),
                config_lib.TrainConfig(precision='fp32', num_ps_tasks=1)):
    assert train_session._session_config(  # pylint: disable=protected-access
        local).graph_options.rewrite_options.remapping != _OFF
  # Every deployment (one process, clones, async and sync ps workers)
  # skips Grappler's MLIR round trip and keeps the thread pools asked for.
  for deployment in (config_lib.TrainConfig(precision='bf16'),
                     config_lib.TrainConfig(precision='fp32', num_clones=2,
                                            intra_op_threads=3),
                     config_lib.TrainConfig(precision='fp32', num_ps_tasks=1,
                                            task=1),
                     config_lib.TrainConfig(precision='bf16', num_ps_tasks=1,
                                            task=1, sync_replicas=True)):
    session_config = train_session._session_config(  # pylint: disable=protected-access
        deployment)
    assert session_config.graph_options.rewrite_options.disable_tfg_optimizer
    assert session_config.intra_op_parallelism_threads == (
        deployment.intra_op_threads)


def test_fp16_optimizer_scales_the_loss_and_saves_nothing_more():
  with tf.Graph().as_default():
    weight = tf.Variable(3.0)
    step = tf.train.get_or_create_global_step()
    sgd = tf.train.GradientDescentOptimizer(0.1)
    assert precision.wrap_optimizer('bf16', sgd) is sgd
    wrapped = precision.wrap_optimizer('fp16', sgd)
    assert isinstance(wrapped,
                      tf.mixed_precision.MixedPrecisionLossScaleOptimizer)
    train = wrapped.minimize(tf.square(weight), global_step=step)
    # The loss scale is local: a checkpoint holds the same variables as in
    # float32, so runs of either precision resume each other's.
    assert [v.op.name for v in tf.global_variables()] == [
        'Variable', 'global_step']
    assert [v.op.name for v in tf.local_variables()] == [
        'current_loss_scale', 'good_steps']
    with tf.Session() as session:
      session.run([tf.global_variables_initializer(),
                   tf.local_variables_initializer()])
      assert session.run(tf.local_variables()[0]) == 2.0 ** 15
      session.run(train)
      # The unscaled gradient, 2 * 3: 3 - 0.1 * 6.
      assert session.run([weight, step]) == [pytest.approx(2.4), 1]


def test_bad_or_unavailable_precision_is_one_line(shapes_dir, tmp_path,
                                                  monkeypatch):
  result = run_cli('train_image_classifier.py', '--precision=fp8',
                   '--train_dir=%s' % tmp_path)
  assert result.returncode == 2
  assert '--precision' in error_line(result)
  assert 'fp32|bf16|fp16|auto' in error_line(result)
  monkeypatch.setattr(precision, 'detect', lambda cpuinfo=None: _cpu(_AVX2))
  result = run_cli('train_image_classifier.py', '--precision=fp16',
                   '--dataset_dir=' + shapes_dir, '--max_number_of_steps=1',
                   '--train_dir=%s' % (tmp_path / 'fp16'), *_LENET)
  assert result.returncode == 2
  assert error_line(result) == (
      'error: --precision=fp16 needs a GPU (TensorFlow\'s float16 rewrite '
      'converts GPU ops only) and none is visible; valid here: fp32, bf16, '
      'auto')
  result = run_cli('export_inference_graph.py', '--precision=bf16',
                   '--checkpoint_path=/nowhere',
                   '--tflite_file=%s' % (tmp_path / 'm.tflite'))
  assert result.returncode == 2
  assert error_line(result) == (
      'error: --precision=bf16 cannot apply to --tflite_file: TFLite has no '
      'bfloat16 weights; use --precision=fp16 (float16 weights) or fp32')


# Trains lenet 3 steps in bf16, then computes the checkpoint's logits and
# scores in float32 and in bf16; prints them as JSON on its last line.
_BF16_RUN = r'''
import json, sys
import numpy as np
from slimvision import train_image_classifier
shapes_dir, train_dir = sys.argv[1:3]
code = train_image_classifier.run([
    'prog', '--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
    '--train_dir=' + train_dir, '--model_name=lenet',
    '--preprocessing_name=lenet', '--batch_size=4', '--optimizer=sgd',
    '--max_number_of_steps=3', '--seed=1', '--precision=bf16'])
import tensorflow.compat.v1 as tf
from slimvision.engines import evaluation, precision
from slimvision.engines.config import EvalConfig
from slimvision.nets import nets_factory
result = {'train_exit': code, 'onednn': precision.onednn_enabled()}
images = np.random.RandomState(0).uniform(-1, 1, [8, 28, 28, 3])
with tf.Graph().as_default():
  feed = tf.placeholder(tf.float32, images.shape)
  logits, _ = nets_factory.get_network_fn('lenet', 6)(feed)
  saver = tf.train.Saver()
  for name in ('fp32', 'bf16'):
    with tf.Session(config=precision.session_config_for(name)) as session:
      saver.restore(session, tf.train.latest_checkpoint(train_dir))
      metadata = tf.RunMetadata()
      values = session.run(
          logits, {feed: images}, run_metadata=metadata,
          options=tf.RunOptions(output_partition_graphs=True))
      bf16_ops = sum(
          1 for graph in metadata.partition_graphs for node in graph.node
          if any(node.attr[a].type == tf.bfloat16.as_datatype_enum
                 for a in ('T', 'DstT') if a in node.attr))
      result[name] = {'logits': values.tolist(), 'bf16_ops': bf16_ops}
for name in ('fp32', 'bf16'):
  scores, = evaluation.run(EvalConfig(
      dataset_name='shapes', dataset_dir=shapes_dir,
      dataset_split_name='validation', checkpoint_path=train_dir,
      eval_dir=train_dir + '/eval_' + name, model_name='lenet',
      preprocessing_name='lenet', precision=name))
  result[name]['accuracy'] = scores.accuracy
print(json.dumps(result))
'''


@pytest.fixture(scope='module')
def bf16_run(shapes_dir, tmp_path_factory):
  """(train_dir, stderr, result): lenet trained in bf16 with the rewrite
  really on, and the JSON result of _BF16_RUN."""
  train_dir = str(tmp_path_factory.mktemp('bf16') / 'train')
  env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS='1')
  process = processes.run(_BF16_RUN, [shapes_dir, train_dir], env=env,
                          timeout=300, program=True)
  assert process.returncode == 0, process.stderr[-3000:]
  result = json.loads(process.stdout.strip().splitlines()[-1])
  assert result['train_exit'] == 0, process.stderr[-3000:]
  return train_dir, process.stderr, result


def test_bf16_training_names_bf16_and_writes_a_float32_checkpoint(bf16_run):
  train_dir, stderr, _ = bf16_run
  assert 'Precision: bf16 (requested with --precision=bf16)' in stderr
  assert 'batch 4, 3 steps, bf16, from scratch' in stderr
  checkpoint = tf.train.latest_checkpoint(train_dir)
  dtypes = tf.train.load_checkpoint(checkpoint).get_variable_to_dtype_map()
  names = [name for name, _ in tf.train.list_variables(checkpoint)]
  assert sorted(dtypes) == sorted(names)
  assert 'LeNet/conv1/weights' in dtypes
  assert {name: dtype for name, dtype in dtypes.items()
          if dtype != tf.float32} == {'global_step': tf.int64}


def test_bf16_evaluation_is_within_tolerance_of_float32(bf16_run):
  _, stderr, result = bf16_run
  # The bf16 checkpoint restores into a plain float32 evaluation.
  assert 'Precision: fp32 (requested with --precision=fp32)' in stderr
  assert stderr.count('Scored 12 examples in') == 2
  if result['onednn']:  # The rewrite really computed in bf16.
    assert result['bf16']['bf16_ops'] > 0
  assert result['fp32']['bf16_ops'] == 0
  want = np.array(result['fp32']['logits'])
  got = np.array(result['bf16']['logits'])
  # bf16 keeps 8 significant bits (a rounding error of up to 0.4% per
  # value): within 3% of the largest logit.
  assert np.max(np.abs(got - want)) <= 0.03 * np.max(np.abs(want))
  # The same predictions but where two classes nearly tie: at most one of
  # the 12 validation images changes.
  assert abs(result['bf16']['accuracy'] - result['fp32']['accuracy']) <= (
      1 / 12 + 1e-9)


def test_fp16_export_keeps_float32_graphs_and_halves_tflite_weights(
    bf16_run, shapes_dir, tmp_path):
  train_dir, _, _ = bf16_run
  common = ['--dataset_dir=' + shapes_dir, '--checkpoint_path=' + train_dir,
            *_LENET]
  paths = {}
  for name in ('fp32', 'fp16'):
    paths[name] = str(tmp_path / ('%s.tflite' % name))
    result = run_cli('export_inference_graph.py', '--precision=' + name,
                     '--tflite_file=' + paths[name],
                     '--frozen_graph_file=%s' % (tmp_path / (name + '.pb')),
                     *common)
    assert result.returncode == 0, result.stderr[-3000:]
  assert 'float16 weights' in result.stderr
  with open(str(tmp_path / 'fp16.pb'), 'rb') as f:
    frozen = tf.GraphDef.FromString(f.read())
  types = {attr.type for node in frozen.node for attr in node.attr.values()
           if attr.type}
  assert tf.float32.as_datatype_enum in types
  assert not types & {tf.float16.as_datatype_enum,
                      tf.bfloat16.as_datatype_enum}
  # Float16 weights: about half the file, about the same probabilities.
  assert os.path.getsize(paths['fp16']) < 0.6 * os.path.getsize(paths['fp32'])
  images = np.random.RandomState(1).uniform(-1, 1, [1, 28, 28, 3]).astype(
      np.float32)
  outputs = {}
  for name, path in paths.items():
    interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner('serving_default')
    outputs[name] = runner(images=images)['probabilities']
    if name == 'fp16':
      dtypes = {d['dtype'] for d in interpreter.get_tensor_details()}
      assert np.float16 in dtypes
  np.testing.assert_allclose(outputs['fp16'], outputs['fp32'], atol=1e-2)


def test_fp16_training_wires_loss_scaling_and_checkpoints_as_float32(
    bf16_run, shapes_dir, tmp_path, monkeypatch):
  # As on a GPU of compute capability 8.0: this CPU runs the graph (the
  # float16 rewrite converts GPU ops only), with the loss scaling.
  monkeypatch.setattr(precision, 'detect',
                      lambda cpuinfo=None: _gpu((8, 0)))
  train_dir = str(tmp_path / 'train')
  result = run_cli('train_image_classifier.py', '--precision=fp16',
                   '--max_number_of_steps=1', '--dataset_dir=' + shapes_dir,
                   '--train_dir=' + train_dir, '--batch_size=4',
                   '--optimizer=sgd', *_LENET)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Precision: fp16 (requested with --precision=fp16' in result.stderr
  assert 'batch 4, 1 steps, fp16, from scratch' in result.stderr
  dtypes = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      train_dir)).get_variable_to_dtype_map()
  assert {name: dtype for name, dtype in dtypes.items()
          if dtype != tf.float32} == {'global_step': tf.int64}
  # No loss-scale variables: the very variables of the bf16 run (which has
  # those of a float32 one), so each precision resumes the others' runs.
  bf16_dir, _, _ = bf16_run
  assert sorted(dtypes) == sorted(
      name for name, _ in tf.train.list_variables(bf16_dir))


def test_in_a_cluster_the_reason_says_bf16_runs_unfused():
  chosen, reason = precision.choose('bf16', 'lenet', _cpu(_AMX),
                                    in_cluster=True)
  assert chosen == 'bf16'
  assert reason == ('requested with --precision=bf16; ' +
                    precision.CLUSTER_BF16_NOTE)
  assert precision.choose('fp32', 'lenet', _cpu(_AMX), in_cluster=True) == (
      'fp32', 'requested with --precision=fp32')
  assert precision.choose('bf16', 'lenet', _cpu(_AMX))[1] == (
      'requested with --precision=bf16')
