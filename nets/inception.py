"""research/slim's nets/inception.py: the Inception networks in one namespace.

`from nets import inception` code (and research/slim's Inception tests) call
`inception.inception_v3(...)` and so on; these are the networks of
nets/inception_v1.py ... nets/inception_resnet_v2.py themselves, not copies.
"""

# pylint: disable=unused-import
from slimvision.nets.inception_resnet_v2 import inception_resnet_v2
from slimvision.nets.inception_resnet_v2 import inception_resnet_v2_arg_scope
from slimvision.nets.inception_resnet_v2 import inception_resnet_v2_base
from slimvision.nets.inception_v1 import inception_v1
from slimvision.nets.inception_v1 import inception_v1_arg_scope
from slimvision.nets.inception_v1 import inception_v1_base
from slimvision.nets.inception_v2 import inception_v2
from slimvision.nets.inception_v2 import inception_v2_arg_scope
from slimvision.nets.inception_v2 import inception_v2_base
from slimvision.nets.inception_v3 import inception_v3
from slimvision.nets.inception_v3 import inception_v3_arg_scope
from slimvision.nets.inception_v3 import inception_v3_base
from slimvision.nets.inception_v4 import inception_v4
from slimvision.nets.inception_v4 import inception_v4_arg_scope
from slimvision.nets.inception_v4 import inception_v4_base
# pylint: enable=unused-import
