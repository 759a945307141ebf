// Oracle of the daemon's RPC shapes: the official kubo-rpc-client (npm) against our daemon.
// Usage: node oracle.mjs http://127.0.0.1:PORT ; prints one JSON object, exits 1 on failure.
import { create } from 'kubo-rpc-client'

const ipfs = create({ url: process.argv[2] })
const text = (chunks) => Buffer.concat(chunks.map((c) => Buffer.from(c))).toString()
const all = async (it) => { const out = []; for await (const x of it) out.push(x); return out }

try {
  const version = (await ipfs.version()).version
  const one = await ipfs.add(new TextEncoder().encode('hello world\n'))
  const files = await all(ipfs.addAll([
    { path: 'pkg/a.txt', content: new TextEncoder().encode('hello world\n') },
    { path: 'pkg/sub/b.txt', content: new TextEncoder().encode('bee\n') },
  ]))
  const root = files.find((f) => f.path === 'pkg')
  const cat = text(await all(ipfs.cat(`${root.cid}/sub/b.txt`)))
  const ls = (await all(ipfs.ls(root.cid))).map((l) => ({ name: l.name, type: l.type, size: l.size, cid: l.cid.toString() }))
  const block = await ipfs.block.get(one.cid)
  const stat = await ipfs.block.stat(one.cid)
  const pins = (await all(ipfs.pin.ls({ type: 'recursive' }))).map((p) => p.cid.toString())
  console.log(JSON.stringify({
    version,
    one: one.cid.toString(),
    root: root.cid.toString(),
    cat,
    ls,
    block_len: block.length,
    stat_size: stat.size,
    pinned_root: pins.includes(root.cid.toString()),
  }))
} catch (e) {
  console.error(`kubo-rpc-client failed: ${e.stack || e}`)
  process.exit(1)
}
