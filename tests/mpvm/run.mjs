// Runs a MicroPython script on the official MicroPython WebAssembly VM (npm
// @micropython/micropython-webassembly-pyscript) under Node, for tests/unit/test_firmware_vm.py.
//   node run.mjs SCRIPT.py DIR...   every *.py of each DIR is written to the VM's /flash first
// The script's output goes to stdout; a Python exception ends the process with exit code 1.
// A line "#--- next call" splits the script into parts run one after another, each as its own
// top-level call: this port's gc.collect() frees only what no running call still reaches, so a
// long run split in parts keeps the heap at its true size (and gc figures taken at the start of
// a part are those of the live objects).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";

const [script, ...dirs] = process.argv.slice(2);
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdir("/flash");
for (const dir of dirs) {
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(".py")) {
      mp.FS.writeFile("/flash/" + name, fs.readFileSync(path.join(dir, name)));
    }
  }
}
try {
  for (const part of fs.readFileSync(script, "utf8").split(/^#--- next call.*$/m)) {
    mp.runPython(part);
  }
} catch (err) {
  process.stderr.write(String(err.message || err) + "\n");
  process.exit(1);
}
