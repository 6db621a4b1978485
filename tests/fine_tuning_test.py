"""engines/fine_tuning.py: what is restored, trained and updated."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.errors import UserError
from slimvision.engines import fine_tuning


def _two_layer_model(out_units=3):
  net = slim.fully_connected(tf.ones([2, 4]), 5, scope='body')
  return slim.fully_connected(net, out_units, scope='head')


@pytest.fixture
def warnings_logged(monkeypatch):
  """The warnings training logs, formatted, as a list filled as they come."""
  logged = []
  monkeypatch.setattr(fine_tuning.log, 'warning',
                      lambda message, *args: logged.append(message % args))
  return logged


def test_variables_to_train_by_scope(warnings_logged):
  with tf.Graph().as_default():
    _two_layer_model()
    names = [v.op.name for v in fine_tuning.variables_to_train('head')]
    assert names == ['head/weights', 'head/biases']
    assert len(fine_tuning.variables_to_train('')) == 4
    assert not warnings_logged
    # As in TF-Slim, a scope without variables is skipped with a warning.
    names = [v.op.name for v in fine_tuning.variables_to_train('head, tail')]
    assert names == ['head/weights', 'head/biases']
    assert warnings_logged == [
        "Warning: --trainable_scopes: 'tail' matches no trainable variable; "
        "ignoring it"]
    with pytest.raises(UserError, match='tail,wing matches no trainable '
                       'variable: nothing to train'):
      fine_tuning.variables_to_train('tail,wing')


def _update_op_names(freeze):
  """The batch-norm update ops a fine-tuning of scope `head` runs."""
  with tf.Graph().as_default():
    net = slim.batch_norm(tf.ones([2, 4]), is_training=True, scope='body')
    slim.batch_norm(net, is_training=True, scope='head')
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if freeze:
      update_ops = fine_tuning.update_ops_in_scopes(update_ops, 'head')
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
    init_fn = fine_tuning.fine_tune_init_fn(checkpoint, exclude_scopes)
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
      fine_tuning.fine_tune_init_fn(str(tmp_path / 'model.ckpt'))


def test_fine_tune_missing_variables(tmp_path):
  _save_model(str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default():
    _two_layer_model()
    slim.fully_connected(tf.ones([2, 3]), 2, scope='extra')
    with pytest.raises(UserError, match='not in checkpoint.*ignore_missing'):
      fine_tuning.fine_tune_init_fn(str(tmp_path / 'model.ckpt'))
    assert fine_tuning.fine_tune_init_fn(str(tmp_path / 'model.ckpt'),
                                      ignore_missing_vars=True)


def test_fine_tune_from_a_disjoint_checkpoint_warns_and_starts_afresh(
    tmp_path, warnings_logged):
  checkpoint = str(tmp_path / 'model.ckpt')
  _save_model(checkpoint)
  with tf.Graph().as_default():
    slim.fully_connected(tf.ones([2, 3]), 2, scope='other')
    with pytest.raises(UserError, match='2 model variable.*not in checkpoint'):
      fine_tuning.fine_tune_init_fn(checkpoint)
    assert fine_tuning.fine_tune_init_fn(checkpoint,
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
      fine_tuning.fine_tune_init_fn(str(tmp_path))
    with pytest.raises(UserError, match='no such checkpoint'):
      fine_tuning.fine_tune_init_fn(str(tmp_path / 'model.ckpt-7'))


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
    kept = fine_tuning.update_ops_in_scopes(update_ops, 'Net/head')
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
      fine_tuning.fine_tune_init_fn(checkpoint)
    assert fine_tuning.fine_tune_init_fn(checkpoint, 'head')


def _quantized_values(checkpoint, quant_max=None):
  """{name: value} of the quantization-aware two-layer model after
  fine_tune_init_fn's restore from `checkpoint`; with `quant_max`, instead
  saves the model there with body/act_quant/max set to it."""
  from slimvision.engines import quantization
  with tf.Graph().as_default() as graph:
    _two_layer_model()
    quantization.create_training_graph(graph, quant_delay=0)
    variables = {v.op.name: v for v in tf.global_variables()}
    init_fn = None if quant_max else fine_tuning.fine_tune_init_fn(checkpoint)
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
