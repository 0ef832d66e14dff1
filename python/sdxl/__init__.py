"""sdxl: Stable Diffusion XL 1.0 on the CPU, with diffusers' names and diffusers' images, no torch.

Where a diffusers script says

    from diffusers import StableDiffusionXLPipeline

say

    from sdxl import StableDiffusionXLPipeline

and the rest runs as written: from_pretrained() on a local folder or single file, the call's
arguments and defaults, `.images[0]`, schedulers by their class names, LoRAs. Each failure raises
an SdxlError subclass with the library's message. A pipeline holds an engine (the loaded models):
close() or a `with` block frees it at once; one engine runs one generation at a time (a second
thread's call raises BusyError); separate pipelines may run at the same time.

The package is a ctypes layer over libsdxl.so (found beside the package, through $SDXL_LIBRARY,
or on the loader's path).
"""

from . import _native
from .control import ControlNetModel, T2IAdapter
from .errors import (BusyError, CancelledError, FormatError, InvalidArgumentError, ModelFileError, OutOfMemoryError,
                     SdxlError, UnsupportedError)
from .pipelines import (StableDiffusionXLImg2ImgPipeline, StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline,
                        StableDiffusionXLPipelineOutput)
from .pipelines_control import (StableDiffusionXLAdapterPipeline, StableDiffusionXLControlNetImg2ImgPipeline,
                                StableDiffusionXLControlNetInpaintPipeline, StableDiffusionXLControlNetPipeline)
from .schedulers import SCHEDULERS, SchedulerMixin, scheduler_named
from .schedulers import *  # noqa: F401,F403  diffusers' scheduler class names

__version__ = _native.text(_native.lib.sdxl_version())


def set_num_threads(threads: int) -> None:
    """Threads for all compute (<= 0: every core)."""
    _native.lib.sdxl_set_num_threads(int(threads))


def build_info() -> str:
    """The library's version, revision, ISA, oneDNN and OpenBLAS versions, threads."""
    return _native.text(_native.lib.sdxl_build_info())


__all__ = ["StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline",
           "StableDiffusionXLPipelineOutput", "StableDiffusionXLControlNetPipeline", "StableDiffusionXLControlNetImg2ImgPipeline",
           "StableDiffusionXLControlNetInpaintPipeline", "StableDiffusionXLAdapterPipeline",
           "ControlNetModel", "T2IAdapter", "SdxlError", "InvalidArgumentError", "ModelFileError", "FormatError",
           "UnsupportedError", "OutOfMemoryError", "CancelledError", "BusyError", "SchedulerMixin", "scheduler_named",
           "set_num_threads", "build_info", *SCHEDULERS]
