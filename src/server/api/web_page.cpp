// The page at `/`: a prompt form, an init image with a mask painted over it (img2img, inpainting),
// a ControlNet unit with its preprocessor's map previewed, Generate and Cancel, a progress bar
// with the live preview and a gallery of results with their parameters, on the jobs API. Plain HTML, CSS and JavaScript in
// the binary: no build step, nothing fetched from elsewhere.
#include "server/http/routes.h"

namespace sdxl::server {
namespace {

const char* const kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdxl</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #16181d; color: #e6e6e6; }
  header { padding: 0.8rem 1.2rem; background: #1f232b; font-weight: 600; }
  main { display: grid; grid-template-columns: minmax(280px, 420px) 1fr; gap: 1.2rem; padding: 1.2rem; }
  label { display: block; font-size: 0.85rem; margin: 0.6rem 0 0.2rem; color: #aab; }
  textarea, input, select { width: 100%; box-sizing: border-box; background: #262a33; color: #eee; border: 1px solid #3a3f4b;
                            border-radius: 6px; padding: 0.45rem; font: inherit; }
  textarea { min-height: 5rem; resize: vertical; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 0.6rem; }
  button { margin-top: 1rem; padding: 0.6rem 1.2rem; border: 0; border-radius: 6px; font: inherit; cursor: pointer; }
  #generate { background: #4f7cff; color: white; } #cancel { background: #444a57; color: #eee; }
  button:disabled { opacity: 0.5; cursor: default; }
  progress { width: 100%; height: 0.8rem; margin-top: 0.8rem; }
  #status { font-size: 0.85rem; color: #aab; min-height: 1.2rem; }
  #preview { width: 100%; image-rendering: pixelated; border-radius: 6px; margin-top: 0.6rem; display: none; }
  #gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1rem; align-content: start; }
  figure { margin: 0; background: #1f232b; border-radius: 8px; padding: 0.6rem; }
  figure img { width: 100%; border-radius: 6px; }
  figcaption { font-size: 0.75rem; color: #aab; white-space: pre-wrap; word-break: break-word; margin-top: 0.4rem; }
  a { color: #8fb0ff; }
  fieldset { border: 1px solid #3a3f4b; border-radius: 8px; margin-top: 0.9rem; padding: 0.2rem 0.7rem 0.7rem; }
  legend { font-size: 0.85rem; color: #aab; }
  .painter { position: relative; margin-top: 0.5rem; display: none; }
  .painter canvas { width: 100%; border-radius: 6px; display: block; }
  #mask-canvas { position: absolute; left: 0; top: 0; opacity: 0.55; cursor: crosshair; touch-action: none; }
  #control-map { width: 100%; border-radius: 6px; margin-top: 0.5rem; display: none; background: #000; }
  .small { margin-top: 0.4rem; padding: 0.3rem 0.7rem; background: #444a57; color: #eee; }
</style>
</head>
<body>
<header>sdxl</header>
<main>
  <form id="form" onsubmit="return false">
    <label for="prompt">Prompt</label><textarea id="prompt">a photo of a cat</textarea>
    <label for="negative">Negative prompt</label><textarea id="negative"></textarea>
    <div class="row">
      <div><label for="width">Width</label><input id="width" type="number" value="1024" min="64" max="4096" step="8"></div>
      <div><label for="height">Height</label><input id="height" type="number" value="1024" min="64" max="4096" step="8"></div>
    </div>
    <div class="row">
      <div><label for="steps">Steps</label><input id="steps" type="number" value="30" min="1" max="1000"></div>
      <div><label for="guidance">Guidance</label><input id="guidance" type="number" value="5" min="0" max="100" step="0.5"></div>
    </div>
    <div class="row">
      <div><label for="sampler">Sampler</label><select id="sampler"></select></div>
      <div><label for="seed">Seed (-1: random)</label><input id="seed" type="number" value="-1"></div>
    </div>
    <div class="row">
      <div><label for="model">Model</label><select id="model"></select></div>
      <div><label for="lora">LoRA</label><select id="lora"><option value="">none</option></select></div>
    </div>
    <label for="lora-weight">LoRA weight</label><input id="lora-weight" type="number" value="1" step="0.05">
    <fieldset>
      <legend>Init image (img2img; paint a mask over it to inpaint)</legend>
      <input id="init-image" type="file" accept="image/png,image/jpeg,image/webp">
      <div class="row">
        <div><label for="strength">Strength</label><input id="strength" type="number" value="0.75" min="0.01" max="1" step="0.05"></div>
        <div><label for="brush">Mask brush (px)</label><input id="brush" type="number" value="16" min="1" max="512"></div>
      </div>
      <div class="painter" id="painter"><canvas id="init-canvas"></canvas><canvas id="mask-canvas"></canvas></div>
      <button class="small" id="clear-mask" type="button">Clear mask</button>
      <button class="small" id="remove-init" type="button">Remove image</button>
    </fieldset>
    <fieldset>
      <legend>ControlNet</legend>
      <div class="row">
        <div><label for="cn-model">Model</label><select id="cn-model"><option value="">none</option></select></div>
        <div><label for="cn-module">Preprocessor</label><select id="cn-module"><option>none</option><option>canny</option></select></div>
      </div>
      <label for="cn-image">Control image</label><input id="cn-image" type="file" accept="image/png,image/jpeg,image/webp">
      <div class="row">
        <div><label for="cn-low">Canny low</label><input id="cn-low" type="number" value="100" min="1" max="255"></div>
        <div><label for="cn-high">Canny high</label><input id="cn-high" type="number" value="200" min="1" max="255"></div>
      </div>
      <div class="row">
        <div><label for="cn-scale">Scale</label><input id="cn-scale" type="number" value="1" min="0" max="2" step="0.05"></div>
        <div><label for="cn-start">Start / end</label>
          <div class="row"><input id="cn-start" type="number" value="0" min="0" max="1" step="0.05"><input id="cn-end" type="number" value="1" min="0" max="1" step="0.05"></div></div>
      </div>
      <button class="small" id="cn-preview" type="button">Preview the map</button>
      <img id="control-map" alt="control map">
    </fieldset>
    <button id="generate">Generate</button> <button id="cancel" disabled>Cancel</button>
    <progress id="progress" max="1" value="0"></progress>
    <div id="status"></div>
    <img id="preview" alt="preview">
  </form>
  <section id="gallery"></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
let job = null, events = null;

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

async function fillPickers() {
  for (const s of await getJson("/sdapi/v1/samplers"))
    $("sampler").add(new Option(s.name, s.aliases[0]));
  for (const m of (await getJson("/v1/models")).data) $("model").add(new Option(m.id, m.id));
  for (const l of await getJson("/sdapi/v1/loras")) $("lora").add(new Option(l.name, l.name));
  for (const m of (await getJson("/controlnet/model_list")).model_list) $("cn-model").add(new Option(m, m));
}

// A file as base64 (without the data: prefix), or null when none is chosen.
function fileBase64(input) {
  const file = input.files[0];
  if (!file) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// The init image on a canvas, and a mask painted over it in white (the area to repaint).
let masked = false;
async function showInit() {
  const b64 = await fileBase64($("init-image"));
  if (!b64) { $("painter").style.display = "none"; return; }
  const img = new Image();
  img.src = "data:image;base64," + b64;
  await img.decode();
  for (const id of ["init-canvas", "mask-canvas"]) { $(id).width = img.naturalWidth; $(id).height = img.naturalHeight; }
  $("init-canvas").getContext("2d").drawImage(img, 0, 0);
  clearMask();
  $("painter").style.display = "block";
}
function clearMask() {
  const c = $("mask-canvas"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  masked = false;
}
function paintAt(e) {
  const c = $("mask-canvas"), box = c.getBoundingClientRect(), ctx = c.getContext("2d");
  const x = (e.clientX - box.left) * c.width / box.width, y = (e.clientY - box.top) * c.height / box.height;
  const r = Number($("brush").value) / 2;
  ctx.fillStyle = "#ffffff";
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fill();
  masked = true;
}
// The painted mask as a base64 PNG: white where painted, black elsewhere, the image's size.
function maskBase64() {
  const src = $("mask-canvas"), out = document.createElement("canvas");
  out.width = src.width; out.height = src.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#000000";
  ctx.fillRect(0, 0, out.width, out.height);
  const paint = src.getContext("2d").getImageData(0, 0, src.width, src.height), pixels = ctx.getImageData(0, 0, out.width, out.height);
  for (let i = 0; i < paint.data.length; i += 4) {
    const v = paint.data[i + 3] >= 128 ? 255 : 0;
    pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = v;
    pixels.data[i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return out.toDataURL("image/png").split(",")[1];
}
$("init-image").onchange = () => showInit().catch((e) => showError(String(e)));
$("clear-mask").onclick = clearMask;
$("remove-init").onclick = () => { $("init-image").value = ""; $("painter").style.display = "none"; clearMask(); };
let painting = false;
$("mask-canvas").addEventListener("pointerdown", (e) => { painting = true; paintAt(e); });
$("mask-canvas").addEventListener("pointermove", (e) => { if (painting) paintAt(e); });
window.addEventListener("pointerup", () => { painting = false; });

// The preprocessor's map of the control image, as the ControlNet extension's preview shows it.
$("cn-preview").onclick = async () => {
  const b64 = await fileBase64($("cn-image"));
  if (!b64) return showError("choose a control image first");
  const r = await fetch("/controlnet/detect", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ controlnet_module: $("cn-module").value, controlnet_input_images: [b64],
                           controlnet_threshold_a: Number($("cn-low").value), controlnet_threshold_b: Number($("cn-high").value),
                           controlnet_processor_res: Math.min(Number($("width").value), Number($("height").value)) }) });
  const answer = await r.json();
  if (!r.ok) return showError(answer.detail || ("error " + r.status));
  $("control-map").src = "data:image/png;base64," + answer.images[0];
  $("control-map").style.display = "block";
};

function setBusy(busy) {
  $("generate").disabled = busy;
  $("cancel").disabled = !busy;
}

function showError(text) { $("status").textContent = text; setBusy(false); }

function addToGallery(view) {
  for (const image of view.images) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = image.url;
    img.className = "result";
    const caption = document.createElement("figcaption");
    caption.textContent = image.parameters;
    const link = document.createElement("a");
    link.href = image.url;
    link.download = "sdxl-" + view.id + ".png";
    link.textContent = "download";
    figure.append(img, caption, link);
    $("gallery").prepend(figure);
  }
}

function follow(id) {
  events = new EventSource("/v1/jobs/" + id + "/events");
  const update = (e) => {
    const view = JSON.parse(e.data);
    $("progress").value = view.progress;
    $("status").textContent = view.status + (view.total ? " - " + view.stage + " " + view.step + "/" + view.total : "") +
                              (view.queue_position ? " - position " + view.queue_position + " in the queue" : "");
    if (view.preview) { $("preview").src = "data:image/png;base64," + view.preview; $("preview").style.display = "block"; }
    if (e.type === "done") {
      events.close();
      job = null;
      setBusy(false);
      if (view.status === "succeeded") { addToGallery(view); $("status").textContent = "done"; }
      else showError(view.status + (view.error ? ": " + view.error : ""));
    }
  };
  events.addEventListener("progress", update);
  events.addEventListener("done", update);
  events.onerror = () => { if (job) showError("lost the connection to the server"); };
}

$("generate").onclick = async () => {
  setBusy(true);
  $("progress").value = 0;
  $("status").textContent = "queueing";
  const body = {
    prompt: $("prompt").value,
    width: Number($("width").value), height: Number($("height").value),
    num_inference_steps: Number($("steps").value), guidance_scale: Number($("guidance").value),
    sampler: $("sampler").value, seed: Number($("seed").value), model: $("model").value,
  };
  // No negative prompt is not an empty one: diffusers encodes "" but zeroes a missing one.
  if ($("negative").value) body.negative_prompt = $("negative").value;
  if ($("lora").value) body.loras = [{ name: $("lora").value, weight: Number($("lora-weight").value) }];
  const init = await fileBase64($("init-image"));
  if (init) {
    body.image = init;
    body.strength = Number($("strength").value);
    if (masked) body.mask_image = maskBase64();
  }
  if ($("cn-model").value) {
    const control = await fileBase64($("cn-image"));
    if (!control) return showError("the ControlNet needs a control image");
    body.controlnets = [{ model: $("cn-model").value, image: control, preprocessor: $("cn-module").value,
                          threshold_a: Number($("cn-low").value), threshold_b: Number($("cn-high").value),
                          controlnet_conditioning_scale: Number($("cn-scale").value),
                          control_guidance_start: Number($("cn-start").value), control_guidance_end: Number($("cn-end").value) }];
  }
  const r = await fetch("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json();
  if (!r.ok) return showError(answer.detail || ("error " + r.status));
  job = answer.id;
  follow(job);
};

$("cancel").onclick = async () => { if (job) await fetch("/v1/jobs/" + job, { method: "DELETE" }); };

fillPickers().catch((e) => showError(String(e)));
</script>
</body>
</html>
)PAGE";

}  // namespace

void add_web_page(Router& server, const ServerContext&) {
  server.Get("/", [](const http::Request&, http::Response& res) { res.set_content(kPage, "text/html; charset=utf-8"); });
}

}  // namespace sdxl::server
