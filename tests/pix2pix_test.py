"""pix2pix U-Net generator and PatchGAN: research/slim's shapes and names."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.core.errors import UserError
from slimvision.nets import pix2pix

_BLOCKS = [pix2pix.Block(4, 0.5), pix2pix.Block(8, 0)]


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.global_variables()}


def _generator(images, **kwargs):
  with slim.arg_scope(pix2pix.pix2pix_arg_scope()):
    return pix2pix.pix2pix_generator(images, 2, **kwargs)


def test_default_blocks_are_the_papers():
  # pylint: disable-next=protected-access
  blocks = pix2pix._default_generator_blocks()
  assert [b.num_filters for b in blocks] == [64, 128, 256, 512, 512, 512, 512]
  assert [b.decoder_keep_prob for b in blocks] == [0.5] * 3 + [0] * 4


def test_generator_end_points_and_variables():
  with tf.Graph().as_default():
    logits, end_points = _generator(tf.zeros([2, 16, 16, 3]), blocks=_BLOCKS)
    assert logits.shape.as_list() == [2, 16, 16, 2]
    assert {name: t.shape.as_list() for name, t in end_points.items()} == {
        'encoder0': [2, 8, 8, 4], 'encoder1': [2, 4, 4, 8],
        'decoder0': [2, 8, 8, 8], 'decoder1': [2, 16, 16, 4],
        'logits': [2, 16, 16, 2], 'predictions': [2, 16, 16, 2]}
    assert _variables() == {
        # First and last encoder layers: no instance norm, hence biases.
        'encoder/Conv/weights': [4, 4, 3, 4], 'encoder/Conv/biases': [4],
        'encoder/Conv_1/weights': [4, 4, 4, 8], 'encoder/Conv_1/biases': [8],
        'decoder/Conv/weights': [4, 4, 8, 8],
        'decoder/Conv/InstanceNorm/beta': [8],
        'decoder/Conv/InstanceNorm/gamma': [8],
        # The skip: decoder0's 8 channels and encoder0's 4.
        'decoder/Conv_1/weights': [4, 4, 12, 4],
        'decoder/Conv_1/InstanceNorm/beta': [4],
        'decoder/Conv_1/InstanceNorm/gamma': [4],
        'output/Conv/weights': [4, 4, 4, 2], 'output/Conv/biases': [2]}
    ops = [op.name for op in tf.get_default_graph().get_operations()]
    # Only the block with decoder_keep_prob > 0 has dropout.
    random = [n for n in ops if n.endswith('/RandomUniform')]
    assert len(random) == 1 and random[0].startswith('decoder/Dropout/')


def test_transposed_upsampling_and_unknown_batch_run():
  with tf.Graph().as_default():
    images = tf.placeholder(tf.float32, [None, 8, 8, 1])
    logits, end_points = _generator(images, blocks=_BLOCKS,
                                    upsample_method='conv2d_transpose')
    assert logits.shape.as_list() == [None, 8, 8, 2]
    assert _variables()['decoder/Conv2d_transpose/weights'] == [4, 4, 8, 8]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      batch = np.ones([3, 8, 8, 1], np.float32)
      out, predictions = sess.run([logits, end_points['predictions']],
                                  {images: batch})
    assert out.shape == (3, 8, 8, 2)
    np.testing.assert_allclose(predictions, np.tanh(out), rtol=1e-5,
                               atol=1e-6)


def test_unknown_upsample_method_is_refused_before_building():
  with tf.Graph().as_default():
    with pytest.raises(UserError, match=r'Unknown upsample_method: \[bicubic'
                       r'\]; valid: nn_upsample_conv, conv2d_transpose'):
      _generator(tf.zeros([1, 8, 8, 3]), upsample_method='bicubic')
    assert not tf.global_variables()
    with pytest.raises(UserError, match=r'Unknown method: \[x\]'):
      pix2pix.upsample(tf.zeros([1, 2, 2, 1]), 1, [2, 2], method='x')


def test_discriminator_patches_and_variables():
  with tf.Graph().as_default():
    with slim.arg_scope(pix2pix.pix2pix_arg_scope()):
      logits, end_points = pix2pix.pix2pix_discriminator(
          tf.zeros([2, 32, 32, 3]), [4, 8, 16])
    # Pad 2, 4x4 VALID: 32 -> 17 -> 9 (stride 2) -> 10 -> 11 (stride 1).
    assert {name: t.shape.as_list() for name, t in end_points.items()} == {
        'conv0': [2, 17, 17, 4], 'conv1': [2, 9, 9, 8],
        'conv2': [2, 10, 10, 16], 'logits': [2, 11, 11, 1],
        'predictions': [2, 11, 11, 1]}
    assert end_points['logits'] is logits
    variables = _variables()
    assert variables['conv0/biases'] == [4]
    assert variables['conv2/InstanceNorm/gamma'] == [16]
    assert variables['conv3/weights'] == [4, 4, 16, 1]
    assert variables['conv3/biases'] == [1]
    assert len(variables) == 2 + 3 + 3 + 2


def test_discriminator_without_padding_and_other_pad_mode():
  with tf.Graph().as_default():
    logits, _ = pix2pix.pix2pix_discriminator(
        tf.zeros([1, 32, 32, 3]), [4, 8], padding=0)
    # 32 -> 15 (stride 2) -> 12 -> 9 (stride 1).
    assert logits.shape.as_list() == [1, 9, 9, 1]
    assert not [op for op in tf.get_default_graph().get_operations()
                if op.type in ('MirrorPad', 'Pad')]
  with tf.Graph().as_default():
    pix2pix.pix2pix_discriminator(tf.zeros([1, 16, 16, 3]), [4],
                                  pad_mode='CONSTANT')
    assert [op.type for op in tf.get_default_graph().get_operations()
            if op.type in ('MirrorPad', 'Pad')] == ['Pad', 'Pad']


@pytest.mark.parametrize('padding, error', [(1.5, TypeError), (True, TypeError),
                                            (-1, UserError)])
def test_discriminator_bad_padding(padding, error):
  with tf.Graph().as_default():
    with pytest.raises(error, match='padding must be'):
      pix2pix.pix2pix_discriminator(tf.zeros([1, 32, 32, 3]), [4, 8],
                                    padding=padding)
    assert not tf.global_variables()
