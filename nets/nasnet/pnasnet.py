"""research/slim's nets/nasnet/pnasnet.py names (PNASNet-5 mobile and
large), served by slimvision/nets/pnasnet.py; see there for the network.
"""

import tf_slim as slim

from slimvision.nets import pnasnet as _pnasnet

arg_scope = slim.arg_scope

large_imagenet_config = _pnasnet.large_imagenet_config
mobile_imagenet_config = _pnasnet.mobile_imagenet_config
PNasNetNormalCell = _pnasnet.PNasNetNormalCell
build_pnasnet_large = _pnasnet.build_pnasnet_large
build_pnasnet_mobile = _pnasnet.build_pnasnet_mobile
pnasnet_mobile_arg_scope = _pnasnet.pnasnet_mobile_arg_scope


def pnasnet_large_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=0.001):
  """arg_scope for PNASNet large with research/slim's defaults (its weight
  decay default is 4e-5, where nets/pnasnet.py's is 5e-5)."""
  return _pnasnet.pnasnet_large_arg_scope(weight_decay, batch_norm_decay,
                                          batch_norm_epsilon)
