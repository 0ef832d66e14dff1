"""The exceptions the package raises: each failure of the C library as a subclass of SdxlError
carrying the library's message (which names the stage, file, tensor or value at fault) and the
parameter it is about."""

from . import _native


class SdxlError(Exception):
    """A failure of the sdxl library. `parameter`: the generation parameter at fault (the C API's
    name: "steps", "width", "init_image", ...; "" when it is not about one)."""

    status = _native.STATUS_INTERNAL_ERROR

    def __init__(self, message, parameter=""):
        super().__init__(message)
        self.parameter = parameter


class InvalidArgumentError(SdxlError, ValueError):
    """A bad parameter value (out of range, unknown name, wrong combination)."""

    status = _native.STATUS_INVALID_ARGUMENT


class ModelFileError(SdxlError, OSError):
    """A file could not be opened, read or written (a missing model, LoRA or image)."""

    status = _native.STATUS_IO_ERROR


class FormatError(SdxlError, ValueError):
    """A file is malformed, truncated or inconsistent."""

    status = _native.STATUS_FORMAT_ERROR


class UnsupportedError(SdxlError):
    """A well-formed input sdxl cannot handle."""

    status = _native.STATUS_UNSUPPORTED


class OutOfMemoryError(SdxlError, MemoryError):
    """The request needs more memory than the machine has available (the message says how much)."""

    status = _native.STATUS_OUT_OF_MEMORY


class CancelledError(SdxlError):
    """The generation was cancelled (callback_on_step_end asked to stop)."""

    status = _native.STATUS_CANCELLED


class BusyError(SdxlError):
    """The engine is running another generation (from another thread)."""

    status = _native.STATUS_BUSY


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, ModelFileError, FormatError, UnsupportedError,
                                          OutOfMemoryError, CancelledError, BusyError)}


def check(status):
    """Raises the exception of a failed C API call (its message and parameter, read at once: they
    are per thread and overwritten by the next call)."""
    if status == _native.STATUS_OK:
        return
    message = _native.text(_native.lib.sdxl_last_error()) or _native.text(_native.lib.sdxl_status_name(status))
    parameter = _native.text(_native.lib.sdxl_last_error_parameter())
    raise _BY_STATUS.get(status, SdxlError)(message, parameter)
