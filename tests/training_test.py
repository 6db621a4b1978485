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


def test_cosine_schedule_with_warmup_ends_at_the_end_rate():
  rates = _rates('cosine', [0, 10, 60, 110, 200], end_rate=0.02,
                 warmup_steps=10, total_steps=110)
  # Warm-up to 0.1 at step 10, half-way (0.06) at 60, 0.02 from 110 on.
  np.testing.assert_allclose(rates, [0.0, 0.1, 0.06, 0.02, 0.02], rtol=1e-5)
  with pytest.raises(UserError, match='cosine needs --max_number_of_steps'):
    _rates('cosine', [0])


def test_unknown_decay_and_optimizer_names_list_the_valid_ones():
  with pytest.raises(UserError, match='exponential, fixed, polynomial'):
    _rates('staircase', [0])
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


@pytest.fixture
def warnings_logged(monkeypatch):
  """The warnings training logs, formatted, as a list filled as they come."""
  logged = []
  monkeypatch.setattr(training.log, 'warning',
                      lambda message, *args: logged.append(message % args))
  return logged


def test_variables_to_train_by_scope(warnings_logged):
  with tf.Graph().as_default():
    _two_layer_model()
    names = [v.op.name for v in training.variables_to_train('head')]
    assert names == ['head/weights', 'head/biases']
    assert len(training.variables_to_train('')) == 4
    assert not warnings_logged
    # As in TF-Slim, a scope without variables is skipped with a warning.
    names = [v.op.name for v in training.variables_to_train('head, tail')]
    assert names == ['head/weights', 'head/biases']
    assert warnings_logged == [
        "Warning: --trainable_scopes: 'tail' matches no trainable variable; "
        "ignoring it"]
    with pytest.raises(UserError, match='tail,wing matches no trainable '
                       'variable: nothing to train'):
      training.variables_to_train('tail,wing')


def _update_op_names(freeze):
  """The batch-norm update ops a fine-tuning of scope `head` runs."""
  with tf.Graph().as_default():
    net = slim.batch_norm(tf.ones([2, 4]), is_training=True, scope='body')
    slim.batch_norm(net, is_training=True, scope='head')
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if freeze:
      update_ops = training.update_ops_in_scopes(update_ops, 'head')
    return sorted({op.name.split('/')[0] for op in update_ops})


def test_update_ops_in_scopes_keeps_the_trainable_scopes_statistics():
  assert _update_op_names(freeze=False) == ['body', 'head']
  assert _update_op_names(freeze=True) == ['head']


def _save_model(path, out_units=3):
  with tf.Graph().as_default():
    _two_layer_model(out_units)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver().save(sess, path)
      return {v.op.name: sess.run(v) for v in tf.global_variables()}


def _fine_tuned_values(checkpoint, exclude_scopes):
  """{name: value} of a fresh model after fine_tune_init_fn's restore."""
  with tf.Graph().as_default():
    _two_layer_model()
    init_fn = training.fine_tune_init_fn(checkpoint, exclude_scopes)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      init_fn(None, sess)
      return {v.op.name: sess.run(v) for v in tf.global_variables()}


def test_fine_tune_restores_all_but_excluded_scopes(tmp_path):
  saved = _save_model(str(tmp_path / 'model.ckpt'))
  restored = _fine_tuned_values(str(tmp_path), 'head')
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


def test_fine_tune_from_a_disjoint_checkpoint_warns_and_starts_afresh(
    tmp_path, warnings_logged):
  checkpoint = str(tmp_path / 'model.ckpt')
  _save_model(checkpoint)
  with tf.Graph().as_default():
    slim.fully_connected(tf.ones([2, 3]), 2, scope='other')
    with pytest.raises(UserError, match='2 model variable.*not in checkpoint'):
      training.fine_tune_init_fn(checkpoint)
    assert training.fine_tune_init_fn(checkpoint,
                                      ignore_missing_vars=True) is None
  assert warnings_logged == [
      "Warning: checkpoint %s holds none of the model's 2 variables (after "
      "--checkpoint_exclude_scopes); training from scratch" % checkpoint]


def test_an_exclude_scope_matching_nothing_is_a_warning(tmp_path,
                                                        warnings_logged):
  saved = _save_model(str(tmp_path / 'model.ckpt'))
  restored = _fine_tuned_values(str(tmp_path), 'Head,body')
  # Scopes are case-sensitive, as in TF-Slim: `Head` excludes nothing.
  np.testing.assert_array_equal(restored['head/weights'],
                                saved['head/weights'])
  assert not np.array_equal(restored['body/weights'], saved['body/weights'])
  assert warnings_logged == [
      "Warning: --checkpoint_exclude_scopes: 'Head' matches no model "
      "variable; ignoring it"]


def test_fine_tune_from_an_empty_folder_or_a_missing_file(tmp_path):
  with tf.Graph().as_default():
    with pytest.raises(UserError, match='no checkpoint in this folder'):
      training.fine_tune_init_fn(str(tmp_path))
    with pytest.raises(UserError, match='no such checkpoint'):
      training.fine_tune_init_fn(str(tmp_path / 'model.ckpt-7'))


def test_a_run_too_short_for_the_batch_norm_decay_is_warned(monkeypatch):
  warnings = []
  monkeypatch.setattr(training.log, 'warning',
                      lambda message, *args: warnings.append(message % args))
  training._warn_if_batch_norm_lags(  # pylint: disable=protected-access
      TrainConfig(model_name='mobilenet_v1_025', max_number_of_steps=170))
  assert len(warnings) == 1
  assert '--max_number_of_steps=170 is short for a batch-norm decay of ' \
      '0.9997' in warnings[0]
  assert '--batch_norm_decay=0.9706' in warnings[0]
  for quiet in (TrainConfig(model_name='mobilenet_v1_025',
                            max_number_of_steps=170, batch_norm_decay=0.97),
                TrainConfig(model_name='cifarnet', max_number_of_steps=170),
                TrainConfig(model_name='mobilenet_v1_025',
                            max_number_of_steps=100000)):
    training._warn_if_batch_norm_lags(quiet)  # pylint: disable=protected-access
  assert len(warnings) == 1


def test_clones_on_a_cpu_are_explained(monkeypatch):
  notes = []
  monkeypatch.setattr(training.log, 'info',
                      lambda message, *args: notes.append(message % args))
  monkeypatch.setattr(training.tf.config, 'list_physical_devices',
                      lambda kind=None: [])
  training._note_clones_on_the_cpu(  # pylint: disable=protected-access
      TrainConfig(num_clones=3, batch_size=15))
  assert len(notes) == 1
  assert notes[0].startswith('Note: --num_clones=3 run on the CPU (no GPU '
                             'here): the clones, 5 examples each')
  training._note_clones_on_the_cpu(  # pylint: disable=protected-access
      TrainConfig(num_clones=1, batch_size=15))
  assert len(notes) == 1


def test_update_ops_in_scopes_follows_the_variables_not_the_op_names():
  # As in MobilenetV1: a variable scope entered again by its object opens a
  # nested name scope, so ops are named Net/Net/head/... while the
  # variables they update are Net/head/...
  with tf.Graph().as_default():
    with tf.variable_scope('Net') as scope:
      with tf.variable_scope(scope):
        net = slim.batch_norm(tf.ones([2, 4]), is_training=True,
                              scope='body')
        slim.batch_norm(net, is_training=True, scope='head')
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert all(u.op.name.startswith('Net/Net/') for u in update_ops)
    kept = training.update_ops_in_scopes(update_ops, 'Net/head')
    assert sorted(u.op.inputs[0].op.name for u in kept) == [
        'Net/head/moving_mean', 'Net/head/moving_variance']


def test_fine_tune_reads_only_and_all_the_tensors_it_restores(tmp_path):
  checkpoint = str(tmp_path / 'model.ckpt')
  _save_model(checkpoint)
  # The data file holds the tensors by name; its last byte is head/weights'.
  with open(checkpoint + '.data-00000-of-00001', 'r+b') as f:
    f.seek(-1, 2)
    last = f.read(1)
    f.seek(-1, 2)
    f.write(bytes([last[0] ^ 0xFF]))
  with tf.Graph().as_default():
    _two_layer_model()
    with pytest.raises(UserError, match=r'checkpoint %s cannot be read \(a '
                       r'truncated or corrupt file\?\): tensor head/weights: '
                       r'.*Checksum does not match' % checkpoint):
      training.fine_tune_init_fn(checkpoint)
    assert training.fine_tune_init_fn(checkpoint, 'head')


def _quantized_values(checkpoint, quant_max=None):
  """{name: value} of the quantization-aware two-layer model after
  fine_tune_init_fn's restore from `checkpoint`; with `quant_max`, instead
  saves the model there with body/act_quant/max set to it."""
  from slimvision.engines import quantization
  with tf.Graph().as_default() as graph:
    _two_layer_model()
    quantization.create_training_graph(graph, quant_delay=0)
    variables = {v.op.name: v for v in tf.global_variables()}
    init_fn = None if quant_max else training.fine_tune_init_fn(checkpoint)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      if quant_max:
        sess.run(variables['body/act_quant/max'].assign(quant_max))
        tf.train.Saver().save(sess, checkpoint)
      else:
        init_fn(None, sess)
      return {name: sess.run(v) for name, v in variables.items()}


def test_fine_tune_restores_quantization_ranges_where_the_checkpoint_has_them(
    tmp_path):
  # A float checkpoint: the ranges stay initialised (act max 6).
  saved = _save_model(str(tmp_path / 'float' / 'model.ckpt'))
  restored = _quantized_values(str(tmp_path / 'float'))
  np.testing.assert_array_equal(restored['body/weights'], saved['body/weights'])
  assert restored['body/act_quant/max'] == 6.0
  # A quantization-aware one (a research/slim `_quant` checkpoint): they
  # are restored with the weights.
  _quantized_values(str(tmp_path / 'qat' / 'model.ckpt'), quant_max=2.5)
  restored = _quantized_values(str(tmp_path / 'qat'))
  assert restored['body/act_quant/max'] == 2.5
