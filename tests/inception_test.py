"""nets/inception.py: research/slim's one namespace for the Inception nets."""

from slimvision.nets import inception
from slimvision.nets import inception_resnet_v2
from slimvision.nets import inception_utils
from slimvision.nets import inception_v1
from slimvision.nets import inception_v2
from slimvision.nets import inception_v3
from slimvision.nets import inception_v4

_MODULES = {'inception_v1': inception_v1, 'inception_v2': inception_v2,
            'inception_v3': inception_v3, 'inception_v4': inception_v4,
            'inception_resnet_v2': inception_resnet_v2}


def test_exports_each_network_base_and_arg_scope_of_its_module():
  public = {name for name in vars(inception) if not name.startswith('_')}
  assert public == {name + suffix for name in _MODULES
                    for suffix in ('', '_base', '_arg_scope')}
  for name, module in _MODULES.items():
    for suffix in ('', '_base', '_arg_scope'):
      assert getattr(inception, name + suffix) is getattr(module,
                                                           name + suffix)
  assert inception.inception_v4.default_image_size == 299


def test_v1_to_v4_share_one_arg_scope():
  for name in ('inception_v1', 'inception_v2', 'inception_v3',
               'inception_v4'):
    assert getattr(inception, name + '_arg_scope') is (
        inception_utils.inception_arg_scope)
  # Inception-ResNet-v2 regularises biases too: its own.
  assert inception.inception_resnet_v2_arg_scope is not (
      inception_utils.inception_arg_scope)
