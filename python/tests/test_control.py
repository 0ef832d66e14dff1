"""ControlNets (one and several), a T2I-Adapter and an IP-Adapter through diffusers' names: the
CLI's images for the same units."""

import os

import numpy as np
import pytest
from PIL import Image

import sdxl
from sdxl import ControlNetModel, StableDiffusionXLAdapterPipeline, StableDiffusionXLControlNetPipeline, T2IAdapter

PROMPT = "a bird on a branch"


@pytest.fixture(scope="module")
def control_image(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("control") / "control.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    return path


def cli_pixels(cli, tmp_path, *args):
    out = tmp_path / "cli.png"
    cli("generate", *args, "-o", out, threads=2)
    return np.asarray(Image.open(out).convert("RGB"))


def test_controlnets_are_the_cli_units(ref, tiny, cli, tmp_path, control_image):
    net = ControlNetModel.from_pretrained(os.path.join(ref, "models", "tiny-sdxl-controlnet"))
    net_b = ControlNetModel.from_pretrained(os.path.join(ref, "models", "tiny-sdxl-controlnet-b"))
    image = Image.open(control_image)
    with StableDiffusionXLControlNetPipeline.from_pretrained(tiny, controlnet=net) as pipe:
        pipe.set_progress_bar_config(disable=True)
        out = pipe(PROMPT, image=image, controlnet_conditioning_scale=0.5, control_guidance_end=0.75, num_inference_steps=4, seed=5)
        assert out.images[0].size == (64, 64)  # the control image's size
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 4, "--seed", 5, "-W", 64, "-H", 64, "--controlnet",
                              net.path, "--control-image", control_image, "--control-scale", 0.5, "--control-end", 0.75)
        assert np.array_equal(np.asarray(out.images[0]), expected)
    with StableDiffusionXLControlNetPipeline.from_pretrained(tiny, controlnet=[net, net_b]) as multi:
        multi.set_progress_bar_config(disable=True)
        out = multi(PROMPT, image=[image, image], controlnet_conditioning_scale=[0.5, 0.8], num_inference_steps=4, seed=5)
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 4, "--seed", 5, "-W", 64, "-H", 64,
                              "--controlnet", net.path, "--control-image", control_image, "--controlnet", net_b.path, "--control-image",
                              control_image, "--control-scale", 0.5, "--control-scale", 0.8)
        assert np.array_equal(np.asarray(out.images[0]), expected)
        with pytest.raises(sdxl.InvalidArgumentError):
            multi(PROMPT, image=[image], num_inference_steps=2, seed=1)
    with pytest.raises(sdxl.InvalidArgumentError, match="controlnet="):
        StableDiffusionXLControlNetPipeline.from_pretrained(tiny)


def test_a_t2i_adapter_is_the_cli_unit(ref, tiny, cli, tmp_path, control_image):
    adapter = T2IAdapter.from_pretrained(os.path.join(ref, "models", "tiny-t2i-adapter-xl"))
    with StableDiffusionXLAdapterPipeline.from_pretrained(tiny, adapter=adapter) as pipe:
        pipe.set_progress_bar_config(disable=True)
        out = pipe(PROMPT, image=Image.open(control_image), adapter_conditioning_scale=0.7, adapter_conditioning_factor=0.5,
                   num_inference_steps=4, seed=6)
    expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 4, "--seed", 6, "-W", 64, "-H", 64, "--t2i-adapter",
                          adapter.path, "--adapter-image", control_image, "--adapter-scale", 0.7, "--adapter-factor", 0.5)
    assert np.array_equal(np.asarray(out.images[0]), expected)


def test_an_ip_adapter_as_diffusers_loads_it(ref, tiny, cli, tmp_path, control_image):
    folder = os.path.join(ref, "models", "ip-adapter")
    encoder = os.path.join(ref, "models", "tiny-clip-vision")
    with sdxl.StableDiffusionXLPipeline.from_pretrained(tiny) as pipe:
        pipe.set_progress_bar_config(disable=True)
        with pytest.raises(sdxl.InvalidArgumentError):
            pipe(PROMPT, ip_adapter_image=Image.open(control_image), num_inference_steps=2, seed=1)  # nothing loaded
        pipe.load_ip_adapter(folder, weight_name="tiny-ip-adapter_sdxl.safetensors", image_encoder_folder=encoder)
        pipe.set_ip_adapter_scale(0.6)
        out = pipe(PROMPT, ip_adapter_image=Image.open(control_image), num_inference_steps=4, seed=7)
        with pytest.raises(sdxl.InvalidArgumentError):
            pipe(PROMPT, num_inference_steps=2, seed=1)  # loaded, but no image
        pipe.unload_ip_adapter()
        plain = pipe(PROMPT, num_inference_steps=4, seed=7)
    expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 4, "--seed", 7, "-W", 64, "-H", 64, "--ip-adapter",
                          os.path.join(folder, "tiny-ip-adapter_sdxl.safetensors"), "--image-encoder", encoder, "--ip-adapter-image",
                          control_image, "--ip-adapter-scale", 0.6)
    assert np.array_equal(np.asarray(out.images[0]), expected)
    assert not np.array_equal(np.asarray(plain.images[0]), expected)


def test_controlnet_img2img_and_inpaint_are_the_cli_units(ref, tiny, cli, tmp_path, control_image):
    net = ControlNetModel.from_pretrained(os.path.join(ref, "models", "tiny-sdxl-controlnet"))
    rng = np.random.default_rng(4)
    init_path, mask_path = tmp_path / "init.png", tmp_path / "mask.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(init_path)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[8:40, 16:56] = 255
    Image.fromarray(mask).save(mask_path)
    common = ["-m", tiny, "-p", PROMPT, "--steps", 5, "--seed", 8, "-W", 64, "-H", 64, "--controlnet", net.path, "--control-image",
              control_image, "--init-image", init_path]
    with sdxl.StableDiffusionXLControlNetImg2ImgPipeline.from_pretrained(tiny, controlnet=net) as pipe:
        pipe.set_progress_bar_config(disable=True)
        out = pipe(PROMPT, image=Image.open(init_path), control_image=Image.open(control_image), num_inference_steps=5, seed=8)
    expected = cli_pixels(cli, tmp_path, *common, "--strength", 0.8, "--control-scale", 0.8)  # diffusers' img2img defaults
    assert np.array_equal(np.asarray(out.images[0]), expected)
    with sdxl.StableDiffusionXLControlNetInpaintPipeline.from_pretrained(tiny, controlnet=net) as pipe:
        pipe.set_progress_bar_config(disable=True)
        out = pipe(PROMPT, image=Image.open(init_path), mask_image=Image.open(mask_path), control_image=Image.open(control_image),
                   num_inference_steps=5, seed=8)
    expected = cli_pixels(cli, tmp_path, *common, "--mask", mask_path, "--strength", 0.9999)
    assert np.array_equal(np.asarray(out.images[0]), expected)
