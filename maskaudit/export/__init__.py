"""Export: ONNX graphs, INT8 quantization, TensorRT engines and the bundle manifest.

Exporting needs the ``export`` extra (torch, onnx, ...). The runtime imports only the modules
of this package that import no torch (nor onnx or TensorRT): :mod:`~maskaudit.export.contract`
(graph names and dynamic axes), :mod:`~maskaudit.export.manifest` (the bundle manifest's
names, graph signatures and writer) and :mod:`~maskaudit.export.trt_options` (TensorRT
profile shapes, provider options and engine names, shared with ``maskaudit build-engine``).
This file imports nothing, so importing one of those modules does not pull in the exporter.
"""
