"""Fused mask pooling in three forms that agree to float tolerance.

- :mod:`maskaudit.kernels.pooling_numpy`: the plain reference, ``mask_pool_numpy``.
- :mod:`maskaudit.kernels.pooling_torch`: the trainable form that exports to ONNX,
  ``mask_pool`` and ``mask_pool_context`` (needs PyTorch).
- :mod:`maskaudit.kernels.pooling_triton`: the GPU kernel, ``mask_pool_triton`` (needs Triton).

Importing this package imports neither PyTorch nor Triton; each form loads its own dependencies
when its module is imported.
"""
