// The OpenAI Images API of `sdxl serve` as the official `openai` npm client uses it: images,
// models, and every error as the client reads it (its error classes, status, code and param come
// from OpenAI's {"error": {message, type, param, code}} shape).
//   node openai_client_test.mjs SDXL_BINARY MODEL_DIR
import { join } from "node:path";
import { startServer } from "./sdxl_serve.mjs";
import OpenAI from "openai";

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
  const streamed = await failure(() => client.images.generate({ prompt: "x", size: "64x64", stream: true }));
  check(streamed instanceof OpenAI.BadRequestError && streamed.param === "stream", "stream: true is refused naming stream");
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
