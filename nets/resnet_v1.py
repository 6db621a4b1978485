"""ResNet v1 50/101/152/200 of the TF-Slim model zoo over tf_slim.nets.

Variables match the published checkpoints (scopes `resnet_v1_<depth>`);
input [batch, 224, 224, 3], logits [batch, num_classes] (spatially squeezed,
with the `global_pool` end point as in the model zoo). num_classes=0/None
returns the pooled features [batch, 1, 1, 2048]. See
`slim_wrappers.resnet_network` for the arguments.
"""

from tf_slim.nets import resnet_utils as _utils
from tf_slim.nets import resnet_v1 as _v1

from slimvision.nets.slim_wrappers import resnet_network

resnet_arg_scope = _utils.resnet_arg_scope
resnet_v1_50 = resnet_network(_v1.resnet_v1_50, 'resnet_v1_50')
resnet_v1_101 = resnet_network(_v1.resnet_v1_101, 'resnet_v1_101')
resnet_v1_152 = resnet_network(_v1.resnet_v1_152, 'resnet_v1_152')
resnet_v1_200 = resnet_network(_v1.resnet_v1_200, 'resnet_v1_200')
