/**
 * Elderly mode (适老化): text follows the system's font scale, and the 大字模式 switch
 * sets at least 1.5×. Pages bind `scaleStyle` on their root view; styles size text with
 * `calc(var(--ssp-fs) * N)` so every size follows.
 */
import { computed, ref } from 'vue'
import { systemFontScale } from '../platform/index.js'

const KEY = 'ssp.big-text'
const BIG = 1.5
const bigText = ref(Boolean(uni.getStorageSync(KEY)))
let system = null

export function useScale() {
  if (system === null) system = systemFontScale()
  const scale = computed(() => Math.max(system, bigText.value ? BIG : 1))
  const scaleStyle = computed(() => `--ssp-scale: ${scale.value}; --ssp-fs: ${(16 * scale.value).toFixed(1)}px;`)
  function setBigText(on) {
    bigText.value = Boolean(on)
    uni.setStorageSync(KEY, bigText.value ? 1 : '')
  }
  return { scale, scaleStyle, bigText, setBigText }
}
