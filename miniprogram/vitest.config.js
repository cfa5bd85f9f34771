import { defineConfig } from 'vitest/config'

// Unit tests of src/services run in Node without the uni-app build plugin.
export default defineConfig({
  test: { include: ['tests/**/*.test.js'], environment: 'node' },
})
