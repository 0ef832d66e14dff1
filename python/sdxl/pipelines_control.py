"""diffusers' ControlNet and T2I-Adapter pipelines for SDXL over the engine: the model given to
from_pretrained (controlnet= one ControlNetModel or a list, adapter= a T2IAdapter), the control
image and its scale and window at the call, diffusers' defaults. The control image is fitted to
width x height (diffusers' resize, "Just Resize"); without a size the output takes the control
image's, as diffusers does."""

import json
import os
from typing import Callable, Optional

from . import _images
from .control import T2IAdapter, control_units
from .pipelines import PromptInput, _refuse_tensors, _set_init_image, _set_micro_conditioning, _SdxlPipeline


def _size_of(image, multiple):
    """The control image's size rounded down to `multiple` (diffusers' default output size)."""
    width, height = _images.size_of(image[0] if isinstance(image, (list, tuple)) else image, "image")
    return width // multiple * multiple, height // multiple * multiple


class StableDiffusionXLControlNetPipeline(_SdxlPipeline):
    """Text to image steered by ControlNets (diffusers' StableDiffusionXLControlNetPipeline);
    `controlnet=[net0, net1]` with `image=[img0, img1]` is diffusers' MultiControlNetModel."""

    _component_names = ("controlnet",)

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image=None, height: Optional[int] = None,
                 width: Optional[int] = None, num_inference_steps: int = 50, guidance_scale: float = 5.0,
                 negative_prompt: PromptInput = None, negative_prompt_2: PromptInput = None, num_images_per_prompt: int = 1,
                 eta: float = 0.0, generator=None, seed: Optional[int] = None, output_type: str = "pil", return_dict: bool = True,
                 cross_attention_kwargs: Optional[dict] = None, controlnet_conditioning_scale=1.0, guess_mode: bool = False,
                 control_guidance_start=0.0, control_guidance_end=1.0, original_size=None, crops_coords_top_left=(0, 0),
                 target_size=None, negative_original_size=None, negative_crops_coords_top_left=(0, 0), negative_target_size=None,
                 clip_skip: Optional[int] = None, callback_on_step_end: Optional[Callable] = None, **kwargs):
        """Generates from `prompt` with the ControlNets' control `image` (one per net), diffusers'
        defaults (50 steps, guidance 5.0, conditioning scale 1.0, the control image's size)."""
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, type(self).__name__)
        if image is None:
            from .errors import InvalidArgumentError
            raise InvalidArgumentError("image (the control image) is needed", "controlnets")
        default_width, default_height = _size_of(image, 8)

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            p.controlnets, p.controlnet_count = control_units(self.controlnet, image, controlnet_conditioning_scale,
                                                              control_guidance_start, control_guidance_end, keep)
            p.guess_mode = 1 if guess_mode else 0

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=0.0,
                        width=width or default_width, height=height or default_height, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)


def _adapter_multiple(adapter):
    """diffusers' adapter.downscale_factor: the sizes an adapter takes are multiples of it."""
    folder = adapter.config_dir or (adapter.path if os.path.isdir(adapter.path) else None)
    config = {}
    if folder:
        try:
            with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError):
            config = {}
    factor = int(config.get("downscale_factor", 8))
    return factor * 2 if config.get("adapter_type", "full_adapter_xl") == "full_adapter_xl" else factor


class StableDiffusionXLAdapterPipeline(_SdxlPipeline):
    """Text to image steered by a T2I-Adapter (diffusers' StableDiffusionXLAdapterPipeline)."""

    _component_names = ("adapter",)

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image=None, height: Optional[int] = None,
                 width: Optional[int] = None, num_inference_steps: int = 50, guidance_scale: float = 5.0,
                 negative_prompt: PromptInput = None, negative_prompt_2: PromptInput = None, num_images_per_prompt: int = 1,
                 eta: float = 0.0, generator=None, seed: Optional[int] = None, output_type: str = "pil", return_dict: bool = True,
                 cross_attention_kwargs: Optional[dict] = None, guidance_rescale: float = 0.0, original_size=None,
                 crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None, negative_crops_coords_top_left=(0, 0),
                 negative_target_size=None, adapter_conditioning_scale=1.0, adapter_conditioning_factor: float = 1.0,
                 clip_skip: Optional[int] = None, callback_on_step_end: Optional[Callable] = None, **kwargs):
        """Generates from `prompt` with the adapter's `image`: adapter_conditioning_scale weighs it,
        adapter_conditioning_factor is the fraction of the steps it acts on (diffusers' defaults 1, 1)."""
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, type(self).__name__)
        if not isinstance(self.adapter, T2IAdapter):
            from .errors import InvalidArgumentError
            raise InvalidArgumentError("adapter must be a T2IAdapter", "controlnets")
        if image is None:
            from .errors import InvalidArgumentError
            raise InvalidArgumentError("image (the adapter's image) is needed", "controlnets")
        default_width, default_height = _size_of(image, _adapter_multiple(self.adapter))

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            p.controlnets, p.controlnet_count = control_units(self.adapter, image, adapter_conditioning_scale, 0.0,
                                                              adapter_conditioning_factor, keep)

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=guidance_rescale,
                        width=width or default_width, height=height or default_height, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)


class StableDiffusionXLControlNetImg2ImgPipeline(_SdxlPipeline):
    """Image to image steered by ControlNets (diffusers' StableDiffusionXLControlNetImg2ImgPipeline):
    `image` is the picture to start from (fitted to the control image's size), `control_image` the
    map; diffusers' defaults (strength 0.8, conditioning scale 0.8, guidance 5.0, 50 steps)."""

    _component_names = ("controlnet",)

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image=None, control_image=None,
                 height: Optional[int] = None, width: Optional[int] = None, strength: float = 0.8, num_inference_steps: int = 50,
                 guidance_scale: float = 5.0, negative_prompt: PromptInput = None, negative_prompt_2: PromptInput = None,
                 num_images_per_prompt: int = 1, eta: float = 0.0, generator=None, seed: Optional[int] = None,
                 output_type: str = "pil", return_dict: bool = True, cross_attention_kwargs: Optional[dict] = None,
                 controlnet_conditioning_scale=0.8, guess_mode: bool = False, control_guidance_start=0.0, control_guidance_end=1.0,
                 original_size=None, crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                 negative_crops_coords_top_left=(0, 0), negative_target_size=None, aesthetic_score: float = 6.0,
                 negative_aesthetic_score: float = 2.5, clip_skip: Optional[int] = None,
                 callback_on_step_end: Optional[Callable] = None, **kwargs):
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, type(self).__name__)
        if image is None or control_image is None:
            from .errors import InvalidArgumentError
            raise InvalidArgumentError("image (to start from) and control_image are needed",
                                       "init_image" if image is None else "controlnets")
        default_width, default_height = _size_of(control_image, 8)

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, negative_original_size,
                                    negative_target_size, negative_crops_coords_top_left)
            p.aesthetic_score, p.negative_aesthetic_score = float(aesthetic_score), float(negative_aesthetic_score)
            _set_init_image(p, image, keep)
            p.fit_to_size = 1  # diffusers resizes the init image to the control image's size
            p.strength = float(strength)
            p.controlnets, p.controlnet_count = control_units(self.controlnet, control_image, controlnet_conditioning_scale,
                                                              control_guidance_start, control_guidance_end, keep)
            p.guess_mode = 1 if guess_mode else 0

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=0.0,
                        width=width or default_width, height=height or default_height, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)


class StableDiffusionXLControlNetInpaintPipeline(_SdxlPipeline):
    """Inpainting steered by ControlNets (diffusers' StableDiffusionXLControlNetInpaintPipeline):
    repaints the white of `mask_image` in `image`, with `control_image`; diffusers' defaults
    (strength 0.9999, guidance 5.0, conditioning scale 1.0, the image's size)."""

    _component_names = ("controlnet",)

    def __call__(self, prompt: PromptInput = None, prompt_2: PromptInput = None, image=None, mask_image=None, control_image=None,
                 height: Optional[int] = None, width: Optional[int] = None, strength: float = 0.9999, num_inference_steps: int = 50,
                 guidance_scale: float = 5.0, negative_prompt: PromptInput = None, negative_prompt_2: PromptInput = None,
                 num_images_per_prompt: int = 1, eta: float = 0.0, generator=None, seed: Optional[int] = None,
                 output_type: str = "pil", return_dict: bool = True, cross_attention_kwargs: Optional[dict] = None,
                 controlnet_conditioning_scale=1.0, guess_mode: bool = False, control_guidance_start=0.0, control_guidance_end=1.0,
                 guidance_rescale: float = 0.0, original_size=None, crops_coords_top_left=(0, 0), target_size=None,
                 aesthetic_score: float = 6.0, negative_aesthetic_score: float = 2.5, clip_skip: Optional[int] = None,
                 callback_on_step_end: Optional[Callable] = None, **kwargs):
        ip_adapter_image = kwargs.pop("ip_adapter_image", None)
        _refuse_tensors(kwargs, type(self).__name__)
        if image is None or mask_image is None or control_image is None:
            from .errors import InvalidArgumentError
            raise InvalidArgumentError("image, mask_image and control_image are needed", "init_image")
        default_width, default_height = _size_of(image, 8)

        def extra(p, keep):
            _set_micro_conditioning(p, original_size, target_size, crops_coords_top_left, None, None, (0, 0))
            p.aesthetic_score, p.negative_aesthetic_score = float(aesthetic_score), float(negative_aesthetic_score)
            _set_init_image(p, image, keep, mask_image)
            p.fit_to_size = 1
            p.strength = float(strength)
            p.controlnets, p.controlnet_count = control_units(self.controlnet, control_image, controlnet_conditioning_scale,
                                                              control_guidance_start, control_guidance_end, keep)
            p.guess_mode = 1 if guess_mode else 0

        out = self._run(prompt=prompt, prompt_2=prompt_2, negative_prompt=negative_prompt, negative_prompt_2=negative_prompt_2,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, guidance_rescale=guidance_rescale,
                        width=width or default_width, height=height or default_height, num_images_per_prompt=num_images_per_prompt,
                        generator=generator, seed=seed, output_type=output_type, callback_on_step_end=callback_on_step_end,
                        cross_attention_kwargs=cross_attention_kwargs, clip_skip=clip_skip, eta=eta, extra=extra,
                        ip_adapter_image=ip_adapter_image)
        return out if return_dict else (out.images,)
