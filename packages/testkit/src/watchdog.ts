/**
 * Kills the test servers of a process that died. Reads "+pid" / "-pid" lines on stdin; when
 * stdin closes (the parent exited, however it exited) or the parent pid disappears, it sends
 * SIGKILL to every pid still registered and exits.
 */
const parent = Number(process.argv[2])
const pids = new Set<number>()
let buf = ''

function killAll(): never {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  process.exit(0)
}

process.stdin.on('data', (chunk: Buffer) => {
  buf += chunk.toString()
  let nl = buf.indexOf('\n')
  while (nl >= 0) {
    const line = buf.slice(0, nl)
    buf = buf.slice(nl + 1)
    const pid = Number(line.slice(1))
    if (line.startsWith('+')) pids.add(pid)
    else if (line.startsWith('-')) pids.delete(pid)
    nl = buf.indexOf('\n')
  }
})
process.stdin.on('end', killAll)
process.stdin.on('error', killAll)
setInterval(() => {
  try {
    process.kill(parent, 0)
  } catch {
    killAll()
  }
}, 500)
