"""The C API of libsdxl.so through ctypes: the library found, its structs and functions declared.

The structs mirror include/sdxl/sdxl.h member for member; tests/test_layout.py compiles the header
and checks every offset and size against these declarations.
"""

import ctypes
import ctypes.util
import glob
import os

c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_double = ctypes.c_double
c_uint64 = ctypes.c_uint64
c_float_p = ctypes.POINTER(ctypes.c_float)
c_ubyte_p = ctypes.POINTER(ctypes.c_ubyte)

STATUS_OK = 0
STATUS_INVALID_ARGUMENT = 1
STATUS_IO_ERROR = 2
STATUS_FORMAT_ERROR = 3
STATUS_UNSUPPORTED = 4
STATUS_OUT_OF_MEMORY = 5
STATUS_INTERNAL_ERROR = 6
STATUS_CANCELLED = 7
STATUS_BUSY = 8
PROGRESS_FINISH = 2
MEMORY_KEEP_LOADED = 0
MEMORY_ONE_SHOT = 1


class EngineParams(ctypes.Structure):
    _fields_ = [
        ("model_dir", c_char_p),
        ("refiner_dir", c_char_p),
        ("variant", c_char_p),
        ("precision", c_char_p),
        ("memory_policy", c_int),
        ("taesd_dir", c_char_p),
        ("taesd_encode", c_int),
        ("config_dir", c_char_p),
        ("refiner_config_dir", c_char_p),
        ("vae_path", c_char_p),
        ("lora_dir", c_char_p),
        ("packed_cache_dir", c_char_p),
        ("packed_cache_max_gb", ctypes.c_double),
    ]


class Progress(ctypes.Structure):
    _fields_ = [
        ("stage", c_char_p),
        ("step", c_int),
        ("total_steps", c_int),
        ("preview", c_ubyte_p),
        ("preview_width", c_int),
        ("preview_height", c_int),
    ]


PROGRESS_CALLBACK = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(Progress), ctypes.c_void_p)


class Lora(ctypes.Structure):
    _fields_ = [("path", c_char_p), ("weight", c_double)]


class ControlNetUnit(ctypes.Structure):
    _fields_ = [
        ("model", c_char_p),
        ("config_dir", c_char_p),
        ("name", c_char_p),
        ("image", c_ubyte_p),
        ("image_width", c_int),
        ("image_height", c_int),
        ("image_channels", c_int),
        ("preprocessor", c_char_p),
        ("threshold_a", c_double),
        ("threshold_b", c_double),
        ("resolution", c_int),
        ("resize_mode", c_char_p),
        ("scale", c_double),
        ("start", c_double),
        ("end", c_double),
        ("control_mode", c_char_p),
        ("a1111_window", c_int),
        ("kind", c_char_p),
    ]


class IpAdapter(ctypes.Structure):
    _fields_ = [
        ("model", c_char_p),
        ("image_encoder", c_char_p),
        ("name", c_char_p),
        ("image", c_ubyte_p),
        ("image_width", c_int),
        ("image_height", c_int),
        ("image_channels", c_int),
        ("scale", c_double),
        ("start", c_double),
        ("end", c_double),
    ]


class Hires(ctypes.Structure):
    _fields_ = [
        ("scale", c_double),
        ("resize_width", c_int),
        ("resize_height", c_int),
        ("upscaler", c_char_p),
        ("upscaler_model", c_char_p),
        ("steps", c_int),
        ("denoising_strength", c_double),
        ("sampler", c_char_p),
        ("scheduler", c_char_p),
        ("prompt", c_char_p),
        ("negative_prompt", c_char_p),
        ("has_guidance_scale", c_int),
        ("guidance_scale", c_double),
    ]


class GenerateParams(ctypes.Structure):
    _fields_ = [
        ("prompts", ctypes.POINTER(c_char_p)),
        ("prompt_count", c_int),
        ("negative_prompts", ctypes.POINTER(c_char_p)),
        ("negative_prompt_count", c_int),
        ("prompt_2", c_char_p),
        ("negative_prompt_2", c_char_p),
        ("width", c_int),
        ("height", c_int),
        ("steps", c_int),
        ("guidance_scale", c_double),
        ("guidance_rescale", c_double),
        ("clip_skip", c_int),
        ("sampler", c_char_p),
        ("scheduler", c_char_p),
        ("karras", c_int),
        ("seed", c_uint64),
        ("images_per_prompt", c_int),
        ("original_width", c_int),
        ("original_height", c_int),
        ("target_width", c_int),
        ("target_height", c_int),
        ("crop_top", c_int),
        ("crop_left", c_int),
        ("negative_original_width", c_int),
        ("negative_original_height", c_int),
        ("negative_target_width", c_int),
        ("negative_target_height", c_int),
        ("negative_crop_top", c_int),
        ("negative_crop_left", c_int),
        ("init_image", c_ubyte_p),
        ("init_width", c_int),
        ("init_height", c_int),
        ("init_channels", c_int),
        ("fit_to_size", c_int),
        ("strength", c_double),
        ("mask", c_ubyte_p),
        ("mask_width", c_int),
        ("mask_height", c_int),
        ("mask_channels", c_int),
        ("init_latents", c_float_p),
        ("init_latent_count", c_int),
        ("init_latent_channels", c_int),
        ("init_latent_height", c_int),
        ("init_latent_width", c_int),
        ("denoising_start", c_double),
        ("denoising_end", c_double),
        ("aesthetic_score", c_double),
        ("negative_aesthetic_score", c_double),
        ("refiner_mode", c_char_p),
        ("high_noise_frac", c_double),
        ("refiner_strength", c_double),
        ("has_refiner_seed", c_int),
        ("refiner_seed", c_uint64),
        ("decode", c_int),
        ("vae_tiling", c_int),
        ("progress", PROGRESS_CALLBACK),
        ("progress_user_data", ctypes.c_void_p),
        ("preview_every", c_int),
        ("prompt_syntax", c_char_p),
        ("timestep_spacing", c_char_p),
        ("embedding_dir", c_char_p),
        ("loras", ctypes.POINTER(Lora)),
        ("lora_count", c_int),
        ("refiner_loras", ctypes.POINTER(Lora)),
        ("refiner_lora_count", c_int),
        ("eta", c_double),
        ("ancestral_eta", c_double),
        ("shared_generator", c_int),
        ("mask_invert", c_int),
        ("mask_blur_x", c_int),
        ("mask_blur_y", c_int),
        ("inpaint_only_masked", c_int),
        ("inpaint_padding", c_int),
        ("inpaint_fill", c_char_p),
        ("initial_noise_multiplier", c_double),
        ("inpaint_overlay", c_int),
        ("subseed", c_uint64),
        ("subseed_strength", c_double),
        ("seed_resize_from_width", c_int),
        ("seed_resize_from_height", c_int),
        ("controlnets", ctypes.POINTER(ControlNetUnit)),
        ("controlnet_count", c_int),
        ("guess_mode", c_int),
        ("ip_adapter", ctypes.POINTER(IpAdapter)),
        ("hires", ctypes.POINTER(Hires)),
    ]


class Images(ctypes.Structure):
    _fields_ = [
        ("count", c_int),
        ("width", c_int),
        ("height", c_int),
        ("channels", c_int),
        ("pixels", c_ubyte_p),
        ("latent_channels", c_int),
        ("latent_height", c_int),
        ("latent_width", c_int),
        ("latents", c_float_p),
        ("lora_count", c_int),
        ("loras", ctypes.POINTER(Lora)),
    ]


class SamplerInfo(ctypes.Structure):
    _fields_ = [
        ("name", c_char_p),
        ("diffusers_class", c_char_p),
        ("display_name", c_char_p),
        ("aliases", c_char_p),
        ("supports_karras", c_int),
    ]


# Every struct, by its C name: what the layout test compares.
STRUCTS = {
    "sdxl_engine_params": EngineParams,
    "sdxl_progress": Progress,
    "sdxl_lora": Lora,
    "sdxl_controlnet_unit": ControlNetUnit,
    "sdxl_ip_adapter": IpAdapter,
    "sdxl_hires": Hires,
    "sdxl_generate_params": GenerateParams,
    "sdxl_images": Images,
    "sdxl_sampler_info": SamplerInfo,
}


def _candidates():
    """Where libsdxl.so may be: $SDXL_LIBRARY, beside this package, the loader's path."""
    explicit = os.environ.get("SDXL_LIBRARY")
    if explicit:
        yield explicit
        return
    here = os.path.dirname(os.path.abspath(__file__))
    # beside the package, or an installed one's: PREFIX/lib/python3*/dist-packages/sdxl -> PREFIX/lib[/<triplet>]
    prefix_lib = os.path.normpath(os.path.join(here, "..", "..", ".."))
    for folder in (here, prefix_lib, os.path.join(prefix_lib, "x86_64-linux-gnu"), os.path.join(prefix_lib, "aarch64-linux-gnu")):
        yield from sorted(glob.glob(os.path.join(folder, "libsdxl.so*")), key=len)  # libsdxl.so, then its SONAME
    yield "libsdxl.so"  # the dynamic loader's search path (LD_LIBRARY_PATH, ldconfig)
    found = ctypes.util.find_library("sdxl")  # ldconfig's versioned name
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("sdxl: libsdxl.so not found; set SDXL_LIBRARY to its path. Tried: " + "; ".join(tried))


lib = _load()


def _declare(name, restype, *argtypes):
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_declare("sdxl_version", c_char_p)
_declare("sdxl_build_info", c_char_p)
_declare("sdxl_status_name", c_char_p, c_int)
_declare("sdxl_last_error", c_char_p)
_declare("sdxl_last_error_parameter", c_char_p)
_declare("sdxl_free_string", None, ctypes.c_void_p)
_declare("sdxl_set_num_threads", None, c_int)
_declare("sdxl_set_log_level", None, c_int)
_declare("sdxl_engine_params_init", None, ctypes.POINTER(EngineParams))
_declare("sdxl_packed_cache_default_dir", c_char_p)
_declare("sdxl_engine_load", c_int, ctypes.POINTER(EngineParams), ctypes.POINTER(ctypes.c_void_p))
_declare("sdxl_engine_free", None, ctypes.c_void_p)
_declare("sdxl_engine_is_refiner", c_int, ctypes.c_void_p)
_declare("sdxl_engine_has_refiner", c_int, ctypes.c_void_p)
_declare("sdxl_generate_params_init", None, ctypes.POINTER(GenerateParams))
_declare("sdxl_hires_init", None, ctypes.POINTER(Hires))
_declare("sdxl_controlnet_unit_init", None, ctypes.POINTER(ControlNetUnit))
_declare("sdxl_ip_adapter_init", None, ctypes.POINTER(IpAdapter))
_declare("sdxl_engine_generate", c_int, ctypes.c_void_p, ctypes.POINTER(GenerateParams), ctypes.POINTER(ctypes.POINTER(Images)))
_declare("sdxl_engine_check", c_int, ctypes.c_void_p, ctypes.POINTER(GenerateParams))
_declare("sdxl_images_free", None, ctypes.POINTER(Images))
_declare("sdxl_sampler_count", c_int)
_declare("sdxl_sampler_at", ctypes.POINTER(SamplerInfo), c_int)
_declare("sdxl_resolve_sampler", c_int, c_char_p, c_char_p, c_int, ctypes.POINTER(ctypes.POINTER(SamplerInfo)), ctypes.POINTER(c_int))
_declare("sdxl_engine_infotext", c_int, ctypes.c_void_p, ctypes.POINTER(GenerateParams), ctypes.POINTER(Images), c_int,
         ctypes.POINTER(ctypes.c_void_p))
_declare("sdxl_engine_release_memory", c_int, ctypes.c_void_p)


def text(raw):
    return raw.decode("utf-8", "replace") if raw is not None else ""


def take_string(pointer):
    """A char* the library allocated, as str, freed."""
    if not pointer:
        return ""
    try:
        return ctypes.string_at(pointer).decode("utf-8", "replace")
    finally:
        lib.sdxl_free_string(pointer)
