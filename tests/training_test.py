"""Schedules, optimizers, fine-tuning restore and scope selection."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.engines import training
from slimvision.engines.config import TrainConfig
from slimvision.core.errors import UserError


def _rates(decay_type, steps, **kwargs):
  with tf.Graph().as_default():
    step = tf.placeholder(tf.int64, [])
    rate = training.learning_rate(step, decay_type, 0.1, decay_steps=100,
                                  **kwargs)
    with tf.Session() as sess:
      return [sess.run(rate, {step: s}) for s in steps]


def test_exponential_schedule_is_staircase():
  rates = _rates('exponential', [0, 99, 100, 250], decay_factor=0.5)
  np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)


def test_polynomial_schedule_is_linear_to_the_end_rate():
  rates = _rates('polynomial', [0, 50, 100, 400], end_rate=0.02)
  np.testing.assert_allclose(rates, [0.1, 0.06, 0.02, 0.02], rtol=1e-6)


def test_fixed_schedule_and_warmup():
  np.testing.assert_allclose(_rates('fixed', [0, 1000]), [0.1, 0.1])
  rates = _rates('fixed', [0, 5, 10, 20], warmup_steps=10)
  np.testing.assert_allclose(rates, [0.0, 0.05, 0.1, 0.1], rtol=1e-6)


def test_unknown_decay_and_optimizer_names_list_the_valid_ones():
  with pytest.raises(UserError, match='exponential, fixed, polynomial'):
    _rates('cosine', [0])
  with pytest.raises(UserError, match='adadelta, adagrad, adam'):
    training.optimizer(TrainConfig(optimizer='lamb'), 0.1)


@pytest.mark.parametrize('name', training.OPTIMIZERS)
def test_each_optimizer_takes_a_step_that_lowers_the_loss(name):
  with tf.Graph().as_default():
    weights = tf.Variable([3.0, -2.0])
    loss = tf.reduce_sum(tf.square(weights))
    step = training.optimizer(TrainConfig(optimizer=name), 0.1).minimize(
        loss, global_step=tf.train.get_or_create_global_step())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run(loss)
      for _ in range(3):
        sess.run(step)
      assert sess.run(loss) < before
      assert sess.run(tf.train.get_global_step()) == 3


def _two_layer_model(out_units=3):
  net = slim.fully_connected(tf.ones([2, 4]), 5, scope='body')
  return slim.fully_connected(net, out_units, scope='head')


def test_variables_to_train_by_scope():
  with tf.Graph().as_default():
    _two_layer_model()
    names = [v.op.name for v in training.variables_to_train('head')]
    assert names == ['head/weights', 'head/biases']
    assert len(training.variables_to_train('')) == 4
    with pytest.raises(UserError, match="'tail' matches no"):
      training.variables_to_train('head, tail')


def _save_model(path, out_units=3):
  with tf.Graph().as_default():
    _two_layer_model(out_units)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver().save(sess, path)
      return {v.op.name: sess.run(v) for v in tf.global_variables()}


def test_fine_tune_restores_all_but_excluded_scopes(tmp_path):
  saved = _save_model(str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default():
    _two_layer_model()
    init_fn = training.fine_tune_init_fn(str(tmp_path), 'head')
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      init_fn(None, sess)
      restored = {v.op.name: sess.run(v) for v in tf.global_variables()}
  np.testing.assert_array_equal(restored['body/weights'], saved['body/weights'])
  assert not np.array_equal(restored['head/weights'], saved['head/weights'])


def test_fine_tune_shape_mismatch_names_the_variable_and_both_shapes(tmp_path):
  _save_model(str(tmp_path / 'model.ckpt'), out_units=3)
  with tf.Graph().as_default():
    _two_layer_model(out_units=6)
    with pytest.raises(UserError, match=r'head/weights has shape \[5, 6\] in '
                       r'the model but \[5, 3\].*checkpoint_exclude_scopes'):
      training.fine_tune_init_fn(str(tmp_path / 'model.ckpt'))


def test_fine_tune_missing_variables(tmp_path):
  _save_model(str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default():
    _two_layer_model()
    slim.fully_connected(tf.ones([2, 3]), 2, scope='extra')
    with pytest.raises(UserError, match='not in checkpoint.*ignore_missing'):
      training.fine_tune_init_fn(str(tmp_path / 'model.ckpt'))
    assert training.fine_tune_init_fn(str(tmp_path / 'model.ckpt'),
                                      ignore_missing_vars=True)


def test_fine_tune_from_an_empty_folder_or_a_missing_file(tmp_path):
  with tf.Graph().as_default():
    with pytest.raises(UserError, match='no checkpoint in this folder'):
      training.fine_tune_init_fn(str(tmp_path))
    with pytest.raises(UserError, match='no such checkpoint'):
      training.fine_tune_init_fn(str(tmp_path / 'model.ckpt-7'))
