"""Clones, replicas and device placement (deployment/model_deploy.py)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.deployment import model_deploy

_INPUTS = np.random.RandomState(0).normal(size=(8, 5)).astype(np.float32)
_LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def _gradients(num_clones, weight_decay=0.1):
  """Summed gradients (and total loss) of a linear classifier, fixed init."""
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=num_clones,
                                           clone_on_cpu=True)
    inputs = tf.split(tf.constant(_INPUTS), num_clones)
    labels = tf.split(tf.constant(_LABELS), num_clones)
    counter = iter(range(num_clones))

    def model_fn():
      i = next(counter)
      logits = slim.fully_connected(
          inputs[i], 3, activation_fn=None, scope='fc',
          weights_initializer=tf.constant_initializer(
              np.arange(15).reshape(5, 3) / 10.0),
          weights_regularizer=slim.l2_regularizer(weight_decay))
      tf.losses.sparse_softmax_cross_entropy(labels[i], logits)
      return logits

    clones = model_deploy.create_clones(config, model_fn)
    total_loss, grads_and_vars = model_deploy.optimize_clones(
        clones, tf.train.GradientDescentOptimizer(1.0))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = sess.run([total_loss] + [g for g, _ in grads_and_vars])
    names = [v.op.name for _, v in grads_and_vars]
    assert len(tf.global_variables()) == 2  # Shared, not one set per clone.
  return values[0], dict(zip(names, values[1:]))


def test_two_clones_average_to_the_one_clone_gradient():
  loss_one, grads_one = _gradients(1)
  loss_two, grads_two = _gradients(2)
  assert loss_two == pytest.approx(loss_one, rel=1e-6)
  assert sorted(grads_one) == ['fc/biases', 'fc/weights']
  for name in grads_one:
    np.testing.assert_allclose(grads_two[name], grads_one[name], rtol=1e-5,
                               atol=1e-6)


def test_regularization_counts_once():
  loss_plain, _ = _gradients(2, weight_decay=0.0)
  loss_decay, _ = _gradients(2, weight_decay=0.1)
  weights = np.arange(15).reshape(5, 3) / 10.0
  # l2_regularizer(0.1) = 0.1 * sum(w^2) / 2, added once (not per clone).
  assert loss_decay - loss_plain == pytest.approx(
      0.1 * np.sum(weights ** 2) / 2, rel=1e-5)


def test_devices():
  local = model_deploy.DeploymentConfig(num_clones=2)
  assert local.clone_device(1) == '/device:GPU:1'
  assert local.clone_scope(0) == 'clone_0'
  assert local.variables_device() == '/device:CPU:0'
  assert local.optimizer_device() == local.inputs_device() == '/device:CPU:0'
  assert local.caching_device() is None
  single = model_deploy.DeploymentConfig(clone_on_cpu=True)
  assert single.clone_scope(0) == '' and single.clone_device(0) == (
      '/device:CPU:0')
  cluster = model_deploy.DeploymentConfig(num_replicas=2, replica_id=1,
                                          num_ps_tasks=2)
  assert not cluster.is_chief
  assert cluster.clone_device(0) == '/job:worker/task:1/device:GPU:0'
  assert cluster.optimizer_device() == '/job:worker/task:1/device:CPU:0'
  with tf.Graph().as_default():
    with tf.device(cluster.variables_device()):
      a = tf.Variable(1.0)
      b = tf.Variable(2.0)
      c = tf.constant(3.0)
  assert {a.device, b.device} == {'/job:ps/task:0', '/job:ps/task:1'}
  assert c.device == '/job:worker/task:1/device:CPU:0'


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_clones=0), 'num_clones'),
    (dict(num_replicas=2), 'num_ps_tasks'),
    (dict(num_replicas=2, num_ps_tasks=1, replica_id=2), 'out of range'),
])
def test_invalid_configs(kwargs, message):
  with pytest.raises(ValueError, match=message):
    model_deploy.DeploymentConfig(**kwargs)


def test_deploy_builds_a_train_op_that_steps():
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)

    def model_fn():
      logits = slim.fully_connected(tf.constant(_INPUTS[:4]), 3,
                                    activation_fn=None, scope='fc')
      tf.losses.sparse_softmax_cross_entropy(_LABELS[:4], logits)

    model = model_deploy.deploy(config, model_fn,
                                optimizer=tf.train.GradientDescentOptimizer(
                                    0.5))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      first = sess.run(model.train_op)
      for _ in range(20):
        last = sess.run(model.train_op)
      assert sess.run(tf.train.get_global_step()) == 21
      assert sess.run(model.summary_op)  # Serialized summaries.
  assert last < first
