"""Frame, audio, mask and expression preprocessing shared by training and the runtime.

Everything here uses numpy, OpenCV, librosa and ``tokenizers`` only (never torch), so that
training and the runtime prepare inputs with the very same code and cannot disagree.

Modules:
    constants: the preprocessing constants recorded in every bundle manifest.
    frame: model-input frames (uint8 RGB, square).
    audio: audio loading, 1-s windows and log-mel features.
    mask: candidate mask reading and normalisation to soft float masks.
    text: expression tokenisation and the ONNX expression embedder.
"""
