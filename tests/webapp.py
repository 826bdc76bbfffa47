"""A real ``deepdream ui`` server for the web tests: its own process on a free loopback port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), e.get("PYTHONPATH")]))
    e["GRADIO_ANALYTICS_ENABLED"] = "False"
    return e


def deepdream(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inceptionism", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class StudioServer:
    """``deepdream ui`` in a subprocess; ``url`` once the page answers, ``close()`` stops it
    (SIGTERM, as a service manager would) and returns its output."""

    def __init__(self, *args: str, startup_s: float = 240) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inceptionism", "ui", "--port", str(self.port), *args],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + startup_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("deepdream ui exited:\n" + self.output)
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("deepdream ui did not start:\n" + self.output)
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def temp_dir(self) -> Path:
        found = re.search(r"temporary files: (\S+)", self.output)
        assert found, self.output
        return Path(found.group(1))

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.output


def picture(path: Path, size: tuple[int, int] = (192, 128)) -> Path:
    """The sample, shrunk to ``size``: big enough for two octaves of the default preset on
    EfficientNet-Lite0, small enough for a loaded 2-core machine."""
    im = Image.open(SAMPLE).convert("RGB").resize(size, Image.LANCZOS)
    im.save(path)
    return path


def noise_png(path: Path, megabytes: float) -> Path:
    """A PNG of random pixels (incompressible) of about ``megabytes``."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5) + 1
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path
