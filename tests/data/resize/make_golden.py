"""Golden data for the Lanczos resize: what diffusers' VaeImageProcessor does to a PIL image
(Image.resize(size, Image.LANCZOS) in the image's own mode). Run with Debian 12's python3-pil
(Pillow 9.4.0, as the sdxl-ref data used):  /usr/bin/python3 make_golden.py
Writes <name>.png (input) and <name>_<W>x<H>.png (expected) beside this script."""
import os
import random

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(1234)


def noise_image(mode, width, height):
    channels = len(mode)
    data = bytearray()
    for y in range(height):
        for x in range(width):
            for c in range(channels):
                if mode == "RGBA" and c == 3:
                    # opaque, transparent and partial alpha, all present
                    data.append(rng.choice([0, 255, rng.randrange(256)]))
                else:
                    # smooth ramps plus noise: both flat and sharp regions
                    data.append(max(0, min(255, (x * 7 + y * 3 + c * 50) % 256 + rng.randrange(-40, 41))))
    return Image.frombytes(mode, (width, height), bytes(data))


CASES = [
    ("rgb_37x29", "RGB", 37, 29, [(32, 24), (64, 48), (40, 40), (37, 24)]),
    ("rgb_100x60", "RGB", 100, 60, [(48, 24), (96, 56)]),
    ("gray_45x33", "L", 45, 33, [(40, 32), (8, 8)]),
    ("rgba_30x22", "RGBA", 30, 22, [(24, 16), (64, 48)]),
]

for name, mode, width, height, sizes in CASES:
    image = noise_image(mode, width, height)
    image.save(os.path.join(HERE, name + ".png"))
    for w, h in sizes:
        image.resize((w, h), resample=Image.LANCZOS).save(os.path.join(HERE, f"{name}_{w}x{h}.png"))
