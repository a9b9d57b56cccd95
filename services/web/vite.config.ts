import { defineConfig } from 'vite'
import { viteConfig } from './src/build-config.ts'

export default defineConfig(viteConfig())
