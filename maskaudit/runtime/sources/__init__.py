"""Where a stream's frames, audio windows and candidate masks come from."""

from maskaudit.runtime.sources.audio import ArrayAudio, AudioSource, WavAudio, open_audio
from maskaudit.runtime.sources.masks import (
    CallbackMasks,
    MaskSource,
    MaskVideo,
    NpzMasks,
    PngMaskFolder,
    RleJsonl,
    open_masks,
    rle_decode,
)
from maskaudit.runtime.sources.video import (
    CaptureSource,
    FrameSource,
    IterableSource,
    Reconnect,
    SourceFrame,
    open_source,
)

__all__ = [
    "ArrayAudio",
    "AudioSource",
    "CallbackMasks",
    "CaptureSource",
    "FrameSource",
    "IterableSource",
    "MaskSource",
    "MaskVideo",
    "NpzMasks",
    "PngMaskFolder",
    "Reconnect",
    "RleJsonl",
    "SourceFrame",
    "WavAudio",
    "open_audio",
    "open_masks",
    "open_source",
    "rle_decode",
]
