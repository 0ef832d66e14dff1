// The page at `/`: a prompt form, Generate and Cancel, a progress bar with the live preview and
// a gallery of results with their parameters, on the jobs API. Plain HTML, CSS and JavaScript in
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
}

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
