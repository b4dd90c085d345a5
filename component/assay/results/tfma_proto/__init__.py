"""TFMA 0.47's protos (config, metrics_for_slice, validation_result), without TensorFlow.

The generated modules are TFMA's own (Apache-2.0, vendored from tensorflow-model-analysis 0.47.1,
see each file's header), with their descriptors in `POOL`, a descriptor pool of assay's own:
the message full names stay TFMA's (`tensorflow_model_analysis.MetricsForSlice`, ...), so the
bytes written are what TFMA reads, and importing TFMA in the same process (before or after)
finds its default pool untouched. Importing the `tensorflow_model_analysis` package itself
would import TensorFlow; these need only `google.protobuf`.

Example:
    >>> from assay.results.tfma_proto import metrics_for_slice_pb2
    >>> metrics_for_slice_pb2.MetricsForSlice.DESCRIPTOR.full_name
    'tensorflow_model_analysis.MetricsForSlice'
"""

from google.protobuf import descriptor_pool, wrappers_pb2

POOL = descriptor_pool.DescriptorPool()
# The one file TFMA's protos import (google/protobuf/wrappers.proto), added to this pool too.
POOL.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
