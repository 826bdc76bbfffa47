"""A video's sound carried into its dream: the input's first audio stream, copied as it is
where the output container can hold its codec (else re-encoded to AAC or Opus), cut to the
dreamed seconds and interleaved with the video by time."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from inceptionism.io.video_reader import Notify, require_av

# Audio codecs each container takes as they are (others are re-encoded: AAC / Opus).
_AUDIO_COPY = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "webm": {"opus", "vorbis"},
}
_AUDIO_ENCODER = {"mp4": "aac", "webm": "libopus"}


class AudioTrack:
    """The input's first audio stream into the output, interleaved with the video by time."""

    def __init__(
        self, out: Any, source: Path, kind: str, start: float, end: float, notify: Notify
    ) -> None:
        av = require_av()
        self.out, self.start, self.end = out, start, end
        self.src = av.open(str(source), metadata_errors="ignore")
        self.ins = self.src.streams.audio[0]
        codec = self.ins.codec_context.name
        self.copy = codec in _AUDIO_COPY[kind]
        if self.copy:
            self.outs = out.add_stream_from_template(self.ins)
        else:
            self.outs = out.add_stream(_AUDIO_ENCODER[kind], rate=48000 if kind == "webm" else None)
            if kind == "mp4":
                self.outs.rate = self.ins.codec_context.sample_rate or 48000
            self.outs.layout = "stereo" if (self.ins.codec_context.channels or 2) > 1 else "mono"
            notify(f"the audio ({codec}) cannot go into .{kind} as it is: re-encoded")
        if start > 0:
            with contextlib.suppress(av.error.FFmpegError):
                self.src.seek(int(start / self.ins.time_base), stream=self.ins, backward=True)
        self.packets = self.src.demux(self.ins)
        self.pending: list = []
        self.finished = False

    def _next(self) -> tuple[float, list] | None:
        """(time, packets ready to mux) of the next input packet in range, None at the end."""
        for p in self.packets:
            if p.dts is None or p.pts is None:
                continue
            t = float(p.pts * p.time_base)
            end_t = t + float((p.duration or 0) * p.time_base)
            if self.start > 0 and end_t <= self.start:
                continue
            if t >= self.end:
                return None
            if self.copy:
                shift = round(self.start / p.time_base)
                p.pts -= shift
                p.dts -= shift
                p.stream = self.outs
                return t - self.start, [p]
            out = []
            for f in p.decode():
                f.pts = None
                out.extend(self.outs.encode(f))
            return t - self.start, out
        return None

    def mux_until(self, t: float) -> None:
        while not self.finished:
            got = self._next()
            if got is None:
                self.finished = True
                break
            at, packets = got
            for p in packets:
                self.out.mux(p)
            if at > t:
                break

    def finish(self) -> None:
        self.mux_until(float("inf"))
        if not self.copy:
            for p in self.outs.encode(None):
                self.out.mux(p)
        self.close()

    def close(self) -> None:
        self.src.close()
