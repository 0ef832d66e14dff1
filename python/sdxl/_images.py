"""Images in and out: PIL images and numpy arrays as the C API's 8-bit pixel buffers, and the
engine's images as PIL images, numpy arrays or latents."""

import ctypes

from .errors import InvalidArgumentError

try:  # optional: without Pillow, images come back as numpy arrays
    import PIL.Image as _pil
except ImportError:  # pragma: no cover - depends on the system
    _pil = None

try:
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None


def have_pil():
    return _pil is not None


def numpy():
    if _np is None:
        raise ImportError("sdxl: this needs numpy (Debian: python3-numpy)")
    return _np


class PixelBuffer:
    """An 8-bit image held for a call: the bytes stay alive as long as this object."""

    def __init__(self, data, width, height, channels):
        self.data = ctypes.create_string_buffer(bytes(data), len(data))
        self.width, self.height, self.channels = width, height, channels

    @property
    def pointer(self):
        return ctypes.cast(self.data, ctypes.POINTER(ctypes.c_ubyte))


def pixels_of(image, name):
    """A PIL image, a path, or a numpy array (H x W, H x W x 1/3/4; uint8, or float in [0, 1] as
    diffusers' numpy images) as a PixelBuffer."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        if _pil is None:
            raise InvalidArgumentError(f"{name}: reading an image file needs Pillow (python3-pil); pass a numpy array", name)
        image = _pil.open(image)
    if _pil is not None and isinstance(image, _pil.Image):
        mode = image.mode
        if mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in mode or mode == "P" and "transparency" in image.info else "RGB")
        channels = {"L": 1, "RGB": 3, "RGBA": 4}[image.mode]
        return PixelBuffer(image.tobytes(), image.width, image.height, channels)
    np = numpy()
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InvalidArgumentError(f"{name}: expected an image of H x W x 1, 3 or 4 channels, got shape {tuple(np.shape(image))}", name)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise InvalidArgumentError(f"{name}: expected uint8 pixels or floats in [0, 1], got {array.dtype}", name)
        array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    array = np.ascontiguousarray(array)
    return PixelBuffer(array.tobytes(), array.shape[1], array.shape[0], array.shape[2])


def size_of(image, name):
    """(width, height) of an image pixels_of() takes, without copying its pixels."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        if _pil is None:
            raise InvalidArgumentError(f"{name}: reading an image file needs Pillow (python3-pil); pass a numpy array", name)
        with _pil.open(image) as opened:
            return opened.size
    if _pil is not None and isinstance(image, _pil.Image):
        return image.size
    shape = numpy().shape(image)
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) not in (2, 3):
        raise InvalidArgumentError(f"{name}: expected an image of H x W x 1, 3 or 4 channels, got shape {tuple(shape)}", name)
    return shape[1], shape[0]


def is_latents(image):
    """A 4-D float array of 4 channels: latents handed over from a base run (output_type="latent")."""
    if _np is None or _pil is not None and isinstance(image, _pil.Image):
        return False
    array = _np.asarray(image) if not isinstance(image, (str, bytes)) else None
    return array is not None and array.ndim == 4 and array.shape[1] == 4 and _np.issubdtype(array.dtype, _np.floating)


def images_out(images, output_type):
    """The engine's sdxl_images as diffusers' `images`: PIL images (numpy arrays without Pillow),
    "np" (N x H x W x 3 floats in [0, 1]) or "latent" (N x 4 x h x w floats)."""
    out = images.contents
    if output_type == "latent":
        np = numpy()
        shape = (out.count, out.latent_channels, out.latent_height, out.latent_width)
        return np.ctypeslib.as_array(out.latents, shape=shape).copy()
    size = out.count * out.height * out.width * out.channels
    raw = ctypes.string_at(out.pixels, size)
    per_image = out.height * out.width * out.channels
    if output_type == "pil" and _pil is not None:
        return [_pil.frombytes("RGB", (out.width, out.height), raw[i * per_image:(i + 1) * per_image]) for i in range(out.count)]
    np = numpy()
    array = np.frombuffer(raw, dtype=np.uint8).reshape(out.count, out.height, out.width, out.channels)
    if output_type == "np":
        return array.astype(np.float32) / 255.0
    return [array[i].copy() for i in range(out.count)]  # "pil" without Pillow
