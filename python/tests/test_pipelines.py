"""The diffusers-shaped pipelines on the reference data's tiny models: every image equals the CLI's
for the same settings, the refiner hand-over, LoRAs, schedulers, errors, cancelling, freeing."""

import gc
import os
import threading

import numpy as np
import pytest
from PIL import Image

import sdxl
from sdxl import (DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, StableDiffusionXLImg2ImgPipeline,
                  StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline)

PROMPT = "a red barn in a snowy field"


@pytest.fixture(scope="module")
def pipe(tiny):
    sdxl.set_num_threads(2)
    p = StableDiffusionXLPipeline.from_pretrained(tiny)
    p.set_progress_bar_config(disable=True)
    yield p
    p.close()


def cli_pixels(cli, tmp_path, *args):
    out = tmp_path / "cli.png"
    cli("generate", *args, "-o", out, threads=2)
    return np.asarray(Image.open(out).convert("RGB"))


def pixels(image):
    return np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)


def test_txt2img_is_the_cli_image(pipe, tiny, cli, tmp_path):
    result = pipe(PROMPT, negative_prompt="fog", num_inference_steps=4, guidance_scale=5.0, width=64, height=64, seed=7)
    assert isinstance(result.images[0], Image.Image)
    expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "-n", "fog", "--steps", 4, "--guidance", 5.0, "-W", 64, "-H", 64,
                          "--seed", 7)
    assert np.array_equal(pixels(result.images[0]), expected)
    assert result.seeds == [7]
    assert "Steps: 4" in result.infotexts[0] and "Seed: 7" in result.infotexts[0]


def test_defaults_are_diffusers(pipe):
    # 50 steps, guidance 5.0, the model's sample size (the tiny UNet's 8 x the VAE's 8 = 64)
    seen = []
    out = pipe(PROMPT, seed=1, callback_on_step_end=lambda p, i, t, kw: seen.append(i) or kw)
    assert out.images[0].size == (64, 64)
    assert seen == list(range(50))
    assert "CFG scale: 5.0" in out.infotexts[0]


def test_batch_seeds_and_output_types(pipe):
    out = pipe([PROMPT, "a blue house"], num_images_per_prompt=2, num_inference_steps=2, seed=10, output_type="np")
    assert out.images.shape == (4, 64, 64, 3) and out.images.dtype == np.float32
    assert out.seeds == [10, 11, 12, 13]
    # image i of a batch is the single image of seed + i
    single = pipe(PROMPT, num_inference_steps=2, seed=11, output_type="np").images
    assert np.array_equal(out.images[1], single[0])
    latents = pipe(PROMPT, num_inference_steps=2, seed=10, output_type="latent").images
    assert latents.shape == (1, 4, 8, 8) and latents.dtype == np.float32


def test_a_torch_generator_is_read_by_its_seed(pipe):
    class Generator:  # what torch.Generator().manual_seed(n) offers
        def __init__(self, seed):
            self.seed = seed

        def initial_seed(self):
            return self.seed

    by_generator = pipe(PROMPT, num_inference_steps=2, generator=Generator(5), output_type="np").images
    by_seed = pipe(PROMPT, num_inference_steps=2, seed=5, output_type="np").images
    assert np.array_equal(by_generator, by_seed)
    listed = pipe(PROMPT, num_inference_steps=2, num_images_per_prompt=2, generator=[Generator(5), Generator(6)], output_type="np")
    assert listed.seeds == [5, 6]
    with pytest.raises(sdxl.UnsupportedError):
        pipe(PROMPT, num_inference_steps=2, num_images_per_prompt=2, generator=[Generator(5), Generator(9)])


def test_schedulers_by_diffusers_names(pipe, tiny, cli, tmp_path):
    original = pipe.scheduler
    try:
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, use_karras_sigmas=True)
        out = pipe(PROMPT, num_inference_steps=4, width=64, height=64, seed=3)
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 4, "-W", 64, "-H", 64, "--seed", 3, "--sampler",
                              "dpmpp_2m", "--karras")
        assert np.array_equal(pixels(out.images[0]), expected)
        assert "DPM++ 2M" in out.infotexts[0] and "Karras" in out.infotexts[0]
        pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
        out = pipe(PROMPT, num_inference_steps=3, seed=3)
        assert "Euler a" in out.infotexts[0]
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, lower_order_final=False, beta_end=0.02)
        with pytest.raises(sdxl.UnsupportedError, match="beta_end"):
            pipe(PROMPT, num_inference_steps=3, seed=3)
    finally:
        pipe.scheduler = original


def test_a_scheduler_given_at_load_time(tiny):
    by_object = StableDiffusionXLPipeline.from_pretrained(tiny, scheduler=EulerAncestralDiscreteScheduler())
    by_name = StableDiffusionXLPipeline.from_pretrained(tiny, scheduler="DPM++ 2M Karras")
    for p in (by_object, by_name):
        p.set_progress_bar_config(disable=True)
    assert "Sampler: Euler a" in by_object(PROMPT, num_inference_steps=2, seed=1).infotexts[0]
    text = by_name(PROMPT, num_inference_steps=2, seed=1).infotexts[0]
    assert "DPM++ 2M" in text and "Karras" in text
    by_object.close()
    by_name.close()


def test_loras_as_diffusers_loads_and_scales_them(pipe, ref, tiny, cli, tmp_path):
    lora = os.path.join(ref, "models", "loras", "tiny-sdxl-base-kohya-attn.safetensors")
    pipe.load_lora_weights(lora, adapter_name="attn")
    try:
        out = pipe(PROMPT, num_inference_steps=3, seed=4, cross_attention_kwargs={"scale": 0.7})
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 3, "-W", 64, "-H", 64, "--seed", 4, "--guidance", 5.0,
                              "--lora", f"{lora}:0.7")
        assert np.array_equal(pixels(out.images[0]), expected)
        pipe.set_adapters(["attn"], adapter_weights=[0.35])
        pipe.fuse_lora(lora_scale=2.0)  # 0.35 x 2 = 0.7 again (exactly), whatever the call's scale
        fused = pipe(PROMPT, num_inference_steps=3, seed=4, cross_attention_kwargs={"scale": 0.1})
        assert np.array_equal(pixels(fused.images[0]), expected)
        with pytest.raises(sdxl.InvalidArgumentError):
            pipe.set_adapters(["nope"])
    finally:
        pipe.unload_lora_weights()
    plain = pipe(PROMPT, num_inference_steps=3, seed=4)
    assert not np.array_equal(pixels(plain.images[0]), expected)


def test_img2img_and_inpaint_are_the_cli_images(tiny, cli, tmp_path):
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask_pixels = np.zeros((64, 64), dtype=np.uint8)
    mask_pixels[16:48, 16:48] = 255
    mask = Image.fromarray(mask_pixels)
    init.save(tmp_path / "init.png")
    mask.save(tmp_path / "mask.png")
    with StableDiffusionXLImg2ImgPipeline.from_pretrained(tiny) as img2img:
        img2img.set_progress_bar_config(disable=True)
        out = img2img(PROMPT, image=init, strength=0.6, num_inference_steps=5, seed=8)
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 5, "--seed", 8, "--init-image", tmp_path / "init.png",
                              "--strength", 0.6)
        assert np.array_equal(pixels(out.images[0]), expected)
        # a numpy image (H x W x 3 uint8) is the same input
        again = img2img(PROMPT, image=np.asarray(init), strength=0.6, num_inference_steps=5, seed=8)
        assert np.array_equal(pixels(again.images[0]), expected)
    with StableDiffusionXLInpaintPipeline.from_pretrained(tiny) as inpaint:
        inpaint.set_progress_bar_config(disable=True)
        out = inpaint(PROMPT, image=init, mask_image=mask, num_inference_steps=5, seed=9, width=64, height=64)
        expected = cli_pixels(cli, tmp_path, "-m", tiny, "-p", PROMPT, "--steps", 5, "--seed", 9, "--init-image", tmp_path / "init.png",
                              "--mask", tmp_path / "mask.png", "--strength", 0.9999, "--guidance", 7.5, "-W", 64, "-H", 64)
        assert np.array_equal(pixels(out.images[0]), expected)


def test_the_refiner_hand_over_of_diffusers_docs(ref, tiny, cli, tmp_path):
    refiner_path = os.path.join(ref, "models", "tiny-sdxl-refiner")
    with StableDiffusionXLPipeline.from_pretrained(tiny) as base, StableDiffusionXLImg2ImgPipeline.from_pretrained(refiner_path) as refiner:
        base.set_progress_bar_config(disable=True)
        refiner.set_progress_bar_config(disable=True)
        latents = base(PROMPT, num_inference_steps=10, denoising_end=0.8, output_type="latent", seed=12).images
        image = refiner(PROMPT, num_inference_steps=10, denoising_start=0.8, image=latents, seed=12).images[0]
    expected = cli_pixels(cli, tmp_path, "-m", tiny, "--refiner", refiner_path, "-p", PROMPT, "--steps", 10, "--seed", 12,
                          "-W", 64, "-H", 64, "--refiner-mode", "ensemble", "--high-noise-frac", 0.8)
    assert np.abs(pixels(image).astype(int) - expected.astype(int)).max() <= 1


def test_bad_input_raises_the_right_exception_and_the_pipeline_goes_on(pipe, tmp_path):
    with pytest.raises(sdxl.InvalidArgumentError) as bad_steps:
        pipe(PROMPT, num_inference_steps=0, seed=1)
    assert bad_steps.value.parameter == "steps"
    with pytest.raises(sdxl.InvalidArgumentError) as bad_size:
        pipe(PROMPT, width=100, height=64, num_inference_steps=1, seed=1)
    assert bad_size.value.parameter == "width"
    with pytest.raises(sdxl.UnsupportedError, match="prompt_embeds"):
        pipe(PROMPT, prompt_embeds=object())
    with pytest.raises(sdxl.InvalidArgumentError):
        pipe(PROMPT, output_type="pt")
    with pytest.raises(sdxl.ModelFileError):
        StableDiffusionXLPipeline.from_pretrained(str(tmp_path / "no-such-model"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{not json")
    with pytest.raises(sdxl.SdxlError):
        StableDiffusionXLPipeline.from_pretrained(str(broken))
    with pytest.raises(sdxl.UnsupportedError):
        StableDiffusionXLPipeline.from_pretrained(str(tmp_path), torch_dtype="torch.float16")
    assert pipe(PROMPT, num_inference_steps=1, seed=1).images[0].size == (64, 64)  # still usable


def test_a_callback_cancels_and_the_engine_stays_usable(pipe):
    def stop_at_third(p, i, t, kwargs):
        if i == 2:
            p._interrupt = True
        return kwargs

    with pytest.raises(sdxl.CancelledError):
        pipe(PROMPT, num_inference_steps=10, seed=2, callback_on_step_end=stop_at_third)

    class Stop(Exception):
        pass

    def raising(p, i, t, kwargs):
        raise Stop()

    with pytest.raises(Stop):  # the callback's own exception comes back, the C call cancelled on the way
        pipe(PROMPT, num_inference_steps=10, seed=2, callback_on_step_end=raising)
    assert len(pipe(PROMPT, num_inference_steps=2, seed=2).images) == 1


def test_a_second_thread_gets_busy_not_a_crash(tiny):
    with StableDiffusionXLPipeline.from_pretrained(tiny) as p:
        p.set_progress_bar_config(disable=True)
        started, errors = threading.Event(), []

        def slow(pipe_, i, t, kwargs):
            started.set()
            return kwargs

        worker = threading.Thread(target=lambda: p(PROMPT, num_inference_steps=200, seed=1, callback_on_step_end=slow))
        worker.start()
        started.wait(30)
        try:
            p(PROMPT, num_inference_steps=1, seed=1)
        except sdxl.BusyError as e:
            errors.append(e)
        worker.join()
        assert errors, "a second generation on a busy engine should raise BusyError"


def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_collected_pipeline_gives_its_memory_back(tiny):
    gc.collect()
    before = resident_mib()
    for _ in range(3):
        p = StableDiffusionXLPipeline.from_pretrained(tiny, precision="bf16")
        p.set_progress_bar_config(disable=True)
        p(PROMPT, num_inference_steps=1, seed=1, width=256, height=256)
        del p
        gc.collect()
    # three loads and generations of ~100 MB each; what stays is the allocator's, not three engines
    assert resident_mib() - before < 120


def test_the_progress_bar_is_tqdms(tiny, capfd):
    with StableDiffusionXLPipeline.from_pretrained(tiny) as p:
        p(PROMPT, num_inference_steps=4, seed=1)
        shown = capfd.readouterr().err
        p.set_progress_bar_config(disable=True)
        p(PROMPT, num_inference_steps=4, seed=1)
        hidden = capfd.readouterr().err
    try:
        import tqdm  # noqa: F401
        assert "denoising" in shown and "4/4" in shown, shown
    except ImportError:  # without tqdm there is no bar, and nothing else is written
        assert shown == ""
    assert hidden == ""
