// A real MicroPython REPL on a byte stream, for the serial bench driver's tests
// (tests/hil/test_bench_driver.py): the official WebAssembly build (tests/mpvm) takes stdin byte
// by byte into its REPL (replProcessChar: the friendly REPL, Ctrl-C, Ctrl-A raw REPL, Ctrl-D) and
// writes what it prints to stdout. With stdin and stdout on a pseudo-terminal the driver reaches
// it through pyserial as it reaches a board's USB serial port.
//   node mp_repl.mjs PACKAGE_DIR
// This port's REPL is event-driven: it has the raw REPL but not raw-paste mode (which reads stdin
// while it runs), so the driver talks to it with raw-paste off.
import path from "node:path";
import { pathToFileURL } from "node:url";

const pkg = process.argv[2];
const { loadMicroPython } = await import(pathToFileURL(path.join(pkg, "micropython.mjs")).href);

let pending = [];
const flush = () => {
  if (pending.length) {
    process.stdout.write(Buffer.from(pending));
    pending = [];
  }
};
const mp = await loadMicroPython({
  heapsize: 1024 * 1024,
  stdout: (bytes) => pending.push(...bytes),
  linebuffer: false,
});
mp.FS.mkdir("/flash");
mp.replInit();
flush();
process.stdin.on("data", (data) => {
  for (const c of data) {
    mp.replProcessChar(c);
  }
  flush();
});
process.stdin.on("end", () => process.exit(0));
