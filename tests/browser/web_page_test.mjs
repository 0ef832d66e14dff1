// The web page of `sdxl serve` in a real browser: Debian's chromium, driven by puppeteer-core.
// Starts the server on the tiny model (a free loopback port), fills the form, generates, waits
// for the image, checks that its pixels equal the CLI's for the same settings (both drawn on a
// canvas in the page), cancels a long job from the page, and saves a screenshot as an artifact.
//   node web_page_test.mjs SDXL_BINARY MODEL_DIR ARTIFACT_DIR
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync, mkdtempSync } from "node:fs";
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

const { child, port } = await startServer(sdxl, ["-m", model]);
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
  const same = await page.evaluate(async (cli) => {
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
    const a = await pixels(document.querySelector("img.result").src);
    const b = await pixels(cli);
    return a.length === b.length && a.length > 0 && a.every((v, i) => v === b[i]);
  }, cliPng);
  check(same, "the page's image equals the CLI's for the same settings");
  check((await page.$eval("figcaption", (f) => f.textContent)).includes("Seed: 42"), "the result shows its parameters");
  check(await page.$eval("figure a", (a) => a.download.endsWith(".png")), "the result has a download link");
  check(await page.$eval("#progress", (p) => p.value === 1), "the progress bar is full");
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "web_page.png"), fullPage: true });

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
