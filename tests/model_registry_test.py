"""The model registry that the nets and preprocessing factories serve from.

Checks the built-in entries against the model-zoo manifests and the
arg_scope signatures, that a user's model registered either way is served by
both factories, and that modules are imported on first use only.
"""

import inspect
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import FIXTURES
from conftest import ROOT
from conftest import load_manifest
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

MANIFEST_DIR = os.path.join(FIXTURES, 'model_zoo')
# Registered models that have no model-zoo manifest, each with the reason.
# Empty: every built-in network is a TF-Slim model-zoo network.
WITHOUT_MANIFEST = {}
# Manifest file stem per registry name where the two differ (none today).
MANIFEST_NAME = {}
FAMILIES = ('cifarnet', 'inception', 'lenet', 'vgg')
# TF-Slim's assignment of the networks that do not use inception's.
NOT_INCEPTION = {
    'alexnet_v2': 'vgg', 'overfeat': 'vgg', 'vgg_a': 'vgg', 'vgg_16': 'vgg',
    'vgg_19': 'vgg', 'resnet_v1_50': 'vgg', 'resnet_v1_101': 'vgg',
    'resnet_v1_152': 'vgg', 'resnet_v1_200': 'vgg', 'resnet_v2_50': 'vgg',
    'resnet_v2_101': 'vgg', 'resnet_v2_152': 'vgg', 'resnet_v2_200': 'vgg',
    'cifarnet': 'cifarnet', 'lenet': 'lenet'}
BN_DECAY_ARGS = ('batch_norm_decay', 'bn_decay')
USER = 'tiny_user_net'


def _manifest_names():
  return sorted(f[:-len('.json')] for f in os.listdir(MANIFEST_DIR)
                if f.endswith('.json'))


# --- Built-in entries --------------------------------------------------------


def test_every_model_has_a_manifest_and_every_manifest_a_model():
  names = nets_factory.network_names()
  assert len(names) == 40
  manifests = set(_manifest_names())
  missing = [n for n in names if n not in WITHOUT_MANIFEST and
             MANIFEST_NAME.get(n, n) not in manifests]
  assert not missing, 'registered without a model-zoo manifest: %s' % missing
  unserved = manifests - {MANIFEST_NAME.get(n, n) for n in names}
  assert not unserved, 'manifests of no registered model: %s' % unserved
  assert not set(WITHOUT_MANIFEST) - set(names)  # No stale exceptions.


@pytest.mark.parametrize('name', nets_factory.network_names())
def test_entry_matches_its_manifest(name):
  manifest = load_manifest(MANIFEST_NAME.get(name, name))
  spec = nets_factory.model_spec(name)
  assert manifest['model'] == MANIFEST_NAME.get(name, name)
  assert spec.image_size() == manifest['image_size']
  # Video models take [batch, frames, height, width, channels].
  assert nets_factory.is_video_model(name) == (
      len(manifest['input_shape']) == 5)
  assert spec.is_video == nets_factory.is_video_model(name)


@pytest.mark.parametrize('name', nets_factory.network_names())
def test_batch_norm_decay_arg_matches_the_arg_scope_signature(name):
  params = inspect.signature(nets_factory.arg_scopes_map[name]).parameters
  taken = [a for a in BN_DECAY_ARGS if a in params]
  assert len(taken) <= 1
  assert nets_factory.batch_norm_decay_arg(name) == (
      taken[0] if taken else None)


def test_preprocessing_families_are_tf_slims():
  for name in nets_factory.network_names():
    assert nets_factory.model_spec(name).preprocessing == NOT_INCEPTION.get(
        name, 'inception'), name


def test_every_model_is_served_by_the_preprocessing_factory():
  for name in nets_factory.network_names():
    name_family = preprocessing_factory.family(name)
    assert name_family in FAMILIES, name
    assert name in preprocessing_factory.preprocessing_names()
    assert callable(preprocessing_factory.get_preprocessing(name))
    assert (preprocessing_factory.preprocessing_fn_map[name] is
            preprocessing_factory.preprocessing_fn_map[name_family])


def test_preprocessing_names_are_the_families_and_the_models():
  assert preprocessing_factory.preprocessing_names() == sorted(
      set(FAMILIES) | set(nets_factory.network_names()))


def test_unknown_names_are_user_errors_listing_valid_names():
  for fn in (nets_factory.model_spec, nets_factory.is_video_model,
             nets_factory.batch_norm_decay_arg):
    with pytest.raises(ValueError, match="Unknown model name 'lenett'; "
                       'valid names: alexnet_v2, cifarnet, '):
      fn('lenett')
  assert 'lenett' not in nets_factory.networks_map
  with pytest.raises(KeyError):
    nets_factory.networks_map['lenett']  # pylint: disable=pointless-statement
  with pytest.raises(KeyError):
    preprocessing_factory.preprocessing_fn_map['lenett']  # pylint: disable=pointless-statement


# --- A user's model ----------------------------------------------------------


def _tiny_net(images, num_classes=10, is_training=False, scope='TinyNet'):
  """One 3x3 conv, global average pool, logits [batch, num_classes]."""
  with tf.variable_scope(scope, 'TinyNet', [images]):
    net = slim.conv2d(images, 4, [3, 3], scope='conv1')
    end_points = {'conv1': net}
    del is_training  # No dropout or batch norm.
    logits = slim.fully_connected(tf.reduce_mean(net, [1, 2]), num_classes,
                                  activation_fn=None,
                                  scope='logits')
  return logits, end_points


_tiny_net.default_image_size = 16

SCOPE_CALLS = []


def _tiny_arg_scope(weight_decay=0.0, batch_norm_decay=0.99):
  SCOPE_CALLS.append({'weight_decay': weight_decay,
                      'batch_norm_decay': batch_norm_decay})
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_regularizer=slim.l2_regularizer(
                          weight_decay)) as scope:
    return scope


@pytest.fixture
def cleanup():
  """Removes the user's model and preprocessing entries after a test."""
  SCOPE_CALLS.clear()
  yield
  if USER in nets_factory.networks_map or USER in nets_factory.arg_scopes_map:
    nets_factory.unregister_model(USER)
  preprocessing_factory.preprocessing_fn_map.pop(USER, None)
  assert USER not in nets_factory.network_names()


def _build(name, **kwargs):
  """Builds `name` (5 classes) on a [2, 16, 16, 3] batch; returns (logits
  shape, number of regularization losses, variable names, default image
  size in pixels)."""
  with tf.Graph().as_default():
    network_fn = nets_factory.get_network_fn(name, 5, **kwargs)
    logits, end_points = network_fn(tf.zeros([2, 16, 16, 3]))
    assert end_points['conv1'].shape.as_list() == [2, 16, 16, 4]
    return (logits.shape.as_list(),
            len(tf.losses.get_regularization_losses()),
            sorted(v.op.name for v in tf.global_variables()),
            network_fn.default_image_size)


def test_register_model_serves_both_factories(cleanup):
  spec = nets_factory.register_model(
      USER, _tiny_net, _tiny_arg_scope, preprocessing='cifarnet',
      batch_norm_decay_arg='batch_norm_decay')
  assert nets_factory.model_spec(USER) == spec
  assert USER in nets_factory.network_names()
  assert nets_factory.networks_map[USER] is _tiny_net
  assert nets_factory.arg_scopes_map[USER] is _tiny_arg_scope
  assert not nets_factory.is_video_model(USER)
  shape, losses, variables, size = _build(
      USER, weight_decay=0.5, is_training=True, batch_norm_decay=0.9)
  assert shape == [2, 5]
  assert losses == 2  # conv1 and logits weights.
  assert variables == ['TinyNet/conv1/biases', 'TinyNet/conv1/weights',
                       'TinyNet/logits/biases', 'TinyNet/logits/weights']
  assert size == 16  # The function's attribute.
  assert SCOPE_CALLS == [{'weight_decay': 0.5, 'batch_norm_decay': 0.9}]

  assert preprocessing_factory.family(USER) == 'cifarnet'
  assert USER in preprocessing_factory.preprocessing_names()
  image = np.random.RandomState(0).randint(0, 256, [40, 50, 3]).astype(
      np.uint8)
  with tf.Graph().as_default():
    user = preprocessing_factory.get_preprocessing(USER)(image, 16, 16)
    cifarnet = preprocessing_factory.get_preprocessing('cifarnet')(
        image, 16, 16)
    with tf.Session() as sess:
      user, cifarnet = sess.run([user, cifarnet])
  assert user.shape == (16, 16, 3)
  np.testing.assert_array_equal(user, cifarnet)


def test_register_model_explicit_image_size_and_video(cleanup):
  nets_factory.register_model(USER, _tiny_net, _tiny_arg_scope,
                              default_image_size=48, is_video=True)
  assert nets_factory.get_network_fn(USER, 3).default_image_size == 48
  assert nets_factory.is_video_model(USER)
  assert preprocessing_factory.family(USER) == 'inception'
  with pytest.raises(ValueError, match='--batch_norm_decay: %s takes no' %
                     USER):
    nets_factory.get_network_fn(USER, 3, batch_norm_decay=0.9)


def test_replacing_a_model_keeps_no_stale_facts(cleanup):
  nets_factory.register_model(USER, _tiny_net, _tiny_arg_scope,
                              preprocessing='vgg', default_image_size=48)
  nets_factory.register_model(USER, _tiny_net, _tiny_arg_scope)
  assert preprocessing_factory.family(USER) == 'inception'
  assert nets_factory.model_spec(USER).image_size() == 16


@pytest.mark.parametrize('scope_first', [False, True])
def test_research_slim_map_assignments_add_a_model(cleanup, scope_first):
  assignments = [(nets_factory.networks_map, _tiny_net),
                 (nets_factory.arg_scopes_map, _tiny_arg_scope)]
  if scope_first:
    assignments.reverse()
  (first_map, first_fn), (second_map, second_fn) = assignments
  first_map[USER] = first_fn
  # Half registered: in one map, not yet a model.
  assert USER in first_map and USER not in second_map
  assert USER not in nets_factory.network_names()
  with pytest.raises(ValueError, match="Model '%s' is half registered" %
                     USER):
    nets_factory.get_network_fn(USER, 5)
  with pytest.raises(ValueError, match='Unknown preprocessing name'):
    preprocessing_factory.family(USER)
  second_map[USER] = second_fn

  assert USER in nets_factory.network_names()
  shape, losses, _, size = _build(USER, weight_decay=0.1)
  assert (shape, losses, size) == ([2, 5], 2, 16)
  assert SCOPE_CALLS == [{'weight_decay': 0.1, 'batch_norm_decay': 0.99}]
  assert nets_factory.batch_norm_decay_arg(USER) is None
  assert preprocessing_factory.family(USER) == 'inception'
  assert preprocessing_factory.preprocessing_fn_map[USER] is (
      preprocessing_factory.preprocessing_fn_map['inception'])

  # The user's own preprocessing entry wins over the model's family.
  calls = []
  own = types.SimpleNamespace(
      preprocess_image=lambda *args, **kwargs: calls.append((args, kwargs)))
  preprocessing_factory.preprocessing_fn_map[USER] = own
  assert preprocessing_factory.family(USER) == USER
  preprocessing_factory.get_preprocessing(USER, is_training=True)('im', 7, 9)
  assert calls == [(('im', 7, 9), {'is_training': True,
                                   'use_grayscale': False})]
  del preprocessing_factory.preprocessing_fn_map[USER]
  assert preprocessing_factory.family(USER) == 'inception'

  # Deleting from both maps removes the model, in either order.
  del first_map[USER]
  assert USER not in nets_factory.network_names()
  assert USER in second_map
  del second_map[USER]
  assert USER not in nets_factory.networks_map
  assert USER not in nets_factory.arg_scopes_map
  with pytest.raises(ValueError, match="Unknown model name '%s'" % USER):
    nets_factory.get_network_fn(USER, 5)
  with pytest.raises(ValueError, match='Unknown preprocessing name'):
    preprocessing_factory.get_preprocessing(USER)


def test_overriding_a_builtin_function_keeps_its_other_facts(cleanup):
  spec = nets_factory.model_spec('lenet')
  original = nets_factory.networks_map['lenet']
  try:
    nets_factory.networks_map['lenet'] = _tiny_net
    assert nets_factory.networks_map['lenet'] is _tiny_net
    assert nets_factory.model_spec('lenet').preprocessing == 'lenet'
    assert nets_factory.model_spec('lenet').arg_scope_fn is spec.arg_scope_fn
  finally:
    nets_factory.networks_map['lenet'] = original
  assert nets_factory.networks_map['lenet'] is original


def test_a_model_with_an_unserved_family_is_a_clear_error(cleanup):
  nets_factory.register_model(USER, _tiny_net, _tiny_arg_scope,
                              preprocessing='satellite')
  assert USER not in preprocessing_factory.preprocessing_fn_map
  assert USER not in preprocessing_factory.preprocessing_names()
  with pytest.raises(ValueError, match="Model '%s' uses preprocessing "
                     "'satellite', which is not in preprocessing_fn_map" %
                     USER):
    preprocessing_factory.get_preprocessing(USER)


# --- Lazy imports ------------------------------------------------------------

_LAZY_SCRIPT = """
import json, sys
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory as pf
nets_factory.get_network_fn('lenet', 10)
pf.get_preprocessing('lenet')
# Facts about other models come from the registry, not their modules.
facts = [nets_factory.batch_norm_decay_arg('nasnet_large'),
         nets_factory.is_video_model('i3d'),
         nets_factory.model_spec('pnasnet_large').preprocessing,
         'nasnet_mobile' in nets_factory.networks_map,
         pf.family('resnet_v1_50'), 'vgg_16' in pf.preprocessing_fn_map,
         len(pf.preprocessing_names())]
print(json.dumps([facts, sorted(m for m in sys.modules
                                if m.startswith('slimvision.'))]))
"""


def test_modules_are_imported_on_first_use_only():
  result = subprocess.run(
      [sys.executable, '-c', _LAZY_SCRIPT], capture_output=True,
      text=True, timeout=300, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-2000:]
  facts, modules = json.loads(result.stdout.strip().splitlines()[-1])
  assert facts == ['batch_norm_decay', True, 'inception', True, 'vgg', True,
                   42]
  nets = {m for m in modules if m.startswith('slimvision.nets.')}
  assert nets == {'slimvision.nets.nets_factory', 'slimvision.nets.lenet'}
  preprocessing = {m for m in modules
                   if m.startswith('slimvision.preprocessing.')}
  assert preprocessing == {'slimvision.preprocessing.preprocessing_factory',
                           'slimvision.preprocessing.lenet_preprocessing',
                           'slimvision.preprocessing.encoded_image',
                           'slimvision.preprocessing.preprocessing_utils'}
