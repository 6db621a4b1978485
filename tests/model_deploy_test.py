"""Clones, replicas and device placement (deployment/model_deploy.py)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import free_ports
from slimvision.core.errors import UserError
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
  assert local.worker_device == local.ps_device == ''
  single = model_deploy.DeploymentConfig(clone_on_cpu=True)
  assert single.clone_scope(0) == '' and single.clone_device(0) == (
      '/device:CPU:0')


@pytest.mark.parametrize('kwargs', [{}, dict(clone_on_cpu=True),
                                    dict(num_clones=4)])
def test_inputs_and_optimizer_run_on_the_cpu_without_ps(kwargs):
  # The input pipeline is pinned to the CPU, keeping it off the GPUs.
  config = model_deploy.DeploymentConfig(**kwargs)
  assert config.inputs_device() == '/device:CPU:0'
  assert config.optimizer_device() == '/device:CPU:0'


@pytest.mark.parametrize('replica_id', [0, 1])
def test_devices_with_ps_name_the_worker_job_but_no_task(replica_id):
  # Every worker builds its own graph: '/job:worker' is its own task there.
  cluster = model_deploy.DeploymentConfig(
      num_clones=2, num_replicas=2, replica_id=replica_id, num_ps_tasks=2)
  assert cluster.is_chief == (replica_id == 0)
  assert cluster.worker_device == '/job:worker'
  assert cluster.ps_device == '/job:ps'
  assert cluster.clone_device(0) == '/job:worker/device:GPU:0'
  assert cluster.clone_device(1) == '/job:worker/device:GPU:1'
  assert cluster.optimizer_device() == '/job:worker/device:CPU:0'
  assert cluster.inputs_device() == '/job:worker/device:CPU:0'
  on_cpu = model_deploy.DeploymentConfig(clone_on_cpu=True, num_ps_tasks=1)
  assert on_cpu.clone_device(0) == '/job:worker/device:CPU:0'
  with tf.Graph().as_default():
    with tf.device(cluster.variables_device()):
      a = tf.Variable(1.0)
      b = tf.Variable(2.0)
      c = tf.constant(3.0)
    assert cluster.caching_device()(c.op) == ''
  # Round-robin over the ps tasks' CPUs; other ops stay where they were.
  assert [a.device, b.device] == ['/job:ps/task:0/device:CPU:0',
                                  '/job:ps/task:1/device:CPU:0']
  assert c.device == ''


def test_variables_of_gpu_clones_go_to_the_ps_cpus():
  config = model_deploy.DeploymentConfig(num_clones=2, num_ps_tasks=2)
  with tf.Graph().as_default():

    def model_fn():
      net = slim.fully_connected(tf.constant(_INPUTS), 4, scope='fc1')
      return slim.fully_connected(net, 3, scope='fc2')

    clones = model_deploy.create_clones(config, model_fn)
    variables = [(v.op.name, v.device) for v in tf.global_variables()]
  assert variables == [('fc1/weights', '/job:ps/task:0/device:CPU:0'),
                       ('fc1/biases', '/job:ps/task:1/device:CPU:0'),
                       ('fc2/weights', '/job:ps/task:0/device:CPU:0'),
                       ('fc2/biases', '/job:ps/task:1/device:CPU:0')]
  assert [(c.scope, c.device, c.outputs.device) for c in clones] == [
      ('clone_0/', '/job:worker/device:GPU:0', '/job:worker/device:GPU:0'),
      ('clone_1/', '/job:worker/device:GPU:1', '/job:worker/device:GPU:1')]


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_clones=0), 'num_clones'),
    (dict(num_replicas=2), 'num_ps_tasks'),
    (dict(num_replicas=2, num_ps_tasks=1, replica_id=2), 'out of range'),
])
def test_invalid_configs(kwargs, message):
  with pytest.raises(UserError, match=message):
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


def _summary_tags(summary_op):
  with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
    sess.run(tf.global_variables_initializer())
    summary = tf.Summary.FromString(sess.run(summary_op))
  return sorted(value.tag for value in summary.value)


def test_deploy_makes_the_summaries_on_the_cpu():
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2)

    def model_fn():
      logits = slim.fully_connected(
          tf.constant(_INPUTS[:4]), 3, activation_fn=None, scope='fc',
          weights_regularizer=slim.l2_regularizer(0.1))
      tf.losses.sparse_softmax_cross_entropy(_LABELS[:4], logits)

    model = model_deploy.deploy(
        config, model_fn, optimizer=tf.train.GradientDescentOptimizer(0.5),
        summarize_gradients=True)
    # The clones' GPUs compute the losses; the summaries are the CPU's.
    assert {t.device for t in model.summary_op.op.inputs} == {
        '/device:CPU:0'}
    assert model.train_op.device == '/device:CPU:0'
    assert tf.train.get_global_step().device == '/device:CPU:0'
    assert _summary_tags(model.summary_op) == [
        'Losses/clone_0/clone_loss', 'Losses/regularization_loss',
        'fc/biases/gradient_norm', 'fc/biases/gradients',
        'fc/weights/gradient_norm', 'fc/weights/gradients', 'total_loss']


def test_deploy_for_evaluation_without_any_loss():
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
    model = model_deploy.deploy(
        config, lambda: slim.fully_connected(tf.constant(_INPUTS), 3))
    assert [c.scope for c in model.clones] == ['clone_0/', 'clone_1/']
    assert [c.outputs.shape.as_list() for c in model.clones] == [[8, 3]] * 2
    assert model.total_loss is None and model.train_op is None
    assert model.summary_op is None  # Nothing to summarize.
    assert tf.train.get_global_step() is None  # Evaluation takes no step.


def test_deploy_for_evaluation_counts_the_regularization_once():
  weights = np.arange(15).reshape(5, 3) / 10.0
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)

    def model_fn():
      slim.fully_connected(
          tf.constant(_INPUTS), 3,
          weights_initializer=tf.constant_initializer(weights),
          weights_regularizer=slim.l2_regularizer(0.1))

    model = model_deploy.deploy(config, model_fn)
    assert model.train_op is None
    assert model.total_loss.op.name == 'total_loss'
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      total = sess.run(model.total_loss)
    assert _summary_tags(model.summary_op) == [
        'Losses/regularization_loss', 'total_loss']
  assert total == pytest.approx(0.1 * np.sum(weights ** 2) / 2, rel=1e-5)


def _devices_run_on(server, task, config):
  """{node name: device} of one training step of worker `task`, in a
  session with the device filters that training's sessions have."""
  with tf.Graph().as_default():
    with tf.device(config.inputs_device()):
      inputs = tf.random.uniform([4, 5], name='inputs')

    def model_fn():
      logits = slim.fully_connected(inputs, 3, scope='fc')
      tf.losses.sparse_softmax_cross_entropy(_LABELS[:4], logits)

    model = model_deploy.deploy(config, model_fn,
                                optimizer=tf.train.GradientDescentOptimizer(
                                    0.1))
    filters = tf.ConfigProto(
        device_filters=['/job:ps', '/job:worker/task:%d' % task])
    with tf.Session(server.target, config=filters) as sess:
      sess.run(tf.global_variables_initializer())
      metadata = tf.RunMetadata()
      sess.run(model.train_op, run_metadata=metadata, options=tf.RunOptions(
          trace_level=tf.RunOptions.FULL_TRACE))
  return {node.node_name: device.device
          for device in metadata.step_stats.dev_stats
          for node in device.node_stats}


def test_each_worker_runs_its_clones_and_inputs_on_its_own_task():
  ps_port, w0_port, w1_port = free_ports(3)
  spec = tf.train.ClusterSpec({
      'ps': ['127.0.0.1:%d' % ps_port],
      'worker': ['127.0.0.1:%d' % w0_port, '127.0.0.1:%d' % w1_port]})
  # In-process servers: they serve until the test process ends.
  servers = [tf.train.Server(spec, job_name='ps', task_index=0)] + [
      tf.train.Server(spec, job_name='worker', task_index=i)
      for i in range(2)]
  for task in (1, 0):
    config = model_deploy.DeploymentConfig(
        num_clones=2, clone_on_cpu=True, replica_id=task, num_replicas=2,
        num_ps_tasks=1)
    devices = _devices_run_on(servers[1 + task], task, config)
    own = '/job:worker/replica:0/task:%d/device:CPU:0' % task
    # (Node names after grappler's rewrites: MatMul is fused into Relu.)
    for name in ('inputs/RandomUniform', 'clone_0/fc/Relu', 'clone_1/fc/Relu',
                 'clone_1/scaled_clone_loss', 'fc/weights/sum_grads',
                 'total_loss', 'train_op'):
      assert devices[name] == own, (name, devices[name])
    assert devices['fc/weights'] == '/job:ps/replica:0/task:0/device:CPU:0'


def test_research_slims_per_clone_helpers_give_optimize_clones_parts():
  # research/slim's private helpers, which code that writes its own clone
  # loop calls: a clone's loss and gradients, summed over the clones.
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
    inputs = tf.split(tf.constant(_INPUTS), 2)
    labels = tf.split(tf.constant(_LABELS), 2)
    counter = iter(range(2))

    def model_fn():
      i = next(counter)
      logits = slim.fully_connected(inputs[i], 3, activation_fn=None,
                                    scope='fc')
      tf.losses.sparse_softmax_cross_entropy(labels[i], logits)

    clones = model_deploy.create_clones(config, model_fn)
    optimizer = tf.train.GradientDescentOptimizer(1.0)
    parts = [model_deploy._optimize_clone(optimizer, clone, 2, [])
             for clone in clones]
    summed = model_deploy._sum_clones_gradients([g for _, g in parts])
    summaries = model_deploy._add_gradients_summaries(summed)
    total, expected = model_deploy.optimize_clones(clones, optimizer, [])
    assert len(summaries) == 2 * len(summed) == 4
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      losses, grads, total_value, expected_grads = sess.run(
          [[l for l, _ in parts], [g for g, _ in summed], total,
           [g for g, _ in expected]])
    # Each clone's loss is scaled by 1/2, so the two sum to the total.
    assert sum(losses) == pytest.approx(total_value, rel=1e-6)
    for grad, want in zip(grads, expected_grads):
      np.testing.assert_allclose(grad, want, rtol=1e-6)
