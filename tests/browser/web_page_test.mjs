// The web page of `sdxl serve` in a real browser: Debian's chromium, driven by puppeteer-core.
// Starts the server on the tiny model (a free loopback port), fills the form, generates, waits
// for the image, checks that its pixels equal the CLI's for the same settings (both drawn on a
// canvas in the page), then inpaints an uploaded image through a mask painted with the mouse with a
// canny ControlNet (its map previewed), again equal to the CLI's image, cancels a long job from the
// page, and saves screenshots as artifacts.
//   node web_page_test.mjs SDXL_BINARY MODEL_DIR ARTIFACT_DIR
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "./sdxl_serve.mjs";
import puppeteer from "puppeteer-core";

const [sdxl, defaultModel, artifacts] = process.argv.slice(2);
// $SDXL_REF moves the reference data, as for the other tests.
const model = process.env.SDXL_REF ? join(process.env.SDXL_REF, "models/tiny-sdxl-base") : defaultModel;
if (!sdxl || !model || !artifacts) {
  console.error("usage: node web_page_test.mjs SDXL_BINARY MODEL_DIR ARTIFACT_DIR");
  process.exit(2);
}
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); console.log((ok ? "ok   " : "FAIL ") + what); };

const settings = { prompt: "a photo of a cat", width: 64, height: 64, steps: 4, guidance: 5, seed: 42 };
const dir = mkdtempSync(join(tmpdir(), "sdxl-browser-"));
execFileSync(sdxl, ["generate", "-m", model, "-p", settings.prompt, "-W", "64", "-H", "64", "--steps", "4",
                    "--guidance", "5", "--seed", "42", "-o", join(dir, "cli.png")], { stdio: "ignore" });
const cliPng = "data:image/png;base64," + readFileSync(join(dir, "cli.png")).toString("base64");

// The reference data the model lies in: a control image and the tiny ControlNet (in a folder of its own).
const reference = join(model, "../..");
const controlImage = join(reference, "cases/canny_50_150.input.png");
const controlnets = join(dir, "controlnets");
mkdirSync(controlnets);
symlinkSync(join(reference, "models/tiny-sdxl-controlnet"), join(controlnets, "tiny-sdxl-controlnet"));

// Both pictures' pixels, compared on canvases in the page.
const samePixels = (page, a, b) => page.evaluate(async (srcA, srcB) => {
  const pixels = async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    return Array.from(ctx.getImageData(0, 0, img.width, img.height).data);
  };
  const x = await pixels(srcA), y = await pixels(srcB);
  return x.length === y.length && x.length > 0 && x.every((v, i) => v === y[i]);
}, a, b);
const pngData = (path) => "data:image/png;base64," + readFileSync(path).toString("base64");

const { child, port } = await startServer(sdxl, ["-m", model, "--controlnet-dir", controlnets]);
let browser;
try {
  browser = await puppeteer.launch({ executablePath: chromium, headless: true,
                                     args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.getElementById("sampler").options.length > 0);
  check(await page.$eval("#model", (s) => s.options.length) === 1, "the model picker lists the model");

  const set = async (id, value) => page.$eval(id, (el, v) => { el.value = v; }, String(value));
  await set("#prompt", settings.prompt);
  await set("#width", settings.width);
  await set("#height", settings.height);
  await set("#steps", settings.steps);
  await set("#guidance", settings.guidance);
  await set("#seed", settings.seed);
  await page.select("#sampler", "euler");
  await page.click("#generate");
  await page.waitForSelector("img.result", { timeout: 120000 });
  await page.waitForFunction(() => document.querySelector("img.result").complete);

  // The page's image and the CLI's, pixel by pixel, on canvases.
  const same = await samePixels(page, await page.$eval("img.result", (i) => i.src), cliPng);
  check(same, "the page's image equals the CLI's for the same settings");
  check((await page.$eval("figcaption", (f) => f.textContent)).includes("Seed: 42"), "the result shows its parameters");
  check(await page.$eval("figure a", (a) => a.download.endsWith(".png")), "the result has a download link");
  check(await page.$eval("#progress", (p) => p.value === 1), "the progress bar is full");
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "web_page.png"), fullPage: true });

  // Inpainting an uploaded image through a mask painted with the mouse, steered by a canny ControlNet.
  await set("#seed", 7);
  await set("#steps", 3);
  await (await page.$("#init-image")).uploadFile(controlImage);
  await page.waitForFunction(() => document.getElementById("painter").style.display === "block");
  const box = await (await page.$("#mask-canvas")).boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 8 });
  await page.mouse.up();
  const controlTitle = await page.$eval("#cn-model", (s) => s.options[1] && s.options[1].value);
  check(Boolean(controlTitle) && controlTitle.startsWith("tiny-sdxl-controlnet ["), "the ControlNet picker lists the model with its hash");
  await page.select("#cn-model", controlTitle);
  await page.select("#cn-module", "canny");
  await (await page.$("#cn-image")).uploadFile(controlImage);
  await page.click("#cn-preview");
  await page.waitForFunction(() => document.getElementById("control-map").style.display === "block" &&
                                   document.getElementById("control-map").complete);
  execFileSync(sdxl, ["preprocess", "canny", controlImage, "--resolution", "64", "-o", join(dir, "edges.png")], { stdio: "ignore" });
  check(await samePixels(page, await page.$eval("#control-map", (i) => i.src), pngData(join(dir, "edges.png"))),
        "the preprocessor preview is sdxl preprocess canny's map");
  const mask = await page.evaluate(() => maskBase64());
  writeFileSync(join(dir, "mask.png"), Buffer.from(mask, "base64"));
  await page.click("#generate");
  await page.waitForFunction(() => document.querySelectorAll("img.result").length === 2 &&
                                   document.querySelector("img.result").complete, { timeout: 120000 });
  execFileSync(sdxl, ["generate", "-m", model, "-p", settings.prompt, "-W", "64", "-H", "64", "--steps", "3", "--guidance", "5",
                      "--seed", "7", "--init-image", controlImage, "--strength", "0.75", "--mask", join(dir, "mask.png"),
                      "--controlnet", join(controlnets, "tiny-sdxl-controlnet"), "--control-image", controlImage,
                      "--control-preprocessor", "canny", "-o", join(dir, "cli-cn.png")], { stdio: "ignore" });
  check(await samePixels(page, await page.$eval("img.result", (i) => i.src), pngData(join(dir, "cli-cn.png"))),
        "the page's inpainting with a ControlNet equals the CLI's");
  check((await page.$eval("figcaption", (f) => f.textContent)).includes("ControlNet 0: \"Module: canny"),
        "its parameters name the ControlNet unit");
  await page.screenshot({ path: join(artifacts, "web_page_controlnet.png"), fullPage: true });
  await page.click("#remove-init");
  await page.select("#cn-model", "");

  // A long job, cancelled from the page.
  await set("#steps", 1000);
  await set("#width", 256);
  await set("#height", 256);
  await page.click("#generate");
  await page.waitForFunction(() => /running|queued/.test(document.getElementById("status").textContent), { timeout: 60000 });
  await page.click("#cancel");
  await page.waitForFunction(() => /cancelled/.test(document.getElementById("status").textContent), { timeout: 60000 });
  check(await page.$eval("#generate", (b) => !b.disabled), "after a cancel the page can generate again");
  check(errors.length === 0, "no script errors" + (errors.length ? ": " + errors.join("; ") : ""));
} catch (e) {
  failures.push(String(e));
  console.error(e);
} finally {
  if (browser) await browser.close();
  child.kill("SIGTERM");
}
if (failures.length) {
  console.error(`${failures.length} failure(s)`);
  process.exit(1);
}
console.log("all browser checks passed; screenshot in " + join(artifacts, "web_page.png"));
