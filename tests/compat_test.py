"""The tf-slim compatibility layer: each repaired path works on this TF."""

import importlib
import io

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core import compat
import processes

compat.apply()  # Before any tf-slim call of this module.


def test_repairs_are_recorded_and_idempotent():
  compat.apply()
  before = compat.applied_repairs()
  assert before
  compat.apply()
  # A second pass finds nothing missing: the layer is a no-op where the
  # names exist, which is also how it behaves on older TensorFlow.
  assert compat.applied_repairs() == before
  from tensorflow.python.framework import ops
  from tensorflow.python.ops import array_ops, control_flow_ops, variable_scope
  for module, name in ((control_flow_ops, 'case'), (control_flow_ops, 'cond'),
                       (control_flow_ops, 'while_loop'),
                       (control_flow_ops, 'Assert'), (ops, 'Tensor'),
                       (ops, 'IndexedSlices'), (array_ops, 'stack'),
                       (array_ops, 'unstack'), (variable_scope, 'variable')):
    assert callable(getattr(module, name)), name


def test_layers_in_a_graph_hash_variables_as_tf1_and_eager_is_untouched():
  from tensorflow.python.framework import tensor as tensor_lib
  seen = []

  def spy_getter(getter, *args, **kwargs):
    # Runs inside the legacy layers' add_weight.
    seen.append(tensor_lib.Tensor._USE_EQUALITY)
    return getter(*args, **kwargs)

  with tf.Graph().as_default():
    with tf.variable_scope('net', custom_getter=spy_getter):
      net = slim.conv2d(tf.zeros([1, 8, 8, 3]), 4, [3, 3], scope='conv')
      slim.batch_norm(net, is_training=True, scope='bn')
  # conv weights and biases, beta, moving mean and variance: all created
  # with TF1's id hashing, which gives the same answers in a graph.
  assert seen == [False] * 5
  assert tensor_lib.Tensor._USE_EQUALITY  # Restored: TF2 semantics outside.
  with pytest.raises(TypeError, match='unhashable'):
    hash(tf.Variable(1.0))  # Eager variables stay unhashable, as in TF2.
  assert any('add_weight' in r for r in compat.applied_repairs())


@pytest.mark.parametrize('module_name', [
    'tf_keras.src.utils.version_utils',
    'tensorflow.python.keras.utils.version_utils'])
def test_keras_swaps_a_class_once_per_mode(module_name):
  swap_class = importlib.import_module(module_name).swap_class
  assert swap_class.slimvision_once

  class V2(object):
    pass

  class V1(V2):
    pass

  class Middle(V2):
    pass

  class Leaf(Middle):
    pass

  assert swap_class(Leaf, V2, V1, False) is Leaf
  assert Middle.__bases__ == (V1,)
  order = Leaf.__mro__
  assert swap_class(Leaf, V2, V1, False) is Leaf
  # Not assigned again: an assignment to __bases__ recomputes the order.
  assert Leaf.__mro__ is order
  assert swap_class(Middle, V2, V1, False) is Middle
  assert swap_class(V2, V2, V1, False) is V1
  # The other mode swaps back (nothing remembered from the first), and
  # again when the first mode returns.
  assert swap_class(Leaf, V2, V1, True) is Leaf
  assert Middle.__bases__ == (V2,)
  assert swap_class(Leaf, V2, V1, False) is Leaf
  assert Middle.__bases__ == (V1,)


@pytest.mark.parametrize('fused', [True, False])
def test_batch_norm_training_and_inference(fused):
  data = np.random.RandomState(0).normal(3.0, 2.0, (8, 4, 4, 2))
  with tf.Graph().as_default():
    inputs = tf.constant(data, tf.float32)
    train_out = slim.batch_norm(inputs, decay=0.5, is_training=True,
                                fused=fused, scope='bn')
    eval_out = slim.batch_norm(inputs, decay=0.5, is_training=False,
                               fused=fused, scope='bn', reuse=True)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_out = tf.identity(train_out)
    moving_mean = [v for v in tf.global_variables()
                   if v.op.name == 'bn/moving_mean'][0]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      normalised = sess.run(train_out)
      mean_after_one_step = sess.run(moving_mean)
      evaluated = sess.run(eval_out)
  # Training mode normalises with the batch statistics.
  np.testing.assert_allclose(normalised.mean(axis=(0, 1, 2)), 0, atol=1e-4)
  np.testing.assert_allclose(normalised.std(axis=(0, 1, 2)), 1, atol=1e-2)
  # The update op moved the moving mean halfway (decay 0.5) from 0.
  np.testing.assert_allclose(mean_after_one_step,
                             0.5 * data.mean(axis=(0, 1, 2)), rtol=1e-4)
  # Inference mode uses the moving statistics instead; the fused kernel
  # keeps the unbiased (n / (n - 1)) batch variance.
  n = data.size // data.shape[-1]
  batch_variance = data.var(axis=(0, 1, 2)) * (n / (n - 1.0) if fused else 1)
  expected = (data - mean_after_one_step) / np.sqrt(
      0.5 * batch_variance + 0.5 + 0.001)
  np.testing.assert_allclose(evaluated, expected, rtol=1e-3, atol=1e-3)


def _encode(pixels, image_format):
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format=image_format, quality=95)
  return buffer.getvalue()


@pytest.mark.parametrize('image_format', ['PNG', 'JPEG'])
def test_tfexample_decoder_decodes_png_and_jpeg(image_format):
  pixels = np.random.RandomState(1).randint(0, 255, (6, 5, 3), np.uint8)
  pixels = np.kron(pixels, np.ones((4, 4, 1), np.uint8))  # JPEG-friendly.
  example = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[_encode(pixels, image_format)])),
      'image/format': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[image_format.lower().encode()])),
  }))
  with tf.Graph().as_default():
    decoder = slim.tfexample_decoder.TFExampleDecoder(
        {'image/encoded': tf.FixedLenFeature((), tf.string),
         'image/format': tf.FixedLenFeature((), tf.string)},
        {'image': slim.tfexample_decoder.Image(channels=3)})
    [image] = decoder.decode(example.SerializeToString(), ['image'])
    with tf.Session() as sess:
      decoded = sess.run(image)
  assert decoded.shape == pixels.shape
  if image_format == 'PNG':
    np.testing.assert_array_equal(decoded, pixels)
  else:  # The same bytes decoded by Pillow (TF uses a faster, coarser IDCT).
    reference = np.asarray(Image.open(io.BytesIO(_encode(pixels, 'JPEG'))))
    assert np.abs(decoded.astype(int) - reference).mean() < 4


def _linear_problem():
  rng = np.random.RandomState(2)
  inputs = rng.normal(size=(64, 3)).astype(np.float32)
  labels = (inputs.sum(axis=1) > 0).astype(np.int64)
  return inputs, labels


_LEARNING_PROGRAM = r'''
import sys
import numpy as np
import tensorflow.compat.v1 as tf
import slimvision.nets  # noqa: F401  (applies the compatibility layer)
import tf_slim as slim
tf.disable_eager_execution()  # Supervisor threads need TF1 graph mode.
train_dir = sys.argv[1]
rng = np.random.RandomState(0)
inputs = rng.normal(size=(64, 3)).astype(np.float32)
labels = (inputs.sum(axis=1) > 0).astype(np.int64)
with tf.Graph().as_default():
  tf.set_random_seed(0)
  logits = slim.fully_connected(tf.constant(inputs), 2, activation_fn=None,
                                scope='fc')
  loss = tf.losses.sparse_softmax_cross_entropy(tf.constant(labels), logits)
  initial_loss = tf.identity(loss)
  train_op = slim.learning.create_train_op(
      loss, tf.train.GradientDescentOptimizer(0.5), clip_gradient_norm=10.0)
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    initial = sess.run(initial_loss)
  final = slim.learning.train(train_op, train_dir, number_of_steps=30,
                              log_every_n_steps=100, save_summaries_secs=0)
print(initial, final)
'''


def test_slim_learning_train_lowers_the_loss(tmp_path):
  # slim.learning.train runs its session from Supervisor threads, which
  # need TF1 graph mode process-wide (see compat's docstring): a process of
  # its own, so this one stays in TF2's eager mode.
  result = processes.run(_LEARNING_PROGRAM, [tmp_path], timeout=300,
                         program=True)
  assert result.returncode == 0, result.stderr[-3000:]
  initial, final = map(float, result.stdout.split())
  assert tf.train.load_checkpoint(str(tmp_path)).get_tensor(
      'global_step') == 30
  assert final < 0.5 * initial


def test_importing_slimvision_leaves_eager_mode_alone():
  # Nothing in this process (the package, the engines run by other tests
  # in it) switched TF2's eager execution off.
  assert tf.executing_eagerly()
  assert not any('eager' in r for r in compat.applied_repairs())


def test_slim_evaluation_streaming_metrics(tmp_path):
  inputs, labels = _linear_problem()
  checkpoint = str(tmp_path / 'model.ckpt')
  with tf.Graph().as_default():
    weights = tf.Variable(np.array([[-1, 1]] * 3, np.float32),
                          name='weights')
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver().save(sess, checkpoint)
  with tf.Graph().as_default():
    weights = tf.Variable(tf.zeros((3, 2)), name='weights')
    tf.train.get_or_create_global_step()
    predictions = tf.argmax(tf.matmul(tf.constant(inputs), weights), 1)
    # streaming_concat and the confusion-matrix metrics call the moved
    # array_ops.stack and slim.local_variable (variable_scope.variable).
    names_to_values, names_to_updates = slim.metrics.aggregate_metric_map({
        'accuracy': slim.metrics.streaming_accuracy(predictions, labels),
        'auc': slim.metrics.streaming_auc(tf.cast(predictions, tf.float32),
                                          labels),
        'all_labels': slim.metrics.streaming_concat(tf.constant(labels)),
    })
    values = slim.evaluation.evaluate_once(
        '', checkpoint, str(tmp_path / 'eval'), num_evals=1,
        eval_op=list(names_to_updates.values()),
        final_op=names_to_values)
  assert values['accuracy'] == pytest.approx(1.0)
  assert values['auc'] == pytest.approx(1.0, abs=1e-3)
  np.testing.assert_array_equal(values['all_labels'], labels)
