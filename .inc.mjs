import { spawnSync } from 'node:child_process';
const [node, n, ...mods] = process.argv.slice(2);
const res = [];
for (let i = 0; i < Number(n); i++) {
  const code = "await import('@google-cloud/datastore'); await import('@google-cloud/tasks'); const c0=process.cpuUsage(); const t=performance.now();" + mods.map((m) => `await import('${m}');`).join('') + "const d=process.cpuUsage(c0); const all=process.cpuUsage(); console.log(performance.now()-t, (d.user+d.system)/1000, (all.user+all.system)/1000)";
  const r = spawnSync(node, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  if (r.status) throw new Error(r.stderr);
  res.push(r.stdout.trim().split(' ').map(Number));
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
console.log(node.slice(-30), 'inc wall', med(res.map((x) => x[0])).toFixed(1), 'inc cpu', med(res.map((x) => x[1])).toFixed(1), 'total cpu', med(res.map((x) => x[2])).toFixed(1));
