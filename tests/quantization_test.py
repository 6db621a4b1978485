"""Quantization-aware graphs (engines/quantization.py) and their workflow.

The rewrite's variables are contrib.quantize's (the fixture lists them for
mobilenet_v1); batch-norm folding gives the float network's outputs in
training and inference; delayed quantization passes values through until
its step while the ranges are already collected. A mobilenet_v1_025 is
fine-tuned two steps with --quantize_delay from a float checkpoint, scored
with eval --quantize and exported with --quantize as a full-integer TFLite
model that computes what the fake-quantized graph computes.
"""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import FIXTURES, run_cli
from slimvision.engines import checkpoints
from slimvision.engines import inference
from slimvision.engines import quantization
from slimvision.engines import tflite

VARIABLES_FIXTURE = os.path.join(FIXTURES, 'quantization',
                                 'mobilenet_v1_qat_variables.txt')


def _fixture_names():
  with open(VARIABLES_FIXTURE) as f:
    return [line.strip() for line in f
            if line.strip() and not line.startswith('#')]


@pytest.fixture(scope='module')
def qat_train_dir(shapes_dir, mobilenet_train_dir, tmp_path_factory):
  """A mobilenet_v1_025 fine-tuned 2 steps from the float checkpoint with
  --quantize_delay=1 (32 px, batch 8, sgd)."""
  train_dir = str(tmp_path_factory.mktemp('qat') / 'train')
  result = run_cli(
      'train_image_classifier.py', '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--model_name=mobilenet_v1_025',
      '--train_image_size=32', '--train_dir=' + train_dir,
      '--checkpoint_path=' + mobilenet_train_dir, '--quantize_delay=1',
      '--max_number_of_steps=2', '--batch_size=8', '--optimizer=sgd',
      '--learning_rate=0.001', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Quantization-aware training graph: 28 layers (batch norm folded ' \
      'in 27), fake quantization from step 1' in result.stderr
  return train_dir


def test_qat_checkpoint_holds_exactly_contrib_quantizes_variables(
    qat_train_dir, mobilenet_train_dir):
  names = _fixture_names()
  assert len(names) == 225 and names == sorted(names)
  qat = checkpoints.variable_shapes(checkpoints.resolve(qat_train_dir))
  floats = checkpoints.variable_shapes(
      checkpoints.resolve(mobilenet_train_dir))
  assert set(floats) <= set(qat)
  assert sorted(set(qat) - set(floats)) == names
  assert all(list(qat[n]) == [] for n in names)
  # The ranges were learnt: weights symmetric about 0, activations of a
  # Relu6 averaged from the batches (a biased sum and a count of updates),
  # within [0, 6] to float32's rounding (a batch whose Relu6 saturates has
  # a maximum of exactly 6).
  checkpoint = checkpoints.resolve(qat_train_dir)
  scope = 'MobilenetV1/MobilenetV1/Conv2d_1_pointwise/'
  low = tf.train.load_variable(checkpoint, scope + 'weights_quant/min')
  high = tf.train.load_variable(checkpoint, scope + 'weights_quant/max')
  assert low == -high and high > 0
  act_high = tf.train.load_variable(checkpoint, scope + 'act_quant/max')
  assert 0 < act_high <= 6 * (1 + 1e-6)
  assert tf.train.load_variable(checkpoint,
                                scope + 'act_quant/max/biased') > 0
  assert tf.train.load_variable(checkpoint, scope +
                                'act_quant/max/local_step') >= 2
  assert tf.train.load_variable(checkpoint, 'fake_quantization_step') >= 2


def _tiny_network(images, is_training):
  """conv + batch norm + Relu6, depthwise (multiplier 2) + batch norm +
  Relu6, then a 1x1 conv with biases: the layer kinds of mobilenet_v1."""
  norm = {'is_training': is_training, 'decay': 0.5, 'scale': True,
          'center': True}
  with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                      normalizer_fn=slim.batch_norm, normalizer_params=norm,
                      activation_fn=tf.nn.relu6):
    net = slim.conv2d(images, 4, [3, 3], scope='conv')
    net = slim.separable_conv2d(net, None, [3, 3], depth_multiplier=2,
                                scope='depthwise')
  net = slim.conv2d(net, 3, [1, 1], activation_fn=None, normalizer_fn=None,
                    scope='logits')
  return tf.reduce_mean(net, [1, 2])


def _random_values(rng):
  """Random values of the network's variables (positive variances and
  scales), by name."""
  values = {}
  for variable in tf.global_variables():
    low = 0.5 if variable.op.name.endswith(('moving_variance', 'gamma')) \
        else -0.5
    values[variable.op.name] = rng.uniform(low, 1.5, variable.shape.as_list())
  return values


def _session_with(values):
  """A session of the default graph, its variables initialised and those
  named in `values` set. A session sees the graph as it was when it first
  ran: each stage of a rewritten graph gets its own."""
  session = tf.Session()
  session.run(tf.global_variables_initializer())
  for variable in tf.global_variables():
    if variable.op.name in values:
      session.run(variable.assign(values[variable.op.name]))
  return session


@pytest.mark.parametrize('is_training', [True, False])
def test_folded_batch_norm_computes_the_float_network(monkeypatch,
                                                      is_training):
  # Without the fake quantization, the rewritten graph is the float one.
  monkeypatch.setattr(quantization, '_fake_quant',
                      lambda tensor, low, high, narrow_range: tensor)
  rng = np.random.RandomState(3)
  images = rng.uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
  with tf.Graph().as_default() as graph:
    inputs = tf.placeholder(tf.float32, [4, 8, 8, 3])
    outputs = _tiny_network(inputs, is_training)
    values = _random_values(rng)
    with _session_with(values) as session:
      want = session.run(outputs, {inputs: images})
    rewrite = (quantization.create_training_graph if is_training else
               quantization.create_eval_graph)
    layers = rewrite(graph)
    assert [l.op.type for l in layers] == ['Conv2D', 'DepthwiseConv2dNative',
                                           'Conv2D']
    assert [l.batch_norm is not None for l in layers] == [True, True, False]
    with _session_with(values) as session:
      got = session.run(outputs, {inputs: images})
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
  # The depthwise layer now runs on its folded weights (fake quantization
  # is the identity here).
  fold = graph.get_operation_by_name('depthwise/depthwise_Fold')
  assert fold.inputs[1].op.name == 'depthwise/BatchNorm_Fold/mul_fold'


def test_quantization_starts_at_the_delay_and_ranges_from_the_start():
  rng = np.random.RandomState(4)
  images = rng.uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
  with tf.Graph().as_default() as graph:
    inputs = tf.placeholder(tf.float32, [4, 8, 8, 3])
    outputs = _tiny_network(inputs, True)
    values = _random_values(rng)
    relu = graph.get_tensor_by_name('conv/Relu6:0')
    with _session_with(values) as session:
      want, relu_max = session.run([outputs, tf.reduce_max(relu)],
                                   {inputs: images})
    quantization.create_training_graph(graph, quant_delay=3)
    by_name = {v.op.name: v for v in tf.global_variables()}
    with _session_with(values) as session:
      runs = [session.run(outputs, {inputs: images}) for _ in range(2)]
      # Before quantization starts, the layer's float output is the same
      # each run.
      act_max = session.run(by_name['conv/act_quant/max'])
      runs.append(session.run(outputs, {inputs: images}))
      step = session.run(by_name[quantization.STEP_NAME])
  assert step == 3
  # Runs 1 and 2 pass values through; run 3 is quantized.
  np.testing.assert_allclose(runs[0], want, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(runs[1], want, rtol=1e-4, atol=1e-5)
  assert np.abs(runs[2] - want).max() > 1e-4
  # The zero-debiased average of the same batch maximum is that maximum, to
  # float32's rounding (an average of 6s read 6.00008 once).
  np.testing.assert_allclose(act_max, relu_max, rtol=1e-6)


def test_a_graph_is_rewritten_once():
  with tf.Graph().as_default() as graph:
    _tiny_network(tf.zeros([1, 8, 8, 3]), False)
    quantization.create_eval_graph(graph)
    with pytest.raises(ValueError, match='already quantization-aware'):
      quantization.create_eval_graph(graph)


def test_eval_graph_makes_asymmetric_weight_ranges_symmetric():
  # A checkpoint of contrib.quantize's asymmetric default still exports
  # int8 weights with zero point 0: the range widens to (-3, 3).
  with tf.Graph().as_default() as graph, tf.Session() as session:
    _tiny_network(tf.zeros([1, 8, 8, 3]), False)
    quantization.create_eval_graph(graph)
    session.run(tf.global_variables_initializer())
    scope = 'logits/weights_quant/'
    session.run([graph.get_tensor_by_name(scope + 'min:0').op,
                 graph.get_tensor_by_name(scope + 'max:0').op])
    for name, value in (('min', -1.0), ('max', 3.0)):
      variable = [v for v in tf.global_variables()
                  if v.op.name == scope + name][0]
      session.run(variable.assign(value))
    fake_quant = graph.get_operation_by_name(
        scope + 'FakeQuantWithMinMaxVars')
    low, high = session.run([fake_quant.inputs[1], fake_quant.inputs[2]])
  assert (low, high) == (-3.0, 3.0)


@pytest.fixture(scope='module')
def qat_exported(qat_train_dir, shapes_dir, tmp_path_factory):
  out = tmp_path_factory.mktemp('qat_export')
  paths = {'tflite': str(out / 'qat.tflite'), 'frozen': str(out / 'qat.pb')}
  result = run_cli(
      'export_inference_graph.py', '--quantize',
      '--model_name=mobilenet_v1_025', '--image_size=32',
      '--checkpoint_path=' + qat_train_dir, '--dataset_name=shapes',
      '--dataset_dir=' + shapes_dir, '--tflite_io_type=uint8',
      '--tflite_file=' + paths['tflite'],
      '--frozen_graph_file=' + paths['frozen'])
  assert result.returncode == 0, result.stderr[-3000:]
  return paths


def test_qat_export_is_integer_and_computes_the_quantized_graph(
    qat_exported, shapes_dir):
  with open(qat_exported['tflite'], 'rb') as f:
    model = f.read()
  assert tflite.float_ops(model) == []
  details = tflite.io_details(model)
  assert details['input']['dtype'] == details['output']['dtype'] == 'uint8'
  # The inception preprocessing's [-1, 1], on 255 steps.
  assert details['input']['zero_point'] == 128
  np.testing.assert_allclose(details['input']['scale'], 2 / 255.0, rtol=1e-5)
  with open(tflite.metadata_path(qat_exported['tflite'])) as f:
    metadata = json.load(f)
  assert metadata['input']['range'] == [-1.0, 1.0]
  assert metadata['ranges'] == 'quantization-aware checkpoint'
  graph_def = inference.read_graph_def(qat_exported['frozen'])
  assert sum(n.op == 'FakeQuantWithMinMaxVars' for n in graph_def.node) == (
      2 * 28)
  images = np.random.RandomState(6).uniform(-1, 1, (8, 32, 32, 3)).astype(
      np.float32)
  with tf.Graph().as_default(), tf.Session() as session:
    probabilities, = tf.import_graph_def(
        graph_def, return_elements=['probabilities:0'], name='')
    want = session.run(probabilities, {'input:0': images})
  got = tflite.Model(qat_exported['tflite']).outputs(images)
  # Output steps of 1/256; the int8 kernels round a little differently.
  np.testing.assert_allclose(got, want, atol=3 / 256.0)


def _validation_images(shapes_dir, size):
  """(images [12, size, size, 3] through the eval preprocessing, labels) of
  the shapes validation split."""
  from slimvision.datasets import shapes
  encoded, labels = [], []
  for label, name in enumerate(shapes.CLASS_NAMES):
    folder = os.path.join(shapes_dir, 'images', 'validation', name)
    for file_name in sorted(os.listdir(folder)):
      with open(os.path.join(folder, file_name), 'rb') as f:
        encoded.append(f.read())
      labels.append(label)
  with tf.Graph().as_default(), tf.Session() as session:
    feed = tf.placeholder(tf.string, [None])
    images = inference.preprocess_encoded(feed, 'mobilenet_v1_025', size)
    return session.run(images, {feed: encoded}), np.array(labels)


def _printed_accuracy(stdout):
  return float([line for line in stdout.splitlines()
                if line.startswith('Accuracy: ')][0].split()[1])


def test_eval_scores_the_quantized_graph_and_its_tflite_model(
    qat_train_dir, qat_exported, shapes_dir, tmp_path):
  images, labels = _validation_images(shapes_dir, 32)
  with tf.Graph().as_default(), tf.Session() as session:
    probabilities, = tf.import_graph_def(
        inference.read_graph_def(qat_exported['frozen']),
        return_elements=['probabilities:0'], name='')
    graph_outputs = session.run(probabilities, {'input:0': images})
  tflite_outputs = tflite.Model(qat_exported['tflite']).outputs(images)
  common = ['--dataset_name=shapes', '--dataset_dir=' + shapes_dir,
            '--dataset_split_name=validation',
            '--model_name=mobilenet_v1_025']
  for name, model, outputs in (
      ('graph', ['--quantize', '--eval_image_size=32',
                 '--checkpoint_path=' + qat_train_dir], graph_outputs),
      ('tflite', ['--tflite_file=' + qat_exported['tflite']],
       tflite_outputs)):
    result = run_cli('eval_image_classifier.py', *common, *model,
                     '--eval_dir=' + str(tmp_path / name))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Scored 12 examples' in result.stdout
    want = np.mean(np.argmax(outputs, axis=1) == labels)
    assert _printed_accuracy(result.stdout) == pytest.approx(want, abs=1e-4)
