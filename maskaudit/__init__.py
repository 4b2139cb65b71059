"""maskaudit: real-time, reference-free audit of audio-visual segmentation masks."""

__version__ = "0.1.0"

__all__ = ["__version__"]
