// Run a MicroPython script on the 32-bit WebAssembly port (bench/heap32.py drives this).
// usage: node run.mjs SCRIPT.py [HOSTDIR:MPDIR ...]   (copies each host folder into the port's FS)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [script, ...trees] = process.argv.slice(2);
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (s) => process.stdout.write(s + "\n"),
  stderr: (s) => process.stderr.write(s + "\n"),
});

function copy(src, dst) {
  try { mp.FS.mkdir(dst); } catch (e) { /* exists */ }
  for (const name of readdirSync(src)) {
    const s = join(src, name), d = dst + "/" + name;
    if (statSync(s).isDirectory()) copy(s, d);
    else mp.FS.writeFile(d, readFileSync(s));
  }
}
for (const t of trees) {
  const i = t.lastIndexOf(":");
  copy(t.slice(0, i), t.slice(i + 1));
}
try {
  mp.runPython(readFileSync(script, "utf8"));
} catch (e) {
  process.stderr.write(String(e.message || e).slice(0, 2000) + "\n");
  process.exit(1);
}
