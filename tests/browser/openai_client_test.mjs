// The OpenAI Images API of `sdxl serve` as the official `openai` npm client uses it: images,
// models, and every error as the client reads it (its error classes, status, code and param come
// from OpenAI's {"error": {message, type, param, code}} shape).
//   node openai_client_test.mjs SDXL_BINARY MODEL_DIR
import { join } from "node:path";
import { startServer } from "./sdxl_serve.mjs";
import { deflateSync } from "node:zlib";
import OpenAI, { toFile } from "openai";

// Node 18 (Debian 12's) has no global File, which the client's uploads need: its own advice.
if (!globalThis.File) globalThis.File = (await import("node:buffer")).File;

// A PNG of 8-bit RGBA pixels (a mask whose transparent pixels are the ones to edit).
function rgbaPng(width, height, pixel) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "ascii");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8);  // 8-bit RGBA
  const rows = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; ++y)
    for (let x = 0; x < width; ++x) rows.set(pixel(x, y), y * (1 + width * 4) + 1 + x * 4);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

const [sdxl, defaultModel] = process.argv.slice(2);
const model = process.env.SDXL_REF ? join(process.env.SDXL_REF, "models/tiny-sdxl-base") : defaultModel;
if (!sdxl || !model) {
  console.error("usage: node openai_client_test.mjs SDXL_BINARY MODEL_DIR");
  process.exit(2);
}
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log((ok ? "ok   " : "FAIL ") + what); };
const key = "sk-sdxl-test";

// The client's error for a call that should fail, or null when it did not.
async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return e;
  }
}

const { child, port } = await startServer(sdxl, ["-m", model, "--api-key", key]);
try {
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
  const name = "tiny-sdxl-base";

  const images = await client.images.generate({ model: name, prompt: "a photo of a cat", n: 2, size: "64x64",
                                                response_format: "b64_json" });
  check(images.data.length === 2, "images.generate gives n images");
  const png = Buffer.from(images.data[0].b64_json, "base64");
  check(png.subarray(1, 4).toString() === "PNG", "each a base64 PNG");
  check(typeof images.created === "number", "with `created`");

  const jpeg = await client.images.generate({ prompt: "a cat", size: "64x64", output_format: "jpeg", output_compression: 60 });
  check(Buffer.from(jpeg.data[0].b64_json, "base64").subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])),
        "output_format jpeg gives a JPEG");

  // images.edit: multipart, as the client uploads files. Without a mask an opaque image is
  // img2img at its own size; a mask's transparent pixels are the ones repainted.
  const edited = await client.images.edit({ image: await toFile(png, "cat.png", { type: "image/png" }), prompt: "a cat at night",
                                            response_format: "b64_json" });
  const editedPng = Buffer.from(edited.data[0].b64_json, "base64");
  check(editedPng.subarray(1, 4).toString() === "PNG" && editedPng.readUInt32BE(16) === 64, "images.edit gives the image, at its size");
  const mask = rgbaPng(64, 64, (x, y) => [0, 0, 0, x < 32 && y < 32 ? 0 : 255]);
  const inpainted = await client.images.edit({ image: await toFile(png, "cat.png", { type: "image/png" }),
                                               mask: await toFile(mask, "mask.png", { type: "image/png" }),
                                               prompt: "a hat", n: 2, size: "64x64" });
  check(inpainted.data.length === 2, "images.edit with a mask: n images");
  const smallMask = rgbaPng(32, 32, () => [0, 0, 0, 0]);
  const mismatch = await failure(async () => client.images.edit({ image: await toFile(png, "cat.png", { type: "image/png" }),
                                                                  mask: await toFile(smallMask, "m.png", { type: "image/png" }),
                                                                  prompt: "x" }));
  check(mismatch instanceof OpenAI.BadRequestError && mismatch.param === "mask", `a mask of another size is 400 naming mask (${mismatch && mismatch.message})`);
  const two = await failure(async () => client.images.edit({ image: [await toFile(png, "a.png", { type: "image/png" }), await toFile(png, "b.png", { type: "image/png" })],
                                                             prompt: "x" }));
  check(two instanceof OpenAI.BadRequestError && /one image/.test(two.message), `several images are refused (${two && two.message})`);

  const list = await client.models.list();
  check(list.data.some((m) => m.id === name), "models.list names the checkpoint");
  const one = await client.models.retrieve(name);
  check(one.id === name && one.object === "model", "models.retrieve gives it");

  const missing = await failure(() => client.models.retrieve("no-such-model"));
  check(missing instanceof OpenAI.NotFoundError && missing.code === "model_not_found",
        `an unknown model is NotFoundError, code model_not_found (${missing && missing.message})`);
  const wrongModel = await failure(() => client.images.generate({ model: "no-such-model", prompt: "x", size: "64x64" }));
  check(wrongModel instanceof OpenAI.NotFoundError && wrongModel.param === "model", "generating with one names `model`");

  const stranger = new OpenAI({ apiKey: "sk-wrong", baseURL, maxRetries: 0 });
  const denied = await failure(() => stranger.models.list());
  check(denied instanceof OpenAI.AuthenticationError && denied.status === 401 && denied.code === "invalid_api_key",
        `a wrong key is AuthenticationError 401, code invalid_api_key (${denied && denied.message})`);
  check(denied && /authentication required/.test(denied.message), "with the server's message");
  const deniedPost = await failure(() => stranger.images.generate({ prompt: "x".repeat(20000), size: "64x64" }));
  check(deniedPost instanceof OpenAI.AuthenticationError, "also before a large body");

  const tooMany = await failure(() => client.images.generate({ prompt: "x", n: 11, size: "64x64" }));
  check(tooMany instanceof OpenAI.BadRequestError && tooMany.param === "n", `n out of range is 400 naming n (${tooMany && tooMany.message})`);
  const badSize = await failure(() => client.images.generate({ prompt: "x", size: "big" }));
  check(badSize instanceof OpenAI.BadRequestError && badSize.param === "size", "a bad size is 400 naming size");
  // stream: true, as the client iterates it: partial images (previews) then the image.
  const events = [];
  for await (const e of await client.images.generate({ prompt: "a cat", size: "64x64", stream: true, partial_images: 2 })) events.push(e);
  const partials = events.filter((e) => e.type === "image_generation.partial_image");
  const done = events.filter((e) => e.type === "image_generation.completed");
  check(done.length === 1 && Buffer.from(done[0].b64_json, "base64").subarray(1, 4).toString() === "PNG" && done[0].size === "64x64",
        `a stream ends with image_generation.completed and the PNG (${events.map((e) => e.type).join(", ")})`);
  check(partials.length >= 1 && partials.length <= 2 && partials.every((p, i) => p.partial_image_index === i && p.b64_json.length > 0),
        `with up to partial_images previews, in order (${partials.length})`);
  check(events.at(-1).type === "image_generation.completed", "the completed event last");
  const editEvents = [];
  for await (const e of await client.images.edit({ image: await toFile(png, "cat.png", { type: "image/png" }), prompt: "a dog",
                                                   stream: true, output_format: "webp" })) editEvents.push(e);
  check(editEvents.length === 1 && editEvents[0].type === "image_edit.completed" && editEvents[0].output_format === "webp" &&
        Buffer.from(editEvents[0].b64_json, "base64").subarray(8, 12).toString() === "WEBP",
        `an edit streams image_edit.completed, in its output_format (${editEvents.map((e) => e.type).join(", ")})`);
  const urlStream = await failure(() => client.images.generate({ prompt: "x", size: "64x64", stream: true, response_format: "url" }));
  check(urlStream instanceof OpenAI.BadRequestError && urlStream.param === "response_format", "a stream of links is refused");
  const typo = await failure(() => client.images.generate({ prompt: "x", size: "64x64", sizee: "64x64" }));
  check(typo instanceof OpenAI.BadRequestError && typo.param === "sizee", "an unknown argument is refused naming it");

  const route = await fetch(`${baseURL}/chat/completions`, { method: "POST", headers: { Authorization: `Bearer ${key}` }, body: "{}" });
  const body = await route.json();
  check(route.status === 404 && body.error && body.error.type === "invalid_request_error", "an unknown /v1 route is a 404 in OpenAI's shape");
} finally {
  child.kill("SIGTERM");
}
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
