// `sdxl serve` for a client test: started on a free loopback port with `args`, resolved with the
// child and the port it printed once it listens.
import { spawn } from "node:child_process";

export function startServer(sdxl, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(sdxl, ["serve", ...args, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const m = text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error("sdxl serve exited with " + code)));
  });
}
