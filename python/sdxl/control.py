"""ControlNets, T2I-Adapters and IP-Adapters as diffusers names them, as the engine's units.

    controlnet = ControlNetModel.from_pretrained("controlnet-canny-sdxl-1.0")
    pipe = StableDiffusionXLControlNetPipeline.from_pretrained("sd_xl_base_1.0", controlnet=controlnet)
    image = pipe("a bird", image=canny_map, controlnet_conditioning_scale=0.5, seed=0).images[0]

    pipe.load_ip_adapter("IP-Adapter", subfolder="sdxl_models", weight_name="ip-adapter_sdxl.safetensors")
    pipe.set_ip_adapter_scale(0.6)
    image = pipe("a bird", ip_adapter_image=style, seed=0).images[0]

A model here is its files (read when a pipeline runs); the pipeline's precision applies to it.
"""

import os

from . import _images, _native
from .errors import InvalidArgumentError, ModelFileError, UnsupportedError


def _model_file(path, variant, what):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such {what} folder or file (sdxl reads local files only)", "controlnets")
    if variant and os.path.isdir(path):
        weights = os.path.join(path, f"diffusion_pytorch_model.{variant}.safetensors")
        if not os.path.isfile(weights):
            raise ModelFileError(f"{path}: no {os.path.basename(weights)} for variant {variant!r}", "controlnets")
        return weights, path  # the variant's file, with the folder's config.json
    return path, None


class ControlNetModel:
    """diffusers' ControlNetModel for SDXL: a folder (config.json + weights) or one .safetensors file."""

    kind = "controlnet"

    def __init__(self, path, config_dir=None):
        self.path, self.config_dir = path, config_dir

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, variant=None, torch_dtype=None, use_safetensors=None, config=None):
        """torch_dtype is accepted and left to the pipeline's precision (the engine computes every
        model in one precision)."""
        path, config_dir = _model_file(pretrained_model_name_or_path, variant, cls.__name__)
        return cls(path, os.fspath(config) if config else config_dir)

    from_single_file = from_pretrained

    def __repr__(self):
        return f"{type(self).__name__}({self.path!r})"


class T2IAdapter(ControlNetModel):
    """diffusers' T2IAdapter for SDXL (a folder or one .safetensors file)."""

    kind = "t2i_adapter"


def control_units(models, images, scales, starts, ends, keep):
    """The C units for `models` (one or a list, as MultiControlNetModel) with their control images
    (diffusers fits each to width x height: "Just Resize"), scales and windows (one or a list each)."""
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if images is None:
        raise InvalidArgumentError("the control image is needed (image= / control_image=)", "controlnets")
    images = list(images) if isinstance(images, (list, tuple)) and len(models) > 1 else [images]
    if len(images) != len(models):
        raise InvalidArgumentError(f"{len(models)} models and {len(images)} control images", "controlnets")

    def per_model(value, name):
        values = list(value) if isinstance(value, (list, tuple)) else [value] * len(models)
        if len(values) != len(models):
            raise InvalidArgumentError(f"{name}: one value, or one per model ({len(models)})", "controlnets")
        return [float(v) for v in values]

    scales, starts, ends = per_model(scales, "conditioning scale"), per_model(starts, "guidance start"), per_model(ends, "guidance end")
    units = (_native.ControlNetUnit * len(models))()
    for i, (model, image) in enumerate(zip(models, images)):
        if not isinstance(model, ControlNetModel):
            raise InvalidArgumentError("controlnet must be a ControlNetModel (or a list of them) / adapter a T2IAdapter", "controlnets")
        _native.lib.sdxl_controlnet_unit_init(_native.ctypes.byref(units[i]))
        pixels = _images.pixels_of(image, "image")
        keep.append(pixels)
        unit = units[i]
        unit.model = model.path.encode()
        if model.config_dir:
            unit.config_dir = model.config_dir.encode()
        unit.image, unit.image_width, unit.image_height, unit.image_channels = pixels.pointer, pixels.width, pixels.height, pixels.channels
        unit.resize_mode = b"Just Resize"
        unit.scale, unit.start, unit.end = scales[i], starts[i], ends[i]
        unit.kind = model.kind.encode()
    keep.append(units)
    return _native.ctypes.cast(units, _native.ctypes.POINTER(_native.ControlNetUnit)), len(models)


class IpAdapterMixin:
    """diffusers' load_ip_adapter / set_ip_adapter_scale / unload_ip_adapter and ip_adapter_image."""

    _ip_adapter = None  # (model file, image encoder)
    _ip_adapter_scale = 1.0

    def load_ip_adapter(self, pretrained_model_name_or_path_or_dict, subfolder=None, weight_name=None, image_encoder_folder=None,
                        **kwargs):
        """An IP-Adapter file (h94/IP-Adapter's ip-adapter[-plus]_sdxl*.safetensors): the folder and
        weight_name, or the file. Its CLIP image encoder: `image_encoder_folder`, else the folder's
        `image_encoder` (subfolder/image_encoder, as diffusers looks)."""
        if kwargs:
            raise UnsupportedError("load_ip_adapter does not take " + ", ".join(sorted(kwargs)), "ip_adapter")
        if isinstance(pretrained_model_name_or_path_or_dict, dict):
            raise UnsupportedError("an IP-Adapter as a dict of tensors: give its file", "ip_adapter")
        root = os.fspath(pretrained_model_name_or_path_or_dict)
        folder = os.path.join(root, subfolder) if subfolder else root
        model = os.path.join(folder, weight_name) if weight_name else folder
        if not os.path.isfile(model):
            raise ModelFileError(f"{model}: no such IP-Adapter file", "ip_adapter")
        encoder = os.fspath(image_encoder_folder) if image_encoder_folder else os.path.join(folder if os.path.isdir(folder) else
                                                                                            os.path.dirname(folder), "image_encoder")
        if not os.path.exists(encoder):
            raise ModelFileError(f"{encoder}: no image encoder (give image_encoder_folder=)", "ip_adapter")
        self._ip_adapter = (model, encoder)

    def set_ip_adapter_scale(self, scale):
        self._ip_adapter_scale = float(scale)

    def unload_ip_adapter(self):
        self._ip_adapter = None

    def _ip_adapter_struct(self, image, keep):
        if image is None and self._ip_adapter is None:
            return None
        if image is None:
            raise InvalidArgumentError("an IP-Adapter is loaded: ip_adapter_image is needed", "ip_adapter")
        if self._ip_adapter is None:
            raise InvalidArgumentError("ip_adapter_image needs load_ip_adapter() first", "ip_adapter")
        adapter = _native.IpAdapter()
        _native.lib.sdxl_ip_adapter_init(_native.ctypes.byref(adapter))
        pixels = _images.pixels_of(image[0] if isinstance(image, (list, tuple)) else image, "ip_adapter_image")
        keep.extend([pixels, adapter])
        adapter.model, adapter.image_encoder = self._ip_adapter[0].encode(), self._ip_adapter[1].encode()
        adapter.image, adapter.image_width, adapter.image_height, adapter.image_channels = (pixels.pointer, pixels.width, pixels.height,
                                                                                            pixels.channels)
        adapter.scale = self._ip_adapter_scale
        return _native.ctypes.pointer(adapter)
