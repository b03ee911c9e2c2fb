"""Clips: short screen recordings and the instant replay, kept in memory, sent as animated WebP.

No Qt here: the agent's report window, the kiosk's capture bar and the command line build on it.

Recording a clip (the Record button)::

    recorder = ClipRecorder(CaptureTarget(monitor=1), fps=5, max_seconds=30,
                            excluded=[capture_bar_rect], on_frame=..., on_stopped=...)
    recorder.start()                      # grabs on its own thread from now on
    recorder.set_excluded([moved_rect])   # the bar moved: black out its new place
    recording = recorder.stop()           # a Recording: frames compressed in memory

The instant replay (opt-in, off by default)::

    replay = ReplayBuffer(seconds=30, max_bytes=40 * 2**20)
    replay.start(); replay.pause(); replay.resume()     # pause while the screen is locked
    recording = replay.snapshot()                       # the last 30 s; the replay runs on
    replay.stop()                                       # forgets every frame

Trimming, redacting and encoding (after Stop, off the GUI thread)::

    part = recording.trimmed(2.0, 9.5)                  # frame_times / image(i) for the trim view
    job = encode_clip_async(part, redactions=boxes, progress=on_progress)
    job.cancel()  # or: clip = job.result(); build_bundle(..., clips=[clip.draft(caption)])

Fitting a clip to a ticket system's attachment limit, when the recording is gone::

    smaller = shrink_clip(clip_bytes, scale=0.5, lossless=False, quality=70)

Nothing of a clip or the replay is ever written to disk here; docs/clips.md says what is kept,
where and for how long.
"""

from agent.clips.encode import (
    VIDEO_MEDIA_TYPE,
    EncodeCancelledError,
    EncodedClip,
    EncodedVideo,
    EncodeJob,
    encode_clip,
    encode_clip_async,
    encode_clip_webm,
    shrink_clip,
    webm_encoder,
)
from agent.clips.frames import Frame, FrameStore, MemoryCapError
from agent.clips.recorder import (
    DEFAULT_CLIP_MAX_BYTES,
    DEFAULT_FPS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_REPLAY_MAX_BYTES,
    DEFAULT_REPLAY_SECONDS,
    MAX_FPS,
    MAX_SECONDS,
    CaptureTarget,
    ClipRecorder,
    Progress,
    ReplayBuffer,
    black_out,
)
from agent.clips.recording import ClipError, Origin, Recording, StopReason
from agent.clips.to_bundle import record_clip_to_bundle

__all__ = [
    "DEFAULT_CLIP_MAX_BYTES",
    "DEFAULT_FPS",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_REPLAY_MAX_BYTES",
    "DEFAULT_REPLAY_SECONDS",
    "MAX_FPS",
    "MAX_SECONDS",
    "VIDEO_MEDIA_TYPE",
    "CaptureTarget",
    "ClipError",
    "ClipRecorder",
    "EncodeCancelledError",
    "EncodeJob",
    "EncodedClip",
    "EncodedVideo",
    "Frame",
    "FrameStore",
    "MemoryCapError",
    "Origin",
    "Progress",
    "Recording",
    "ReplayBuffer",
    "StopReason",
    "black_out",
    "encode_clip",
    "encode_clip_async",
    "encode_clip_webm",
    "record_clip_to_bundle",
    "shrink_clip",
    "webm_encoder",
]
