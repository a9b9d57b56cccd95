/**
 * Render nginx.conf from a typed description:
 *
 *   node nginx/render.ts --config stack.json > nginx.conf
 *   node nginx/render.ts --config stack.json --check          # also run `nginx -t` on the result
 *   node nginx/render.ts --config stack.json --http-only      # only upstreams + server, for conf.d
 *
 * The file holds an NginxDescription (nginx/src/types.ts), or an object with one under `nginx`.
 * Exit status: 0 rendered, 2 description refused (every problem listed), 1 other failure.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { testConfig, findNginx, nginxVersion } from './src/control.ts'
import { NginxConfigError, NginxTestError } from './src/errors.ts'
import { renderHttpBlocks, renderNginxConfig } from './src/render.ts'

const usage = `usage: node nginx/render.ts --config <stack.json> [--out <nginx.conf>] [--check] [--http-only]

  --config     JSON description (see nginx/src/types.ts and nginx/stack.example.json)
  --out        write to this file instead of standard output
  --check      validate the result with the installed nginx (nginx -t; stateDir and logDir must exist)
  --http-only  render only the blocks that go inside http { } (for an existing nginx's conf.d)
`

function main(): number {
  let args: ReturnType<typeof parse>
  try {
    args = parse()
  } catch (err) {
    process.stderr.write(`render: ${(err as Error).message}\n${usage}`)
    return 1
  }
  if (args.values.help) {
    process.stdout.write(usage)
    return 0
  }
  if (!args.values.config) {
    process.stderr.write(`render: --config <file> is required\n${usage}`)
    return 1
  }
  if (args.values.check && args.values['http-only']) {
    // nginx -t needs a whole nginx.conf; silently skipping the check would look like a pass.
    process.stderr.write('render: --check cannot validate --http-only output (not a whole nginx.conf); check the full render instead\n')
    return 1
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(args.values.config, 'utf8'))
  } catch (err) {
    process.stderr.write(`render: cannot read ${args.values.config}: ${(err as Error).message}\n`)
    return 1
  }
  const description = isObject(raw) && isObject(raw.nginx) ? raw.nginx : raw
  try {
    let text: string
    if (args.values['http-only']) {
      text = renderHttpBlocks(description)
    } else {
      // Render for the installed nginx unless the description names a version.
      const bin = findNginx()
      const withVersion =
        isObject(description) && description.nginxVersion === undefined && bin
          ? { ...description, nginxVersion: nginxVersion(bin) }
          : description
      const rendered = renderNginxConfig(withVersion)
      for (const n of rendered.notes) process.stderr.write(`render: note: ${n}\n`)
      text = rendered.text
      if (args.values.check) testConfig(text)
    }
    if (args.values.out) writeFileSync(args.values.out, text)
    else process.stdout.write(text)
    return 0
  } catch (err) {
    if (err instanceof NginxConfigError) {
      process.stderr.write(`render: ${err.message}\n`)
      return 2
    }
    if (err instanceof NginxTestError) {
      process.stderr.write(`render: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`render: ${(err as Error).message}\n`)
    return 1
  }
}

function parse() {
  return parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      check: { type: 'boolean', default: false },
      'http-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

process.exitCode = main()
