#!/usr/bin/env python3
"""The diffusers quick-start, run by sdxl: only the import differs.

    python3 python/examples/txt2img.py MODEL_DIR_OR_FILE "a prompt" out.png [--steps N] [--seed N]
"""

import argparse

from sdxl import DPMSolverMultistepScheduler, StableDiffusionXLPipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a diffusers SDXL folder or a single-file checkpoint")
    parser.add_argument("prompt")
    parser.add_argument("output", help="where the PNG goes")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=None, help="width and height (default: the model's)")
    parser.add_argument("--karras", action="store_true", help="DPM++ 2M Karras instead of the model's scheduler")
    parser.add_argument("--bf16", action="store_true", help="bf16 matmuls and convolutions (faster on AVX512-BF16)")
    args = parser.parse_args()

    with StableDiffusionXLPipeline.from_pretrained(args.model, precision="bf16" if args.bf16 else "fp32") as pipe:
        if args.karras:
            pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, use_karras_sigmas=True)
        result = pipe(args.prompt, num_inference_steps=args.steps, seed=args.seed, width=args.size, height=args.size)
        image = result.images[0]
        if hasattr(image, "save"):
            from PIL.PngImagePlugin import PngInfo
            info = PngInfo()
            info.add_text("parameters", result.infotexts[0])  # AUTOMATIC1111's PNG text, as the CLI writes it
            image.save(args.output, pnginfo=info)
        else:
            raise SystemExit("saving a PNG needs Pillow (python3-pil)")
    print(args.output)


if __name__ == "__main__":
    main()
