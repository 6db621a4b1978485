"""research/slim's nets/mobilenet/ package: mobilenet, conv_blocks,
mobilenet_v2 and mobilenet_v3 as research/slim code calls them, and every
MobileNet v2 / v3 / EdgeTPU of the model zoo against its manifest.

Graph construction only; inputs are 64x64 where the test allows. The
manifest builds use the manifest's input (its end-point shapes are for that
size; a build takes the same seconds at any size).
"""

import copy

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from conftest import assert_matches_manifest, load_manifest
from slimvision.nets import nets_factory
from slimvision.nets.mobilenet import conv_blocks as ops
from slimvision.nets.mobilenet import mobilenet
from slimvision.nets.mobilenet import mobilenet_v2
from slimvision.nets.mobilenet import mobilenet_v3


def _conv_widths():
  """Output channels of every (non-depthwise) convolution in the graph."""
  return {op.outputs[0].shape.as_list()[-1]
          for op in tf.get_default_graph().get_operations()
          if op.type == 'Conv2D'}


def _num_convs():
  return len([op for op in tf.get_default_graph().get_operations()
              if op.type == 'Conv2D'])


def _variable_names(part):
  return [v.op.name for v in tf.global_variables() if part in v.op.name]


# --- Checkpoint compatibility ------------------------------------------------


# Registry name -> (module, function, variable scope). nets_factory_test
# leaves their manifest test here: the registry serves these functions, so
# one build checks both ways in.
_NETWORKS = {
    'mobilenet_v2': (mobilenet_v2, 'mobilenet', 'MobilenetV2'),
    'mobilenet_v2_140': (mobilenet_v2, 'mobilenet_v2_140', 'MobilenetV2'),
    'mobilenet_v2_035': (mobilenet_v2, 'mobilenet_v2_035', 'MobilenetV2'),
    'mobilenet_v3_large': (mobilenet_v3, 'large', 'MobilenetV3'),
    'mobilenet_v3_small': (mobilenet_v3, 'small', 'MobilenetV3'),
    'mobilenet_v3_large_minimalistic': (mobilenet_v3, 'large_minimalistic',
                                        'MobilenetV3'),
    'mobilenet_v3_small_minimalistic': (mobilenet_v3, 'small_minimalistic',
                                        'MobilenetV3'),
    'mobilenet_edgetpu': (mobilenet_v3, 'edge_tpu', 'MobilenetEdgeTPU'),
    'mobilenet_edgetpu_075': (mobilenet_v3, 'edge_tpu_075',
                              'MobilenetEdgeTPU'),
}
MANIFEST_NETWORKS = tuple(_NETWORKS)


@pytest.mark.parametrize('name', MANIFEST_NETWORKS)
def test_network_matches_the_manifest(name):
  manifest = load_manifest(name)
  module, function, scope = _NETWORKS[name]
  spec = nets_factory.model_spec(name)
  assert spec.network() is getattr(module, function)
  assert spec.arg_scope() is module.training_scope is mobilenet.training_scope
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    images = tf.placeholder(tf.float32, manifest['input_shape'])
    logits, end_points = nets_factory.get_network_fn(
        name, manifest['num_classes'], is_training=True)(images)
    assert_matches_manifest(manifest, logits, end_points)
    # Exported graphs are read by these op names (README).
    assert logits.op.name == scope + '/Logits/output'
    assert end_points['Predictions'].op.name == (
        scope + '/Predictions/Reshape_1')
  assert getattr(module, function).default_image_size == (
      manifest['image_size'])


def test_conv_defs():
  spec = mobilenet_v2.V2_DEF['spec']
  assert [o.op for o in spec] == (
      [slim.conv2d] + [ops.expanded_conv] * 17 + [slim.conv2d])
  assert [o.params['num_outputs'] for o in spec] == [
      32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160,
      320, 1280]
  assert [i for i, o in enumerate(spec) if o.params.get('stride', 1) == 2] == [
      0, 2, 4, 7, 14]
  defaults = mobilenet_v2.V2_DEF['defaults']
  # Expansion by 6 unless a block says otherwise (the first keeps its width).
  assert defaults[(ops.expanded_conv,)]['expansion_size'](num_inputs=16) == 96
  assert spec[1].params['expansion_size'](num_inputs=20) == 20
  conv_defaults = defaults[(slim.conv2d, slim.fully_connected,
                            slim.separable_conv2d)]
  assert conv_defaults['activation_fn'] is tf.nn.relu6
  assert len(mobilenet_v3.V3_LARGE['spec']) == 19
  assert len(mobilenet_v3.V3_SMALL['spec']) == 15
  assert len(mobilenet_v3.V3_EDGETPU['spec']) == 24
  # research/slim's EdgeTPU layer_15 has no residual connection.
  assert mobilenet_v3.V3_EDGETPU['spec'][14].params['residual'] is False
  se_layers = [i for i, o in enumerate(mobilenet_v3.V3_LARGE['spec'])
               if o.params.get('expansion_transform') is not None]
  assert se_layers == [4, 5, 6, 11, 12, 13, 14, 15]
  # Minimalistic: the same layers, 3x3 and ReLU, no squeeze-and-excite.
  minimal = mobilenet_v3.V3_SMALL_MINIMALISTIC['spec']
  assert [o.params.get('num_outputs') for o in minimal] == [
      o.params.get('num_outputs') for o in mobilenet_v3.V3_SMALL['spec']]
  assert {o.params['kernel_size'] for o in minimal
          if o.op is ops.expanded_conv} == {(3, 3)}
  assert not [o for o in minimal if o.params.get('expansion_transform') or
              o.params.get('activation_fn')]
  # Detection variants halve the last stage.
  assert mobilenet_v3.V3_LARGE_DETECTION['spec'][16].params[
      'num_outputs'] == 480


# --- mobilenet_v2 --------------------------------------------------------------


@pytest.mark.slow
def test_without_classes_returns_the_global_pool():
  with tf.Graph().as_default():
    spec = copy.deepcopy(mobilenet_v2.V2_DEF)
    net, end_points = mobilenet.mobilenet(
        tf.placeholder(tf.float32, (2, 64, 64, 16)), conv_defs=spec,
        num_classes=None)
    assert net is end_points['global_pool']
    assert net.shape.as_list() == [2, 1, 1, 1280]
    assert not _variable_names('Logits')
    assert 'Logits' not in end_points


@pytest.mark.slow
def test_divisible_by_and_min_depth():
  with tf.Graph().as_default():
    mobilenet_v2.mobilenet(tf.placeholder(tf.float32, (2, 64, 64, 16)),
                           conv_defs=mobilenet_v2.V2_DEF, divisible_by=16,
                           min_depth=32)
    assert _conv_widths() == {32, 64, 96, 160, 192, 320, 384, 576, 960, 1280,
                              1001}


def test_depth_multiplier_defaults_from_arg_scope():
  with tf.Graph().as_default():
    with slim.arg_scope((mobilenet.depth_multiplier,), min_depth=32):
      mobilenet_v2.mobilenet(tf.placeholder(tf.float32, (2, 64, 64, 2)),
                             conv_defs=mobilenet_v2.V2_DEF,
                             depth_multiplier=0.1)
    assert _conv_widths() == {32, 192, 128, 1001}


def test_mobilenet_base_returns_the_last_layer():
  with tf.Graph().as_default():
    with slim.arg_scope((mobilenet.depth_multiplier,), min_depth=32):
      net, end_points = mobilenet_v2.mobilenet_base(
          tf.placeholder(tf.float32, (2, 64, 64, 16)),
          conv_defs=mobilenet_v2.V2_DEF, depth_multiplier=0.1)
    assert net.shape.as_list() == [2, 2, 2, 128]
    assert net is end_points['layer_19']
    assert 'global_pool' not in end_points


def test_a_modified_conv_def_with_its_own_multiplier_func():
  new_def = copy.deepcopy(mobilenet_v2.V2_DEF)

  def inverse_multiplier(output_params, multiplier):
    output_params['num_outputs'] = int(output_params['num_outputs'] /
                                       multiplier)

  new_def['spec'][0] = mobilenet.op(slim.conv2d, kernel_size=(3, 3),
                                    multiplier_func=inverse_multiplier,
                                    num_outputs=16)
  with tf.Graph().as_default():
    _, end_points = mobilenet_v2.mobilenet_base(
        tf.placeholder(tf.float32, (2, 64, 64, 16)), conv_defs=new_def,
        depth_multiplier=0.1, final_endpoint='layer_4')
    widths = [op.outputs[0].shape.as_list()[-1]
              for op in tf.get_default_graph().get_operations()
              if op.type == 'Conv2D']
    # The first layer grows to 16 / 0.1; the others shrink to at least 8.
    assert widths[:5] == [160, 8, 48, 8, 48]
    assert end_points['layer_1'].shape.as_list()[-1] == 160


@pytest.mark.slow
def test_split_expansion_override():
  spec = copy.deepcopy(mobilenet_v2.V2_DEF)
  spec['overrides'] = {(ops.expanded_conv,): dict(split_expansion=2)}
  with tf.Graph().as_default():
    mobilenet.mobilenet(tf.placeholder(tf.float32, (2, 64, 64, 16)),
                        conv_defs=spec)
    # Three convolutions per block (the expansion in two), but the first
    # block's one; the first and last convolutions and the logits.
    assert _num_convs() == len(spec['spec']) * 3 - 5
    assert _variable_names('expanded_conv_1/expand_part_1/weights')


@pytest.mark.parametrize('conv_defs,output_stride,explicit_padding', [
    (mobilenet_v2.V2_DEF, 8, False), (mobilenet_v2.V2_DEF, 16, True),
    (mobilenet_v3.V3_SMALL, 16, True)], ids=['v2-8', 'v2-16-pad', 'v3-16-pad'])
def test_output_stride(conv_defs, output_stride, explicit_padding):
  with tf.Graph().as_default():
    net, _ = mobilenet.mobilenet_base(
        tf.placeholder(tf.float32, (2, 64, 64, 16)), conv_defs=conv_defs,
        output_stride=output_stride, use_explicit_padding=explicit_padding,
        final_endpoint='layer_%d' % (len(conv_defs['spec']) - 2))
    size = 64 // output_stride
    assert net.shape.as_list()[1:3] == [size, size]
    # Later strides became atrous rates (space-to-batch convolutions).
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert 'SpaceToBatchND' in types


def test_invalid_arguments():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, (2, 64, 64, 3))
    with pytest.raises(ValueError, match='Output stride'):
      mobilenet.mobilenet_base(images, conv_defs=mobilenet_v2.V2_DEF,
                               output_stride=3)
    with pytest.raises(ValueError, match='multiplier'):
      mobilenet_v2.mobilenet(images, multiplier=0.5)
    with pytest.raises(ValueError, match='rank 4'):
      mobilenet_v2.mobilenet(tf.placeholder(tf.float32, (2, 64, 3)))


def test_training_scope_is_training():
  batch_norm = slim.arg_scope_func_key(slim.batch_norm)
  assert 'is_training' not in mobilenet.training_scope(
      is_training=None)[batch_norm]
  scope = mobilenet.training_scope(is_training=False)
  assert scope[batch_norm]['is_training'] is False
  assert scope[slim.arg_scope_func_key(mobilenet.mobilenet)] == {
      'is_training': False}
  assert scope[slim.arg_scope_func_key(slim.dropout)]['keep_prob'] == 0.8
  with tf.Graph().as_default():
    with slim.arg_scope(mobilenet_v2.training_scope()):
      mobilenet_v2.mobilenet(tf.placeholder(tf.float32, (2, 64, 64, 3)))
    # Training mode: the batch-norm statistics are updated.
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS)


def test_published_width_variants_and_finegrain_mode():
  assert mobilenet_v2.mobilenet_v2_035.keywords == {
      'depth_multiplier': 0.35, 'finegrain_classification_mode': True}
  assert mobilenet_v2.mobilenet_v2_140.keywords == {'depth_multiplier': 1.4}
  assert mobilenet_v2.mobilenet_v2_050.default_image_size == 224
  with tf.Graph().as_default():
    _, end_points = mobilenet_v2.mobilenet_v2_050(
        tf.placeholder(tf.float32, (1, 64, 64, 3)), num_classes=5)
    channels = {name: end_points[name].shape.as_list()[-1]
                for name in ('layer_1', 'layer_3/expansion_output',
                             'layer_18/output', 'layer_19')}
    # Half width, but the last layer (fine-grain classification mode).
    assert channels == {'layer_1': 16, 'layer_3/expansion_output': 48,
                        'layer_18/output': 160, 'layer_19': 1280}
    assert end_points['Logits'].shape.as_list() == [1, 5]
  # The module's V2_DEF is left alone.
  assert mobilenet_v2.V2_DEF['spec'][-1].params['num_outputs'] == 1280


def test_group_norm_base():
  with tf.Graph().as_default():
    net, _ = mobilenet_v2.mobilenet_base_group_norm(
        tf.placeholder(tf.float32, (1, 64, 64, 3)))
    assert net.shape.as_list() == [1, 2, 2, 1280]
    assert _variable_names('GroupNorm') and not _variable_names('BatchNorm')
  # The module's conv_defs are left alone.
  assert (slim.group_norm,) not in mobilenet_v2.V2_DEF_GROUP_NORM['defaults']


# --- mobilenet_v3 --------------------------------------------------------------


@pytest.mark.parametrize('use_groupnorm', [False, True])
def test_v3_large_and_its_normalizer(use_groupnorm):
  with tf.Graph().as_default():
    logits, end_points = mobilenet_v3.mobilenet(
        tf.placeholder(tf.float32, (1, 64, 64, 3)),
        use_groupnorm=use_groupnorm)
    assert end_points['layer_19'].shape.as_list() == [1, 1, 1, 1280]
    assert logits.shape.as_list() == [1, 1001]
    assert bool(_variable_names('GroupNorm')) == use_groupnorm
    assert bool(_variable_names('BatchNorm')) != use_groupnorm
    if use_groupnorm:
      groups = {op.outputs[0].shape.as_list()[-2]
                for op in tf.get_default_graph().get_operations()
                if op.name.endswith('GroupNorm/Reshape')}
      assert groups == {8}


@pytest.mark.slow
def test_v3_small_with_reduce_mean_pooling():
  with tf.Graph().as_default():
    _, end_points = mobilenet_v3.mobilenet(
        tf.placeholder(tf.float32, (1, 64, 64, 3)),
        conv_defs=mobilenet_v3.V3_SMALL, use_reduce_mean_for_pooling=True)
    assert end_points['layer_15'].shape.as_list() == [1, 1, 1, 1024]
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert [n for n in names if 'ReduceMean' in n]
  with tf.Graph().as_default():
    mobilenet_v3.small(tf.placeholder(tf.float32, (1, 64, 64, 3)))
    names = [op.name for op in tf.get_default_graph().get_operations()]
    assert not [n for n in names if 'ReduceMean' in n]


@pytest.mark.slow
def test_v3_edge_tpu_scope_and_docstring():
  assert 'Inference mode is created by default' in (
      mobilenet_v3.edge_tpu.__doc__)
  with tf.Graph().as_default():
    _, end_points = mobilenet_v3.edge_tpu(
        tf.placeholder(tf.float32, (1, 64, 64, 3)), scope='Scope')
    assert end_points['layer_24'].shape.as_list() == [1, 2, 2, 1280]
    assert end_points['layer_24'].name.startswith('Scope/')
    # Fused blocks expand with a full 3x3 conv and have no depthwise conv.
    assert _variable_names('Scope/expanded_conv_2/expand/weights')
    assert not _variable_names('Scope/expanded_conv_2/depthwise')
    # layer_15 (expanded_conv_13) adds no input, unlike layer_14.
    def has_residual(block):
      return any(op.name == block + '/add'
                 for op in tf.get_default_graph().get_operations())
    assert has_residual('Scope/expanded_conv_12')
    assert not has_residual('Scope/expanded_conv_13')
  assert mobilenet_v3.edge_tpu.default_image_size == 224


def test_v3_base_only_with_unknown_input_size():
  with tf.Graph().as_default():
    net, end_points = mobilenet_v3.mobilenet(
        tf.placeholder(tf.float32, (None, None, None, 3)),
        conv_defs=mobilenet_v3.V3_LARGE, base_only=True,
        final_endpoint='layer_17')
    assert end_points['layer_17'].shape.as_list() == [None, None, None, 960]
    assert net is end_points['layer_17']
    assert 'layer_18' not in end_points


def test_v3_minimalistic_and_finegrain():
  with tf.Graph().as_default():
    _, end_points = mobilenet_v3.small_minimalistic(
        tf.placeholder(tf.float32, (1, 64, 64, 3)), depth_multiplier=0.5,
        finegrain_classification_mode=True)
    assert end_points['layer_1'].shape.as_list()[-1] == 8
    assert end_points['layer_15'].shape.as_list()[-1] == 1024
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert 'Relu6' not in types  # No hard-swish.
    assert not _variable_names('squeeze_excite')


# --- conv_blocks ---------------------------------------------------------------


def test_expanded_conv_block():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, (2, 8, 8, 16))
    endpoints = {}
    net = ops.expanded_conv(images, 16, normalizer_fn=slim.batch_norm,
                            expansion_transform=mobilenet_v3._se4,
                            endpoints=endpoints, scope='block')
    assert net.shape.as_list() == [2, 8, 8, 16]
    assert net.op.name == 'block/output'
    assert endpoints['expansion_output'].shape.as_list() == [2, 8, 8, 96]
    assert endpoints['depthwise_output'].op.name == 'block/depthwise_output'
    assert net.op.inputs[0].op.type == 'AddV2'  # The residual.
    assert _variable_names('block/squeeze_excite/Conv/weights')
    # A stride or a new width leaves the residual out.
    net = ops.expanded_conv(images, 24, stride=2, scope='strided')
    assert net.shape.as_list() == [2, 4, 4, 24]
    assert net.op.inputs[0].op.type != 'AddV2'
    with pytest.raises(TypeError, match='depthwise_location'):
      ops.expanded_conv(images, 16, depthwise_location='middle')


def test_split_conv_and_squeeze_excite():
  assert ops._split_divisible(48, 3, 8) == [16, 16, 16]
  assert ops._split_divisible(40, 2, 8) == [24, 16]
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, (2, 4, 4, 32))
    net = ops.split_conv(images, 48, num_ways=2, scope='split')
    assert net.shape.as_list() == [2, 4, 4, 48]
    assert [v.shape.as_list() for v in tf.global_variables()
            if v.op.name.endswith('weights')] == [[1, 1, 16, 24],
                                                 [1, 1, 16, 24]]
    gated = ops.squeeze_excite(images, squeeze_factor=4, pool=2)
    assert gated.shape.as_list() == [2, 4, 4, 32]
    assert _variable_names('squeeze_excite/Conv/weights')


def test_reduce_to_1x1_and_global_pool():
  with tf.Graph().as_default():
    net = tf.placeholder(tf.float32, (2, 5, 5, 8))
    reduced = mobilenet_v3.reduce_to_1x1(net, stride=1, padding='VALID')
    assert reduced.shape.as_list() == [2, 1, 1, 8]
    assert reduced.op.type == 'AvgPool'
    # A map of unknown size is averaged whole (research/slim pools 7x7).
    unknown_map = tf.placeholder(tf.float32, (None, None, None, 8))
    reduced_unknown = mobilenet_v3.reduce_to_1x1(unknown_map, stride=1,
                                                 padding='VALID')
    assert reduced_unknown.shape.as_list() == [None, 1, 1, 8]
    pooled = mobilenet.global_pool(net)
    assert pooled.shape.as_list() == [2, 1, 1, 8]
    assert pooled.op.type == 'AvgPool'
    unknown = mobilenet.global_pool(
        tf.placeholder(tf.float32, (None, None, None, 8)))
    assert unknown.shape.as_list() == [None, 1, 1, 8]
    with tf.Session() as sess:
      value = np.arange(400, dtype=np.float32).reshape(2, 5, 5, 8)
      np.testing.assert_allclose(sess.run(pooled, {net: value}),
                                 value.mean((1, 2), keepdims=True))
      np.testing.assert_allclose(
          sess.run(reduced_unknown, {unknown_map: value}),
          value.mean((1, 2), keepdims=True), rtol=1e-6)


def test_make_divisible_keeps_research_slims_arguments():
  # research/slim's (v, divisor, min_value), called by keyword in its code.
  assert mobilenet._make_divisible(v=32 * 0.35, divisor=8) == 16
  assert ops._make_divisible(v=20, divisor=8, min_value=24) == 24
