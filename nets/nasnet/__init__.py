"""NASNet-A and PNASNet-5 as research/slim's nets/nasnet/ package.

Modules, at research/slim's paths: `nasnet` (NASNet-A, the implementation),
`nasnet_utils` (the cells) and `pnasnet` (PNASNet-5). The package took the
place of the module nets/nasnet.py, so it also re-exports that module's
names: `from slimvision.nets import nasnet; nasnet.build_nasnet_mobile(...)`
keeps working next to research/slim's
`from slimvision.nets.nasnet import nasnet`.
"""

from slimvision.nets.nasnet.nasnet import NasNetConfig
from slimvision.nets.nasnet.nasnet import arg_scope
from slimvision.nets.nasnet.nasnet import build_nasnet_cifar
from slimvision.nets.nasnet.nasnet import build_nasnet_large
from slimvision.nets.nasnet.nasnet import build_nasnet_mobile
from slimvision.nets.nasnet.nasnet import cifar_config
from slimvision.nets.nasnet.nasnet import large_imagenet_config
from slimvision.nets.nasnet.nasnet import mobile_imagenet_config
from slimvision.nets.nasnet.nasnet import nasnet_cifar_arg_scope
from slimvision.nets.nasnet.nasnet import nasnet_large_arg_scope
from slimvision.nets.nasnet.nasnet import nasnet_mobile_arg_scope
