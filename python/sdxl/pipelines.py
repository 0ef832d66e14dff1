"""diffusers' SDXL pipelines over the sdxl engine: the same names, arguments and defaults, the
same images, no torch.

    from sdxl import StableDiffusionXLPipeline
    pipe = StableDiffusionXLPipeline.from_pretrained("stabilityai/stable-diffusion-xl-base-1.0")
    image = pipe("an astronaut riding a horse on the moon", seed=0).images[0]

Differences from diffusers, each refused with an error rather than ignored: arguments that hand
in torch tensors (prompt_embeds, latents, ...), a scheduler config the engine cannot follow, a
float16 torch_dtype (use precision="bf16"). Numbers are the engine's: the images match diffusers'
within the tolerances its tests state.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Union

from . import _images, _native, schedulers
from .control import IpAdapterMixin
from .errors import CancelledError, InvalidArgumentError, UnsupportedError, check

ImageInput = Any  # a PIL image, a numpy array, or a path
PromptInput = Union[str, Sequence[str], None]


@dataclass
class StableDiffusionXLPipelineOutput:
    """diffusers' output: `images` (PIL images, numpy arrays, or latents for output_type="latent")."""

    images: Any
    infotexts: List[str] = field(default_factory=list)  # AUTOMATIC1111's parameters text of each image
    seeds: List[int] = field(default_factory=list)


def _encoded(values):
    return [v.encode("utf-8") for v in values]


def _strings(buffer_keep, values):
    array = (_native.c_char_p * len(values))(*values)
    buffer_keep.append(array)
    return _native.ctypes.cast(array, _native.ctypes.POINTER(_native.c_char_p))


def _prompt_list(prompt, name):
    if prompt is None:
        return []
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise InvalidArgumentError(f"{name} must be a string or a list of strings, got {type(prompt).__name__}", name)


def _seed_of(generator, seed):
    """(seed, shared_generator): `seed=n` gives image i the seed n + i (the CLI's and AUTOMATIC1111's
    numbering); a torch.Generator (read by its initial_seed()) is one generator for the whole batch,
    as in diffusers; a list of them seeded n, n+1, ... is one per image."""
    if generator is not None and seed is not None:
        raise InvalidArgumentError("give seed or generator, not both", "seed")
    if generator is None:
        return (int(seed) if seed is not None else int.from_bytes(os.urandom(4), "little")), False
    if isinstance(generator, (list, tuple)):
        seeds = [int(g.initial_seed()) for g in generator]
        if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
            raise UnsupportedError("a list of generators must be seeded n, n+1, n+2, ... (one per image)", "generator")
        return seeds[0], False
    if not hasattr(generator, "initial_seed"):
        raise InvalidArgumentError("generator must be a torch.Generator (or use seed=)", "generator")
    return int(generator.initial_seed()), True


def _precision_of(precision, torch_dtype):
    if torch_dtype is not None:
        named = str(torch_dtype).replace("torch.", "")
        by_dtype = {"float32": "fp32", "bfloat16": "bf16"}
        if named not in by_dtype:
            raise UnsupportedError(f"torch_dtype {named}: the engine computes in fp32 or bf16 (precision='bf16')", "precision")
        if precision is not None and precision != by_dtype[named]:
            raise InvalidArgumentError(f"torch_dtype {named} and precision {precision!r} disagree", "precision")
        return by_dtype[named]
    return precision or "fp32"


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class _Progress:
    """A progress bar over the denoising steps (tqdm when installed), and callback_on_step_end."""

    def __init__(self, pipe, callback):
        self.pipe, self.callback, self.bar, self.error = pipe, callback, None, None
        self.last_stage, self.last_step = None, 0

    def __call__(self, progress_pointer, _user):
        try:
            p = progress_pointer.contents
            stage = _native.text(p.stage)
            sampling = stage in ("denoising", "refining", "hires")
            if sampling and p.total_steps > 0:
                if stage != self.last_stage or p.step < self.last_step:
                    self._close()
                    self.bar = self.pipe._make_progress_bar(p.total_steps, stage)
                    self.last_step = 0
                done, self.last_stage, self.last_step = range(self.last_step, p.step), stage, max(self.last_step, p.step)
                if self.bar is not None and len(done):
                    self.bar.update(len(done))
                for index in done:  # each step finished, by its index (diffusers' i)
                    if self.callback is not None:
                        self.callback(self.pipe, index, None, {})
                if getattr(self.pipe, "_interrupt", False):
                    return 1
            return 0
        except BaseException as e:  # nothing may unwind through the C library: kept, the call cancelled
            self.error = e
            return 1

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self):
        self._close()


class _SdxlPipeline(IpAdapterMixin):
    """What the pipelines share: the engine, the scheduler, LoRAs, IP-Adapters, the progress bar."""

    _component_names = ()  # from_pretrained's model arguments besides the checkpoint ("controlnet", "adapter")

    def __init__(self, engine, path, precision, scheduler_config, default_size):
        self._engine = engine
        self.name_or_path = path
        self.precision = precision
        self._model_scheduler_config = scheduler_config
        self._default_size = default_size
        self.scheduler = schedulers.SCHEDULERS.get(scheduler_config.get("_class_name", "EulerDiscreteScheduler"),
                                                   schedulers.SCHEDULERS["EulerDiscreteScheduler"]).from_config(scheduler_config)
        self._loras = {}  # adapter name -> [path, weight]
        self._active = None  # set_adapters' names (None: all loaded)
        self._fused_scale = None
        self._progress_config = {}
        self._interrupt = False

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, precision: Optional[str] = None, variant: Optional[str] = None,
                        torch_dtype=None, vae: Optional[str] = None, taesd: Optional[str] = None,
                        lora_dir: Optional[str] = None, config: Optional[str] = None,
                        packed_cache_dir=None, **kwargs):
        """Loads a diffusers folder or a single-file checkpoint (.safetensors, .ckpt).

        precision: "fp32" (default) or "bf16" (or torch_dtype=torch.bfloat16); variant: "fp16" for
        *.fp16.safetensors weights (a refiner is a pipeline of its own, as in diffusers); vae:
        another VAE; taesd: a tiny autoencoder for previews and fast decodes; lora_dir: where
        <lora:NAME:W> tags find their files; config: a single file's architecture folder;
        packed_cache_dir: where weights are kept packed between loads (default: sdxl's cache
        folder, $SDXL_CACHE_DIR/packed or ~/.cache/sdxl/packed; False: no cache)."""
        scheduler = kwargs.pop("scheduler", None)  # diffusers' scheduler= component: a scheduler, or a sampler name
        components = {name: kwargs.pop(name) for name in cls._component_names if name in kwargs}
        missing = [name for name in cls._component_names if components.get(name) is None]
        if missing:
            raise InvalidArgumentError(f"{cls.__name__}.from_pretrained needs {missing[0]}=", missing[0])
        unknown = set(kwargs) - {"use_safetensors", "local_files_only"}
        if unknown:
            raise UnsupportedError("from_pretrained does not take " + ", ".join(sorted(unknown)), sorted(unknown)[0])
        path = os.fspath(pretrained_model_name_or_path)
        if not os.path.exists(path):
            from .errors import ModelFileError
            raise ModelFileError(f"{path}: no such folder or file (sdxl reads local files only: download the model first)", "model")
        chosen = _precision_of(precision, torch_dtype)
        params = _native.EngineParams()
        _native.lib.sdxl_engine_params_init(_native.ctypes.byref(params))
        params.model_dir = path.encode()
        params.precision = chosen.encode()
        params.memory_policy = _native.MEMORY_KEEP_LOADED
        if packed_cache_dir is not False:
            params.packed_cache_dir = (os.fspath(packed_cache_dir) if packed_cache_dir
                                       else _native.lib.sdxl_packed_cache_default_dir().decode()).encode()
        for member, value in (("variant", variant), ("vae_path", vae), ("taesd_dir", taesd),
                              ("lora_dir", lora_dir), ("config_dir", config)):
            if value:
                setattr(params, member, os.fspath(value).encode())
        engine = _native.ctypes.c_void_p()
        check(_native.lib.sdxl_engine_load(_native.ctypes.byref(params), _native.ctypes.byref(engine)))
        engine = engine.value  # the handle, as a plain int
        folder = path if os.path.isdir(path) else (os.fspath(config) if config else None)
        scheduler_config = _read_json(os.path.join(folder, "scheduler", "scheduler_config.json")) if folder else {}
        unet_config = _read_json(os.path.join(folder, "unet", "config.json")) if folder else {}
        size = int(unet_config.get("sample_size", 128)) * 8  # diffusers: unet.config.sample_size * vae_scale_factor
        pipe = cls(engine, path, chosen, scheduler_config or {"_class_name": "EulerDiscreteScheduler"}, size)
        for name, model in components.items():
            setattr(pipe, name, model)
        if scheduler is not None:
            pipe.scheduler = schedulers.scheduler_named(scheduler, scheduler_config) if isinstance(scheduler, str) else scheduler
        return pipe

    from_single_file = from_pretrained

    def close(self):
        """Frees the engine (its weights and buffers) now; the pipeline cannot run after."""
        engine, self._engine = self._engine, None
        if engine:
            _native.lib.sdxl_engine_free(engine)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- diffusers' knobs ----------------------------------------------------------------
    def to(self, device=None, *args, **kwargs):
        """diffusers' device move: the engine runs on the CPU, so "cpu" (or nothing) is accepted and
        anything else refused."""
        if args or kwargs or (device is not None and str(device) != "cpu"):
            raise UnsupportedError(f"sdxl runs on the CPU: .to({device!r}) is not possible", "device")
        return self
    def set_progress_bar_config(self, **kwargs):
        """tqdm's arguments for the progress bar (disable=True: none)."""
        self._progress_config = kwargs

    def _make_progress_bar(self, total, stage):
        if self._progress_config.get("disable"):
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        options = {"desc": stage, **self._progress_config}
        return tqdm(total=total, **options)

    @property
    def interrupt(self):
        return self._interrupt

    def load_lora_weights(self, pretrained_model_name_or_path_or_dict, weight_name: Optional[str] = None,
                          adapter_name: Optional[str] = None, **kwargs):
        """A LoRA file (any format sdxl reads), or a folder with `weight_name`, under `adapter_name`."""
        if kwargs:
            raise UnsupportedError("load_lora_weights does not take " + ", ".join(sorted(kwargs)), sorted(kwargs)[0])
        if isinstance(pretrained_model_name_or_path_or_dict, dict):
            raise UnsupportedError("a LoRA as a dict of tensors: give its file", "loras")
        path = os.fspath(pretrained_model_name_or_path_or_dict)
        if os.path.isdir(path):
            path = os.path.join(path, weight_name or "pytorch_lora_weights.safetensors")
        if not os.path.isfile(path):
            from .errors import ModelFileError
            raise ModelFileError(f"{path}: no such LoRA file", "loras")
        name = adapter_name or f"default_{len(self._loras)}"
        if name in self._loras:
            raise InvalidArgumentError(f"adapter name {name!r} is already in use", "loras")
        self._loras[name] = [path, 1.0]

    def set_adapters(self, adapter_names, adapter_weights=None):
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        missing = [n for n in names if n not in self._loras]
        if missing:
            raise InvalidArgumentError(f"no adapter named {missing[0]!r} (loaded: {', '.join(self._loras) or 'none'})", "loras")
        weights = [1.0] * len(names) if adapter_weights is None else (
            [adapter_weights] * len(names) if isinstance(adapter_weights, (int, float)) else list(adapter_weights))
        if len(weights) != len(names):
            raise InvalidArgumentError("adapter_weights must give one weight per adapter", "loras")
        for n, w in zip(names, weights):
            self._loras[n][1] = float(w)
        self._active = names

    def get_active_adapters(self):
        return list(self._active) if self._active is not None else list(self._loras)

    def fuse_lora(self, lora_scale: float = 1.0, **kwargs):
        """The active LoRAs stay merged at `lora_scale` for every call (the engine merges them once
        and keeps them while the set is unchanged)."""
        if kwargs:
            raise UnsupportedError("fuse_lora does not take " + ", ".join(sorted(kwargs)), sorted(kwargs)[0])
        self._fused_scale = float(lora_scale)

    def unfuse_lora(self, **kwargs):
        self._fused_scale = None

    def unload_lora_weights(self):
        self._loras.clear()
        self._active = None
        self._fused_scale = None

    def _lora_set(self, cross_attention_kwargs):
        scale = 1.0
        if cross_attention_kwargs:
            unknown = set(cross_attention_kwargs) - {"scale"}
            if unknown:
                raise UnsupportedError("cross_attention_kwargs takes only 'scale'", "cross_attention_kwargs")
            scale = float(cross_attention_kwargs.get("scale", 1.0))
        if self._fused_scale is not None:
            scale = self._fused_scale  # fused weights no longer follow the call's scale, as in diffusers
        return [(self._loras[n][0], self._loras[n][1] * scale) for n in self.get_active_adapters()]

    # ---- running -------------------------------------------------------------------------
    def _run(self, *, prompt, prompt_2, negative_prompt, negative_prompt_2, num_inference_steps, guidance_scale,
             guidance_rescale, width, height, num_images_per_prompt, generator, seed, output_type, callback_on_step_end,
             cross_attention_kwargs, clip_skip, eta, extra, ip_adapter_image=None):
        if self._engine is None:
            raise InvalidArgumentError("this pipeline was closed", "engine")
        if output_type not in ("pil", "np", "latent"):
            raise InvalidArgumentError(f"output_type must be 'pil', 'np' or 'latent', got {output_type!r}", "output_type")
        keep = []  # what the C structs point to, alive until the call returns
        p = _native.GenerateParams()
        _native.lib.sdxl_generate_params_init(_native.ctypes.byref(p))
        prompts = _prompt_list(prompt, "prompt")
        if not prompts:
            raise InvalidArgumentError("a prompt is needed (prompt_embeds are not taken)", "prompt")
        p.prompts = _strings(keep, _encoded(prompts))
        p.prompt_count = len(prompts)
        negatives = _prompt_list(negative_prompt, "negative_prompt")
        if negatives:
            p.negative_prompts = _strings(keep, _encoded(negatives))
            p.negative_prompt_count = len(negatives)
        for member, value in (("prompt_2", prompt_2), ("negative_prompt_2", negative_prompt_2)):
            if value is not None:
                values = _prompt_list(value, member)
                if len(values) != 1:
                    raise UnsupportedError(f"{member}: one string for every prompt", member)
                setattr(p, member, values[0].encode())
        p.steps = int(num_inference_steps)
        p.guidance_scale = float(guidance_scale)
        p.guidance_rescale = float(guidance_rescale)
        if width is not None:
            p.width = int(width)
        if height is not None:
            p.height = int(height)
        p.images_per_prompt = int(num_images_per_prompt)
        p.seed, shared = _seed_of(generator, seed)
        p.shared_generator = 1 if shared else 0
        if clip_skip is not None:
            p.clip_skip = int(clip_skip)
        p.eta = float(eta)
        scheduler = self.scheduler
        if isinstance(scheduler, str):
            scheduler = schedulers.scheduler_named(scheduler, self._model_scheduler_config)
        different = schedulers.differences(scheduler, self._model_scheduler_config)
        if different:
            raise UnsupportedError(f"the scheduler's {', '.join(different)} differ from the model's scheduler config; "
                                   "the engine follows only use_karras_sigmas, timestep_spacing, algorithm_type and solver_order",
                                   "scheduler")
        p.sampler = scheduler.sampler_name().encode()
        p.karras = 1 if scheduler.karras else 0
        spacing = scheduler.config.get("timestep_spacing")
        if spacing and spacing != self._model_scheduler_config.get("timestep_spacing"):
            p.timestep_spacing = spacing.encode()
        loras = self._lora_set(cross_attention_kwargs)
        if loras:
            array = (_native.Lora * len(loras))(*[_native.Lora(path.encode(), weight) for path, weight in loras])
            keep.append(array)
            p.loras, p.lora_count = _native.ctypes.cast(array, _native.ctypes.POINTER(_native.Lora)), len(loras)
        p.decode = 0 if output_type == "latent" else 1
        ip_adapter = self._ip_adapter_struct(ip_adapter_image, keep)
        if ip_adapter is not None:
            p.ip_adapter = ip_adapter
        extra(p, keep)

        progress = _Progress(self, callback_on_step_end)
        callback = _native.PROGRESS_CALLBACK(progress)
        p.progress = callback
        self._interrupt = False
        out = _native.ctypes.POINTER(_native.Images)()
        try:
            status = _native.lib.sdxl_engine_generate(self._engine, _native.ctypes.byref(p), _native.ctypes.byref(out))
        finally:
            progress.close()
        if progress.error is not None:
            raise progress.error
        if status == _native.STATUS_CANCELLED:
            raise CancelledError("cancelled from callback_on_step_end (pipe._interrupt = True)", "progress")
        check(status)
        try:
            images = _images.images_out(out, output_type)
            infotexts = []
            if output_type != "latent":
                for i in range(out.contents.count):
                    text = _native.ctypes.c_void_p()
                    check(_native.lib.sdxl_engine_infotext(self._engine, _native.ctypes.byref(p), out, i, _native.ctypes.byref(text)))
                    infotexts.append(_native.take_string(text.value))
            count = out.contents.count
        finally:
            _native.lib.sdxl_images_free(out)
        seeds = [p.seed if shared else p.seed + i for i in range(count)]
        return StableDiffusionXLPipelineOutput(images=images, infotexts=infotexts, seeds=seeds)


def _refuse_tensors(kwargs, pipeline):
    """diffusers' arguments that hand in tensors or hooks the engine does not take: refused by name."""
    if kwargs:
        name = sorted(kwargs)[0]
        raise UnsupportedError(f"{pipeline} does not take {', '.join(sorted(kwargs))} (sdxl takes prompts and images, "
                               "not tensors)", name)


def _set_init_image(p, image, keep, mask_image=None):
    """The call's init image (and inpainting mask) as the C params' buffers, held in `keep`."""
    pixels = _images.pixels_of(image, "image")
    keep.append(pixels)
    p.init_image, p.init_width, p.init_height, p.init_channels = pixels.pointer, pixels.width, pixels.height, pixels.channels
    if mask_image is not None:
        mask = _images.pixels_of(mask_image, "mask_image")
        keep.append(mask)
        p.mask, p.mask_width, p.mask_height, p.mask_channels = mask.pointer, mask.width, mask.height, mask.channels
    return pixels


def _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                            negative_target_size, negative_crops_coords_top_left):
    for prefix, original, target, crop in (("", original_size, target_size, crops_coords_top_left),
                                           ("negative_", negative_original_size, negative_target_size,
                                            negative_crops_coords_top_left)):
        if original is not None:  # diffusers' (height, width)
            setattr(p, prefix + "original_height", int(original[0]))
            setattr(p, prefix + "original_width", int(original[1]))
        if target is not None:
            setattr(p, prefix + "target_height", int(target[0]))
            setattr(p, prefix + "target_width", int(target[1]))
        if crop is not None:
            setattr(p, prefix + "crop_top", int(crop[0]))
            setattr(p, prefix + "crop_left", int(crop[1]))


class StableDiffusionXLPipeline(_SdxlPipeline):
    """Text to image (diffusers' StableDiffusionXLPipeline)."""

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, height: Optional[int] = None,
                 width: Optional[int] = None, num_inference_steps: int = 50, denoising_end: Optional[float] = None,
                 guidance_scale: float = 5.0, negative_prompt: PromptInput = None, negative_prompt_2: PromptInput = None,
                 num_images_per_prompt: int = 1, eta: float = 0.0, generator=None, seed: Optional[int] = None,
                 output_type: str = "pil", return_dict: bool = True, cross_attention_kwargs: Optional[dict] = None,
                 guidance_rescale: float = 0.0, original_size=None, crops_coords_top_left=(0, 0), target_size=None,
                 negative_original_size=None, negative_crops_coords_top_left=(0, 0), negative_target_size=None,
                 clip_skip: Optional[int] = None, callback_on_step_end: Optional[Callable] = None, **kwargs):
        """Generates images from `prompt`, with diffusers' arguments and defaults (50 steps, guidance
        5.0, the model's sample size). `seed=n` (or generator=torch.Generator().manual_seed(n)).
        denoising_end with output_type="latent" hands the latents to a refiner pipeline."""
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, "StableDiffusionXLPipeline")
        size = self._default_size

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            if denoising_end is not None:
                p.denoising_end = float(denoising_end)

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=guidance_rescale,
                        width=width or size, height=height or size, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)


class StableDiffusionXLImg2ImgPipeline(_SdxlPipeline):
    """Image to image, and the refiner's half of the ensemble of experts (diffusers'
    StableDiffusionXLImg2ImgPipeline): `image` is a picture, or latents from a base pipeline's
    output_type="latent" with denoising_start."""

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image: ImageInput = None,
                 strength: float = 0.3, num_inference_steps: int = 50, denoising_start: Optional[float] = None,
                 denoising_end: Optional[float] = None, guidance_scale: float = 5.0, negative_prompt: PromptInput = None,
                 negative_prompt_2: PromptInput = None, num_images_per_prompt: int = 1, eta: float = 0.0, generator=None,
                 seed: Optional[int] = None, output_type: str = "pil", return_dict: bool = True,
                 cross_attention_kwargs: Optional[dict] = None, guidance_rescale: float = 0.0, original_size=None,
                 crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                 negative_crops_coords_top_left=(0, 0), negative_target_size=None, aesthetic_score: float = 6.0,
                 negative_aesthetic_score: float = 2.5, clip_skip: Optional[int] = None,
                 callback_on_step_end: Optional[Callable] = None, **kwargs):
        """Denoises `image` again by `strength` (default 0.3), or from denoising_start when it is
        latents (the refiner after a base run's denoising_end)."""
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, "StableDiffusionXLImg2ImgPipeline")
        if image is None:
            raise InvalidArgumentError("image is needed", "init_image")
        latents = _images.is_latents(image)

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            p.aesthetic_score = float(aesthetic_score)
            p.negative_aesthetic_score = float(negative_aesthetic_score)
            if denoising_end is not None:
                p.denoising_end = float(denoising_end)
            if latents:
                np = _images.numpy()
                array = np.ascontiguousarray(np.asarray(image, dtype=np.float32))
                keep.append(array)
                p.init_latents = array.ctypes.data_as(_native.c_float_p)
                p.init_latent_count, p.init_latent_channels, p.init_latent_height, p.init_latent_width = array.shape
                p.denoising_start = float(denoising_start) if denoising_start is not None else 0.0
                p.strength = float(strength)
                p.width, p.height = array.shape[3] * 8, array.shape[2] * 8
            else:
                pixels = _set_init_image(p, image, keep)
                p.strength = float(strength)
                p.width, p.height = pixels.width // 8 * 8, pixels.height // 8 * 8
                if denoising_start is not None:
                    p.denoising_start = float(denoising_start)

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=guidance_rescale,
                        width=None, height=None, num_images_per_prompt=num_images_per_prompt, generator=generator, seed=seed,
                        output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)


class StableDiffusionXLInpaintPipeline(_SdxlPipeline):
    """Inpainting (diffusers' StableDiffusionXLInpaintPipeline): repaints the white of `mask_image`."""

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image: ImageInput = None,
                 mask_image: ImageInput = None, height: Optional[int] = None, width: Optional[int] = None,
                 strength: float = 0.9999, num_inference_steps: int = 50, denoising_start: Optional[float] = None,
                 denoising_end: Optional[float] = None, guidance_scale: float = 7.5, negative_prompt: PromptInput = None,
                 negative_prompt_2: PromptInput = None, num_images_per_prompt: int = 1, eta: float = 0.0, generator=None,
                 seed: Optional[int] = None, output_type: str = "pil", return_dict: bool = True,
                 cross_attention_kwargs: Optional[dict] = None, guidance_rescale: float = 0.0, original_size=None,
                 crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                 negative_crops_coords_top_left=(0, 0), negative_target_size=None, aesthetic_score: float = 6.0,
                 negative_aesthetic_score: float = 2.5, clip_skip: Optional[int] = None,
                 callback_on_step_end: Optional[Callable] = None, **kwargs):
        """Repaints the masked part of `image` (white = repaint), diffusers' defaults (strength
        0.9999, guidance 7.5, 50 steps); the output has width x height (default: the model's size)."""
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, "StableDiffusionXLInpaintPipeline")
        if image is None or mask_image is None:
            raise InvalidArgumentError("image and mask_image are needed", "init_image" if image is None else "mask")
        size = self._default_size

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            p.aesthetic_score = float(aesthetic_score)
            p.negative_aesthetic_score = float(negative_aesthetic_score)
            _set_init_image(p, image, keep, mask_image)
            p.fit_to_size = 1
            p.strength = float(strength)
            if denoising_start is not None:
                p.denoising_start = float(denoising_start)
            if denoising_end is not None:
                p.denoising_end = float(denoising_end)

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=guidance_rescale,
                        width=width or size, height=height or size, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)
