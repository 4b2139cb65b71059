"""Export: ONNX graphs, INT8 quantization, TensorRT engines and the bundle manifest.

Exporting needs the ``export`` extra (torch, onnx, ...); the runtime never imports this package.
"""
