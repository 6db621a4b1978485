"""research/slim's nets/nasnet/nasnet_utils.py names, served by
slimvision/nets/nasnet_utils.py (the NASNet-A cells and their helpers).

The helpers take `data_format` like research/slim's, but default to 'NHWC'
where research/slim's assert that it was given (`INVALID`).
"""

import tf_slim as slim

from slimvision.nets import nasnet_utils as _utils

arg_scope = slim.arg_scope

DATA_FORMAT_NCHW = _utils.DATA_FORMAT_NCHW
DATA_FORMAT_NHWC = _utils.DATA_FORMAT_NHWC
INVALID = 'null'  # research/slim's "not given" data_format.

NasNetConfig = _utils.NasNetConfig
calc_reduction_layers = _utils.calc_reduction_layers
get_channel_index = _utils.get_channel_index
get_channel_dim = _utils.get_channel_dim
global_avg_pool = _utils.global_avg_pool
factorized_reduction = _utils.factorized_reduction
drop_path = _utils.drop_path
drop_path_keep_prob = _utils.drop_path_keep_prob
NasNetABaseCell = _utils.NasNetABaseCell
NasNetANormalCell = _utils.NasNetANormalCell
NasNetAReductionCell = _utils.NasNetAReductionCell
